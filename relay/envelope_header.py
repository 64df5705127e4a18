"""The relay's own reading of a sealed envelope's header (it never imports app/).

Layout, as app/sync/envelope.py writes it: b"FDSE", one format byte (1), a 2-byte
big-endian header length, the header as canonical JSON (sorted keys, no spaces)
{batch_id, clinic_id, device_id, key_id, seq}, then a 12-byte nonce and the
AES-GCM ciphertext with its 16-byte tag. The relay reads the header only to route
(clinic = space, device), to order (seq) and to deduplicate (batch id); it cannot
check the seal, the desks do.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass

MAGIC = b"FDSE"
FORMAT = 1
_LENGTH = struct.Struct(">H")
_FIXED = len(MAGIC) + 1 + _LENGTH.size
MAX_HEADER = 4096
_NONCE_AND_TAG = 12 + 16
_FIELDS = ("batch_id", "clinic_id", "device_id", "key_id", "seq")
# The same id alphabet the API accepts in paths and bodies.
ID_PATTERN = r"^[A-Za-z0-9._~-]{1,128}$"
_ID = re.compile(ID_PATTERN)


class HeaderError(ValueError):
    """Not a readable envelope header; the message says what in plain words."""


@dataclass(frozen=True)
class EnvelopeHeader:
    clinic_id: str
    device_id: str
    seq: int
    batch_id: str
    key_id: str


def read_header(envelope: bytes) -> EnvelopeHeader:
    """The routing fields of an envelope, or HeaderError for anything else."""
    if len(envelope) < _FIXED or envelope[: len(MAGIC)] != MAGIC:
        raise HeaderError("The body is not a Frontdesk sync envelope.")
    if envelope[len(MAGIC)] != FORMAT:
        raise HeaderError("The envelope has a format this relay does not know.")
    (length,) = _LENGTH.unpack_from(envelope, len(MAGIC) + 1)
    end = _FIXED + length
    if length == 0 or length > MAX_HEADER or len(envelope) < end + _NONCE_AND_TAG:
        raise HeaderError("The envelope is damaged or cut short.")
    try:
        fields = json.loads(envelope[_FIXED:end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HeaderError("The envelope header is not readable.") from None
    if not isinstance(fields, dict) or sorted(fields) != list(_FIELDS):
        raise HeaderError("The envelope header does not have the expected fields.")
    seq = fields["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**62:
        raise HeaderError("The envelope's sequence number is not a positive whole number.")
    texts = [fields[name] for name in ("clinic_id", "device_id", "batch_id", "key_id")]
    if not all(isinstance(text, str) and _ID.match(text) for text in texts):
        raise HeaderError("The envelope header has an id this relay does not accept.")
    clinic_id, device_id, batch_id, key_id = texts
    return EnvelopeHeader(clinic_id, device_id, seq, batch_id, key_id)
