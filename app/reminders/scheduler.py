"""The in-app clock that wakes the reminder pass every minute while Frontdesk runs.

It only ticks: what is due, and when, lives in the outbox, so the scheduler keeps no
message of its own and a restart loses nothing. Each pass runs on its own forked
connection (never the window's), one at a time: a pass still running when the next tick
comes is not doubled up (max_instances=1) and ticks missed while the computer slept
collapse into one (coalesce). On start one pass runs at once to catch up on what came due
while the app was closed; the planner skips what is too late, with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import (  # type: ignore[import-untyped]
    BackgroundScheduler,
)
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken
from app.reminders.service import PassReport, run_pass

log = logging.getLogger(__name__)

JOB_ID = "reminder-pass"
# A tick that could not start on time (the computer slept, a pass overran) still runs if
# it is at most this late; later ones fold into the next tick (coalesce).
MISFIRE_GRACE_S = 300


class ReminderScheduler:
    """Runs run_pass every `interval_s` seconds on a background thread."""

    def __init__(
        self,
        open_fork: Callable[[], Clinic],
        *,
        on_pass: Callable[[PassReport], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        interval_s: float = 60,
    ) -> None:
        self._open_fork = open_fork
        self._on_pass = on_pass
        self._on_failure = on_failure
        self._interval_s = interval_s
        self._cancel = CancelToken()
        self._lock = threading.Lock()  # one pass at a time, whoever asks (tick or Send now)
        self._state = threading.Lock()  # guards the two flags below
        self._in_tick = False
        self._again = False
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Tick from now on; the first pass runs at once (the catch-up)."""
        if self.running:
            return
        self._cancel = CancelToken()
        self._scheduler.add_job(
            self._tick,
            # The trigger object, not its name: a name is looked up through package entry
            # points, which a frozen program may not carry.
            IntervalTrigger(seconds=self._interval_s, timezone=UTC),
            id=JOB_ID,
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )
        self._scheduler.start()

    def run_now(self) -> None:
        """Ask for a pass now (the tray's "Send now"); it runs on the scheduler's thread.
        Asked while a pass runs, another follows it (APScheduler would drop the request:
        one instance at a time), so a click is never lost."""
        if not self.running:
            return
        with self._state:
            if self._in_tick:
                self._again = True
                return
        self._scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))

    def stop(self, *, wait: bool = True) -> None:
        """Stop ticking; a pass under way is asked to stop between messages. With `wait`
        (app exit) this returns once it has, so the connection closes cleanly."""
        if not self.running:
            return
        self._cancel.cancel()
        self._scheduler.shutdown(wait=wait)

    def run_once(self, *, now: datetime | None = None) -> PassReport:
        """One pass on the calling thread (tests, and the tick itself)."""
        with self._lock:
            clinic = self._open_fork()
            try:
                report = run_pass(clinic, now=now, cancel=self._cancel)
            finally:
                clinic.close()
        if self._on_pass is not None:
            self._on_pass(report)
        return report

    def _tick(self) -> None:
        with self._state:
            self._in_tick, self._again = True, False
        try:
            while True:
                self._one_tick()
                with self._state:
                    if not self._again or self._cancel.cancelled:
                        return
                    self._again = False
        finally:
            with self._state:
                self._in_tick = False

    def _one_tick(self) -> None:
        try:
            report = self.run_once()
        except FrontdeskError as exc:
            # The clinic could not be opened on a second connection (disk gone, file
            # moved): the next tick tries again; the window shows its own problem.
            log.warning("reminder pass could not start (%s)", type(exc).__name__)
            self._failed(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the last line of defence of this thread
            # APScheduler would log the traceback, whose messages may quote patient data;
            # a crash report keeps only what locates the bug, and the next tick goes on.
            from app.crash_report import write_crash_report

            report_path = write_crash_report(type(exc), exc, exc.__traceback__)
            log.error("reminder pass failed (%s); report %s", type(exc).__name__, report_path.name)
            self._failed(
                "The reminder pass stopped on something unexpected; a report without "
                "patient information was saved for support."
            )
            return
        log.info("reminder pass: %s", report.summary())

    def _failed(self, message: str) -> None:
        if self._on_failure is not None:
            self._on_failure(message)
