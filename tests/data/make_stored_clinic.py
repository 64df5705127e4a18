"""Writes a small clinic at the current schema into tests/data/schema-NNNN/.

Run once per released schema version and commit the result; never regenerate an
old one: those files stand for databases already out in clinics, and the upgrade
tests open them as they are. The patients are the demo generator's (made up).

    PYTHONPATH=. .venv/bin/python tests/data/make_stored_clinic.py
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import keyring
from keyring.backends import fail

from app.clinic import create_clinic
from app.demo.generator import generate
from app.store import migrations

PASSPHRASE = "stored clinic test passphrase"


def main() -> int:
    keyring.set_keyring(fail.Keyring())
    version = migrations.latest_version()
    folder = Path(__file__).parent / f"schema-{version:04d}"
    if folder.exists():
        print(f"{folder} exists; stored databases are never regenerated", file=sys.stderr)
        return 1
    created = create_clinic("Stored Clinic", PASSPHRASE, folder, use_keyring=False)
    with created.clinic as clinic:
        summary = generate(clinic, 40, seed=11, today=date(2026, 11, 28))
        counts = {
            table: clinic.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("patient", "appointment", "interaction", "change")
        }
        clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (folder / "expected.json").write_text(
        json.dumps(
            {
                "schema_version": version,
                "passphrase": PASSPHRASE,
                "recovery_key": created.recovery_key,
                "patients": summary.patients,
                "counts": counts,
            },
            indent=2,
        )
    )
    for leftover in folder.glob("clinic.db-*"):
        leftover.unlink()
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
