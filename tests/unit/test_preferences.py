"""Screen preferences survive a restart, and a damaged file never stops Frontdesk starting."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.errors import StoreWriteError
from app.preferences import (
    Preferences,
    load_preferences,
    preferences_path,
    save_preferences,
)


def test_saved_preferences_load_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    chosen = Preferences(font_scale=130, theme="dark", start_page="Patients")

    save_preferences(chosen, path)

    assert load_preferences(path) == chosen


def test_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_preferences(tmp_path / "nothing-here.json") == Preferences()


def test_file_lives_in_frontdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path))

    save_preferences(Preferences(theme="light"))

    assert preferences_path() == tmp_path.resolve() / "preferences.json"
    assert load_preferences().theme == "light"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2, 3]",
        '"dark"',
        "",
        '{"font_scale": "huge", "theme": 7, "start_page": null}',
    ],
)
def test_garbled_file_gives_defaults_and_a_log_line(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "preferences.json"
    path.write_text(content, encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="app.preferences"):
        loaded = load_preferences(path)

    assert loaded == Preferences()
    assert caplog.records, "a fallback to the defaults must be logged"


def test_undecodable_bytes_give_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    path.write_bytes(b"\xff\xfe\x00garbage")

    assert load_preferences(path) == Preferences()


def test_one_bad_value_keeps_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    path.write_text(json.dumps({"font_scale": 115, "theme": "neon", "extra": 1}), encoding="utf-8")

    assert load_preferences(path) == Preferences(font_scale=115, theme="system")


def test_a_fractional_or_boolean_font_scale_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    for bad in (100.0, True):
        path.write_text(json.dumps({"font_scale": bad}), encoding="utf-8")
        assert type(load_preferences(path).font_scale) is int


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"

    save_preferences(Preferences(font_scale=150), path)
    save_preferences(Preferences(font_scale=115), path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["preferences.json"]
    assert json.loads(path.read_text(encoding="utf-8"))["font_scale"] == 115


def test_failed_write_raises_a_plain_error_and_cleans_up(tmp_path: Path) -> None:
    # A folder where the file should be makes the final rename fail, as a full or
    # read-only disk would, on every platform and even for root.
    path = tmp_path / "preferences.json"
    path.mkdir()

    with pytest.raises(StoreWriteError, match="could not be saved"):
        save_preferences(Preferences(theme="light"), path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["preferences.json"]
    assert path.is_dir()


def test_preferences_refuse_values_outside_the_steps() -> None:
    with pytest.raises(ValueError, match="font_scale"):
        Preferences(font_scale=120)
    with pytest.raises(ValueError, match="theme"):
        Preferences(theme="blue")
