"""Sealed envelopes: how a batch of changes travels through the relay.

The relay stores and forwards envelopes and must learn nothing from them, change
nothing unnoticed, and be unable to pass one device's batch off as another's, replay
an old one or reorder a device's batches. So each envelope is AES-256-GCM under a key
derived from the clinic data key, and its header (format, clinic, device, the device's
sequence number, batch id and key id) is the associated data: readable by the relay
for routing and idempotency, but any change to it breaks the tag.

The envelope key is derived with HKDF (label "frontdesk-sync-envelope-v1") rather than
being the data key itself, so the key that encrypts database pages never also
encrypts network traffic. The key id is the data key's public fingerprint
(app/store/keys.key_fingerprint): after a key rotation new envelopes name the new key
and old ones stay readable on devices that still hold the old key.

Nonces are 96 random bits per envelope. A clinic sends far fewer than the 2^32
envelopes per key at which random GCM nonces start to risk a collision.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.errors import EnvelopeError
from app.store.keys import KEY_BYTES, key_fingerprint

FORMAT = 1
_MAGIC = b"FDSE"  # Frontdesk sync envelope
_NONCE_BYTES = 12
_HEADER_LENGTH = struct.Struct(">H")
_MAX_HEADER = 4096
_LABEL = b"frontdesk-sync-envelope-v1"


@dataclass(frozen=True)
class EnvelopeHeader:
    """What the relay may read: enough to route, deduplicate and order, nothing else."""

    clinic_id: str
    device_id: str
    seq: int  # this device's batches are numbered 1, 2, 3… without gaps
    batch_id: str  # idempotency: the relay stores a batch id once
    key_id: str

    def encode(self) -> bytes:
        """Canonical bytes (sorted keys, no spaces): the associated data of the seal."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def envelope_key(data_key: bytes) -> bytes:
    if len(data_key) != KEY_BYTES:
        raise ValueError("a clinic data key has 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_LABEL)
    return hkdf.derive(data_key)


def seal(
    data_key: bytes, clinic_id: str, device_id: str, seq: int, batch_id: str, payload: bytes
) -> bytes:
    """One envelope: magic, format, header length, header, nonce, ciphertext with tag."""
    if seq < 1:
        raise ValueError("sequence numbers start at 1")
    header = EnvelopeHeader(clinic_id, device_id, seq, batch_id, key_fingerprint(data_key))
    head = header.encode()
    if len(head) > _MAX_HEADER:
        raise ValueError("envelope header too long")
    prefix = _MAGIC + bytes([FORMAT]) + _HEADER_LENGTH.pack(len(head)) + head
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(envelope_key(data_key)).encrypt(nonce, payload, prefix)
    return prefix + nonce + sealed


def read_header(envelope: bytes) -> EnvelopeHeader:
    """The header as the relay sees it, before (and without) the key; not yet trusted."""
    return _split(envelope)[1]


def open_envelope(
    envelope: bytes, keys: Mapping[str, bytes], *, clinic_id: str
) -> tuple[EnvelopeHeader, bytes]:
    """Check and decrypt. `keys` maps key id → data key (every key this device holds).

    Refused with EnvelopeError: damaged or not an envelope, another clinic's, a key this
    device does not have, or any change to header or body (the GCM tag covers both).
    Whether the sequence number is the one expected is the caller's (`check_sequence`).
    """
    prefix, header, nonce, sealed = _split(envelope)
    if header.clinic_id != clinic_id:
        raise EnvelopeError("A batch for another clinic was refused.")
    data_key = keys.get(header.key_id)
    if data_key is None:
        raise EnvelopeError(
            "A batch is sealed with a key this workstation does not have (a newer key "
            "after a key change): enroll this workstation again to receive it."
        )
    try:
        payload = AESGCM(envelope_key(data_key)).decrypt(nonce, sealed, prefix)
    except InvalidTag:
        raise EnvelopeError("A batch was altered on its way and was refused.") from None
    return header, payload


def check_sequence(last_seen: int, header: EnvelopeHeader) -> bool:
    """Whether to apply this batch: True for the next one; False for one already applied
    (a replay or a repeated delivery: ignored, harmless); a gap is refused, because the
    batches between would be lost or applied out of order."""
    if header.seq <= last_seen:
        return False
    if header.seq != last_seen + 1:
        raise EnvelopeError(
            f"Batches from a workstation arrived out of order (expected {last_seen + 1:,}, "
            f"got {header.seq:,}); they will be fetched again in order."
        )
    return True


def _split(envelope: bytes) -> tuple[bytes, EnvelopeHeader, bytes, bytes]:
    fixed = len(_MAGIC) + 1 + _HEADER_LENGTH.size
    if len(envelope) < fixed or envelope[: len(_MAGIC)] != _MAGIC:
        raise EnvelopeError("Something that is not a Frontdesk batch was refused.")
    if envelope[len(_MAGIC)] != FORMAT:
        raise EnvelopeError(
            "A batch was made by a newer Frontdesk and was refused: update this workstation."
        )
    (length,) = _HEADER_LENGTH.unpack_from(envelope, len(_MAGIC) + 1)
    end = fixed + length
    if length > _MAX_HEADER or len(envelope) < end + _NONCE_BYTES + 16:
        raise EnvelopeError("A damaged batch was refused.")
    try:
        fields = json.loads(envelope[fixed:end])
        header = EnvelopeHeader(
            clinic_id=_text(fields, "clinic_id"),
            device_id=_text(fields, "device_id"),
            seq=_number(fields, "seq"),
            batch_id=_text(fields, "batch_id"),
            key_id=_text(fields, "key_id"),
        )
    except (ValueError, TypeError, KeyError):
        raise EnvelopeError("A damaged batch was refused.") from None
    if header.encode() != envelope[fixed:end]:
        raise EnvelopeError("A damaged batch was refused.")  # not the canonical form
    return (
        envelope[:end],
        header,
        envelope[end : end + _NONCE_BYTES],
        envelope[end + _NONCE_BYTES :],
    )


def _text(fields: dict[str, object], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise TypeError(name)
    return value


def _number(fields: dict[str, object], name: str) -> int:
    value = fields[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(name)
    return value
