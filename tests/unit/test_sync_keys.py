"""Sealing a clinic key to one workstation: only it opens it, only from a desk on record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import KeyPackageError
from app.store.keys import key_fingerprint, new_data_key
from app.sync.keyring import (
    RingKey,
    from_text,
    new_device_key,
    newest,
    open_key_package,
    open_sealed,
    public_key_of,
    ring_from_json,
    ring_to_json,
    seal_key_package,
    seal_to,
    to_text,
)

ALICE, BOB, MALLORY = "device-a", "device-b", "device-m"


def _pair() -> tuple[bytes, bytes]:
    return new_device_key()


def test_a_key_package_opens_on_the_device_it_was_sealed_for() -> None:
    sender_private, sender_public = _pair()
    recipient_private, recipient_public = _pair()
    data_key = new_data_key()
    package = seal_key_package(
        data_key,
        sender_private=sender_private,
        from_device=ALICE,
        recipient_public=recipient_public,
        to_device=BOB,
    )
    opened = open_key_package(
        package,
        key_id=key_fingerprint(data_key),
        recipient_private=recipient_private,
        to_device=BOB,
        sender_public=sender_public,
        from_device=ALICE,
    )
    assert opened == data_key
    assert data_key.hex() not in package and data_key not in from_text(package)


def test_a_package_sealed_by_someone_not_on_record_is_refused() -> None:
    """The relay knows every public key; without an enrolled desk's private key it cannot
    slip a key of its own choosing to a desk."""
    _alice_private, alice_public = _pair()
    mallory_private, _mallory_public = _pair()
    recipient_private, recipient_public = _pair()
    forged_key = new_data_key()
    forged = seal_key_package(
        forged_key,
        sender_private=mallory_private,
        from_device=ALICE,  # claims to come from Alice
        recipient_public=recipient_public,
        to_device=BOB,
    )
    with pytest.raises(KeyPackageError, match="could not be opened"):
        open_key_package(
            forged,
            key_id=key_fingerprint(forged_key),
            recipient_private=recipient_private,
            to_device=BOB,
            sender_public=alice_public,
            from_device=ALICE,
        )


def test_a_package_for_another_device_or_under_another_key_id_is_refused() -> None:
    sender_private, sender_public = _pair()
    recipient_private, recipient_public = _pair()
    data_key = new_data_key()
    package = seal_key_package(
        data_key,
        sender_private=sender_private,
        from_device=ALICE,
        recipient_public=recipient_public,
        to_device=BOB,
    )
    base = {
        "key_id": key_fingerprint(data_key),
        "recipient_private": recipient_private,
        "to_device": BOB,
        "sender_public": sender_public,
        "from_device": ALICE,
    }
    for changed in (
        {"to_device": MALLORY},
        {"from_device": MALLORY},
        {"key_id": key_fingerprint(new_data_key())},
        {"recipient_private": _pair()[0]},
    ):
        with pytest.raises(KeyPackageError):
            open_key_package(package, **{**base, **changed})  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_byte_is_refused(data: st.DataObject) -> None:
    private, public = _pair()
    sealed = seal_to(public, b"the clinic key", salt=b"s", info=b"i", associated=b"a")
    index = data.draw(st.integers(0, len(sealed) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(sealed)
    damaged[index] ^= 1 << bit
    with pytest.raises(KeyPackageError):
        open_sealed(bytes(damaged), private, salt=b"s", info=b"i", associated=b"a")


def test_salt_info_and_associated_data_all_bind_the_box() -> None:
    private, public = _pair()
    sealed = seal_to(public, b"x", salt=b"secret", info=b"info", associated=b"ad")
    assert open_sealed(sealed, private, salt=b"secret", info=b"info", associated=b"ad") == b"x"
    for salt, info, ad in (
        (b"other", b"info", b"ad"),
        (b"secret", b"other", b"ad"),
        (b"secret", b"info", b"other"),
    ):
        with pytest.raises(KeyPackageError):
            open_sealed(sealed, private, salt=salt, info=info, associated=ad)


def test_junk_is_refused_in_words() -> None:
    private, _public = _pair()
    for junk in (b"", b"FDSB", b"x" * 200):
        with pytest.raises(KeyPackageError, match=r"damaged|could not be opened"):
            open_sealed(junk, private, salt=b"", info=b"", associated=b"")
    for text in ("not base64!", 42, None):
        with pytest.raises(KeyPackageError, match="damaged"):
            from_text(text)
    assert from_text(to_text(b"\x00\xff")) == b"\x00\xff"


def test_a_low_order_public_key_is_refused() -> None:
    """An all-zero public key makes every shared secret zero: a forgery, refused."""
    private, _public = _pair()
    sealed = bytearray(seal_to(_public, b"x", salt=b"", info=b"", associated=b""))
    sealed[5:37] = bytes(32)
    with pytest.raises(KeyPackageError):
        open_sealed(bytes(sealed), private, salt=b"", info=b"", associated=b"")


def test_a_device_key_pair_belongs_together() -> None:
    private, public = new_device_key()
    assert public_key_of(private) == public and len(private) == len(public) == 32


def test_the_ring_travels_and_checks_every_key_against_its_id() -> None:
    keys = [
        RingKey(key_fingerprint(k), k, f"2026-0{i + 1}-01T00:00:00Z")
        for i, k in enumerate((new_data_key(), new_data_key()))
    ]
    assert ring_from_json(ring_to_json(keys)) == keys
    assert newest(keys) == keys[1] and newest([]) is None
    tampered = ring_to_json(keys)
    tampered[0]["key_id"] = keys[1].key_id
    with pytest.raises(KeyPackageError, match="damaged"):
        ring_from_json(tampered)
    for junk in ([], None, ["x"], [{"key_id": "k"}], [{"data_key": "zz", "added_at": ""}]):
        with pytest.raises(KeyPackageError, match="damaged"):
            ring_from_json(junk)
