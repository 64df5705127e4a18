"""One sending pass at a time on a workstation: an OS file lock in the clinic's data folder.

The app's scheduler and the OS scheduled task (`main.py send-due`) can both wake on the
sender workstation. Two passes there would each see the other's half-sent messages as
left by a crash and "recover" them while they are being sent, which is how a text goes
twice. The lock is the operating system's, so a process killed mid-send drops it at once
and the next pass can recover what it left.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

LOCK_NAME: Final = "sending.lock"


@contextmanager
def sending_lock(home: Path) -> Iterator[bool]:
    """Yields True while this process holds the lock, False when another pass has it
    (the caller then does nothing; it never waits)."""
    path = home / LOCK_NAME
    handle = path.open("a+b")
    try:
        held = _try_lock(handle)
        try:
            yield held
        finally:
            if held:
                _unlock(handle)
    finally:
        handle.close()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        # flock, not fcntl/lockf: its locks belong to the open file, so two threads of one
        # process (the app's scheduler and a "Send now" click) also exclude each other.
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
