"""The key ring: every clinic data key this workstation holds, and sealing a key to a device.

Envelopes name the key that sealed them (its fingerprint, app/store/keys.key_fingerprint).
After a key replacement the desks seal with the newest key, but batches sealed before
it still travel and must still open, so old keys stay in the ring (`local_sync_key`,
never synced: each desk keeps its own copy, received only sealed to it).

A data key leaves a desk only sealed to another desk's X25519 public key (`seal_to`):
an ephemeral X25519 key agreement, HKDF-SHA256 and AES-256-GCM. For a key package the
sender's own device key takes part in the agreement too (the "auth" mode of HPKE,
RFC 9180), so the receiving desk knows the package came from an enrolled desk it has
on record and not from the relay, which sees every public key and could otherwise seal
a key of its own choosing to a desk and read what it then sends.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.errors import KeyPackageError
from app.store.database import Connection
from app.store.keys import KEY_BYTES, key_fingerprint

_SEALED_MAGIC = b"FDSB"  # Frontdesk sealed box
_SEALED_FORMAT = 1
_PUBLIC_BYTES = 32
_NONCE_BYTES = 12
_KEY_PACKAGE_INFO = b"frontdesk-key-package-v1"


# --- the ring in this workstation's database ----------------------------------------------


@dataclass(frozen=True)
class RingKey:
    """One data key of the ring; `added_at` orders them (the newest seals)."""

    key_id: str
    data_key: bytes
    added_at: str


def added_now() -> str:
    """UTC with microseconds, so keys added in one round keep the order they came in."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ring(conn: Connection) -> list[RingKey]:
    """Every key this desk holds, oldest first (ties by key id, the same order everywhere)."""
    rows = conn.execute(
        "SELECT key_id, data_key, added_at FROM local_sync_key ORDER BY added_at, key_id"
    ).fetchall()
    return [RingKey(str(r[0]), bytes(r[1]), str(r[2])) for r in rows]


def add_key(conn: Connection, data_key: bytes, added_at: str | None = None) -> bool:
    """Put a key in the ring (a key already there is left as it is); True when it was new.

    Plain SQL, inside the caller's transaction when there is one: local_ tables are this
    desk's own and never journalled."""
    check_data_key(data_key)
    cursor = conn.execute(
        "INSERT INTO local_sync_key (key_id, data_key, added_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key_id) DO NOTHING",
        (key_fingerprint(data_key), data_key, added_at or added_now()),
    )
    return int(cursor.rowcount) > 0


def add_keys(conn: Connection, keys: Iterable[RingKey]) -> int:
    """Several keys with the times they were first added (a ring received at enrollment)."""
    return sum(add_key(conn, key.data_key, key.added_at) for key in keys)


def keys_by_id(keys: Iterable[RingKey]) -> dict[str, bytes]:
    return {key.key_id: key.data_key for key in keys}


def newest(keys: Iterable[RingKey]) -> RingKey | None:
    ordered = sorted(keys, key=lambda k: (k.added_at, k.key_id))
    return ordered[-1] if ordered else None


def check_data_key(data_key: bytes) -> None:
    if len(data_key) != KEY_BYTES:
        raise KeyPackageError("A clinic key received from another workstation is damaged.")


# --- sealing to a device's public key -----------------------------------------------------


