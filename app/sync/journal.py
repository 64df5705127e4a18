"""This desk's own changes that the relay does not hold yet, cut into batches.

The change journal holds every desk's rows; this desk's are those with its device id.
`pushed_seq` (local_sync) is the journal position of the last own change sealed into
a batch, so the next batch is the own rows after it, in journal order. A batch is
bounded (compressed size and row count) so an import of 100,000 patients travels as
many modest envelopes, each well under the relay's 4 MiB, instead of one it refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import SyncError
from app.store.database import Connection
from app.sync import payload
from app.sync.merge import ChangeRow

MAX_BATCH_BYTES = 2 << 20  # compressed; the relay accepts up to 4 MiB per envelope
MAX_BATCH_ROWS = 10_000  # one apply holds the write lock about a second at most


@dataclass(frozen=True)
class OutgoingBatch:
    """The payload of the next batch and the journal range it covers."""

    after_seq: int
    upto_seq: int
    rows: int
    payload: bytes


def _own_rows(
    conn: Connection, device_id: str, after_seq: int, limit: int
) -> list[tuple[int, ChangeRow]]:
    rows = conn.execute(
        "SELECT seq, tbl, row_id, col, value, hlc FROM change "
        "WHERE seq > ? AND device_id = ? ORDER BY seq LIMIT ?",
        (after_seq, device_id, limit),
    ).fetchall()
    return [
        (int(seq), ChangeRow(hlc, device_id, tbl, row_id, col, value))
        for seq, tbl, row_id, col, value, hlc in rows
    ]


def next_batch(
    conn: Connection,
    device_id: str,
    after_seq: int,
    schema_version: int,
    *,
    max_bytes: int = MAX_BATCH_BYTES,
    max_rows: int = MAX_BATCH_ROWS,
) -> OutgoingBatch | None:
    """The next batch of own changes after journal position `after_seq`, or None when
    there is none. Halved until it fits `max_bytes` compressed."""
    rows = _own_rows(conn, device_id, after_seq, max_rows)
    if not rows:
        return None
    count = len(rows)
    while True:
        chosen = rows[:count]
        data = payload.encode(schema_version, [change for _seq, change in chosen])
        if len(data) <= max_bytes:
            return OutgoingBatch(after_seq, chosen[-1][0], count, data)
        if count == 1:
            raise SyncError(
                "One change is too large to send to the other workstations (over "
                f"{max_bytes // (1 << 20)} MB even compressed); it stays on this workstation."
            )
        count = max(1, count // 2)


def pending_rows(conn: Connection, device_id: str, after_seq: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM change WHERE seq > ? AND device_id = ?", (after_seq, device_id)
        ).fetchone()[0]
    )
