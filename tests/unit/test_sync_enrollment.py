"""The enrollment code as typed, the claim's proof and the sealed package (no relay needed)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.clinic import Clinic
from app.errors import EnrollmentError, PermissionDeniedError
from app.store.keys import key_fingerprint, new_data_key
from app.sync import keyring
from app.sync.enrollment import (
    CODE_REFUSED,
    PACKAGE_BROKEN,
    Claim,
    EnrollmentCode,
    Invite,
    PendingJoin,
    check_code,
    create_invite,
    open_package,
    parse_code,
    proof_for,
    seal_package,
    start_space,
)
from app.sync.keyring import RingKey
from app.users import add_user

RELAY = "https://relay.lakeside-clinic.example"
CLINIC_ID = "4f8a3c51-0d2e-4a7b-9c61-2f5e8d0b7a13"


def _code() -> EnrollmentCode:
    return EnrollmentCode(RELAY, "KQ7M2XRT", secrets.token_bytes(10))


def test_a_code_is_the_relay_address_and_six_groups_of_four() -> None:
    code = _code()
    address, groups = code.text.split(" ")
    assert address == RELAY
    assert [len(g) for g in groups.split("-")] == [4] * 6
    assert groups.startswith("KQ7M-2XRT-")
    assert not set(groups) & set("0O1I")


def test_a_code_reads_back_however_it_was_typed() -> None:
    code = _code()
    address, groups = code.text.split(" ")
    signs = groups.replace("-", "")
    for typed in (
        code.text,
        f"  {address}   {groups.lower()}  ",
        f"{address} {' '.join(signs[i : i + 2] for i in range(0, 24, 2))}",
        f"{address}/ {signs}",
        f"relay.lakeside-clinic.example {groups}",  # no https:// typed
        f"{address}\n{groups.replace('-', ' – ')}",
    ):
        assert parse_code(typed) == code, typed


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS", "starts with the sync server's address"),
        (f"{RELAY}", "starts with the sync server's address"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VU", "24 letters and digits"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUSS", "this one has 25"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VU0", "digits 0 or 1 (you typed 0)"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUO", "you typed O"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZE18-5VUI", "you typed 1 and I"),
        (f"{RELAY} KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VU?", "only the letters A to Z"),
        ("http://relay.example.org KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS", "must start with https://"),
        ("ftp://relay.example.org KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS", "should look like https://"),
    ],
)
def test_a_mistyped_code_says_what_to_check(typed: str, words: str) -> None:
    with pytest.raises(EnrollmentError) as refused:
        parse_code(typed)
    assert words in str(refused.value)


def test_a_relay_on_this_computer_may_use_plain_http() -> None:
    assert parse_code("http://127.0.0.1:8765 KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS").relay_url == (
        "http://127.0.0.1:8765"
    )


def test_the_proof_binds_secret_invite_device_and_public_key() -> None:
    code = _code()
    public = keyring.new_device_key()[1]
    proof = proof_for(code, "device-b", public)
    assert len(proof) == 32
    assert proof != proof_for(replace(code, secret=secrets.token_bytes(10)), "device-b", public)
    assert proof != proof_for(replace(code, invite_id="KQ7M2XRU"), "device-b", public)
    assert proof != proof_for(code, "device-c", public)
    assert proof != proof_for(code, "device-b", keyring.new_device_key()[1])


def test_the_secret_is_never_in_a_printed_invite_or_code() -> None:
    code = _code()
    invite = Invite(code.text, (), _now(), code.invite_id, code.secret)
    for shown in (repr(code), repr(invite)):
        assert code.secret.hex() not in shown and "secret" not in shown.split("(")[1]


def _now() -> datetime:
    return datetime.now(UTC)


# --- the sealed package ---------------------------------------------------------------


def _ring() -> list[RingKey]:
    old, new = new_data_key(), new_data_key()
    return [
        RingKey(key_fingerprint(old), old, "2026-01-01T00:00:00Z"),
        RingKey(key_fingerprint(new), new, "2026-03-01T00:00:00Z"),
    ]


def _key_file(key_id: str, clinic_id: str = CLINIC_ID) -> bytes:
    return json.dumps(
        {"format": 1, "clinic_id": clinic_id, "key_id": key_id, "database_salt": "", "slots": []}
    ).encode()


def _pending(code: EnrollmentCode, space_id: str = CLINIC_ID) -> PendingJoin:
    private, public = keyring.new_device_key()
    return PendingJoin(
        code=code,
        device_id="device-b",
        space_id=space_id,
        public_key=public,
        check_code=check_code(code.invite_bytes, "device-b", public),
        private_key=private,
        device_token="token-b",
    )


def _sealed_for(
    pending: PendingJoin, ring: list[RingKey], *, secret: bytes | None = None, **changes: object
) -> str:
    invite = Invite("", (), _now(), pending.code.invite_id, secret or pending.code.secret)
    claim = Claim(pending.device_id, pending.public_key, pending.check_code)
    contents = {
        "clinic_id": CLINIC_ID,
        "clinic_name": "Lakeside Family Practice",
        "relay_url": RELAY,
        "keys": keyring.ring_to_json(ring),
        "key_file": _b64(_key_file(ring[-1].key_id)),
        **changes,
    }
    return seal_package(invite, claim, contents, from_device="device-a")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_new_desk_opens_the_package_and_holds_the_same_ring() -> None:
    code = _code()
    pending = _pending(code)
    ring = _ring()
    package = _sealed_for(pending, ring)
    joined = open_package(pending, package)
    assert list(joined.keys) == ring
    assert joined.data_key == ring[-1].data_key and joined.key_id == ring[-1].key_id
    assert (joined.clinic_id, joined.clinic_name, joined.relay_url) == (
        CLINIC_ID,
        "Lakeside Family Practice",
        RELAY,
    )
    assert (joined.device_id, joined.device_token, joined.from_device) == (
        "device-b",
        "token-b",
        "device-a",
    )
    for key in ring:
        assert key.data_key.hex() not in package
    assert code.secret.hex() not in package


def test_a_package_sealed_without_the_secret_does_not_open() -> None:
    """The relay knows the new desk's public key but not the secret: it cannot hand the
    new desk keys of its own."""
    pending = _pending(_code())
    forged = _sealed_for(pending, _ring(), secret=secrets.token_bytes(10))
    with pytest.raises(EnrollmentError, match="could not be opened"):
        open_package(pending, forged)


def test_a_package_for_another_desk_or_altered_on_the_way_does_not_open() -> None:
    code = _code()
    pending = _pending(code)
    package = _sealed_for(pending, _ring())
    someone_else = _pending(code)
    outer = json.loads(base64.b64decode(package))
    relabelled = _b64(json.dumps({**outer, "from_device": "device-m"}).encode())
    for what, who in ((package, someone_else), (relabelled, pending), ("junk", pending)):
        with pytest.raises(EnrollmentError) as refused:
            open_package(who, what)
        assert str(refused.value) == PACKAGE_BROKEN


def test_a_package_for_another_clinic_or_without_the_key_files_key_is_refused() -> None:
    pending = _pending(_code())
    ring = _ring()
    for changes in (
        {"clinic_id": "another-clinic"},
        {"key_file": _b64(_key_file(key_fingerprint(new_data_key())))},
        {"key_file": _b64(_key_file(ring[-1].key_id, clinic_id="another-clinic"))},
        {"keys": []},
        {"relay_url": "http://relay.example.org"},
    ):
        with pytest.raises(EnrollmentError, match="could not be opened"):
            open_package(pending, _sealed_for(pending, ring, **changes))


def test_the_check_code_is_the_same_on_both_screens_and_differs_per_desk() -> None:
    code = _code()
    pending = _pending(code)
    assert check_code(code.invite_bytes, pending.device_id, pending.public_key) == (
        pending.check_code
    )
    assert len(pending.check_code) == 7 and pending.check_code[3] == "-"
    assert _pending(code).check_code != pending.check_code


def test_refusals_use_the_same_words_for_wrong_expired_and_used() -> None:
    assert "mistyped" in CODE_REFUSED and "15 minutes" in CODE_REFUSED and "used" in CODE_REFUSED


# --- who may ------------------------------------------------------------------------------


def test_only_an_administrator_connects_a_relay_or_makes_a_code(clinic: Clinic) -> None:
    clinic.acting_user_id = add_user(clinic, "Mel Manager", "manager").id
    with pytest.raises(PermissionDeniedError, match="Only an administrator can connect"):
        start_space(clinic, RELAY)
    with pytest.raises(PermissionDeniedError, match="add, rename and remove workstations"):
        create_invite(clinic)
