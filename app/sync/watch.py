"""Waiting for the other workstations' work: a pull that waits on the relay (a long-poll),
so a desk syncs within moments of another desk's push instead of at its next timed round.

`wait_for_news(clinic, timeout_s)` asks the relay for the first batch after this desk's
cursor and lets the relay hold the question open until one arrives. True means a batch
from another desk waits to be fetched (this desk's own, which come back from the relay
too, are skipped); False means the time ran out (sync off: nothing to wait for, so the
whole time), or the relay could not be asked — then after a pause that grows while the
trouble lasts, so a caller that simply asks again never hammers a relay that is down.
It never raises for the relay's or the network's trouble. It only asks; fetching and
applying are the round's (client.py).

A `NewsWatch` keeps one connection for a caller that watches in a loop (the window's
runner, ui/sync/runner.py) and can be hung up from another thread: `hang_up()` cuts a
request that waits at once, where closing a requests.Session would not (that closes only
idle connections). The watch reads nothing from the database while it waits: the runner
reads this desk's cursor with `watch_point` on a connection of its own first.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from app.errors import RelayError
from app.sync import state
from app.sync.relay_api import check_relay_url

if TYPE_CHECKING:
    from app.clinic import Clinic

log = logging.getLogger(__name__)

WAIT_S = 25.0  # one request's wait; the relay allows up to 30 s
_READ_SLACK_S = 10.0  # the read timeout is the wait plus this: the relay answers first
# A connection being made cannot be cut (a hang-up waits for it): kept short.
_CONNECT_S = 5.0
_SPACING_S = 1.0  # an empty answer before its time: the next request starts no sooner
_TROUBLE_PAUSES_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)  # after the 1st, 2nd… failure


@dataclass(frozen=True)
class WatchPoint:
    """What a wait needs from this desk's records: where, as whom, and after which cursor."""

    relay_url: str
    token: str
    cursor: int
    device_id: str


def watch_point(clinic: Clinic) -> WatchPoint | None:
    """This desk's place on the relay, or None when there is nothing to wait for (sync
    off or never set up, or this desk was removed)."""
    from app.sync.devices import removed_here

    setup = state.read_setup(clinic.conn)
    if setup is None or not setup.enabled or not setup.device_token:
        return None
    if removed_here(clinic.conn):
        return None
    return WatchPoint(setup.relay_url, setup.device_token, setup.cursor, clinic.store.device_id)


def wait_for_news(clinic: Clinic, timeout_s: float, watch: NewsWatch | None = None) -> bool:
    """Wait up to `timeout_s` for another desk's batch after this desk's cursor: True as
    soon as one waits on the relay. False when the time ran out (also when sync is off:
    then after the whole time), or after a pause when the relay could not be asked; so a
    caller asking in a loop never spins. Never raises for the relay's or the network's
    trouble. `watch` keeps the connection between calls and lets another thread hang up."""
    point = watch_point(clinic)
    if point is None:
        if watch is not None:
            watch.pause(timeout_s)
        else:
            time.sleep(timeout_s)
        return False
    if watch is not None:
        return watch.news_after(point, timeout_s)
    with NewsWatch() as own:
        return own.news_after(point, timeout_s)


