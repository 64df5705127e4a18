"""`main.py audit verify` and `audit export`, run as the clinic's IT person would."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.clinic import open_clinic
from tests.integration.test_cli import PASSPHRASE, _run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "clinic"
    result = _run(home, "init", "--clinic", "Lakeside", "--admin", "Dana Reyes")
    assert result.returncode == 0, result.stderr
    return home


def test_verify_says_intact_then_names_the_first_changed_entry(home: Path) -> None:
    result = _run(home, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The audit log is intact: ")
    assert "Newest entry " in result.stdout and ", hash " in result.stdout

    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as clinic:
        clinic.conn.execute("DROP TRIGGER audit_event_no_update")
        clinic.conn.execute("UPDATE audit_event SET body = body || ' ' WHERE seq = 1")

    broken = _run(home, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout.startswith("The audit log is broken: entry 1 (")
    assert "was changed" in broken.stdout


def test_export_saves_the_chosen_kinds_and_refuses_a_bad_day(home: Path, tmp_path: Path) -> None:
    assert _run(home, "audit", "verify").returncode == 0  # leaves an audit.verify entry
    out = tmp_path / "audit.csv"

    result = _run(home, "audit", "export", "--out", str(out), "--action", "audit.verify")

    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["Kind code"] for r in rows] == ["audit.verify"]
    bad = _run(home, "audit", "export", "--out", str(out), "--from", "1 Nov")
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr
    unknown = _run(home, "audit", "export", "--out", str(out), "--user", "Nobody Here")
    assert unknown.returncode == 1 and "Nobody called" in unknown.stderr
