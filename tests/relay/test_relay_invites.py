"""Invites: a new workstation enrolls once, the package reaches only it, once."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import requests

from tests.support.relay import ManualClock, RunningRelay, TestSpace, new_space, running_relay

CLAIM = {"public_key": "q83vEjRWeJA=", "proof": "3q2+7w=="}


def _invite(space: TestSpace, invite_id: str | None = None, expires_in: int = 600) -> str:
    invite_id = invite_id or uuid.uuid4().hex[:10]
    answer = requests.post(
        f"{space.url}/v1/invites",
        json={"invite_id": invite_id, "expires_in": expires_in},
        headers=space.headers,
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    return invite_id


def _claim(url: str, invite_id: str, device_id: str | None = None) -> requests.Response:
    return requests.post(
        f"{url}/v1/invites/{invite_id}/claim",
        json={"device_id": device_id or str(uuid.uuid4()), **CLAIM},
        timeout=5,
    )


def test_a_claimed_invite_enrolls_the_new_device_in_the_inviters_space(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    invite_id = _invite(space)
    new_device = str(uuid.uuid4())

    waiting = requests.get(f"{relay.url}/v1/invites/{invite_id}", headers=space.headers, timeout=5)
    claimed = _claim(relay.url, invite_id, new_device)
    state = requests.get(f"{relay.url}/v1/invites/{invite_id}", headers=space.headers, timeout=5)

    assert waiting.json() == {
        "state": "waiting",
        "device_id": None,
        "public_key": None,
        "proof": None,
        "sealed_name": None,
    }
    assert claimed.status_code == 201
    assert claimed.json()["space_id"] == space.space_id
    assert state.json() == {
        "state": "claimed",
        "device_id": new_device,
        **CLAIM,
        "sealed_name": None,
    }
    headers = {"Authorization": f"Bearer {claimed.json()['token']}"}
    devices = requests.get(f"{relay.url}/v1/devices", headers=headers, timeout=5).json()
    assert {d["device_id"] for d in devices["devices"]} == {space.device_id, new_device}


def test_unknown_used_and_expired_invites_get_one_and_the_same_answer(start_relay) -> None:
    clock = ManualClock()
    relay = start_relay(clock=clock)
    space = new_space(relay.url)
    used = _invite(space)
    assert _claim(relay.url, used).status_code == 201
    expired = _invite(space, expires_in=60)
    clock.advance(61)

    answers = [_claim(relay.url, i) for i in (uuid.uuid4().hex[:10], used, expired)]

    assert [a.status_code for a in answers] == [410, 410, 410]
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["error"] == "invite_gone"


def test_an_invite_lives_at_most_fifteen_minutes_and_its_id_is_taken_once(
    relay: RunningRelay,
) -> None:
    space = new_space(relay.url)
    url = f"{relay.url}/v1/invites"

    too_long = requests.post(
        url, json={"invite_id": "abc", "expires_in": 901}, headers=space.headers, timeout=5
    )
    _invite(space, "taken-id")
    again = requests.post(
        url, json={"invite_id": "taken-id", "expires_in": 60}, headers=space.headers, timeout=5
    )

    assert too_long.status_code == 422
    assert again.status_code == 409


def test_the_package_reaches_only_the_claiming_device_and_only_once(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    invite_id = _invite(space)
    early = requests.put(
        f"{relay.url}/v1/invites/{invite_id}/package",
        json={"package": "c2VhbGVk"},
        headers=space.headers,
        timeout=5,
    )
    claimed = _claim(relay.url, invite_id).json()
    newcomer = {"Authorization": f"Bearer {claimed['token']}"}
    package_url = f"{relay.url}/v1/invites/{invite_id}/package"

    not_yet = requests.get(package_url, headers=newcomer, timeout=5)
    put = requests.put(package_url, json={"package": "c2VhbGVk"}, headers=space.headers, timeout=5)
    by_inviter = requests.get(package_url, headers=space.headers, timeout=5)
    fetched = requests.get(package_url, headers=newcomer, timeout=5)
    again = requests.get(package_url, headers=newcomer, timeout=5)

    assert early.status_code == 409
    assert not_yet.status_code == 404
    assert put.status_code == 204
    assert by_inviter.status_code == 404
    assert fetched.status_code == 200
    assert fetched.json() == {"package": "c2VhbGVk"}
    assert again.status_code == 404


def test_another_space_cannot_see_or_fill_an_invite(relay: RunningRelay) -> None:
    ours = new_space(relay.url)
    theirs = new_space(relay.url)
    invite_id = _invite(ours)
    _claim(relay.url, invite_id)

    state = requests.get(f"{relay.url}/v1/invites/{invite_id}", headers=theirs.headers, timeout=5)
    put = requests.put(
        f"{relay.url}/v1/invites/{invite_id}/package",
        json={"package": "ZXZpbA=="},
        headers=theirs.headers,
        timeout=5,
    )

    assert state.status_code == 404
    assert put.status_code == 404


def test_a_claim_with_a_malformed_key_or_a_device_id_already_enrolled_is_refused(
    relay: RunningRelay,
) -> None:
    space = new_space(relay.url)
    invite_id = _invite(space)

    bad_key = requests.post(
        f"{relay.url}/v1/invites/{invite_id}/claim",
        json={"device_id": str(uuid.uuid4()), "public_key": "not base64!", "proof": "AA=="},
        timeout=5,
    )
    taken = _claim(relay.url, invite_id, space.device_id)
    fine = _claim(relay.url, invite_id)

    assert bad_key.status_code == 422
    assert taken.status_code == 409
    assert fine.status_code == 201


def test_the_new_desks_sealed_name_reaches_the_inviter_as_it_was_sent(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    invite_id = _invite(space)
    sealed = "bm9uY2UtYW5kLWNpcGhlcnRleHQ="  # opaque to the relay: it only keeps it

    claimed = requests.post(
        f"{relay.url}/v1/invites/{invite_id}/claim",
        json={"device_id": str(uuid.uuid4()), **CLAIM, "sealed_name": sealed},
        timeout=5,
    )
    state = requests.get(f"{relay.url}/v1/invites/{invite_id}", headers=space.headers, timeout=5)

    assert claimed.status_code == 201
    assert state.json()["sealed_name"] == sealed


def test_a_sealed_name_that_is_not_base64_or_too_long_is_refused(relay: RunningRelay) -> None:
    space = new_space(relay.url)
    invite_id = _invite(space)
    url = f"{relay.url}/v1/invites/{invite_id}/claim"

    answers = [
        requests.post(
            url,
            json={"device_id": str(uuid.uuid4()), **CLAIM, "sealed_name": name},
            timeout=5,
        )
        for name in ("FRONT-DESK-2 in clear", "A" * 1025, 42)
    ]

    assert [a.status_code for a in answers] == [422, 422, 422]
    assert _claim(relay.url, invite_id).status_code == 201  # the invite is still unused


def test_a_relay_database_from_before_sealed_names_is_upgraded_in_place(tmp_path: Path) -> None:
    """A relay database made by the first relay version (no sealed_name column) keeps its
    spaces and tokens and takes claims with a sealed name after the upgrade."""
    path = tmp_path / "relay" / "old.db"
    with running_relay(tmp_path, database_url=f"sqlite:///{path}") as first:
        space = new_space(first.url)
    with sqlite3.connect(path) as old:  # as the first version left it
        old.execute("ALTER TABLE invites DROP COLUMN sealed_name")
        old.execute("UPDATE relay_schema SET version = 1")

    with running_relay(tmp_path, database_url=f"sqlite:///{path}") as upgraded:
        space = TestSpace(upgraded.url, space.space_id, space.device_id, space.token)
        invite_id = _invite(space)
        claimed = requests.post(
            f"{upgraded.url}/v1/invites/{invite_id}/claim",
            json={"device_id": str(uuid.uuid4()), **CLAIM, "sealed_name": "c2VhbGVk"},
            timeout=5,
        )
        state = requests.get(
            f"{upgraded.url}/v1/invites/{invite_id}", headers=space.headers, timeout=5
        )

    assert claimed.status_code == 201
    assert state.json()["sealed_name"] == "c2VhbGVk"
    with sqlite3.connect(path) as done:
        assert done.execute("SELECT version FROM relay_schema").fetchall() == [(2,)]
