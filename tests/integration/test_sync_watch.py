"""Waiting for news (app/sync/watch.py) on desks joined through the real relay: another
desk's push ends the wait, this desk's own batches do not; nothing new, sync off, a relay
that is down or talks nonsense all answer False without an error and without asking
again and again; a hang-up cuts a wait at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.sync.watch import NewsWatch, wait_for_news, watch_point
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401
from tests.support.sync_relay_desks import first_desk, join_desk, push_as, sync

LONG = 20.0  # seconds a wait may last; a desk woken in time never gets near it


@pytest.fixture
def desk_a(clinic: Clinic, relay_url: str) -> Clinic:  # noqa: F811
    return first_desk(clinic, relay_url)


@pytest.fixture
def desk_b(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk = join_desk(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def _waiting(pool: ThreadPoolExecutor, desk: Clinic, timeout_s: float = LONG) -> Future[bool]:
    """wait_for_news on a connection of the waiting thread's own, as the runner does."""

    def wait() -> bool:
        fork = desk.fork()
        try:
            return wait_for_news(fork, timeout_s)
        finally:
            fork.close()

    return pool.submit(wait)


def _until(condition: Callable[[], bool], seconds: float = LONG) -> None:
    done = threading.Event()
    for _ in range(int(seconds * 100)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("waited in vain")


def test_another_desks_push_ends_the_wait_with_news(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
    pool: ThreadPoolExecutor,
) -> None:
    waiting = _waiting(pool, desk_b)
    _until(lambda: relay.waiting_pulls == 1)

    created = create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    assert sync(desk_a).pushed == 1

    assert waiting.result(timeout=LONG) is True
    assert sync(desk_b).pulled == 1
    assert desk_b.conn.execute(
        "SELECT family_name FROM patient WHERE id = ?", (created.id,)
    ).fetchone() == ("Okafor",)


def test_this_desks_own_batches_are_not_news(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
) -> None:
    push_as(desk_b, b"sealed, not yet fetched back")  # after B's cursor, B's own

    assert wait_for_news(desk_b, 0.5) is False

    create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    sync(desk_a)
    assert wait_for_news(desk_b, LONG) is True


def test_nothing_new_is_no_news_when_the_time_runs_out(desk_a: Clinic, desk_b: Clinic) -> None:
    assert wait_for_news(desk_b, 0.3) is False


def test_a_desk_without_sync_has_nothing_to_wait_for(clinic: Clinic) -> None:
    assert watch_point(clinic) is None
    assert wait_for_news(clinic, 0.2) is False


def test_a_relay_that_is_down_is_no_news_and_no_error(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
) -> None:
    relay.stop()

    assert wait_for_news(desk_b, 3) is False


class _Relay(BaseHTTPRequestHandler):
    """Answers every request at once with `answer` and counts them."""

    answer: bytes = b""
    content_type = "application/json"
    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *_args: object) -> None:
        pass


def _serving(handler: type[_Relay], desk: Clinic) -> Iterator[type[_Relay]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    desk.conn.execute(
        "UPDATE local_sync SET relay_url = ?", (f"http://127.0.0.1:{server.server_port}",)
    )
    try:
        yield handler
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def captive_portal(desk_b: Clinic) -> Iterator[type[_Relay]]:
    class Portal(_Relay):
        answer = b"<html>Sign in to the hotel's wifi</html>"
        content_type = "text/html"

    yield from _serving(Portal, desk_b)


@pytest.fixture
def impatient_relay(desk_b: Clinic) -> Iterator[type[_Relay]]:
    class Impatient(_Relay):  # never waits: an empty page at once, every time
        answer = json.dumps({"batches": [], "more": False, "head": 0}).encode()

    yield from _serving(Impatient, desk_b)


def test_a_relay_talking_nonsense_is_no_news_after_a_pause_never_a_quick_retry(
    desk_b: Clinic, captive_portal: type[_Relay]
) -> None:
    with NewsWatch() as watch:
        point = watch_point(desk_b)
        assert point is not None
        answers = [watch.news_after(point, 1.0) for _ in range(3)]

    assert answers == [False, False, False]
    assert captive_portal.asked == 3  # once a call: each ends in a pause, never a retry


def test_a_relay_answering_before_its_wait_is_asked_at_most_once_a_second(
    desk_b: Clinic, impatient_relay: type[_Relay]
) -> None:
    assert wait_for_news(desk_b, 2.5) is False

    assert 1 <= impatient_relay.asked <= 3


def test_a_hang_up_cuts_a_wait_at_once_and_stops_all_later_ones(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
    pool: ThreadPoolExecutor,
) -> None:
    watch = NewsWatch()
    point = watch_point(desk_b)
    assert point is not None
    waiting = pool.submit(watch.news_after, point, LONG)
    _until(lambda: relay.waiting_pulls == 1)

    watch.hang_up()

    assert waiting.result(timeout=5) is False
    _until(lambda: relay.waiting_pulls == 0)  # the relay saw the connection go
    create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    sync(desk_a)
    assert watch.news_after(point, LONG) is False  # hung up for good: at once
    watch.close()
