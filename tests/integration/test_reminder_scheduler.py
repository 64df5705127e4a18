"""The in-app scheduler: a catch-up pass at start, passes on forked connections, a clean stop."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlcipher3 import dbapi2

from app.clinic import Clinic
from app.errors import StoreError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.scheduler import ReminderScheduler
from app.reminders.service import MODE_OFF, PassReport
from app.scheduling.appointments import book

WAIT_S = 30  # how long a test waits for the background thread at most (not a speed target)
CHICAGO = ZoneInfo("America/Chicago")


class Forks:
    """open_fork for the scheduler that remembers each connection it handed out."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.opened: list[Clinic] = []
        self.threads: list[int] = []

    def __call__(self) -> Clinic:
        fork = self.clinic.fork()
        self.opened.append(fork)
        self.threads.append(threading.get_ident())
        return fork


def _collector() -> tuple[queue.Queue[PassReport], Callable[[PassReport], None]]:
    reports: queue.Queue[PassReport] = queue.Queue()
    return reports, reports.put


def test_start_runs_a_catch_up_pass_at_once_on_its_own_connection(clinic: Clinic) -> None:
    patient = create_patient(clinic, PatientDraft(family_name="Quispe")).id
    save_rule(
        clinic,
        Rule(
            id="",
            kind="appointment",
            name="Day before",
            touches=(Touch(days=-1, at=time(10, 0)),),
            channels=("email",),
        ),
    )
    # Two days ahead: its reminder (tomorrow 10:00) is in the future at any hour the test
    # runs; a visit tomorrow would have its reminder stale late in the evening.
    visit = datetime.now(CHICAGO).replace(hour=11, minute=0, second=0, microsecond=0)
    visit += timedelta(days=2)
    book(clinic, patient, visit, visit + timedelta(minutes=30))
    forks = Forks(clinic)
    reports, on_pass = _collector()
    scheduler = ReminderScheduler(forks, on_pass=on_pass, interval_s=3600)

    scheduler.start()
    try:
        report = reports.get(timeout=WAIT_S)
    finally:
        scheduler.stop()

    assert report.mode == MODE_OFF  # a new clinic: sending is off, so it only plans
    assert report.plan is not None and report.plan.planned == 1
    assert len(outbox.list_messages(clinic)) == 1  # the GUI's connection sees it
    assert forks.opened and all(fork is not clinic for fork in forks.opened)
    assert threading.get_ident() not in forks.threads
    with pytest.raises(dbapi2.ProgrammingError, match="closed"):  # closed after its pass
        forks.opened[0].conn.execute("SELECT 1")


def test_run_now_asks_for_another_pass_and_stop_ends_the_ticking(clinic: Clinic) -> None:
    reports, on_pass = _collector()
    scheduler = ReminderScheduler(clinic.fork, on_pass=on_pass, interval_s=3600)
    scheduler.start()
    reports.get(timeout=WAIT_S)

    scheduler.run_now()
    second = reports.get(timeout=WAIT_S)
    scheduler.stop(wait=True)

    assert second.mode == MODE_OFF
    assert not scheduler.running
    scheduler.run_now()  # after stop: nothing happens, nothing raises
    assert reports.empty()


def test_a_clinic_that_cannot_be_opened_is_reported_and_the_scheduler_goes_on(
    clinic: Clinic,
) -> None:
    failures: queue.Queue[str] = queue.Queue()
    reports, on_pass = _collector()
    attempts: list[int] = []

    def open_fork() -> Clinic:
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreError("The clinic database file is missing from the data folder.")
        return clinic.fork()

    scheduler = ReminderScheduler(
        open_fork, on_pass=on_pass, on_failure=failures.put, interval_s=3600
    )
    scheduler.start()
    try:
        assert "missing" in failures.get(timeout=WAIT_S)
        scheduler.run_now()
        assert reports.get(timeout=WAIT_S).mode == MODE_OFF
    finally:
        scheduler.stop()


def test_run_once_uses_the_given_time(clinic: Clinic) -> None:
    scheduler = ReminderScheduler(clinic.fork)
    report = scheduler.run_once(now=datetime(2026, 10, 31, 9, 0, tzinfo=CHICAGO))
    assert report is not None and report.at == "2026-10-31T14:00:00Z"
