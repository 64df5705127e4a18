"""This workstation's sync bookkeeping (the local_sync row): reading it and moving it on.

The row is this desk's own (never journalled, never synced): where the relay is, the
token, how far this desk has pulled and pushed, and what the status bar shows. Every
function takes the connection, so the caller decides the transaction it runs in:
moving the cursor, for one, commits together with the batch it applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.store.database import Connection
from app.store.writer import utc_now

State = Literal["off", "synced", "pending", "syncing", "offline", "error", "update_needed"]
STATES: tuple[State, ...] = (
    "off",
    "synced",
    "pending",
    "syncing",
    "offline",
    "error",
    "update_needed",
)


@dataclass(frozen=True)
class SyncSetup:
    """The local_sync row as this desk last left it."""

    relay_url: str
    space_id: str
    device_token: str
    private_key: bytes | None
    enabled: bool
    cursor: int
    pushed_seq: int
    batch_seq: int
    state: State
    last_error: str
    offline_since: str | None
    last_synced_at: str | None
    last_attempt_at: str | None
    digest_cursor: int | None
    digest_status: str
    bootstrap_needed: bool
    snapshot_cursor: int | None
    snapshot_at: str | None


_COLUMNS = (
    "relay_url, space_id, device_token, private_key, enabled, cursor, pushed_seq, batch_seq, "
    "state, last_error, offline_since, last_synced_at, last_attempt_at, digest_cursor, "
    "digest_status, bootstrap_needed, snapshot_cursor, snapshot_at"
)


def read_setup(conn: Connection) -> SyncSetup | None:
    """The row, or None when sync was never set up on this desk."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM local_sync WHERE id = 1"  # noqa: S608 - constant list
    ).fetchone()
    if row is None:
        return None
    return SyncSetup(
        relay_url=str(row[0]),
        space_id=str(row[1]),
        device_token=str(row[2]),
        private_key=None if row[3] is None else bytes(row[3]),
        enabled=bool(row[4]),
        cursor=int(row[5]),
        pushed_seq=int(row[6]),
        batch_seq=int(row[7]),
        state=row[8],
        last_error=str(row[9]),
        offline_since=row[10],
        last_synced_at=row[11],
        last_attempt_at=row[12],
        digest_cursor=row[13],
        digest_status=str(row[14]),
        bootstrap_needed=bool(row[15]),
        snapshot_cursor=row[16],
        snapshot_at=row[17],
    )


def create_setup(
    conn: Connection,
    *,
    relay_url: str,
    space_id: str,
    device_token: str,
    private_key: bytes | None,
    cursor: int = 0,
    pushed_seq: int = 0,
) -> None:
    """Write the row when this desk joins a space (replacing an older one, if any)."""
    conn.execute("DELETE FROM local_sync")
    conn.execute(
        "INSERT INTO local_sync (id, relay_url, space_id, device_token, private_key, cursor, "
        "pushed_seq, created_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
        (relay_url, space_id, device_token, private_key, cursor, pushed_seq, utc_now()),
    )


# The columns a sync run may move; names are checked against this list before they
# reach SQL.
_UPDATABLE = frozenset(
    {
        "relay_url",
        "device_token",
        "enabled",
        "cursor",
        "pushed_seq",
        "batch_seq",
        "state",
        "last_error",
        "offline_since",
        "last_synced_at",
        "last_attempt_at",
        "digest_cursor",
        "digest_status",
        "digest_key_id",
        "digest_seq",
        "digest_sum",
        "bootstrap_needed",
        "snapshot_cursor",
        "snapshot_at",
    }
)


def update_setup(conn: Connection, values: Mapping[str, object]) -> None:
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not a sync setting: {sorted(unknown)}")
    if not values:
        return
    assignments = ", ".join(f"{name} = ?" for name in values)
    sql = f"UPDATE local_sync SET {assignments} WHERE id = 1"  # noqa: S608 - names checked above
    conn.execute(sql, tuple(values.values()))


def peer_seqs(conn: Connection) -> dict[str, int]:
    """The last batch number applied from each other workstation."""
    rows = conn.execute("SELECT device_id, last_seq FROM local_sync_peer")
    return {str(device): int(seq) for device, seq in rows}


def set_peer_seq(conn: Connection, device_id: str, seq: int) -> None:
    conn.execute(
        "INSERT INTO local_sync_peer (device_id, last_seq) VALUES (?, ?) "
        "ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq",
        (device_id, seq),
    )


def key_ring(conn: Connection) -> dict[str, bytes]:
    """Every data key this desk holds, by key id (old ones open old envelopes)."""
    rows = conn.execute("SELECT key_id, data_key FROM local_sync_key")
    return {str(key_id): bytes(data_key) for key_id, data_key in rows}


def add_key(conn: Connection, key_id: str, data_key: bytes) -> None:
    conn.execute(
        "INSERT INTO local_sync_key (key_id, data_key, added_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key_id) DO NOTHING",
        (key_id, data_key, utc_now()),
    )


def pending_changes(conn: Connection, device_id: str) -> int:
    """How many of this desk's own changes the relay does not hold yet: those after the
    last sealed one, plus those in sealed batches not yet acknowledged."""
    row = conn.execute(
        "SELECT coalesce(min(after_seq), (SELECT pushed_seq FROM local_sync WHERE id = 1)) "
        "FROM local_sync_outgoing"
    ).fetchone()
    after = int(row[0] or 0)
    return int(
        conn.execute(
            "SELECT count(*) FROM change WHERE seq > ? AND device_id = ?", (after, device_id)
        ).fetchone()[0]
    )
