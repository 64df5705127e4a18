"""Snapshots: how a new workstation starts, and how a desk that went astray starts over.

A snapshot is a consistent byte copy of a desk's encrypted database
(app/backup/snapshot.py), stripped of what belongs to that desk alone (its relay token
and private key, its outgoing and parked batches, its audit chain), cut in pieces of
16 MiB and each piece sealed (AES-256-GCM under a key derived from the data key by
HKDF, its header — clinic, snapshot id, piece number, piece count, key id — bound as
associated data, so the relay can neither read, swap nor reorder pieces). Piece 0 is
the manifest: the relay position the copy covers, the batch number applied from each
desk, the file's SHA-256 and size, and the running digest.

A new desk downloads the pieces into a staging file, checks the hash, opens it with
the data key, takes its own device id, sets its cursor and peers from the manifest and
only then puts it in place as clinic.db. A desk whose digest disagreed with the others'
(`repair_from_snapshot`) does not throw its own database away: it adds every change
row of the snapshot it lacks and merges every row again, so nothing of its own is lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import shutil
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.backup.snapshot import DB_MEMBER, copy_live_database, hash_file
from app.errors import EnvelopeError, SyncError
from app.ops import CancelToken, Progress, no_progress
from app.store import database, migrations
from app.store.database import Connection
from app.store.keys import KEY_BYTES, key_fingerprint
from app.store.writer import utc_now
from app.sync import digest, keyring, state
from app.sync.relay_api import RelaySession, require_mapping
from app.sync.transport import fetch_bytes, send_bytes

if TYPE_CHECKING:
    from app.clinic import Clinic
    from app.sync.apply import Applied
    from app.sync.enrollment import JoinedClinic

log = logging.getLogger(__name__)

FORMAT = 1
PIECE_BYTES = 16 << 20
_MAGIC = b"FDSP"  # Frontdesk snapshot piece
_NONCE_BYTES = 12
_HEADER_LENGTH = struct.Struct(">H")
_LABEL = b"frontdesk-sync-snapshot-v1"
# This desk's own tables that another desk must not receive (local_sync_conflict stays:
# it is derived from the change rows alike on every desk, and lists rows still waiting).
_KEPT_LOCAL = frozenset({"local_sync_conflict"})

_DAMAGED = "The starting copy from the sync server is damaged; it was not used. Try again later."
NO_SNAPSHOT = (
    "The sync server has no starting copy of the clinic yet. The first workstation sends one at "
    "its next sync (within a few minutes); then try again."
)


@dataclass(frozen=True)
class SnapshotManifest:
    """What piece 0 says about the copy (sealed with it, so the relay cannot alter it)."""

    clinic_id: str
    cursor: int
    peers: dict[str, int]
    created_by: str
    schema_version: int
    size: int
    sha256: str
    pieces: int  # file pieces, after the manifest
    digest_key_id: str = ""
    digest_seq: int = 0
    digest_sum: str = ""  # hex
    created_at: str = ""
    # The key the copy's pages are encrypted with: the sending desk's database key, which
    # after a key replacement need not be the one in the receiving desk's key file.
    database_key_id: str = ""

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> SnapshotManifest:
        try:
            fields = json.loads(data)
            manifest = cls(**fields)
            peers = {str(k): int(v) for k, v in dict(manifest.peers).items()}
            checks = (
                isinstance(manifest.cursor, int),
                isinstance(manifest.size, int),
                isinstance(manifest.pieces, int),
                isinstance(manifest.schema_version, int),
            )
        except (ValueError, TypeError):
            raise SyncError(_DAMAGED) from None
        if not all(checks):
            raise SyncError(_DAMAGED)
        return SnapshotManifest(**{**asdict(manifest), "peers": peers})


# --- sealing pieces ---------------------------------------------------------------------


def _piece_key(data_key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_LABEL)
    return hkdf.derive(data_key)


def _piece_header(clinic_id: str, snapshot_id: str, index: int, count: int, key_id: str) -> bytes:
    fields = {
        "clinic_id": clinic_id,
        "snapshot_id": snapshot_id,
        "index": index,
        "count": count,
        "key_id": key_id,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def seal_piece(
    data_key: bytes, clinic_id: str, snapshot_id: str, index: int, count: int, data: bytes
) -> bytes:
    head = _piece_header(clinic_id, snapshot_id, index, count, key_fingerprint(data_key))
    prefix = _MAGIC + bytes([FORMAT]) + _HEADER_LENGTH.pack(len(head)) + head
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return prefix + nonce + AESGCM(_piece_key(data_key)).encrypt(nonce, data, prefix)


def open_piece(
    sealed: bytes,
    keys: Mapping[str, bytes],
    *,
    clinic_id: str,
    snapshot_id: str,
    index: int,
    count: int,
) -> bytes:
    """The piece's bytes; SyncError unless it is exactly piece `index` of `count` of this
    snapshot of this clinic, unaltered, under a key this desk holds."""
    fixed = len(_MAGIC) + 1 + _HEADER_LENGTH.size
    if len(sealed) < fixed or sealed[: len(_MAGIC)] != _MAGIC or sealed[len(_MAGIC)] != FORMAT:
        raise SyncError(_DAMAGED)
    (length,) = _HEADER_LENGTH.unpack_from(sealed, len(_MAGIC) + 1)
    end = fixed + length
    try:
        fields = json.loads(sealed[fixed:end])
        key_id = str(fields["key_id"])
    except (ValueError, KeyError, TypeError):
        raise SyncError(_DAMAGED) from None
    expected = _piece_header(clinic_id, snapshot_id, index, count, key_id)
    if sealed[fixed:end] != expected:
        raise SyncError(_DAMAGED)
    data_key = keys.get(key_id)
    if data_key is None:
        raise EnvelopeError(
            "The starting copy is sealed with a key this workstation does not have; "
            "add this workstation again from another one."
        )
    nonce = sealed[end : end + _NONCE_BYTES]
    try:
        return AESGCM(_piece_key(data_key)).decrypt(
            nonce, sealed[end + _NONCE_BYTES :], sealed[:end]
        )
    except InvalidTag:
        raise SyncError(_DAMAGED) from None


# --- making one ---------------------------------------------------------------------------


def clean_for_another_desk(conn: Connection) -> None:
    """Remove what is this desk's alone: local_* rows (but the derived conflicts), its
    import runs (import_*: what it imported, from which file, its undo lists; the rows
    imported travel as ordinary clinic data) and the audit chain (append-only by trigger:
    the triggers are taken as they are, dropped, the rows deleted, and made again).
    secure_delete overwrites the freed pages."""
    conn.execute("PRAGMA secure_delete = ON")
    tables = [
        str(name)
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND (name LIKE 'local\\_%' ESCAPE '\\' OR name LIKE 'audit\\_%' ESCAPE '\\' "
            "OR name LIKE 'import\\_%' ESCAPE '\\')"
        )
        if name not in _KEPT_LOCAL
    ]
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name LIKE 'audit\\_%' ESCAPE '\\'"
    ).fetchall()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        for table in tables:
            conn.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names from sqlite_master
        for _name, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def take_snapshot(
    clinic: Clinic,
    folder: Path,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> tuple[Path, SnapshotManifest]:
    """A consistent copy of this desk's database in `folder`, stripped for another desk,
    and its manifest (read from the copy itself, so both describe the same moment)."""
    data_key = clinic.opened.data_key
    copy_live_database(
        clinic.opened.paths.database, data_key, folder, cancel=cancel, progress=progress
    )
    path = folder / DB_MEMBER
    conn = database.connect(path, data_key)  # replays the copied WAL
    try:
        setup = state.read_setup(conn)
        if setup is None:
            raise SyncError("This workstation is not connected to a sync server.")
        device_id = str(
            conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()[0]
        )
        peers = state.peer_seqs(conn)
        unacknowledged = conn.execute("SELECT min(seq) FROM local_sync_outgoing").fetchone()[0]
        peers[device_id] = setup.batch_seq if unacknowledged is None else int(unacknowledged) - 1
        # The manifest carries the running digest brought up to the copy's last change row,
        # so the new desk never hashes the whole journal itself (minutes at 100k patients).
        ring = keyring.ring(conn)
        held = digest.advance(conn, ring[0].data_key if ring else data_key, digest.read_state(conn))
        schema = migrations.schema_version(conn)
        clean_for_another_desk(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    Path(str(path) + "-wal").unlink(missing_ok=True)
    Path(str(path) + "-shm").unlink(missing_ok=True)
    found = hash_file(path, cancel=cancel)
    manifest = SnapshotManifest(
        clinic_id=clinic.clinic_id,
        cursor=setup.cursor,
        peers=peers,
        created_by=device_id,
        schema_version=schema,
        size=found.bytes,
        sha256=found.sha256,
        pieces=max(1, -(-found.bytes // PIECE_BYTES)),
        digest_key_id=held.key_id,
        digest_seq=held.seq,
        digest_sum=held.total.to_bytes(32, "big").hex(),
        created_at=utc_now(),
        database_key_id=key_fingerprint(data_key),
    )
    return path, manifest


def upload(
    session: RelaySession,
    data_key: bytes,
    path: Path,
    manifest: SnapshotManifest,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> str:
    """Send the manifest and the file's pieces, then complete; the relay's snapshot id."""
    count = manifest.pieces + 1
    begun = require_mapping(
        session.call(
            "POST",
            "/v1/snapshots",
            {"cursor": manifest.cursor, "chunks": count, "size": manifest.size},
        )
    )
    snapshot_id = begun.get("snapshot_id")
    if not isinstance(snapshot_id, str) or not snapshot_id.isalnum():
        raise SyncError("The sync server answered something Frontdesk does not understand.")
    clinic_id = manifest.clinic_id

    def put(index: int, data: bytes) -> None:
        sealed = seal_piece(data_key, clinic_id, snapshot_id, index, count, data)
        send_bytes(session, "PUT", f"/v1/snapshots/{snapshot_id}/chunks/{index}", sealed)

    put(0, manifest.encode())
    with path.open("rb") as handle:
        for index in range(1, count):
            if cancel is not None:
                cancel.raise_if_cancelled()
            put(index, handle.read(PIECE_BYTES))
            progress(index, count - 1, "Sending a starting copy for new workstations")
    session.call("POST", f"/v1/snapshots/{snapshot_id}/complete")
    return snapshot_id


def send_snapshot(
    clinic: Clinic,
    session: RelaySession,
    data_key: bytes,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> SnapshotManifest:
    """Take a snapshot, send it, note it (local_sync.snapshot_cursor); the temporary copy
    (encrypted, in a hidden folder of the data folder) is removed whatever happens."""
    folder = clinic.home / f".sync-snapshot-{secrets.token_hex(6)}"
    folder.mkdir()
    try:
        path, manifest = take_snapshot(clinic, folder, cancel=cancel, progress=progress)
        upload(session, data_key, path, manifest, cancel=cancel, progress=progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    state.update_setup(clinic.conn, {"snapshot_cursor": manifest.cursor, "snapshot_at": utc_now()})
    own = digest.read_state(clinic.conn)
    if own is None or (own.key_id == manifest.digest_key_id and own.seq < manifest.digest_seq):
        seed_digest(clinic.conn, manifest)  # the copy's journal is this desk's, seq for seq
    log.info("sync: snapshot sent (%d pieces)", manifest.pieces)
    return manifest


# --- receiving one --------------------------------------------------------------------------


@dataclass(frozen=True)
class Latest:
    snapshot_id: str
    cursor: int
    chunks: int


def latest(session: RelaySession) -> Latest | None:
    """The relay's newest completed snapshot, or None."""
    found = session.call("GET", "/v1/snapshots/latest", absent_ok=True)
    if found is None:
        return None
    values: dict[str, Any] = require_mapping(found)
    snapshot_id, cursor, chunks = (
        values.get("snapshot_id"),
        values.get("cursor"),
        values.get("chunks"),
    )
    if not (
        isinstance(snapshot_id, str)
        and snapshot_id.isalnum()
        and isinstance(cursor, int)
        and isinstance(chunks, int)
        and chunks >= 2
    ):
        raise SyncError("The sync server answered something Frontdesk does not understand.")
    return Latest(snapshot_id, cursor, chunks)


