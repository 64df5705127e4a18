"""Sync of the cached 100,000-patient clinic (about 2.5 GB) through a relay on loopback.

The relay runs as `python -m relay serve` in a process of its own (SQLite), as a clinic
would run it. Desk A is a copy of the bench clinic (the copy is the baseline: a plain
`shutil.copyfile` of clinic.db in the same run); it connects to the relay as the first
desk, which sends the starting snapshot, then saves 200 edits that travel as batches.

Targets (issue 11):
- first sync to a new workstation ≤ 60 s: desk B, enrolled with a real code, downloads
  the snapshot, checks and opens it, makes it its own, and runs its first round (the
  batches after the snapshot, the digest). Baseline: the plain copy of clinic.db.
- an edit on one desk visible on another ≤ 2 s after it reached the relay: desk B runs
  the window's SyncRunner (ui/sync/runner.py, Qt offscreen), whose watcher keeps a pull
  waiting on the relay; desk A, on a thread of its own as another computer would, saves
  an edit and runs its round, which pushes it. Timed from A's push acknowledged (the
  round's progress report right after the relay's 201) to the commit of the batch on B
  (B's round's progress report right after it), with nothing done on B: A's push wakes
  B's watcher, which asks B's runner for a round. 30 edits a moment apart, p50 and p99;
  baseline: a round of B's with nothing to fetch, in the same run.

Also logged: how long the first desk took to make and send the snapshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.bench._common import PASSPHRASE, demo_clinic
from tests.bench._report import Emit, log, percentile

if TYPE_CHECKING:
    from app.clinic import Clinic

PATIENTS = 100_000
SEED = 1
EDITS_AFTER_SNAPSHOT = 200
LATENCY_SAMPLES = 30
IDLE_SAMPLES = 10
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

    from app.clinic import open_clinic
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
            for _ in range(IDLE_SAMPLES):
                started = time.perf_counter()
                assert run_round(desk_b, timeout_s=30).pulled == 0
                idle.append(time.perf_counter() - started)
            visible = _edits_seen_by_a_watching_desk(desk_a, desk_b, ids[:LATENCY_SAMPLES])
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


def _edits_seen_by_a_watching_desk(
    desk_a: Clinic, desk_b: Clinic, patient_ids: list[str]
) -> list[float]:
    """Seconds from each of A's pushes acknowledged to its commit on B, where B does
    nothing but run the window's SyncRunner (its watcher and the rounds it asks for)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt

    from app.patients.records import update_patient
    from app.sync.client import run_round
    from ui.application import application
    from ui.bus import DataBus
    from ui.sync.runner import SyncRunner

    app = application()

    failed: list[BaseException] = []

    def spin_until(done: Callable[[], bool], seconds: float = 60) -> None:
        """Run B's window's events (the runner's signals) until done."""
        deadline = time.monotonic() + seconds
        while not done():
            if failed:
                raise failed[0]
            if time.monotonic() > deadline:
                raise RuntimeError("desk B did not see the edit in time")
            app.processEvents()
            time.sleep(0.001)

    committed: list[float] = []

    def on_progress(done: int, total: int, what: str) -> None:  # on B's round's thread
        if what.startswith("Receiving"):
            committed.append(time.perf_counter())

    runner = SyncRunner(desk_b, DataBus())
    runner.progress.connect(on_progress, Qt.ConnectionType.DirectConnection)
    runner.start(delay_ms=0)
    visible: list[float] = []
    try:
        spin_until(lambda: runner.rounds >= 1 and not runner.running and runner.watching)
        for n, patient_id in enumerate(patient_ids):
            pause_ends = time.monotonic() + 0.3  # B's watcher back on its question
            spin_until(lambda end=pause_ends: time.monotonic() > end)
            acked: list[float] = []
            committed.clear()

            def edit_on_a(
                n: int = n, patient_id: str = patient_id, out: list[float] = acked
            ) -> None:
                def progress(done: int, total: int, what: str) -> None:
                    if what.startswith("Sending") and not out:
                        out.append(time.perf_counter())

                fork = desk_a.fork()  # desk A's own connection on its own thread
                try:
                    update_patient(fork, patient_id, {"preferred_name": f"Watched{n}"})
                    result = run_round(fork, progress=progress, timeout_s=30)
                    if result.pushed != 1:
                        raise RuntimeError(f"desk A did not push: {result.status.message}")
                except BaseException as error:  # noqa: BLE001 - handed to the spinning thread
                    failed.append(error)
                finally:
                    fork.close()

            desk_a_thread = threading.Thread(target=edit_on_a, name="desk-a")
            desk_a_thread.start()
            spin_until(lambda t=desk_a_thread: bool(committed) and not t.is_alive())
            desk_a_thread.join()
            spin_until(lambda: not runner.running)
            row = desk_b.conn.execute(
                "SELECT preferred_name FROM patient WHERE id = ?", (patient_id,)
            ).fetchone()
            assert row == (f"Watched{n}",), row
            visible.append(committed[0] - acked[0])
    finally:
        runner.stop()
    return visible
