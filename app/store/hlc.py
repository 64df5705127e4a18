"""Hybrid logical clock: orders changes across workstations whose clocks disagree.

A timestamp is (wall milliseconds, counter). It never goes backwards on one device,
and after seeing a remote timestamp it moves past it, so causally later writes sort
later even when one PC's clock is hours behind. Text form sorts the same as the
tuple, which lets SQLite order change rows with a plain ORDER BY.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_COUNTER = 99_999  # five digits in the text form


def _bounded(wall_ms: int, counter: int) -> Hlc:
    """Past MAX_COUNTER the clock borrows the next millisecond, so the text form
    (fixed width) keeps sorting exactly like the tuple."""
    if counter > MAX_COUNTER:
        return Hlc(wall_ms + 1, 0)
    return Hlc(wall_ms, counter)


@dataclass(frozen=True, order=True)
class Hlc:
    wall_ms: int
    counter: int

    def encode(self) -> str:
        return f"{self.wall_ms:015d}.{self.counter:05d}"

    @classmethod
    def decode(cls, text: str) -> Hlc:
        wall, counter = text.split(".")
        return cls(int(wall), int(counter))


class HybridLogicalClock:
    def __init__(
        self, last: Hlc | None = None, wall_clock: Callable[[], int] | None = None
    ) -> None:
        self._last = last or Hlc(0, 0)
        self._wall = wall_clock or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()

    @property
    def last(self) -> Hlc:
        return self._last

    def now(self) -> Hlc:
        with self._lock:
            wall = self._wall()
            if wall > self._last.wall_ms:
                self._last = Hlc(wall, 0)
            else:
                self._last = _bounded(self._last.wall_ms, self._last.counter + 1)
            return self._last

    def observe(self, remote: Hlc) -> Hlc:
        """Merge a timestamp received from another device (sync)."""
        with self._lock:
            wall = self._wall()
            top = max(wall, self._last.wall_ms, remote.wall_ms)
            if top == self._last.wall_ms == remote.wall_ms:
                counter = max(self._last.counter, remote.counter) + 1
            elif top == self._last.wall_ms:
                counter = self._last.counter + 1
            elif top == remote.wall_ms:
                counter = remote.counter + 1
            else:
                counter = 0
            self._last = _bounded(top, counter)
            return self._last