def download(
    session: RelaySession,
    keys: Mapping[str, bytes],
    clinic_id: str,
    target: Path,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> SnapshotManifest:
    """Fetch the newest snapshot into `target` (a new file), checked piece by piece and
    as a whole. An older snapshot than expected is no harm: the batches after it follow."""
    found = latest(session)
    if found is None:
        raise SyncError(NO_SNAPSHOT)

    def piece(index: int) -> bytes:
        sealed = fetch_bytes(session, f"/v1/snapshots/{found.snapshot_id}/chunks/{index}")
        return open_piece(
            sealed,
            keys,
            clinic_id=clinic_id,
            snapshot_id=found.snapshot_id,
            index=index,
            count=found.chunks,
        )

    manifest = SnapshotManifest.decode(piece(0))
    if manifest.clinic_id != clinic_id or manifest.pieces != found.chunks - 1:
        raise SyncError(_DAMAGED)
    hasher = hashlib.sha256()
    size = 0
    with target.open("xb") as handle:
        for index in range(1, found.chunks):
            if cancel is not None:
                cancel.raise_if_cancelled()
            data = piece(index)
            hasher.update(data)
            handle.write(data)
            size += len(data)
            progress(size, manifest.size, "Receiving the clinic from the sync server")
        handle.flush()
        os.fsync(handle.fileno())
    if size != manifest.size or hasher.hexdigest() != manifest.sha256:
        target.unlink(missing_ok=True)
        raise SyncError(_DAMAGED)
    return manifest


def copy_key(manifest: SnapshotManifest, keys: Mapping[str, bytes], fallback: bytes) -> bytes:
    """The key the snapshot's pages open with (from the ring), refused in words when this
    desk does not hold it."""
    if not manifest.database_key_id:
        return fallback  # a manifest from before the field: the sender's key file key
    found = keys.get(manifest.database_key_id)
    if found is None:
        raise EnvelopeError(
            "The starting copy is encrypted with a key this workstation does not have; "
            "add this workstation again from another one."
        )
    return found


def prepare_restored(
    path: Path,
    data_key: bytes,
    device_id: str,
    manifest: SnapshotManifest,
    *,
    final_key: bytes | None = None,
) -> None:
    """Make a downloaded copy this desk's own: brought to this program's schema, nothing
    of the sending desk's own, this desk's device id, the peers' batch numbers, and —
    when the sender's database key is not the one this desk's key file holds (after a
    key replacement) — re-encrypted under `final_key`, so the passphrase opens it."""
    conn = database.connect(path, data_key)
    try:
        migrations.upgrade(conn)  # NewerSchemaError in words when this desk is older
        clean_for_another_desk(conn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (device_id,))
        for peer, seq in manifest.peers.items():
            if peer != device_id:
                state.set_peer_seq(conn, peer, seq)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if final_key is not None and final_key != data_key:
            conn.execute("PRAGMA journal_mode = DELETE").fetchone()  # rekey wants no WAL
            conn.execute(f"PRAGMA rekey = \"x'{final_key.hex()}'\"")
    finally:
        conn.close()


def seed_digest(conn: Connection, manifest: SnapshotManifest) -> None:
    """The sender's running digest covers the same journal (a byte copy keeps seq)."""
    if manifest.digest_key_id and manifest.digest_sum:
        digest.save_state(
            conn,
            digest.DigestState(
                manifest.digest_key_id, manifest.digest_seq, int(manifest.digest_sum, 16)
            ),
        )


def join_from_snapshot(
    joined: JoinedClinic,
    home: Path,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> Clinic:
    """A new workstation's clinic, from the relay's newest snapshot: the key file and key
    installed, the database received and made this desk's, its sync records written.
    The batches after the snapshot come with the first `sync_once`. On failure the data
    folder is left without a clinic, so joining can be tried again."""
    from app.clinic import open_clinic
    from app.sync.enrollment import install_key_file, match_key_file, record_join

    install_key_file(joined, home)
    staging = home / f".sync-receiving-{secrets.token_hex(6)}.db"
    target = home / DB_MEMBER
    try:
        with RelaySession(joined.relay_url, joined.device_token) as session:
            manifest = download(
                session,
                joined.keys_by_id(),
                joined.clinic_id,
                staging,
                cancel=cancel,
                progress=progress,
            )
        keys = joined.keys_by_id()
        opens_with = copy_key(manifest, keys, joined.data_key)
        prepare_restored(staging, opens_with, joined.device_id, manifest, final_key=joined.data_key)
        staging.replace(target)
        match_key_file(home, database.database_salt(target))
        clinic = open_clinic(home)
    except BaseException:
        for leftover in (staging, target, home / "clinic.key"):
            for suffix in ("", "-wal", "-shm"):
                Path(str(leftover) + suffix).unlink(missing_ok=True)
        raise
    record_join(clinic, joined, cursor=manifest.cursor)
    seed_digest(clinic.conn, manifest)
    return clinic


def repair_from_snapshot(
    clinic: Clinic,
    session: RelaySession,
    keys: Mapping[str, bytes],
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> Applied:
    """After a digest mismatch: take in every change row of the newest snapshot this desk
    lacks, merge every row again, and set the cursor and peers back to the snapshot's so
    the batches after it are fetched again. Nothing of this desk's own is dropped (its
    change rows all stay)."""
    from app.sync.apply import rematerialize_all

    staging = clinic.home / f".sync-repair-{secrets.token_hex(6)}.db"
    try:
        manifest = download(
            session, keys, clinic.clinic_id, staging, cancel=cancel, progress=progress
        )
        progress(0, 0, "Checking this workstation's data against the others'")
        _add_missing_changes(clinic.conn, staging, copy_key(manifest, keys, clinic.opened.data_key))

        def settle(conn: Connection) -> None:
            # Every batch after the snapshot comes again with the next pull (each change
            # row already held is skipped): whatever this desk lost since is back then.
            conn.execute("DELETE FROM local_sync_peer")
            for peer, seq in manifest.peers.items():
                if peer != clinic.store.device_id:
                    state.set_peer_seq(conn, peer, seq)
            state.update_setup(
                conn,
                {
                    "cursor": manifest.cursor,
                    "bootstrap_needed": 0,
                    "digest_key_id": "",
                    "digest_seq": 0,
                    "digest_sum": None,
                    "digest_cursor": None,
                    "digest_status": "",
                },
            )

        return rematerialize_all(clinic.store, then=settle)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(staging) + suffix).unlink(missing_ok=True)


def _add_missing_changes(conn: Connection, path: Path, data_key: bytes) -> int:
    """Copy the snapshot's change rows that this journal lacks (same five fields)."""
    key = base64.b16encode(data_key).decode().lower()
    conn.execute(f"ATTACH DATABASE ? AS snap KEY \"x'{key}'\"", (str(path),))
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            added = conn.execute(
                "INSERT INTO main.change (tbl, row_id, col, value, hlc, device_id) "
                "SELECT s.tbl, s.row_id, s.col, s.value, s.hlc, s.device_id FROM snap.change s "
                "WHERE NOT EXISTS (SELECT 1 FROM main.change c WHERE c.tbl = s.tbl AND "
                "c.row_id = s.row_id AND c.col = s.col AND c.hlc = s.hlc "
                "AND c.device_id = s.device_id) ORDER BY s.seq"
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE snap")
    return int(added)
