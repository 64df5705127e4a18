"""Sync of the cached 100,000-patient clinic (about 2.5 GB) through a relay on loopback.

The relay runs as `python -m relay serve` in a process of its own (SQLite), as a clinic
would run it. Desk A is a copy of the bench clinic (the copy is the baseline: a plain
`shutil.copyfile` of clinic.db in the same run); it connects to the relay as the first
desk, which sends the starting snapshot, then saves 200 edits that travel as batches.

Targets (issue 11):
- first sync to a new workstation ≤ 60 s: desk B, enrolled with a real code, downloads
  the snapshot, checks and opens it, makes it its own, and runs its first round (the
  batches after the snapshot, the digest). Baseline: the plain copy of clinic.db.
- an edit on one desk visible on another ≤ 2 s after it reached the relay: A edits a
  patient and pushes it; B's round runs at once (as its runner does when told of new
  work) and the time is taken from the round's start to the commit of the batch on B
  (the progress report that follows the commit). 20 edits, p50 and p99; baseline: a
  round of B's with nothing to fetch.

Also logged: how long the first desk took to make and send the snapshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.bench._common import PASSPHRASE, demo_clinic
from tests.bench._report import Emit, log, percentile

PATIENTS = 100_000
SEED = 1
EDITS_AFTER_SNAPSHOT = 200
LATENCY_SAMPLES = 20
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _relay(folder: Path) -> Iterator[str]:
    """The relay in a process of its own on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RELAY_RATE_LIMIT": "0"}
    env.update({"RELAY_ADDRESS_RATE_LIMIT": "0", "RELAY_CLAIM_RATE_LIMIT": "0"})
    command = [sys.executable, "-m", "relay", "serve", "--port", str(port)]
    command += ["--database", f"sqlite:///{folder / 'relay.db'}"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the relay did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(emit: Emit) -> None:
    import keyring

    from app.clinic import Clinic, open_clinic
    from app.patients.records import update_patient
    from app.sync.client import run_round
    from app.sync.enrollment import (
        admit,
        claim,
        create_invite,
        start_space,
        wait_for_claim,
        wait_for_package,
    )
    from app.sync.snapshot import join_from_snapshot
    from app.users import add_user
    from tests.support.memory_keyring import MemoryKeyring

    source = demo_clinic(PATIENTS, SEED)
    keyring.set_keyring(MemoryKeyring())  # the new desk keeps its key as a desk would
    scratch = Path(tempfile.mkdtemp(prefix="frontdesk-bench-sync-"))
    desks: list[Clinic] = []
    try:
        home_a = scratch / "desk-a"
        home_a.mkdir()
        shutil.copyfile(source / "clinic.key", home_a / "clinic.key")
        os.sync()
        started = time.perf_counter()
        shutil.copyfile(source / "clinic.db", home_a / "clinic.db")
        copy_s = time.perf_counter() - started
        size_gb = (home_a / "clinic.db").stat().st_size / 1e9
        log(f"plain copy of clinic.db ({size_gb:.2f} GB): {copy_s:.1f} s")

        with _relay(scratch) as url:
            desk_a = open_clinic(home_a, passphrase=PASSPHRASE)
            desks.append(desk_a)
            desk_a.acting_user_id = add_user(desk_a, "Bench Admin", "administrator").id
            start_space(desk_a, url)
            started = time.perf_counter()
            first = run_round(desk_a, timeout_s=120)
            assert first.status.state == "synced", first.status.message
            log(f"desk A: starting snapshot made and sent in {time.perf_counter() - started:.1f} s")

            ids = [
                r[0]
                for r in desk_a.conn.execute(
                    "SELECT id FROM patient ORDER BY id LIMIT ?", (EDITS_AFTER_SNAPSHOT,)
                )
            ]
            for n, patient_id in enumerate(ids):
                update_patient(desk_a, patient_id, {"preferred_name": f"Bench{n}"})
            pushed = run_round(desk_a, timeout_s=120)
            assert pushed.pushed >= 1, pushed.status.message

            invite = create_invite(desk_a)
            pending = claim(invite.code)
            admit(desk_a, invite, wait_for_claim(desk_a, invite, poll_seconds=0.05))
            joined = wait_for_package(pending, poll_seconds=0.05)

            home_b = scratch / "desk-b"
            os.sync()
            started = time.perf_counter()
            desk_b = join_from_snapshot(joined, home_b)
            desks.append(desk_b)
            restored_s = time.perf_counter() - started
            caught_up = run_round(desk_b, timeout_s=120)
            first_sync_s = time.perf_counter() - started
            assert caught_up.status.state == "synced", caught_up.status.message
            assert caught_up.pulled >= 1
            log(
                f"desk B: snapshot received and made its own in {restored_s:.1f} s, "
                f"caught up (batches, digest) in {first_sync_s - restored_s:.1f} s"
            )
            emit("first sync of a 100k clinic to a new desk (loopback)", first_sync_s, "s", copy_s)

            idle: list[float] = []
            visible: list[float] = []
            for n in range(LATENCY_SAMPLES):
                started = time.perf_counter()
                run_round(desk_b, timeout_s=30)
                idle.append(time.perf_counter() - started)
                update_patient(desk_a, ids[n], {"preferred_name": f"Later{n}"})
                assert run_round(desk_a, timeout_s=30).pushed == 1
                applied: list[float] = []

                def progress(done: int, total: int, what: str, out: list[float] = applied) -> None:
                    if what.startswith("Receiving") and not out:
                        out.append(time.perf_counter())

                started = time.perf_counter()
                result = run_round(desk_b, progress=progress, timeout_s=30)
                assert result.pulled == 1 and applied, result.status.message
                visible.append(applied[0] - started)
            row = desk_b.conn.execute(
                "SELECT preferred_name FROM patient WHERE id = ?", (ids[LATENCY_SAMPLES - 1],)
            ).fetchone()
            assert row == (f"Later{LATENCY_SAMPLES - 1}",)
            log(
                f"edit visible on B after reaching the relay: p50 {percentile(visible, 50):.3f} s, "
                f"p99 {percentile(visible, 99):.3f} s; idle round p50 {percentile(idle, 50):.3f} s"
            )
            emit(
                "edit visible on another desk after reaching the relay, p50",
                percentile(visible, 50),
                "s",
                percentile(idle, 50),
            )
            emit(
                "edit visible on another desk after reaching the relay, p99",
                percentile(visible, 99),
                "s",
                percentile(idle, 50),
            )
    finally:
        for desk in desks:
            desk.close()
        shutil.rmtree(scratch, ignore_errors=True)