class NewsWatch:
    """Long-polls on one connection, with a hang-up another thread may pull at any time
    (for good: a watch that was hung up answers False at once from then on)."""

    def __init__(self) -> None:
        self._hung_up = threading.Event()
        self._adapter = _HangUpAdapter()
        self._http = requests.Session()
        self._http.mount("http://", self._adapter)
        self._http.mount("https://", self._adapter)
        self._troubles = 0

    def __enter__(self) -> NewsWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def hung_up(self) -> bool:
        return self._hung_up.is_set()

    def hang_up(self) -> None:
        """Stop: a request that waits is cut, a pause ends, nothing more is asked."""
        self._hung_up.set()
        self._adapter.hang_up()

    def close(self) -> None:
        self.hang_up()
        self._http.close()

    def pause(self, seconds: float) -> bool:
        """Sleep unless hung up meanwhile; True when it was hung up."""
        return self._hung_up.wait(seconds)

    def news_after(self, point: WatchPoint, timeout_s: float) -> bool:
        """True as soon as a batch of another desk than `point.device_id` is on the relay
        after `point.cursor`; False when `timeout_s` ran out, on a hang-up, or (after a
        pause) when the relay could not be asked."""
        deadline = time.monotonic() + timeout_s
        after = point.cursor
        while not self.hung_up:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            asked = time.monotonic()
            try:
                first = self._first_after(point, after, min(remaining, WAIT_S))
            except _NoAnswerError:  # a pause that grows while the trouble lasts
                pause = _TROUBLE_PAUSES_S[min(self._troubles, len(_TROUBLE_PAUSES_S) - 1)]
                self._troubles += 1
                self.pause(min(pause, max(0.0, deadline - time.monotonic())))
                return False
            self._troubles = 0
            if first is None:  # nothing came: the relay's wait ended (or it is stopping)
                self.pause(max(0.0, min(asked + _SPACING_S, deadline) - time.monotonic()))
                continue
            cursor, device_id = first
            if device_id != point.device_id:
                return True
            after = cursor  # this desk's own batch: here already, look past it
        return False

    def _first_after(self, point: WatchPoint, after: int, wait_s: float) -> tuple[int, str] | None:
        """The first batch after `after` as (cursor, device id), None when none came
        within the wait; _NoAnswerError when the relay could not be asked or talked nonsense."""
        try:
            address = check_relay_url(point.relay_url)
            answer = self._http.get(
                f"{address}/v1/batches?after={after}&limit=1&wait={wait_s:.3f}",
                headers={"Authorization": f"Bearer {point.token}"},
                timeout=(_CONNECT_S, wait_s + _READ_SLACK_S),
            )
        except (RelayError, requests.RequestException, OSError) as exc:
            if not self.hung_up:
                log.info("sync: waiting for news failed (%s)", type(exc).__name__)
            raise _NoAnswerError from None
        if answer.status_code != 200:
            log.info("sync: the relay did not wait for news (%s)", answer.status_code)
            raise _NoAnswerError
        try:
            return _first_of(answer.json(), after)
        except ValueError:  # not JSON
            raise _NoAnswerError from None


class _NoAnswerError(Exception):
    """The relay could not be asked, refused, or answered nonsense (never leaves here)."""


def _first_of(body: object, after: int) -> tuple[int, str] | None:
    batches = body.get("batches") if isinstance(body, dict) else None
    if not isinstance(batches, list):
        raise _NoAnswerError
    if not batches:
        return None
    first = batches[0]
    cursor = first.get("cursor") if isinstance(first, dict) else None
    device_id = first.get("device_id") if isinstance(first, dict) else None
    if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor <= after:
        raise _NoAnswerError
    if not isinstance(device_id, str):
        raise _NoAnswerError
    return cursor, device_id


class _HangUpAdapter(HTTPAdapter):
    """requests' adapter, remembering each connection it opens so that another thread can
    shut their sockets: a request waiting for its answer then fails at once, and so does
    any request made after the hang-up."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._cut = False

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        pool: Any = super().get_connection_with_tls_context(*args, **kwargs)
        if getattr(pool.ConnectionCls, "noted_by", None) is not self:
            pool.ConnectionCls = self._noting(pool.ConnectionCls)
        return pool

    def _noting(self, base: type[Any]) -> type[Any]:
        adapter = self

        class Noted(base):  # type: ignore[misc]
            noted_by = adapter

            def connect(self) -> None:
                super().connect()
                adapter.opened(self)

        return Noted

    def opened(self, connection: Any) -> None:
        with self._lock:
            self._connections.add(connection)
            cut = self._cut
        if cut:
            _shut(connection)

    def hang_up(self) -> None:
        with self._lock:
            self._cut = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


def _shut(connection: Any) -> None:
    """Shut the connection's socket for both directions: a thread blocked reading it
    wakes with an error at once. The plain socket's shutdown, also under TLS (the TLS
    socket's own would drop its state under the reading thread's feet)."""
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
