"""Digests, the sender lease and key packages: how desks agree through the relay."""

from __future__ import annotations

import uuid

import requests

from tests.support.relay import (
    ManualClock,
    RunningRelay,
    TestSpace,
    enroll_device,
    new_space,
    sealed_batch,
)


def _digest(space: TestSpace, cursor: int, digest: str) -> requests.Response:
    return requests.post(
        f"{space.url}/v1/digests",
        json={"cursor": cursor, "digest": digest},
        headers=space.headers,
        timeout=5,
    )


def _claim(space: TestSpace, seconds: int = 60, take_over: bool = False) -> dict:
    answer = requests.post(
        f"{space.url}/v1/sender/claim",
        json={"lease_seconds": seconds, "take_over": take_over},
        headers=space.headers,
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _holder(space: TestSpace) -> dict:
    return requests.get(f"{space.url}/v1/sender", headers=space.headers, timeout=5).json()


def test_the_first_digest_at_a_cursor_is_the_reference_later_ones_match_or_not(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    requests.post(
        f"{relay.url}/v1/batches", data=sealed_batch(desk, 1), headers=desk.headers, timeout=5
    )

    first = _digest(desk, 1, "ab" * 32).json()
    same = _digest(other, 1, "ab" * 32).json()
    different = _digest(other, 1, "cd" * 32).json()
    ahead = _digest(desk, 2, "ab" * 32)
    not_hex = _digest(desk, 1, "zz" * 32)

    assert [first, same, different] == [
        {"status": "recorded"},
        {"status": "match"},
        {"status": "mismatch"},
    ]
    assert ahead.status_code == 409
    assert not_hex.status_code == 422


def test_the_sender_lease_is_granted_when_free_and_renewed_by_its_holder(
    start_relay,
) -> None:
    clock = ManualClock()
    relay = start_relay(clock=clock)
    desk = new_space(relay.url)
    other = enroll_device(desk)

    granted = _claim(desk, 60)
    refused = _claim(other, 60)
    clock.advance(30)
    renewed = _claim(desk, 60)

    assert granted == {
        "granted": True,
        "holder": desk.device_id,
        "expires_in": 60,
        "wait_seconds": 0,
    }
    assert refused["granted"] is False
    assert refused["holder"] == desk.device_id
    assert refused["wait_seconds"] == refused["expires_in"] == 60
    assert renewed["granted"] is True
    assert renewed["expires_in"] == 60
    assert _holder(other) == {"holder": desk.device_id, "expires_in": 60}


def test_a_lapsed_lease_goes_to_the_next_claimant(start_relay) -> None:
    clock = ManualClock()
    relay = start_relay(clock=clock)
    desk = new_space(relay.url)
    other = enroll_device(desk)
    _claim(desk, 60)
    clock.advance(61)

    assert _holder(other) == {"holder": None, "expires_in": 0}
    assert _claim(other, 60)["granted"] is True


def test_a_take_over_waits_out_the_old_lease_and_the_old_holder_is_refused_from_then_on(
    start_relay,
) -> None:
    clock = ManualClock()
    relay = start_relay(clock=clock)
    old = new_space(relay.url)
    new = enroll_device(old)
    _claim(old, 120)
    clock.advance(20)

    taken = _claim(new, 60, take_over=True)
    old_renewal = _claim(old, 120)
    clock.advance(50)
    renewed_while_waiting = _claim(new, 60)

    assert taken["granted"] is True
    assert taken["holder"] == new.device_id
    assert taken["wait_seconds"] == 100  # what remained of the old holder's 120 s
    assert taken["expires_in"] == 160
    assert old_renewal["granted"] is False
    assert old_renewal["holder"] == new.device_id
    assert renewed_while_waiting["wait_seconds"] == 50
    assert renewed_while_waiting["expires_in"] == 110


def test_releasing_frees_the_lease_but_only_for_its_holder(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    _claim(desk, 60)

    by_other = requests.post(f"{relay.url}/v1/sender/release", headers=other.headers, timeout=5)
    still = _holder(desk)["holder"]
    by_holder = requests.post(f"{relay.url}/v1/sender/release", headers=desk.headers, timeout=5)

    assert (by_other.status_code, by_holder.status_code) == (204, 204)
    assert still == desk.device_id
    assert _holder(desk)["holder"] is None


def test_a_revoked_holder_loses_the_lease(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    other = enroll_device(desk)
    _claim(other, 60)

    requests.post(
        f"{relay.url}/v1/devices/{other.device_id}/revoke", headers=desk.headers, timeout=5
    )

    assert _holder(desk)["holder"] is None


def test_lease_seconds_above_ten_minutes_are_refused(relay: RunningRelay) -> None:
    desk = new_space(relay.url)

    answer = requests.post(
        f"{relay.url}/v1/sender/claim",
        json={"lease_seconds": 601, "take_over": False},
        headers=desk.headers,
        timeout=5,
    )

    assert answer.status_code == 422


def test_key_packages_reach_only_the_device_they_are_addressed_to(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    second = enroll_device(desk)
    third = enroll_device(desk)
    url = f"{relay.url}/v1/keys/key-2"

    to_second = requests.put(
        f"{url}/devices/{second.device_id}",
        json={"package": "Zm9yIHNlY29uZA=="},
        headers=desk.headers,
        timeout=5,
    )
    requests.put(
        f"{url}/devices/{third.device_id}",
        json={"package": "Zm9yIHRoaXJk"},
        headers=desk.headers,
        timeout=5,
    )
    to_stranger = requests.put(
        f"{url}/devices/{uuid.uuid4()}", json={"package": "eA=="}, headers=desk.headers, timeout=5
    )

    seconds = requests.get(f"{relay.url}/v1/keys", headers=second.headers, timeout=5).json()
    desks = requests.get(f"{relay.url}/v1/keys", headers=desk.headers, timeout=5).json()
    assert to_second.status_code == 204
    assert to_stranger.status_code == 404
    assert seconds == {
        "packages": [
            {"key_id": "key-2", "from_device": desk.device_id, "package": "Zm9yIHNlY29uZA=="}
        ]
    }
    assert desks == {"packages": []}


def test_no_key_package_goes_to_a_revoked_device_or_another_spaces_device(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    gone = enroll_device(desk)
    elsewhere = new_space(relay.url)
    requests.post(
        f"{relay.url}/v1/devices/{gone.device_id}/revoke", headers=desk.headers, timeout=5
    )

    answers = [
        requests.put(
            f"{relay.url}/v1/keys/k/devices/{target}",
            json={"package": "eA=="},
            headers=desk.headers,
            timeout=5,
        ).status_code
        for target in (gone.device_id, elsewhere.device_id)
    ]

    assert answers == [404, 404]
