"""Health, spaces, devices and tokens: who may talk to a space at all."""

from __future__ import annotations

import uuid

import requests

from tests.support.relay import RunningRelay, enroll_device, new_space


def test_health_answers_without_a_token(relay: RunningRelay) -> None:
    answer = requests.get(f"{relay.url}/v1/health", timeout=5)

    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["version"]


def test_a_new_space_gives_its_first_device_a_token_that_works(relay: RunningRelay) -> None:
    space = new_space(relay.url)

    listed = requests.get(f"{relay.url}/v1/devices", headers=space.headers, timeout=5)

    assert listed.status_code == 200
    (device,) = listed.json()["devices"]
    assert device["device_id"] == space.device_id
    assert device["enrolled_at"].endswith("Z")
    assert device["revoked_at"] is None


def test_a_space_cannot_be_registered_twice(relay: RunningRelay) -> None:
    space = new_space(relay.url)

    again = requests.post(
        f"{relay.url}/v1/spaces",
        json={"space_id": space.space_id, "device_id": str(uuid.uuid4())},
        timeout=5,
    )

    assert again.status_code == 409
    assert again.json()["error"] == "space_exists"


def test_a_relay_with_a_registration_key_opens_spaces_only_with_it(start_relay) -> None:
    relay = start_relay(registration_key="clinic-relay-key")
    body = {"space_id": str(uuid.uuid4()), "device_id": str(uuid.uuid4())}

    missing = requests.post(f"{relay.url}/v1/spaces", json=body, timeout=5)
    wrong = requests.post(
        f"{relay.url}/v1/spaces", json=body, headers={"X-Relay-Registration": "nope"}, timeout=5
    )
    right = requests.post(
        f"{relay.url}/v1/spaces",
        json=body,
        headers={"X-Relay-Registration": "clinic-relay-key"},
        timeout=5,
    )

    assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 201)
    assert missing.json()["error"] == "registration"


def test_requests_without_a_token_or_with_a_wrong_one_are_refused(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    forged = space.token[:-4] + ("AAAA" if not space.token.endswith("AAAA") else "BBBB")

    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Basic eDp5"}):
        answer = requests.get(f"{relay.url}/v1/devices", headers=headers, timeout=5)
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_device_is_refused_at_its_very_next_request(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    other = enroll_device(space)
    assert requests.get(f"{relay.url}/v1/devices", headers=other.headers, timeout=5).ok

    revoked = requests.post(
        f"{relay.url}/v1/devices/{other.device_id}/revoke", headers=space.headers, timeout=5
    )
    after = requests.get(f"{relay.url}/v1/devices", headers=other.headers, timeout=5)

    assert revoked.status_code == 204
    assert after.status_code == 401
    listed = requests.get(f"{relay.url}/v1/devices", headers=space.headers, timeout=5).json()
    states = {d["device_id"]: d["revoked_at"] for d in listed["devices"]}
    assert states[other.device_id] is not None
    assert states[space.device_id] is None


def test_revoking_an_unknown_device_says_so_and_revoking_twice_is_harmless(
    relay: RunningRelay,
) -> None:
    space = new_space(relay.url)
    other = enroll_device(space)
    url = f"{relay.url}/v1/devices"

    unknown = requests.post(f"{url}/{uuid.uuid4()}/revoke", headers=space.headers, timeout=5)
    first = requests.post(f"{url}/{other.device_id}/revoke", headers=space.headers, timeout=5)
    second = requests.post(f"{url}/{other.device_id}/revoke", headers=space.headers, timeout=5)

    assert unknown.status_code == 404
    assert (first.status_code, second.status_code) == (204, 204)


def test_one_clinics_device_never_sees_or_touches_another_clinics_space(
    relay: RunningRelay,
) -> None:
    ours = new_space(relay.url)
    theirs = new_space(relay.url)
    their_second = enroll_device(theirs)

    listed = requests.get(f"{relay.url}/v1/devices", headers=ours.headers, timeout=5).json()
    revoke = requests.post(
        f"{relay.url}/v1/devices/{their_second.device_id}/revoke", headers=ours.headers, timeout=5
    )

    assert [d["device_id"] for d in listed["devices"]] == [ours.device_id]
    assert revoke.status_code == 404
    still = requests.get(f"{relay.url}/v1/devices", headers=their_second.headers, timeout=5)
    assert still.status_code == 200
