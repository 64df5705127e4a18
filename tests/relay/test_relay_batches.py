"""Batches: pushed once per batch id, in each device's order, pulled after a cursor."""

from __future__ import annotations

import base64
import uuid

import requests

from app.sync.envelope import read_header
from tests.support.relay import RunningRelay, TestSpace, enroll_device, new_space, sealed_batch


def _push(space: TestSpace, envelope: bytes) -> requests.Response:
    return requests.post(
        f"{space.url}/v1/batches",
        data=envelope,
        headers={**space.headers, "Content-Type": "application/octet-stream"},
        timeout=10,
    )


def _pull(space: TestSpace, after: int = 0, limit: int = 100) -> dict:
    answer = requests.get(
        f"{space.url}/v1/batches",
        params={"after": after, "limit": limit},
        headers=space.headers,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_pushed_batches_get_cursors_one_two_three_and_come_back_byte_for_byte(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    envelopes = [sealed_batch(desk, 1), sealed_batch(other, 1), sealed_batch(desk, 2)]

    cursors = [
        _push(s, e).json()["cursor"] for s, e in zip([desk, other, desk], envelopes, strict=True)
    ]
    page = _pull(other)

    assert cursors == [1, 2, 3]
    assert page["head"] == 3
    assert page["more"] is False
    assert [base64.b64decode(b["envelope"]) for b in page["batches"]] == envelopes
    first = page["batches"][0]
    header = read_header(envelopes[0])
    assert (first["cursor"], first["device_id"], first["seq"], first["batch_id"]) == (
        1,
        desk.device_id,
        1,
        header.batch_id,
    )


def test_the_same_batch_id_again_answers_200_with_its_first_cursor(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    envelope = sealed_batch(desk, 1)

    first = _push(desk, envelope)
    again = _push(desk, envelope)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"cursor": 1}
    assert _pull(desk)["head"] == 1


def test_a_gap_or_a_repeat_in_a_devices_sequence_is_refused_with_the_number_expected(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    _push(desk, sealed_batch(desk, 1))

    gap = _push(desk, sealed_batch(desk, 3))
    repeat = _push(desk, sealed_batch(desk, 1))  # seq 1 again under a new batch id

    assert gap.status_code == repeat.status_code == 409
    assert gap.json()["error"] == "sequence"
    assert gap.json()["expected"] == repeat.json()["expected"] == 2
    assert _push(desk, sealed_batch(desk, 2)).status_code == 201


def test_a_batch_id_used_by_one_batch_cannot_name_another(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    _push(desk, sealed_batch(desk, 1, batch_id="batch-a"))

    reused = _push(desk, sealed_batch(desk, 2, batch_id="batch-a"))

    assert reused.status_code == 409
    assert reused.json()["error"] == "batch_id"


def test_an_envelope_naming_another_clinic_or_device_is_refused(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    elsewhere = new_space(relay.url)

    as_other_device = _push(desk, sealed_batch(other, 1))
    as_other_clinic = _push(desk, sealed_batch(elsewhere, 1))

    assert as_other_device.status_code == 409
    assert as_other_device.json()["error"] == "wrong_device"
    assert as_other_clinic.status_code == 409
    assert as_other_clinic.json()["error"] == "wrong_space"
    assert _pull(desk)["head"] == 0


def test_bodies_that_are_not_envelopes_are_refused_with_400(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    good = sealed_batch(desk, 1)
    damaged_header = good[:8] + b"{" + good[9:]

    for body in (b"", b"hello", b"FDSE\x02\x00\x10" + b"x" * 60, good[:20], damaged_header):
        answer = _push(desk, body)
        assert answer.status_code == 400, body
        assert answer.json()["error"] == "bad_envelope"


def test_pulling_pages_through_many_batches_misses_none_and_repeats_none(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    for seq in range(1, 24):
        assert _push(desk, sealed_batch(desk, seq)).status_code == 201

    seen: list[int] = []
    after, more = 0, True
    while more:
        page = _pull(desk, after=after, limit=5)
        seen += [b["cursor"] for b in page["batches"]]
        after, more = seen[-1], page["more"]

    assert seen == list(range(1, 24))
    assert _pull(desk, after=23) == {"batches": [], "more": False, "head": 23}


def test_a_page_stops_at_its_byte_budget_and_says_more(start_relay) -> None:
    relay = start_relay(pull_page_bytes=3000)
    desk = new_space(relay.url)
    for seq in range(1, 6):
        _push(desk, sealed_batch(desk, seq, payload=bytes(1000)))

    page = _pull(desk, limit=500)

    assert [b["cursor"] for b in page["batches"]] == [1, 2]
    assert page["more"] is True


def test_pull_limits_outside_one_to_five_hundred_are_refused(relay: RunningRelay) -> None:
    desk = new_space(relay.url)

    for params in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "x"}):
        answer = requests.get(
            f"{relay.url}/v1/batches", params=params, headers=desk.headers, timeout=5
        )
        assert answer.status_code == 422, params
        assert answer.json()["error"] == "invalid_request"


def test_another_spaces_token_never_reads_this_spaces_batches(relay: RunningRelay) -> None:
    ours = new_space(relay.url)
    theirs = new_space(relay.url)
    _push(ours, sealed_batch(ours, 1, payload=b"ours"))

    page = _pull(theirs)

    assert page == {"batches": [], "more": False, "head": 0}


def test_a_revoked_device_can_neither_push_nor_pull(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    requests.post(
        f"{relay.url}/v1/devices/{other.device_id}/revoke", headers=desk.headers, timeout=5
    )

    push = _push(other, sealed_batch(other, 1))
    pull = requests.get(f"{relay.url}/v1/batches", headers=other.headers, timeout=5)

    assert push.status_code == pull.status_code == 401


def test_sequences_are_per_device_and_batch_ids_per_space(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    elsewhere = new_space(relay.url)
    shared_id = uuid.uuid4().hex

    mine = _push(desk, sealed_batch(desk, 1, batch_id=shared_id))
    theirs = _push(elsewhere, sealed_batch(elsewhere, 1, batch_id=shared_id))
    others_first = _push(other, sealed_batch(other, 1))

    assert (mine.status_code, theirs.status_code, others_first.status_code) == (201, 201, 201)
