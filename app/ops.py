"""The one progress-and-cancel protocol that every long core operation takes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.errors import FrontdeskError

# progress(done, total, what): total 0 means "unknown"; `what` is plain words, no PHI.
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, what: str) -> None:
    """The default when nobody is watching."""


class OperationCancelledError(FrontdeskError):
    """The person pressed Cancel; the operation undid what it had started."""


class CancelToken:
    """Set from the GUI thread, checked by the worker between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise OperationCancelledError("Cancelled; nothing was changed.")
