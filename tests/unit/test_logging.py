"""Log files never receive patient data, even when a message slips a value in."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.logging_setup import configure


@pytest.fixture
def log_folder(tmp_path: Path) -> Path:
    root = logging.getLogger()
    handlers = list(root.handlers)
    folder = configure(tmp_path / "logs")
    yield folder
    for handler in root.handlers[:]:
        if handler not in handlers:
            handler.close()
            root.removeHandler(handler)


def test_phone_numbers_emails_and_dates_in_a_log_message_are_redacted(log_folder: Path) -> None:
    log = logging.getLogger("frontdesk.test")
    log.warning(
        "sending to %s at %s, born %s", "ada.okafor@example.com", "+16125550142", "1975-03-04"
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (log_folder / "frontdesk.log").read_text()
    assert "sending to" in text
    for value in ("ada.okafor@example.com", "16125550142", "1975"):
        assert value not in text


def test_frontdesk_home_keeps_logs_beside_the_clinic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.logging_setup import log_dir

    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path))
    assert log_dir() == tmp_path.resolve() / "logs"
