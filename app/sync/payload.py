"""What an envelope carries: one workstation's change rows and the schema they were made in.

The rows travel without their device id (the envelope header names the sender, and a
batch holds only the sender's own changes) and without their local sequence numbers
(each desk numbers its journal itself). The schema version lets a desk on an older
Frontdesk see that it cannot apply a batch yet and keep it instead (parking).

orjson + zlib: a batch of 10,000 changes is a few hundred kB; the relay takes
envelopes up to 4 MiB and a batch is kept far below that (app/sync/journal.py).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import orjson

from app.errors import EnvelopeError
from app.sync.merge import ChangeRow

FORMAT = 1
# A payload never opens to more than this: a hostile or damaged batch cannot make a
# desk allocate gigabytes (a zip bomb), whatever its compressed size.
MAX_OPENED_BYTES = 64 << 20
_LEVEL = 6

_DAMAGED = "A damaged batch was refused."
_HLC = re.compile(r"\d{15}\.\d{5}")  # Hlc.encode(): fixed width, so text order is clock order


@dataclass(frozen=True)
class Payload:
    schema_version: int
    changes: tuple[ChangeRow, ...]  # every row's device_id is the sender's


def encode(schema_version: int, changes: list[ChangeRow] | tuple[ChangeRow, ...]) -> bytes:
    """Compressed canonical bytes: [tbl, row_id, col, value, hlc] per change."""
    document = {
        "format": FORMAT,
        "schema": schema_version,
        "changes": [[c.tbl, c.row_id, c.col, c.value, c.hlc] for c in changes],
    }
    return zlib.compress(orjson.dumps(document), _LEVEL)


def opened_size(data: bytes) -> int:
    """How large the payload is once decompressed (for the batch size bound)."""
    return len(_inflate(data))


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, MAX_OPENED_BYTES)
    except zlib.error:
        raise EnvelopeError(_DAMAGED) from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise EnvelopeError(_DAMAGED)  # larger than any batch we make, or cut short
    return raw


def decode(data: bytes, device_id: str) -> Payload:
    """The payload of a batch from `device_id` (taken from the envelope's header, which
    the seal authenticates). Refused with EnvelopeError when malformed."""
    try:
        document = orjson.loads(_inflate(data))
    except orjson.JSONDecodeError:
        raise EnvelopeError(_DAMAGED) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise EnvelopeError(
            "A batch was made by a newer Frontdesk and was refused: update this workstation."
        )
    schema = document.get("schema")
    rows = document.get("changes")
    if not isinstance(schema, int) or isinstance(schema, bool) or not isinstance(rows, list):
        raise EnvelopeError(_DAMAGED)
    changes: list[ChangeRow] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5):
            raise EnvelopeError(_DAMAGED)
        tbl, row_id, col, value, hlc = row
        if not (
            isinstance(tbl, str)
            and isinstance(row_id, str)
            and isinstance(col, str)
            and isinstance(hlc, str)
            and _HLC.fullmatch(hlc)
            and (value is None or isinstance(value, str))
        ):
            raise EnvelopeError(_DAMAGED)
        changes.append(ChangeRow(hlc, device_id, tbl, row_id, col, value))
    return Payload(schema, tuple(changes))
