"""Pulls that wait: a long-poll for a space's next batch, woken without holding a thread.

`GET /v1/batches?…&wait=s` with nothing after the caller's cursor waits here, as a
coroutine on the event loop, until the space's head moves past that cursor, the wait
runs out, the caller hangs up or the relay stops. Two things move a head:

- a push answered by this process wakes the space's waiters at once (`pushed`), and is
  remembered, so a pull that found nothing just before it and registers just after it
  does not wait for it;
- a push answered by another relay process on the same PostgreSQL is seen by one
  check of the heads of every space someone waits on, a few times a second
  (`Settings.wait_check_seconds`): one query per check however many devices wait, run
  off the event loop.

Nothing here is shared between event loops: one `Waits` per application, used from its
loop only. `close()` (at server shutdown) wakes every waiter so a stop is never held up
by a pull that would otherwise wait its full time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool

from relay.storage.base import Storage

log = logging.getLogger("relay")
_PUSHED_KEPT = 100_000  # spaces whose newest cursor is remembered (a few MB at most)


@dataclass
class _Space:
    """A space someone waits on: the highest head seen, and an event set when it moves."""

    head: int
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def advance(self, head: int) -> None:
        if head > self.head:
            self.head = head
            self.moved.set()  # wakes everyone waiting now; later waiters get a fresh event
            self.moved = asyncio.Event()


class Waits:
    """The pulls of this process that wait, by space."""

    def __init__(self, storage: Storage, check_seconds: float) -> None:
        self._storage = storage
        self._check_seconds = check_seconds
        self._spaces: dict[str, _Space] = {}
        # The newest cursor this process stored per space, waited on or not: a pull that
        # found nothing and registers just after a push here still sees that push.
        self._pushed: dict[str, int] = {}
        self._checker: asyncio.Task[None] | None = None
        self._closed = False
        self.waiting = 0  # pulls waiting right now (tests wait for theirs to be)

    def pushed(self, space_id: str, cursor: int) -> None:
        """A batch was stored at `cursor` by this process: wake the space's waiters."""
        if len(self._pushed) >= _PUSHED_KEPT and space_id not in self._pushed:
            self._pushed.clear()  # a bound; the checks of the heads cover what is forgotten
        self._pushed[space_id] = max(cursor, self._pushed.get(space_id, 0))
        self._seen(space_id, cursor)

    def _seen(self, space_id: str, head: int) -> None:
        space = self._spaces.get(space_id)
        if space is not None:
            space.advance(head)

    async def past(self, space_id: str, after: int, head: int, seconds: float) -> bool:
        """Wait until the space's head is past `after` (True), or for at most `seconds`
        (False); `head` is the head the caller's empty pull saw. False at once once the
        relay is stopping."""
        if self._closed:
            return False
        head = max(head, self._pushed.get(space_id, 0))
        space = self._spaces.get(space_id)
        if space is None:
            space = self._spaces[space_id] = _Space(head)
        else:
            space.advance(head)
        space.waiting += 1
        self.waiting += 1
        self._start_checking()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while space.head <= after and not self._closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(space.moved.wait(), remaining)
                except TimeoutError:
                    return False
            return space.head > after
        finally:
            space.waiting -= 1
            self.waiting -= 1
            if space.waiting == 0 and self._spaces.get(space_id) is space:
                del self._spaces[space_id]

    def close(self) -> None:
        """The relay is stopping: every waiting pull answers now with what it has."""
        self._closed = True
        for space in self._spaces.values():
            space.moved.set()
        if self._checker is not None:
            self._checker.cancel()

    def _start_checking(self) -> None:
        if self._checker is None:
            self._checker = asyncio.get_running_loop().create_task(self._check_heads())

    async def _check_heads(self) -> None:
        """While anyone waits: read the waited-on spaces' heads from the database."""
        try:
            while self._spaces and not self._closed:
                await asyncio.sleep(self._check_seconds)
                space_ids = list(self._spaces)
                if not space_ids:
                    break
                try:
                    heads = await run_in_threadpool(self._storage.heads, space_ids)
                except Exception as error:  # noqa: BLE001 - waiters time out; the next check may work
                    log.info("heads of waited-on spaces not read: %s", type(error).__name__)
                    continue
                for space_id, head in heads.items():
                    self._seen(space_id, head)
        finally:
            # No await between the loop's last test and this: a waiter that registers
            # from here on starts a new checker.
            self._checker = None
