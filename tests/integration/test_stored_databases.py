"""Databases written by every released schema open and upgrade to the current one.

Each tests/data/schema-NNNN folder is a clinic as an older Frontdesk left it; it is
copied to a temp folder first, so the stored files never change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.clinic import open_clinic
from app.patients.search import PatientSearch
from app.store import migrations

DATA = Path(__file__).resolve().parents[1] / "data"
STORED = sorted(DATA.glob("schema-*"))


def test_there_is_a_stored_database_for_every_schema_version() -> None:
    versions = {int(folder.name.split("-")[1]) for folder in STORED}
    assert versions == set(range(1, migrations.latest_version() + 1))


def _working_copy(folder: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy to open (opening may upgrade it), and what the folder says it holds."""
    home = tmp_path / folder.name
    shutil.copytree(folder, home)
    return home, json.loads((folder / "expected.json").read_text())


@pytest.mark.parametrize("folder", STORED, ids=[f.name for f in STORED])
def test_stored_database_upgrades_and_keeps_its_data(folder: Path, tmp_path: Path) -> None:
    home, expected = _working_copy(folder, tmp_path)
    clinic = open_clinic(home, passphrase=expected["passphrase"], use_keyring=False)
    try:
        assert migrations.schema_version(clinic.conn) == migrations.latest_version()
        for table, count in expected["counts"].items():
            assert clinic.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= count
        family = clinic.conn.execute("SELECT family_name FROM patient LIMIT 1").fetchone()[0]
        assert PatientSearch(clinic.conn).search(family)
    finally:
        clinic.close()


@pytest.mark.parametrize("folder", STORED, ids=[f.name for f in STORED])
def test_stored_database_opens_with_its_recovery_key(folder: Path, tmp_path: Path) -> None:
    home, expected = _working_copy(folder, tmp_path)
    clinic = open_clinic(home, recovery_key=expected["recovery_key"], use_keyring=False)
    assert clinic.settings.name == "Stored Clinic"
    clinic.close()
