"""A desk working and syncing in a loop, in a process of its own: the SIGKILL test kills it
at random moments. Usage (the data key in the environment, never on the command line):

    FRONTDESK_TEST_DATA_KEY=<hex> python -m tests.support.sync_loop <clinic folder> <log file>

Each patient it saved is written to the log file after its commit; every round's state too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient, update_patient
from app.store import database
from app.store.keys import read_key_file
from app.store.lifecycle import OpenDatabase
from app.store.paths import clinic_paths
from app.sync.client import run_round


def main() -> int:
    home, log_path = Path(sys.argv[1]), Path(sys.argv[2])
    key = bytes.fromhex(os.environ["FRONTDESK_TEST_DATA_KEY"])
    clinic_id = read_key_file(home / "clinic.key").clinic_id
    conn = database.connect(home / "clinic.db", key)
    clinic = Clinic(OpenDatabase(conn, clinic_paths(home), clinic_id, key, "keyring"))
    with log_path.open("a", encoding="utf-8") as log:
        n = 0
        while True:
            n += 1
            made = create_patient(clinic, PatientDraft(f"Crash{os.getpid()}x{n}", "Test"))
            log.write(f"patient {made.id}\n")
            log.flush()
            update_patient(clinic, made.id, {"preferred_name": f"P{n}"})
            result = run_round(clinic, timeout_s=5)
            log.write(f"round {result.status.state}\n")
            log.flush()


if __name__ == "__main__":
    sys.exit(main())
