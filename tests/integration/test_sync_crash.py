"""A desk killed (SIGKILL) at random moments while it works and syncs always recovers:
after the last kill it catches up, sends everything it saved, and both desks agree."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.clinic import Clinic, open_clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.sync.service import sync_status
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import relay, relay_url  # noqa: F401
from tests.support.sync_desks import domain_state, lost_edits, tables_match_merge
from tests.support.sync_relay_desks import first_desk, join_desk, settle, sync

REPO = Path(__file__).resolve().parents[2]
KILLS = 12


def test_a_desk_killed_mid_sync_again_and_again_recovers_and_converges(
    clinic: Clinic,
    relay_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    desk_a = first_desk(clinic, relay_url)
    desk_b = join_desk(desk_a, tmp_path / "desk-b")
    home_b, key = desk_b.home, desk_b.opened.data_key
    desk_b.close()
    log = tmp_path / "loop.log"
    env = {**os.environ, "FRONTDESK_TEST_DATA_KEY": key.hex(), "PYTHONPATH": str(REPO)}
    rng = random.Random(11)
    for kill in range(KILLS):
        loop = subprocess.Popen(
            [sys.executable, "-m", "tests.support.sync_loop", str(home_b), str(log)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # A works meanwhile, so B has batches to apply when it is killed.
        create_patient(desk_a, PatientDraft(f"Steady{kill}", "Test"))
        sync(desk_a)
        time.sleep(rng.uniform(0.6, 2.5))  # starting Python takes about half a second
        loop.send_signal(signal.SIGKILL)
        _, stderr = loop.communicate(timeout=30)
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
    desk_b = open_clinic(home_b)
    try:
        settle(desk_a, desk_b)
        saved = [
            line.split()[1] for line in log.read_text().splitlines() if line.startswith("patient")
        ]
        rounds = [line for line in log.read_text().splitlines() if line.startswith("round")]
        assert saved and rounds  # the loop got to work and to sync between kills
        on_a = {r[0] for r in desk_a.conn.execute("SELECT id FROM patient")}
        assert set(saved) <= on_a  # everything B committed reached A
        assert domain_state(desk_a) == domain_state(desk_b)
        for desk in (desk_a, desk_b):
            assert sync_status(desk).state == "synced"
            assert lost_edits(desk) == [] and tables_match_merge(desk) == []
        assert desk_b.conn.execute("SELECT count(*) FROM local_sync_outgoing").fetchone()[0] == 0
    finally:
        desk_b.close()
