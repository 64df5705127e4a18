"""`main.py backup`, `backup verify`, `restore` and `rekey`, run as a clinic's IT person would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_cli import PASSPHRASE, _run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "clinic"
    result = _run(home, "demo", "--patients", "40", "--seed", "5")
    assert result.returncode == 0, result.stderr
    return home


def _only_backup(folder: Path) -> Path:
    found = [p for p in folder.iterdir() if p.name.endswith(".fdbackup")]
    assert len(found) == 1
    return found[0]


def test_backup_to_a_folder_then_verify_it(home: Path, tmp_path: Path) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    made = _run(home, "backup", "--to", str(usb))
    assert made.returncode == 0, made.stderr
    assert "written and checked" in made.stdout
    backup = _only_backup(usb)

    checked = _run(home, "backup", "verify", str(backup))
    assert checked.returncode == 0, checked.stderr
    assert "The backup is good." in checked.stdout

    db = backup / "clinic.db"
    data = bytearray(db.read_bytes())
    data[5000] ^= 0xFF
    db.write_bytes(bytes(data))
    broken = _run(home, "backup", "verify", str(backup))
    assert broken.returncode == 1
    assert "damaged" in broken.stderr


def test_backup_without_a_folder_says_to_choose_one(home: Path) -> None:
    result = _run(home, "backup")
    assert result.returncode == 1
    assert "Choose a backup folder" in result.stderr


def test_restore_from_the_command_line_keeps_the_clinic_as_it_was(
    home: Path, tmp_path: Path
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    assert _run(home, "backup", "--to", str(usb)).returncode == 0
    result = _run(home, "restore", str(_only_backup(usb)))
    assert result.returncode == 0, result.stderr
    assert "40 patients" in result.stdout
    kept = [p for p in home.iterdir() if p.name.startswith("before-restore-")]
    assert len(kept) == 1 and (kept[0] / "clinic.db").is_file()
    info = _run(home, "info", "--json")
    assert json.loads(info.stdout)["patients"] == 40


def test_rekey_from_the_command_line_writes_a_new_kit_and_the_clinic_still_opens(
    home: Path, tmp_path: Path
) -> None:
    key_before = json.loads((home / "clinic.key").read_text())["key_id"]
    kit = tmp_path / "kit.pdf"
    result = _run(home, "rekey", "--kit", str(kit), "--backup-to", str(tmp_path / "before"))
    assert result.returncode == 0, result.stderr
    assert kit.is_file() and kit.read_bytes().startswith(b"%PDF")
    assert "old kit no longer works" in result.stdout
    assert json.loads((home / "clinic.key").read_text())["key_id"] != key_before
    assert len(list((tmp_path / "before").glob("*.fdbackup"))) == 1
    info = _run(home, "info", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["patients"] == 40


def test_a_wrong_passphrase_does_not_rekey(home: Path, tmp_path: Path) -> None:
    key_file = (home / "clinic.key").read_bytes()
    result = _run(
        home, "rekey", "--kit", str(tmp_path / "kit.pdf"), passphrase=PASSPHRASE + " nope"
    )
    assert result.returncode == 1
    assert (home / "clinic.key").read_bytes() == key_file


def test_restore_and_rekey_refuse_while_a_frontdesk_window_is_open(
    home: Path, tmp_path: Path, qapp: object
) -> None:
    from ui.single_instance import SingleInstance

    usb = tmp_path / "USB"
    usb.mkdir()
    assert _run(home, "backup", "--to", str(usb)).returncode == 0
    window = SingleInstance(home)  # what a running Frontdesk window listens on
    try:
        restored = _run(home, "restore", str(_only_backup(usb)))
        rekeyed = _run(home, "rekey", "--kit", str(tmp_path / "kit.pdf"))
    finally:
        window.close()
    for result in (restored, rekeyed):
        assert result.returncode == 1
        assert "Frontdesk is open on this computer" in result.stderr
    assert not [p for p in home.iterdir() if p.name.startswith("before-restore-")]


def test_restore_on_a_new_computer_opens_with_the_passphrase_of_the_backup(
    home: Path, tmp_path: Path
) -> None:
    usb = tmp_path / "USB"
    usb.mkdir()
    assert _run(home, "backup", "--to", str(usb)).returncode == 0
    new_computer = tmp_path / "new-computer"
    wrong = _run(new_computer, "restore", str(_only_backup(usb)), passphrase="not it at all 42")
    assert wrong.returncode == 1
    assert not (new_computer / "clinic.db").exists()

    result = _run(new_computer, "restore", str(_only_backup(usb)))
    assert result.returncode == 0, result.stderr
    info = _run(new_computer, "info", "--json")
    assert json.loads(info.stdout)["patients"] == 40
