"""Snapshots: uploaded in pieces, offered once complete, the newest two kept."""

from __future__ import annotations

import os

import requests

from tests.support.relay import (
    ManualClock,
    RunningRelay,
    TestSpace,
    enroll_device,
    new_space,
    sealed_batch,
)

MIB = 1024 * 1024


def _begin(space: TestSpace, chunks: int, cursor: int = 0, size: int = 0) -> requests.Response:
    return requests.post(
        f"{space.url}/v1/snapshots",
        json={"cursor": cursor, "chunks": chunks, "size": size},
        headers=space.headers,
        timeout=10,
    )


def _put(space: TestSpace, snapshot_id: str, n: int, data: bytes) -> requests.Response:
    return requests.put(
        f"{space.url}/v1/snapshots/{snapshot_id}/chunks/{n}",
        data=data,
        headers={**space.headers, "Content-Type": "application/octet-stream"},
        timeout=60,
    )


def _complete(space: TestSpace, snapshot_id: str) -> requests.Response:
    return requests.post(
        f"{space.url}/v1/snapshots/{snapshot_id}/complete", headers=space.headers, timeout=10
    )


def _latest(space: TestSpace) -> requests.Response:
    return requests.get(f"{space.url}/v1/snapshots/latest", headers=space.headers, timeout=10)


def _upload(space: TestSpace, pieces: list[bytes], cursor: int = 0) -> str:
    snapshot_id = _begin(space, len(pieces), cursor, sum(map(len, pieces))).json()["snapshot_id"]
    for n, piece in enumerate(pieces):
        assert _put(space, snapshot_id, n, piece).status_code == 204
    assert _complete(space, snapshot_id).status_code == 204
    return snapshot_id


def test_a_snapshot_of_full_sixteen_mib_pieces_comes_back_byte_for_byte(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    requests.post(
        f"{relay.url}/v1/batches", data=sealed_batch(desk, 1), headers=desk.headers, timeout=10
    )
    newcomer = enroll_device(desk)
    pieces = [os.urandom(16 * MIB), os.urandom(1234)]

    snapshot_id = _upload(desk, pieces, cursor=1)
    latest = _latest(newcomer).json()
    fetched = [
        requests.get(
            f"{relay.url}/v1/snapshots/{snapshot_id}/chunks/{n}",
            headers=newcomer.headers,
            timeout=60,
        )
        for n in range(latest["chunks"])
    ]

    assert {k: latest[k] for k in ("snapshot_id", "cursor", "chunks", "size", "device_id")} == {
        "snapshot_id": snapshot_id,
        "cursor": 1,
        "chunks": 2,
        "size": 16 * MIB + 1234,
        "device_id": desk.device_id,
    }
    assert [f.headers["Content-Type"] for f in fetched] == ["application/octet-stream"] * 2
    assert [f.content for f in fetched] == pieces


def test_a_piece_over_the_limit_is_refused_with_413(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    snapshot_id = _begin(desk, 1).json()["snapshot_id"]

    answer = _put(desk, snapshot_id, 0, bytes(relay.settings.max_chunk_bytes + 1))

    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"


def test_no_snapshot_is_offered_until_one_is_complete(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    snapshot_id = _begin(desk, 3).json()["snapshot_id"]
    _put(desk, snapshot_id, 0, b"a")
    _put(desk, snapshot_id, 2, b"c")

    early = _complete(desk, snapshot_id)
    latest = _latest(desk)
    piece = requests.get(
        f"{relay.url}/v1/snapshots/{snapshot_id}/chunks/0", headers=desk.headers, timeout=10
    )

    assert early.status_code == 409
    assert early.json()["error"] == "missing_chunks"
    assert early.json()["missing"] == [1]
    assert latest.status_code == 404
    assert piece.status_code == 404


def test_a_piece_may_be_sent_again_until_completion_but_not_after(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    snapshot_id = _begin(desk, 1).json()["snapshot_id"]
    _put(desk, snapshot_id, 0, b"first try")
    _put(desk, snapshot_id, 0, b"second try")
    _complete(desk, snapshot_id)

    late = _put(desk, snapshot_id, 0, b"third try")
    out_of_range = _put(desk, _begin(desk, 1).json()["snapshot_id"], 5, b"x")
    fetched = requests.get(
        f"{relay.url}/v1/snapshots/{snapshot_id}/chunks/0", headers=desk.headers, timeout=10
    )

    assert late.status_code == 409
    assert out_of_range.status_code == 404
    assert fetched.content == b"second try"


def test_the_relay_keeps_the_newest_two_completed_snapshots(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    for seq in (1, 2, 3):
        requests.post(
            f"{relay.url}/v1/batches", data=sealed_batch(desk, seq), headers=desk.headers, timeout=5
        )
    ids = [_upload(desk, [f"at {cursor}".encode()], cursor=cursor) for cursor in (1, 2, 3)]

    pieces = [
        requests.get(
            f"{relay.url}/v1/snapshots/{snapshot_id}/chunks/0", headers=desk.headers, timeout=10
        ).status_code
        for snapshot_id in ids
    ]

    assert _latest(desk).json()["snapshot_id"] == ids[2]
    assert pieces == [404, 200, 200]


def test_an_unfinished_snapshot_is_dropped_after_a_day(start_relay) -> None:
    clock = ManualClock()
    relay = start_relay(clock=clock)
    desk = new_space(relay.url)
    stale = _begin(desk, 2).json()["snapshot_id"]
    _put(desk, stale, 0, b"half")
    clock.advance(86_401)

    _begin(desk, 1)  # beginning another one sweeps
    after = _put(desk, stale, 1, b"other half")

    assert after.status_code == 404


def test_a_snapshot_cannot_claim_a_cursor_past_the_head_or_too_many_pieces(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)

    ahead = _begin(desk, 1, cursor=5)
    too_many = _begin(desk, relay.settings.max_snapshot_chunks + 1)

    assert ahead.status_code == 409
    assert too_many.status_code == 422


def test_only_the_device_that_began_a_snapshot_uploads_to_it_and_other_spaces_see_nothing(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    colleague = enroll_device(desk)
    elsewhere = new_space(relay.url)
    snapshot_id = _upload(desk, [b"ciphertext"])
    pending = _begin(desk, 1).json()["snapshot_id"]

    by_colleague = _put(colleague, pending, 0, b"x")
    latest_elsewhere = _latest(elsewhere)
    piece_elsewhere = requests.get(
        f"{relay.url}/v1/snapshots/{snapshot_id}/chunks/0", headers=elsewhere.headers, timeout=10
    )

    assert by_colleague.status_code == 409
    assert latest_elsewhere.status_code == 404
    assert piece_elsewhere.status_code == 404