def new_device_key() -> tuple[bytes, bytes]:
    """A new X25519 key pair for this workstation: (private, public), 32 raw bytes each."""
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def public_key_of(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def _derive(shared: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(shared)


def _public(raw: bytes) -> X25519PublicKey:
    if len(raw) != _PUBLIC_BYTES:
        raise KeyPackageError("A workstation's public key is damaged.")
    return X25519PublicKey.from_public_bytes(raw)


def seal_to(
    recipient_public: bytes,
    plaintext: bytes,
    *,
    salt: bytes,
    info: bytes,
    associated: bytes,
    sender_private: bytes | None = None,
) -> bytes:
    """Encrypt `plaintext` so that only the holder of the recipient's private key opens it.

    Key = HKDF(salt, ECDH(ephemeral, recipient) [|| ECDH(sender, recipient)], info); the
    ephemeral public key travels in front and is bound with `associated` as GCM
    associated data. With `sender_private` only that sender could have sealed it."""
    ephemeral = X25519PrivateKey.generate()
    recipient = _public(recipient_public)
    shared = ephemeral.exchange(recipient)
    if sender_private is not None:
        shared += X25519PrivateKey.from_private_bytes(sender_private).exchange(recipient)
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    prefix = _SEALED_MAGIC + bytes([_SEALED_FORMAT]) + ephemeral_public
    nonce = secrets.token_bytes(_NONCE_BYTES)
    box = AESGCM(_derive(shared, salt, info))
    return prefix + nonce + box.encrypt(nonce, plaintext, prefix + associated)


def open_sealed(
    sealed: bytes,
    recipient_private: bytes,
    *,
    salt: bytes,
    info: bytes,
    associated: bytes,
    sender_public: bytes | None = None,
) -> bytes:
    """The plaintext of `seal_to`; KeyPackageError for anything altered, misaddressed or
    sealed by someone else (one message for all: the caller says what it was)."""
    head = len(_SEALED_MAGIC) + 1 + _PUBLIC_BYTES
    if (
        len(sealed) < head + _NONCE_BYTES + 16
        or sealed[: len(_SEALED_MAGIC)] != _SEALED_MAGIC
        or sealed[len(_SEALED_MAGIC)] != _SEALED_FORMAT
    ):
        raise KeyPackageError("A sealed package is damaged.")
    prefix = sealed[:head]
    ephemeral = _public(sealed[len(_SEALED_MAGIC) + 1 : head])
    nonce = sealed[head : head + _NONCE_BYTES]
    recipient = X25519PrivateKey.from_private_bytes(recipient_private)
    try:
        shared = recipient.exchange(ephemeral)
        if sender_public is not None:
            shared += recipient.exchange(_public(sender_public))
        return AESGCM(_derive(shared, salt, info)).decrypt(
            nonce, sealed[head + _NONCE_BYTES :], prefix + associated
        )
    except (InvalidTag, ValueError):
        # ValueError: an all-zero shared secret (a low-order public key) — forged.
        raise KeyPackageError("A sealed package could not be opened.") from None


def to_text(sealed: bytes) -> str:
    """What goes into the relay's JSON: base64 text."""
    return base64.b64encode(sealed).decode("ascii")


def from_text(text: object) -> bytes:
    if not isinstance(text, str):
        raise KeyPackageError("A sealed package is damaged.")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyPackageError("A sealed package is damaged.") from None


# --- key packages: a new data key for one device --------------------------------------------


def _package_context(key_id: str, from_device: str, to_device: str) -> bytes:
    # Length-prefixed so no two different triples give the same bytes.
    parts = [p.encode() for p in (key_id, from_device, to_device)]
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def seal_key_package(
    data_key: bytes,
    *,
    sender_private: bytes,
    from_device: str,
    recipient_public: bytes,
    to_device: str,
) -> str:
    """A data key for one device's mailbox, bound to the key id and both device ids."""
    check_data_key(data_key)
    context = _package_context(key_fingerprint(data_key), from_device, to_device)
    sealed = seal_to(
        recipient_public,
        data_key,
        salt=b"",
        info=_KEY_PACKAGE_INFO,
        associated=context,
        sender_private=sender_private,
    )
    return to_text(sealed)


def open_key_package(
    package: object,
    *,
    key_id: str,
    recipient_private: bytes,
    to_device: str,
    sender_public: bytes,
    from_device: str,
) -> bytes:
    """The data key in a key package, checked against the key id it was announced under."""
    context = _package_context(key_id, from_device, to_device)
    data_key = open_sealed(
        from_text(package),
        recipient_private,
        salt=b"",
        info=_KEY_PACKAGE_INFO,
        associated=context,
        sender_public=sender_public,
    )
    check_data_key(data_key)
    if key_fingerprint(data_key) != key_id:
        raise KeyPackageError("A key received from another workstation is not the one named.")
    return data_key


def ring_to_json(keys: Iterable[RingKey]) -> list[dict[str, str]]:
    """The ring as it travels inside a sealed enrollment package (never on its own)."""
    return [
        {"key_id": k.key_id, "data_key": k.data_key.hex(), "added_at": k.added_at} for k in keys
    ]


def ring_from_json(items: object) -> list[RingKey]:
    if not isinstance(items, list) or not items:
        raise KeyPackageError("The clinic keys received are damaged.")
    keys: list[RingKey] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise KeyPackageError("The clinic keys received are damaged.")
        try:
            data_key = bytes.fromhex(str(item["data_key"]))
            added_at = str(item["added_at"])
        except (KeyError, ValueError):
            raise KeyPackageError("The clinic keys received are damaged.") from None
        check_data_key(data_key)
        if key_fingerprint(data_key) != item.get("key_id"):
            raise KeyPackageError("The clinic keys received are damaged.")
        keys.append(RingKey(key_fingerprint(data_key), data_key, added_at))
    return keys
