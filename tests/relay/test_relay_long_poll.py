"""Pulls that wait (GET /v1/batches?wait=s): woken by the next batch of the space,
empty when the wait runs out, refused like any pull, bounded, cheap for the relay
(hundreds at once hold none of its threads) and ended at once when the relay stops.

The relays here are real (uvicorn on loopback, SQLite and PostgreSQL). Client read
timeouts are well below the 30 s the pulls ask to wait: a pull that was not woken
fails the test instead of answering late.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from tests.support.relay import RunningRelay, TestSpace, enroll_device, new_space, sealed_batch

WOKEN_WITHIN = 15.0  # a client's read timeout for a pull asked to wait 30 s


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def _pull(
    device: TestSpace, url: str | None = None, timeout: float = 10, **params: object
) -> requests.Response:
    return requests.get(
        f"{url or device.url}/v1/batches",
        params={"after": 0, "limit": 10, **params},
        headers=device.headers,
        timeout=timeout,
    )


def _waiting_pull(
    pool: ThreadPoolExecutor, device: TestSpace, url: str | None = None, after: int = 0
) -> Future[requests.Response]:
    return pool.submit(_pull, device, url, WOKEN_WITHIN, after=after, wait=30)


def _push(device: TestSpace, seq: int, url: str | None = None) -> int:
    answer = requests.post(
        f"{url or device.url}/v1/batches",
        data=sealed_batch(device, seq),
        headers={**device.headers, "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    cursor: int = answer.json()["cursor"]
    return cursor


def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.01)


def test_a_waiting_pull_answers_with_the_batch_that_arrives(
    relay: RunningRelay, pool: ThreadPoolExecutor
) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    waiting = _waiting_pull(pool, other)
    _until(lambda: relay.waiting_pulls == 1)

    cursor = _push(desk, 1)
    page = waiting.result().json()

    assert [(b["cursor"], b["device_id"]) for b in page["batches"]] == [(1, desk.device_id)]
    assert cursor == page["head"] == 1
    assert relay.waiting_pulls == 0


def test_a_pull_with_batches_after_its_cursor_does_not_wait(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    _push(desk, 1)
    _push(desk, 2)

    page = _pull(desk, after=1, wait=30).json()

    assert [b["cursor"] for b in page["batches"]] == [2]


def test_a_pull_that_waits_in_vain_answers_an_empty_page_when_its_wait_ends(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    _push(desk, 1)

    page = _pull(desk, after=1, wait=0.3).json()

    assert page == {"batches": [], "more": False, "head": 1}


def test_a_batch_of_another_space_does_not_wake_a_waiting_pull(
    relay: RunningRelay, pool: ThreadPoolExecutor
) -> None:
    desk = new_space(relay.url)
    stranger = new_space(relay.url)
    waiting = pool.submit(_pull, desk, None, WOKEN_WITHIN, wait=1)
    _until(lambda: relay.waiting_pulls == 1)

    _push(stranger, 1)

    assert waiting.result().json() == {"batches": [], "more": False, "head": 0}


def test_waiting_needs_a_device_token(relay: RunningRelay) -> None:
    answer = requests.get(f"{relay.url}/v1/batches", params={"wait": 5}, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize("wait", ["-1", "30.5", "31", "nan", "inf", "soon", ""])
def test_a_wait_outside_0_to_30_seconds_is_refused(relay: RunningRelay, wait: str) -> None:
    desk = new_space(relay.url)

    answer = _pull(desk, wait=wait)

    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"


def test_a_device_removed_while_its_pull_waits_gets_no_batch(
    relay: RunningRelay, pool: ThreadPoolExecutor
) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    waiting = _waiting_pull(pool, other)
    _until(lambda: relay.waiting_pulls == 1)

    requests.post(
        f"{relay.url}/v1/devices/{other.device_id}/revoke", headers=desk.headers, timeout=10
    ).raise_for_status()
    _push(desk, 1)
    answer = waiting.result()

    assert answer.status_code == 401
    assert "envelope" not in answer.text


def test_a_push_through_another_relay_on_the_same_database_wakes_the_pull(
    start_relay: Callable[..., RunningRelay], pool: ThreadPoolExecutor
) -> None:
    one, two = start_relay(), start_relay()
    desk = new_space(one.url)
    other = enroll_device(desk)
    waiting = _waiting_pull(pool, other, url=one.url)
    _until(lambda: one.waiting_pulls == 1)

    _push(desk, 1, url=two.url)
    page = waiting.result().json()

    assert [b["cursor"] for b in page["batches"]] == [1]


def test_stopping_the_relay_answers_its_waiting_pulls_at_once(
    relay: RunningRelay, pool: ThreadPoolExecutor
) -> None:
    desk = new_space(relay.url)
    waiting = _waiting_pull(pool, desk)
    _until(lambda: relay.waiting_pulls == 1)

    relay.stop()  # its graceful stop would cut a pull still waiting after 2 s
    answer = waiting.result()

    assert answer.status_code == 200
    assert answer.json() == {"batches": [], "more": False, "head": 0}


def test_a_client_that_hangs_up_stops_its_pull_waiting(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as raw:
        raw.sendall(
            f"GET /v1/batches?after=0&wait=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {desk.token}\r\n\r\n".encode()
        )
        _until(lambda: relay.waiting_pulls == 1)

    _until(lambda: relay.waiting_pulls == 0, seconds=WOKEN_WITHIN)


# --- many at once ------------------------------------------------------------------------

WAITERS = 200
PER_SPACE = 4


async def _long_poll(url: str, device: TestSpace) -> dict[str, object]:
    """One pull that waits, on a connection of its own (asyncio: 200 threads of
    requests would measure the test rather than the relay)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"GET /v1/batches?after=0&limit=10&wait=30 HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {device.token}\r\n\r\n".encode()
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        assert status == 200, body
        page: dict[str, object] = json.loads(body)
        return page
    finally:
        writer.close()


def test_200_devices_waiting_at_once_hold_none_of_the_relays_threads(
    relay: RunningRelay,
) -> None:
    spaces: list[list[TestSpace]] = []
    for _ in range(WAITERS // PER_SPACE):
        first = new_space(relay.url)
        spaces.append([first] + [enroll_device(first) for _ in range(PER_SPACE - 1)])
    devices = [device for space in spaces for device in space]

    async def scene() -> tuple[list[dict[str, object]], list[int]]:
        polls = [asyncio.create_task(_long_poll(relay.url, d)) for d in devices]
        deadline = time.monotonic() + WOKEN_WITHIN
        while relay.waiting_pulls < WAITERS:
            assert time.monotonic() < deadline, f"only {relay.waiting_pulls} pulls waiting"
            await asyncio.sleep(0.02)
        # Each push needs a thread of the relay (the database): 200 pulls holding one
        # each would leave none until their 30 s ran out.
        cursors = await asyncio.gather(*(asyncio.to_thread(_push, space[0], 1) for space in spaces))
        pages = await asyncio.wait_for(asyncio.gather(*polls), WOKEN_WITHIN)
        return pages, cursors

    pages, cursors = asyncio.run(scene())

    assert cursors == [1] * len(spaces)
    for device, page in zip(devices, pages, strict=True):
        space = next(s for s in spaces if device in s)
        batches = page["batches"]
        assert isinstance(batches, list)
        assert [b["device_id"] for b in batches] == [space[0].device_id]
    assert relay.waiting_pulls == 0
