"""What the relay keeps and the rules for changing it, written once for both databases.

The SQL here is plain enough for SQLite and PostgreSQL alike; the two subclasses
(relay/storage/sqlite.py, relay/storage/postgres.py) only open connections, run
transactions and spell a few types. What makes a write safe differs by database:

- SQLite has one writer: a write transaction starts with BEGIN IMMEDIATE (and one
  lock per process), so everything inside it happens as if alone.
- PostgreSQL may be shared by several relay processes: a write transaction that
  touches a space first locks that space's row (SELECT … FOR UPDATE), so pushes to
  one space are serialised and commit in the order their cursors were given.

Either way a batch's cursor (the space's `head` + 1) is taken and committed inside
the same transaction, so a reader that has seen cursor c can never later find a
batch with a cursor at or below c appearing: commit order is cursor order.

What is stored: device ids, SHA-256 hashes of tokens, envelope bytes (ciphertext),
the envelope header's routing fields, snapshot pieces (ciphertext), opaque digests
and key packages (ciphertext), sizes and times. Never a token, never a plaintext.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from relay.errors import conflict, not_found, unauthorized
from relay.settings import Settings

SCHEMA_VERSION = 2
# What each version adds to the one before, for a relay database made by an older relay.
UPGRADES: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE invites ADD COLUMN sealed_name TEXT",),
}
Row = tuple[Any, ...]
DigestStatus = Literal["recorded", "match", "mismatch"]

# Types as each database spells them; the DDL below names them in braces.
SCHEMA = """
CREATE TABLE IF NOT EXISTS relay_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spaces (
    id TEXT PRIMARY KEY,
    created_at {real} NOT NULL,
    head {int} NOT NULL DEFAULT 0,
    lease_holder TEXT,
    lease_starts_at {real},
    lease_expires_at {real}
);
CREATE TABLE IF NOT EXISTS devices (
    space_id TEXT NOT NULL REFERENCES spaces (id),
    id TEXT NOT NULL,
    token_hash {blob} NOT NULL UNIQUE,
    enrolled_at {real} NOT NULL,
    last_seen_at {real},
    revoked_at {real},
    PRIMARY KEY (space_id, id)
);
CREATE TABLE IF NOT EXISTS invites (
    id TEXT PRIMARY KEY,
    space_id TEXT NOT NULL REFERENCES spaces (id),
    created_by TEXT NOT NULL,
    created_at {real} NOT NULL,
    expires_at {real} NOT NULL,
    claimed_at {real},
    device_id TEXT,
    public_key TEXT,
    proof TEXT,
    sealed_name TEXT,
    package TEXT,
    package_taken_at {real}
);
CREATE INDEX IF NOT EXISTS invites_expiry ON invites (expires_at);
CREATE TABLE IF NOT EXISTS batches (
    space_id TEXT NOT NULL REFERENCES spaces (id),
    cursor {int} NOT NULL,
    device_id TEXT NOT NULL,
    seq {int} NOT NULL,
    batch_id TEXT NOT NULL,
    envelope {blob} NOT NULL,
    received_at {real} NOT NULL,
    PRIMARY KEY (space_id, cursor),
    UNIQUE (space_id, batch_id),
    UNIQUE (space_id, device_id, seq)
);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    space_id TEXT NOT NULL REFERENCES spaces (id),
    device_id TEXT NOT NULL,
    cursor {int} NOT NULL,
    chunks INTEGER NOT NULL,
    size {int} NOT NULL,
    created_at {real} NOT NULL,
    completed_at {real}
);
CREATE INDEX IF NOT EXISTS snapshots_space ON snapshots (space_id, completed_at);
CREATE INDEX IF NOT EXISTS snapshots_created ON snapshots (created_at);
CREATE TABLE IF NOT EXISTS snapshot_chunks (
    snapshot_id TEXT NOT NULL REFERENCES snapshots (id),
    n INTEGER NOT NULL,
    data {blob} NOT NULL,
    PRIMARY KEY (snapshot_id, n)
);
CREATE TABLE IF NOT EXISTS digests (
    space_id TEXT NOT NULL REFERENCES spaces (id),
    cursor {int} NOT NULL,
    digest TEXT NOT NULL,
    device_id TEXT NOT NULL,
    reported_at {real} NOT NULL,
    PRIMARY KEY (space_id, cursor)
);
CREATE TABLE IF NOT EXISTS key_packages (
    space_id TEXT NOT NULL REFERENCES spaces (id),
    key_id TEXT NOT NULL,
    to_device TEXT NOT NULL,
    from_device TEXT NOT NULL,
    package TEXT NOT NULL,
    created_at {real} NOT NULL,
    PRIMARY KEY (space_id, key_id, to_device)
)
"""

# Digests kept per space (newest cursors): enough for every desk's last few syncs.
_DIGESTS_KEPT = 200
# Invites (and a package never fetched) are forgotten a day after they expired.
_INVITE_KEPT_SECONDS = 86_400.0
# Spaces per query when reading the heads of every space someone waits on.
_HEADS_PER_QUERY = 500


class Tx(Protocol):
    """One open transaction; SQL uses `?` placeholders whatever the database."""

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


@dataclass(frozen=True)
class TokenOwner:
    space_id: str
    device_id: str
    token_hash: bytes
    revoked: bool
    last_seen_at: float | None


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    enrolled_at: float
    last_seen_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class InviteRecord:
    claimed: bool
    device_id: str | None
    public_key: str | None
    proof: str | None
    sealed_name: str | None = None


@dataclass(frozen=True)
class Pushed:
    cursor: int
    created: bool  # False: this batch id was stored before (an idempotent repeat)


@dataclass(frozen=True)
class StoredBatch:
    cursor: int
    device_id: str
    seq: int
    batch_id: str
    envelope: bytes


@dataclass(frozen=True)
class Page:
    batches: list[StoredBatch]
    more: bool
    head: int


@dataclass(frozen=True)
class SnapshotRecord:
    snapshot_id: str
    cursor: int
    chunks: int
    size: int
    device_id: str
    created_at: float


@dataclass(frozen=True)
class Lease:
    holder: str | None
    expires_in: float
    granted: bool = False
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class KeyPackage:
    key_id: str
    from_device: str
    package: str


class Storage(ABC):
    """The relay's records; thread-safe: each call is one transaction."""

    # Appended to a SELECT that must lock its rows until commit (PostgreSQL).
    lock_rows: str = ""

    def __init__(self, settings: Settings) -> None:
        self.clock: Callable[[], float] = settings.clock
        self._incomplete_seconds = settings.incomplete_snapshot_seconds
        self._snapshots_kept = settings.snapshots_kept

    @abstractmethod
    def transaction(self, *, write: bool) -> AbstractContextManager[Tx]:
        """A transaction; a write one is exclusive per space (see the module docstring)."""

    @abstractmethod
    def close(self) -> None: ...

    def _locked(self, select: str) -> str:
        """A SELECT that locks the rows it reads until commit (where the database can)."""
        return select + self.lock_rows

    def _lock_space(self, tx: Tx, space_id: str) -> Row:
        row = tx.one(
            self._locked(
                "SELECT head, lease_holder, lease_starts_at, lease_expires_at FROM spaces"
                " WHERE id = ?"
            ),
            (space_id,),
        )
        if row is None:
            raise not_found("no_space", "This relay has no such space.")
        return row

    # -- spaces and devices -------------------------------------------------------

    def create_space(self, space_id: str, device_id: str, token_hash: bytes) -> bool:
        """A new space with its first device; False when the space already exists."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            made = tx.one(
                "INSERT INTO spaces (id, created_at) VALUES (?, ?)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                (space_id, now),
            )
            if made is None:
                return False
            tx.run(
                "INSERT INTO devices (space_id, id, token_hash, enrolled_at) VALUES (?, ?, ?, ?)",
                (space_id, device_id, token_hash, now),
            )
        return True

    def token_owner(self, token_hash: bytes) -> TokenOwner | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT space_id, id, token_hash, revoked_at, last_seen_at FROM devices"
                " WHERE token_hash = ?",
                (token_hash,),
            )
        if row is None:
            return None
        return TokenOwner(row[0], row[1], bytes(row[2]), row[3] is not None, row[4])

    def touch_device(self, space_id: str, device_id: str) -> None:
        """Note that a device was seen (the caller limits this to about once a minute)."""
        with self.transaction(write=True) as tx:
            tx.run(
                "UPDATE devices SET last_seen_at = ? WHERE space_id = ? AND id = ?",
                (self.clock(), space_id, device_id),
            )

    def devices(self, space_id: str) -> list[DeviceRecord]:
        with self.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT id, enrolled_at, last_seen_at, revoked_at FROM devices"
                " WHERE space_id = ? ORDER BY enrolled_at, id",
                (space_id,),
            )
        return [DeviceRecord(*row) for row in rows]

    def revoke_device(self, space_id: str, device_id: str) -> bool:
        """Revoke for good: its token stops working with the next request. False: unknown."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            self._lock_space(tx, space_id)
            row = tx.one(
                "SELECT revoked_at FROM devices WHERE space_id = ? AND id = ?",
                (space_id, device_id),
            )
            if row is None:
                return False
            if row[0] is None:
                tx.run(
                    "UPDATE devices SET revoked_at = ? WHERE space_id = ? AND id = ?",
                    (now, space_id, device_id),
                )
            tx.run(
                "DELETE FROM key_packages WHERE space_id = ? AND to_device = ?",
                (space_id, device_id),
            )
            tx.run(
                "UPDATE spaces SET lease_holder = NULL, lease_starts_at = NULL,"
                " lease_expires_at = NULL WHERE id = ? AND lease_holder = ?",
                (space_id, device_id),
            )
        return True

    def device_is_active(self, tx: Tx, space_id: str, device_id: str) -> bool:
        row = tx.one(
            "SELECT revoked_at FROM devices WHERE space_id = ? AND id = ?", (space_id, device_id)
        )
        return row is not None and row[0] is None

    # -- invites ------------------------------------------------------------------

    def create_invite(
        self, space_id: str, created_by: str, invite_id: str, expires_in: int
    ) -> bool:
        """False when the invite id is taken (by any space)."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            tx.run(
                "DELETE FROM invites WHERE expires_at < ?",
                (now - _INVITE_KEPT_SECONDS,),
            )
            made = tx.one(
                "INSERT INTO invites (id, space_id, created_by, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                (invite_id, space_id, created_by, now, now + expires_in),
            )
        return made is not None

    def claim_invite(
        self,
        invite_id: str,
        device_id: str,
        public_key: str,
        proof: str,
        token_hash: bytes,
        *,
        sealed_name: str | None = None,
    ) -> str | None:
        """Enroll the claiming device in the invite's space; None when the invite is
        unknown, expired or already claimed (the caller answers all three alike)."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            row = tx.one(
                self._locked(
                    "SELECT space_id FROM invites WHERE id = ? AND claimed_at IS NULL"
                    " AND expires_at > ?"
                ),
                (invite_id, now),
            )
            if row is None:
                return None
            space_id: str = row[0]
            self._lock_space(tx, space_id)
            if tx.one("SELECT 1 FROM devices WHERE space_id = ? AND id = ?", (space_id, device_id)):
                raise conflict("device_exists", "A device with this id is already enrolled.")
            tx.run(
                "UPDATE invites SET claimed_at = ?, device_id = ?, public_key = ?, proof = ?,"
                " sealed_name = ? WHERE id = ?",
                (now, device_id, public_key, proof, sealed_name, invite_id),
            )
            tx.run(
                "INSERT INTO devices (space_id, id, token_hash, enrolled_at) VALUES (?, ?, ?, ?)",
                (space_id, device_id, token_hash, now),
            )
        return space_id

    def invite(self, space_id: str, invite_id: str) -> InviteRecord | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT claimed_at, device_id, public_key, proof, sealed_name FROM invites"
                " WHERE id = ? AND space_id = ?",
                (invite_id, space_id),
            )
        if row is None:
            return None
        return InviteRecord(row[0] is not None, row[1], row[2], row[3], row[4])

    def put_package(self, space_id: str, invite_id: str, package: str) -> None:
        with self.transaction(write=True) as tx:
            row = tx.one(
                self._locked(
                    "SELECT claimed_at, package_taken_at FROM invites WHERE id = ? AND space_id = ?"
                ),
                (invite_id, space_id),
            )
            if row is None:
                raise not_found("no_invite", "This space has no such invite.")
            if row[0] is None:
                raise conflict("not_claimed", "No workstation has claimed this invite yet.")
            if row[1] is not None:
                raise conflict("package_taken", "The package was already fetched.")
            tx.run("UPDATE invites SET package = ? WHERE id = ?", (package, invite_id))

    def take_package(self, space_id: str, invite_id: str, device_id: str) -> str | None:
        """The package left for the claiming device, deleted as it is handed over."""
        with self.transaction(write=True) as tx:
            row = tx.one(
                self._locked(
                    "SELECT package FROM invites WHERE id = ? AND space_id = ? AND device_id = ?"
                    " AND package IS NOT NULL"
                ),
                (invite_id, space_id, device_id),
            )
            if row is None:
                return None
            tx.run(
                "UPDATE invites SET package = NULL, package_taken_at = ? WHERE id = ?",
                (self.clock(), invite_id),
            )
        package: str = row[0]
        return package

    # -- batches ------------------------------------------------------------------

    def push(
        self, space_id: str, device_id: str, batch_id: str, seq: int, envelope: bytes
    ) -> Pushed:
        """Store a batch at the next cursor; the same batch id again gives its cursor back.

        A new batch must be the device's next (last seq + 1): a gap or a repeat under
        another batch id is refused with 409 and the seq expected.
        """
        now = self.clock()
        with self.transaction(write=True) as tx:
            head: int = self._lock_space(tx, space_id)[0]
            if not self.device_is_active(tx, space_id, device_id):
                raise unauthorized()
            same = tx.one(
                "SELECT cursor, device_id, seq FROM batches WHERE space_id = ? AND batch_id = ?",
                (space_id, batch_id),
            )
            if same is not None:
                if same[1] != device_id or same[2] != seq:
                    raise conflict("batch_id", "This batch id was already used for another batch.")
                return Pushed(same[0], created=False)
            last = tx.one(
                "SELECT MAX(seq) FROM batches WHERE space_id = ? AND device_id = ?",
                (space_id, device_id),
            )
            expected = (last[0] if last and last[0] is not None else 0) + 1
            if seq != expected:
                raise conflict(
                    "sequence",
                    f"This device's next batch must be number {expected}.",
                    expected=expected,
                )
            cursor = head + 1
            tx.run(
                "INSERT INTO batches (space_id, cursor, device_id, seq, batch_id, envelope,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (space_id, cursor, device_id, seq, batch_id, envelope, now),
            )
            tx.run("UPDATE spaces SET head = ? WHERE id = ?", (cursor, space_id))
        return Pushed(cursor, created=True)

    def pull(self, space_id: str, after: int, limit: int, max_bytes: int) -> Page:
        """Batches with a cursor above `after`, oldest first: at most `limit` of them and
        no more than `max_bytes` of envelopes (but always at least one)."""
        with self.transaction(write=False) as tx:
            head_row = tx.one("SELECT head FROM spaces WHERE id = ?", (space_id,))
            sizes = tx.all(
                "SELECT cursor, LENGTH(envelope) FROM batches WHERE space_id = ? AND cursor > ?"
                " ORDER BY cursor LIMIT ?",
                (space_id, after, limit + 1),
            )
            take, total = 0, 0
            for _, size in sizes[:limit]:
                if take and total + size > max_bytes:
                    break
                take, total = take + 1, total + size
            rows = (
                tx.all(
                    "SELECT cursor, device_id, seq, batch_id, envelope FROM batches"
                    " WHERE space_id = ? AND cursor > ? AND cursor <= ? ORDER BY cursor",
                    (space_id, after, sizes[take - 1][0]),
                )
                if take
                else []
            )
        head = head_row[0] if head_row else 0
        batches = [StoredBatch(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
        return Page(batches, more=len(sizes) > take, head=head)

    def head(self, space_id: str) -> int:
        with self.transaction(write=False) as tx:
            row = tx.one("SELECT head FROM spaces WHERE id = ?", (space_id,))
        return row[0] if row else 0

    def heads(self, space_ids: Sequence[str]) -> dict[str, int]:
        """The head of each of these spaces (the pulls that wait: relay/waits.py), in
        one query per few hundred spaces."""
        found: dict[str, int] = {}
        with self.transaction(write=False) as tx:
            for start in range(0, len(space_ids), _HEADS_PER_QUERY):
                some = space_ids[start : start + _HEADS_PER_QUERY]
                marks = ", ".join("?" * len(some))
                rows = tx.all(
                    f"SELECT id, head FROM spaces WHERE id IN ({marks})",  # noqa: S608 - only ?s
                    tuple(some),
                )
                found.update({str(r[0]): int(r[1]) for r in rows})
        return found

    def device_active(self, space_id: str, device_id: str) -> bool:
        """Enrolled and not revoked (a pull that waited checks again before answering)."""
        with self.transaction(write=False) as tx:
            return self.device_is_active(tx, space_id, device_id)

    # -- snapshots ----------------------------------------------------------------

    def begin_snapshot(
        self, space_id: str, device_id: str, cursor: int, chunks: int, size: int
    ) -> str:
        now = self.clock()
        snapshot_id = secrets.token_hex(16)
        with self.transaction(write=True) as tx:
            head: int = self._lock_space(tx, space_id)[0]
            if cursor > head:
                raise conflict(
                    "cursor", f"The snapshot's cursor is past the space's newest batch ({head})."
                )
            stale = tx.all(
                "SELECT id FROM snapshots WHERE completed_at IS NULL AND created_at < ?",
                (now - self._incomplete_seconds,),
            )
            self._drop_snapshots(tx, [r[0] for r in stale])
            tx.run(
                "INSERT INTO snapshots (id, space_id, device_id, cursor, chunks, size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (snapshot_id, space_id, device_id, cursor, chunks, size, now),
            )
        return snapshot_id

    def _uploading(self, tx: Tx, space_id: str, snapshot_id: str, device_id: str) -> int:
        row = tx.one(
            self._locked(
                "SELECT chunks, completed_at, device_id FROM snapshots"
                " WHERE id = ? AND space_id = ?"
            ),
            (snapshot_id, space_id),
        )
        if row is None:
            raise not_found("no_snapshot", "This space has no such snapshot.")
        if row[2] != device_id:
            raise conflict("not_yours", "Another device is uploading this snapshot.")
        if row[1] is not None:
            raise conflict("completed", "This snapshot is complete; it cannot change.")
        chunks: int = row[0]
        return chunks

    def put_chunk(
        self, space_id: str, snapshot_id: str, device_id: str, n: int, data: bytes
    ) -> None:
        with self.transaction(write=True) as tx:
            chunks = self._uploading(tx, space_id, snapshot_id, device_id)
            if n >= chunks:
                raise not_found("no_chunk", f"This snapshot has pieces 0 to {chunks - 1}.")
            tx.run(
                "INSERT INTO snapshot_chunks (snapshot_id, n, data) VALUES (?, ?, ?)"
                " ON CONFLICT (snapshot_id, n) DO UPDATE SET data = excluded.data",
                (snapshot_id, n, data),
            )

    def complete_snapshot(self, space_id: str, snapshot_id: str, device_id: str) -> None:
        """Mark complete once every piece is there, then keep only the newest few."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            self._lock_space(tx, space_id)
            chunks = self._uploading(tx, space_id, snapshot_id, device_id)
            have = {
                r[0]
                for r in tx.all(
                    "SELECT n FROM snapshot_chunks WHERE snapshot_id = ?", (snapshot_id,)
                )
            }
            missing = [n for n in range(chunks) if n not in have]
            if missing:
                raise conflict(
                    "missing_chunks",
                    f"{len(missing)} of {chunks} pieces are still missing.",
                    missing=missing[:100],
                )
            tx.run("UPDATE snapshots SET completed_at = ? WHERE id = ?", (now, snapshot_id))
            completed = tx.all(
                "SELECT id FROM snapshots WHERE space_id = ? AND completed_at IS NOT NULL"
                " ORDER BY cursor DESC, completed_at DESC",
                (space_id,),
            )
            self._drop_snapshots(tx, [r[0] for r in completed[self._snapshots_kept :]])

    def _drop_snapshots(self, tx: Tx, snapshot_ids: Sequence[str]) -> None:
        for snapshot_id in snapshot_ids:
            tx.run("DELETE FROM snapshot_chunks WHERE snapshot_id = ?", (snapshot_id,))
            tx.run("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))

    def latest_snapshot(self, space_id: str) -> SnapshotRecord | None:
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT id, cursor, chunks, size, device_id, created_at FROM snapshots"
                " WHERE space_id = ? AND completed_at IS NOT NULL"
                " ORDER BY cursor DESC, completed_at DESC LIMIT 1",
                (space_id,),
            )
        return SnapshotRecord(*row) if row else None

    def chunk(self, space_id: str, snapshot_id: str, n: int) -> bytes | None:
        """A piece of a completed snapshot of this space, or None."""
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT c.data FROM snapshot_chunks c JOIN snapshots s ON s.id = c.snapshot_id"
                " WHERE s.id = ? AND s.space_id = ? AND s.completed_at IS NOT NULL AND c.n = ?",
                (snapshot_id, space_id, n),
            )
        return bytes(row[0]) if row else None

    # -- digests ------------------------------------------------------------------

    def report_digest(
        self, space_id: str, device_id: str, cursor: int, digest: str
    ) -> DigestStatus:
        """'recorded' for the first digest at a cursor, then 'match' or 'mismatch'."""
        now = self.clock()
        with self.transaction(write=True) as tx:
            head: int = self._lock_space(tx, space_id)[0]
            if cursor > head:
                raise conflict("cursor", f"The space's newest batch is {head}.")
            row = tx.one(
                "SELECT digest FROM digests WHERE space_id = ? AND cursor = ?", (space_id, cursor)
            )
            if row is not None:
                return "match" if secrets.compare_digest(row[0], digest) else "mismatch"
            tx.run(
                "INSERT INTO digests (space_id, cursor, digest, device_id, reported_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (space_id, cursor, digest, device_id, now),
            )
            old = tx.one(
                "SELECT cursor FROM digests WHERE space_id = ? ORDER BY cursor DESC"
                " LIMIT 1 OFFSET ?",
                (space_id, _DIGESTS_KEPT),
            )
            if old is not None:
                tx.run("DELETE FROM digests WHERE space_id = ? AND cursor <= ?", (space_id, old[0]))
        return "recorded"

    # -- sender lease -------------------------------------------------------------

    def lease(self, space_id: str) -> Lease:
        now = self.clock()
        with self.transaction(write=False) as tx:
            row = tx.one(
                "SELECT lease_holder, lease_expires_at FROM spaces WHERE id = ?", (space_id,)
            )
        if row is None or row[0] is None or row[1] <= now:
            return Lease(None, 0.0)
        return Lease(row[0], row[1] - now)

    def claim_lease(self, space_id: str, device_id: str, seconds: float, take_over: bool) -> Lease:
        """Grant, renew or take over the sender role (see the API docs of /v1/sender/claim).

        A take-over is granted at once, but the new holder may send only after what
        remained of the old lease (`wait_seconds`): the old holder may be sending until
        then. Its lease runs `seconds` from that start. The old holder's renewals are
        refused from the take-over on.
        """
        now = self.clock()
        with self.transaction(write=True) as tx:
            _, holder, starts_at, expires_at = self._lock_space(tx, space_id)
            live = holder is not None and expires_at > now
            if live and holder != device_id and not take_over:
                return Lease(holder, expires_at - now, granted=False, wait_seconds=expires_at - now)
            if live and holder == device_id:
                start = max(now, starts_at)  # a renewal keeps a take-over's waiting time
            elif live:
                start = expires_at  # take over: wait out the old holder's lease
            else:
                start = now
            expires = start + seconds
            tx.run(
                "UPDATE spaces SET lease_holder = ?, lease_starts_at = ?, lease_expires_at = ?"
                " WHERE id = ?",
                (device_id, start, expires, space_id),
            )
        return Lease(device_id, expires - now, granted=True, wait_seconds=start - now)

    def release_lease(self, space_id: str, device_id: str) -> None:
        with self.transaction(write=True) as tx:
            self._lock_space(tx, space_id)
            tx.run(
                "UPDATE spaces SET lease_holder = NULL, lease_starts_at = NULL,"
                " lease_expires_at = NULL WHERE id = ? AND lease_holder = ?",
                (space_id, device_id),
            )

    # -- key packages -------------------------------------------------------------

    def put_key_package(
        self, space_id: str, from_device: str, key_id: str, to_device: str, package: str
    ) -> None:
        with self.transaction(write=True) as tx:
            self._lock_space(tx, space_id)
            if not self.device_is_active(tx, space_id, to_device):
                raise not_found("no_device", "No enrolled device of this space has that id.")
            tx.run(
                "INSERT INTO key_packages (space_id, key_id, to_device, from_device, package,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (space_id, key_id, to_device)"
                " DO UPDATE SET from_device = excluded.from_device, package = excluded.package,"
                " created_at = excluded.created_at",
                (space_id, key_id, to_device, from_device, package, self.clock()),
            )

    def key_packages(self, space_id: str, device_id: str) -> list[KeyPackage]:
        with self.transaction(write=False) as tx:
            rows = tx.all(
                "SELECT key_id, from_device, package FROM key_packages"
                " WHERE space_id = ? AND to_device = ? ORDER BY created_at, key_id",
                (space_id, device_id),
            )
        return [KeyPackage(*row) for row in rows]


def settle_schema_version(tx: Tx) -> None:
    """After the CREATE statements (which make a new database whole at the newest
    version): a new database is stamped SCHEMA_VERSION, an older one gets the
    upgrades after its version, in order."""
    row = tx.one("SELECT version FROM relay_schema")
    if row is None:
        tx.run("INSERT INTO relay_schema (version) VALUES (?)", (SCHEMA_VERSION,))
        return
    for version in range(int(row[0]) + 1, SCHEMA_VERSION + 1):
        for statement in UPGRADES.get(version, ()):
            tx.run(statement)
        tx.run("UPDATE relay_schema SET version = ?", (version,))


def split_statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement.strip()
