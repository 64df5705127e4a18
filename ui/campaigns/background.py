"""A worker thread for the Campaigns screens' reads: newest request wins, the GUI never waits.

Counting a group of patients or listing lapsed ones can take half a second on a large
clinic, and the person keeps typing meanwhile. The thread has its own connection
(clinic.fork()), runs only the newest work it was given, and an answer to an older
request is dropped, so a slow count never overwrites the count of what is on screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.clinic import Clinic

log = logging.getLogger(__name__)

Work = Callable[[Clinic], Any]


@dataclass(frozen=True)
class Outcome:
    """What the newest work gave: its value, or the error it raised (never both)."""

    seq: int
    value: Any = None
    error: BaseException | None = None


class LatestWork(QObject):
    """`request(work)` runs `work(fork)` on the thread; `ready` says an answer is waiting,
    `take()` hands it over once, and only when it answers the newest request."""

    ready = Signal()

    def __init__(self, clinic: Clinic, name: str = "campaigns") -> None:
        super().__init__()
        self._clinic = clinic
        self._wake = threading.Condition()
        self._pending: tuple[int, Work] | None = None
        self._answer: Outcome | None = None
        self._seq = 0
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self, work: Work) -> int:
        with self._wake:
            self._seq += 1
            self._pending = (self._seq, work)
            self._wake.notify()
            return self._seq

    def take(self) -> Outcome | None:
        with self._wake:
            answer, self._answer = self._answer, None
            if answer is None or answer.seq != self._seq:
                return None
            return answer

    @property
    def idle(self) -> bool:
        """Nothing asked for is waiting, running or not yet taken (tests wait on this)."""
        with self._wake:
            return self._pending is None and not self._busy and self._answer is None

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        worker = self._clinic.fork()
        try:
            while True:
                with self._wake:
                    while self._pending is None and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        return
                    assert self._pending is not None
                    seq, work = self._pending
                    self._pending = None
                    self._busy = True
                try:
                    answer = Outcome(seq, value=work(worker))
                except Exception as exc:  # noqa: BLE001 - handed to the GUI thread to show
                    # The type only: a message may quote what was typed.
                    log.warning("campaigns read failed: %s", type(exc).__name__)
                    answer = Outcome(seq, error=exc)
                with self._wake:
                    self._answer = answer
                    self._busy = False
                self.ready.emit()
        finally:
            worker.close()
