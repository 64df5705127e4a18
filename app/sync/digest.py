"""A digest of what a desk holds, to compare with the others' through the relay.

After a full sync (nothing of its own pending, pulled to the relay's head) every desk
holds the same change rows and, merged, the same rows in every synced table. Each then
reports a digest for that relay position; the first report is the reference and a
different one later means a desk went astray (a bug, a damaged file, a restore of an
old backup): that desk rebuilds from a snapshot.

The digest is a keyed set-hash: the sum, modulo 2^256, of a MAC of every change row
(keyed BLAKE2b, a MAC in its own right and several times faster than HMAC-SHA256 in a
loop over millions of rows), then a MAC of that sum with the row count of each synced
table. A sum does not depend on order, and it grows by adding only the rows journalled
since the last time (`digest_seq`): the journal is append-only. The key is derived by
HKDF from the clinic's first data key (the oldest in the key ring, the same on every
desk), so the relay cannot compute or invert it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.store.database import Connection
from app.store.keys import KEY_BYTES, key_fingerprint
from app.store.writer import Schema

_LABEL = b"frontdesk-sync-digest-v1"
_MODULUS = 1 << 256
_BATCH = 20_000


@dataclass(frozen=True)
class DigestState:
    """The running sum and the journal position it covers, for one key."""

    key_id: str
    seq: int
    total: int


def digest_key(data_key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_LABEL)
    return hkdf.derive(data_key)


def advance(conn: Connection, data_key: bytes, held: DigestState | None) -> DigestState:
    """The running sum brought up to the journal's end (from scratch for another key)."""
    key_id = key_fingerprint(data_key)
    if held is None or held.key_id != key_id:
        held = DigestState(key_id, 0, 0)
    key = digest_key(data_key)
    seq, total = held.seq, held.total
    while True:
        rows = conn.execute(
            "SELECT seq, tbl, row_id, col, value, hlc, device_id FROM change "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, _BATCH),
        ).fetchall()
        if not rows:
            return DigestState(key_id, seq, total)
        for row in rows:
            mac = hashlib.blake2b(orjson.dumps(row[1:]), key=key, digest_size=32).digest()
            total += int.from_bytes(mac, "big")
        total %= _MODULUS
        seq = int(rows[-1][0])


def table_counts(conn: Connection, schema: Schema) -> dict[str, int]:
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
        for table in sorted(schema.columns)
    }


def finish(data_key: bytes, state: DigestState, counts: dict[str, int]) -> str:
    """The digest text reported to the relay."""
    body = state.total.to_bytes(32, "big") + orjson.dumps(counts, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, key=digest_key(data_key), digest_size=32).hexdigest()


def read_state(conn: Connection) -> DigestState | None:
    row = conn.execute(
        "SELECT digest_key_id, digest_seq, digest_sum FROM local_sync WHERE id = 1"
    ).fetchone()
    if row is None or not row[0] or row[2] is None:
        return None
    return DigestState(str(row[0]), int(row[1]), int.from_bytes(bytes(row[2]), "big"))


def save_state(conn: Connection, state: DigestState) -> None:
    conn.execute(
        "UPDATE local_sync SET digest_key_id = ?, digest_seq = ?, digest_sum = ? WHERE id = 1",
        (state.key_id, state.seq, state.total.to_bytes(32, "big")),
    )
