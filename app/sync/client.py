"""One sync round with the relay: keys, push, pull, digest, snapshot — and its outcome in words.

Order of a round, and why:

1. Keys (app/sync/rotation.py): a replaced key is shared, others' new keys taken in,
   so what is pulled next opens and what is sealed next every desk can open.
2. Parked batches are applied when this desk has since been updated.
3. The first desk of a clinic sends a starting snapshot before anything else: its
   whole history travels once as a file instead of as millions of change rows.
4. Push: a batch sealed earlier and not acknowledged is sent again as it is (same batch
   id and number: the relay answers with the cursor it gave it); then new batches of own
   changes are sealed — recorded in local_sync_outgoing in the same transaction that
   moves pushed_seq — and sent. The relay's "expected n" after a restore of an old
   backup of this desk is handled by pulling this desk's own later batches first.
5. Pull after the cursor, page by page: each envelope opened with the key ring, the
   relay's labels checked against the sealed header, batches of each desk applied in
   sequence (a repeat skipped, a gap refused), each batch and the cursor in one
   transaction; batches from a newer Frontdesk are parked, not lost.
6. Digest, when nothing is pending and the pull reached the relay's head; a mismatch
   marks this desk for repair from a snapshot at the next round.
7. A fresh snapshot now and then, so a new desk has few batches to catch up.

Every failure ends as a state with words (offline, error, update needed); nothing
escapes to the caller but bugs.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.errors import (
    DeviceRevokedError,
    EnvelopeError,
    NewerSchemaError,
    RelayError,
    StoreError,
    SyncError,
)
from app.ops import CancelToken, OperationCancelledError, Progress, no_progress
from app.store.changes import Changes
from app.store.migrations import schema_version
from app.store.writer import utc_now
from app.sync import digest, journal, payload, snapshot, state
from app.sync.apply import Applied, apply_changes, unknown_to
from app.sync.devices import mark_removed
from app.sync.envelope import check_sequence, open_envelope, seal
from app.sync.keyring import ring
from app.sync.merge import ChangeRow
from app.sync.relay_api import RelaySession, require_mapping
from app.sync.rotation import exchange_keys, keys_for_opening, sealing_key
from app.sync.transport import NOT_UNDERSTOOD, refusal, request

if TYPE_CHECKING:
    from app.clinic import Clinic
    from app.sync.service import SyncResult

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0
PAGE = 200  # batches per pull request (the relay also stops a page at about 8 MiB)
SNAPSHOT_EVERY = 5_000  # batches since the newest snapshot before this desk sends another
_PUSH_LIMIT = 1_000  # batches per round; the next round goes on
_LOST = (
    "The sync server has lost changes it had acknowledged (was it restored from an old "
    "backup?). Ask the sync server's administrator; this workstation keeps all its work."
)


@dataclass
class RoundReport:
    """What a round did so far (kept when it stops half-way)."""

    changes: Changes = field(default_factory=Changes)
    pushed: int = 0
    pulled: int = 0
    head: int | None = None
    parked: bool = False


def run_round(
    clinic: Clinic,
    *,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
    timeout_s: float = TIMEOUT_S,
) -> SyncResult:
    """One round; the result's status says how it went (never raises for the relay's or
    the network's trouble)."""
    from app.sync.service import SyncResult, sync_status

    conn = clinic.conn
    setup = state.read_setup(conn)
    if setup is None or not setup.enabled:
        return SyncResult(sync_status(clinic))
    from app.sync.devices import removed_here

    if removed_here(conn):
        return SyncResult(sync_status(clinic))  # the token is refused for good
    _record(clinic, {"state": "syncing", "last_attempt_at": utc_now()})
    report = RoundReport()
    try:
        with RelaySession(setup.relay_url, setup.device_token, timeout_s=timeout_s) as session:
            _Round(clinic, session, report, cancel, progress).run()
    except DeviceRevokedError:
        mark_removed(conn)
    except RelayError as exc:
        if exc.status == 0 or exc.status >= 500 or exc.status == 429:
            _offline(clinic, str(exc))
        else:
            _failed(clinic, str(exc))
    except OperationCancelledError:
        _settled(clinic, report, synced=False)
    except NewerSchemaError:
        _record(clinic, {"state": "update_needed", "last_error": ""})
    except (SyncError, StoreError) as exc:  # EnvelopeError among them: a batch refused
        _failed(clinic, str(exc))
    else:
        _settled(clinic, report, synced=True)
    return SyncResult(sync_status(clinic), report.changes, report.pushed, report.pulled)


def _record(clinic: Clinic, values: dict[str, Any]) -> None:
    try:
        state.update_setup(clinic.conn, values)
    except StoreError:  # a busy database: the status waits for the next round
        log.info("sync status not recorded (database busy)")


def _offline(clinic: Clinic, words: str) -> None:
    setup = state.read_setup(clinic.conn)
    since = setup.offline_since if setup and setup.offline_since else utc_now()
    _record(clinic, {"state": "offline", "offline_since": since, "last_error": words})


def _failed(clinic: Clinic, words: str) -> None:
    log.info("sync stopped: %s", words)
    _record(clinic, {"state": "error", "last_error": words, "offline_since": None})


def _settled(clinic: Clinic, report: RoundReport, *, synced: bool) -> None:
    parked = clinic.conn.execute("SELECT count(*) FROM local_sync_parked").fetchone()[0]
    pending = state.pending_changes(clinic.conn, clinic.store.device_id)
    values: dict[str, Any] = {"offline_since": None, "last_error": ""}
    if parked:
        values["state"] = "update_needed"
    elif pending:
        values["state"] = "pending"
    else:
        values["state"] = "synced"
        if synced:
            values["last_synced_at"] = utc_now()
    _record(clinic, values)


class _Round:
    def __init__(
        self,
        clinic: Clinic,
        session: RelaySession,
        report: RoundReport,
        cancel: CancelToken | None,
        progress: Progress,
    ) -> None:
        self.clinic = clinic
        self.conn = clinic.conn
        self.session = session
        self.report = report
        self.cancel = cancel
        self.progress = progress
        self.me = clinic.store.device_id
        # The database's own version: what this desk's tables can hold (the same as the
        # program's once the clinic is open: opening brings it up to date).
        self.schema_version = schema_version(self.conn)

    def _check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def _setup(self) -> state.SyncSetup:
        setup = state.read_setup(self.conn)
        if setup is None:
            raise SyncError("This workstation is no longer connected to a sync server.")
        return setup

    def run(self) -> None:
        exchange_keys(self.clinic, self.session)
        self.keys = keys_for_opening(self.clinic)
        self.apply_parked()
        setup = self._setup()
        if setup.bootstrap_needed:
            self.repair()
        self.found_space_if_first()
        self.push()
        self.pull()
        self.compare_digest()
        self.maybe_send_snapshot()

    def _apply(self, changes: tuple[ChangeRow, ...], then: Callable[[Any], None]) -> Applied:
        """Apply other desks' changes. The audit entry they leave here names nobody: the
        person signed in at this desk did not make them (the journal says which desk did)."""
        acting = self.clinic.acting_user_id
        self.clinic.acting_user_id = ""
        try:
            return apply_changes(self.clinic.store, changes, then=then)
        finally:
            self.clinic.acting_user_id = acting

    # --- transactions of bookkeeping ----------------------------------------------------

    def _in_transaction(self, values: dict[str, Any], peer: tuple[str, int] | None = None) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            state.update_setup(self.conn, values)
            if peer is not None:
                state.set_peer_seq(self.conn, *peer)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # --- the first desk --------------------------------------------------------------------

    def found_space_if_first(self) -> None:
        """The first desk's history goes to the relay once, as a snapshot at cursor 0."""
        setup = self._setup()
        if setup.batch_seq or setup.cursor or setup.snapshot_cursor is not None:
            return
        page = require_mapping(self.session.call("GET", "/v1/batches?after=0&limit=1"))
        if page.get("head") != 0 or snapshot.latest(self.session) is not None:
            return
        held = self.conn.execute(
            "SELECT coalesce(max(seq), 0) FROM change WHERE device_id = ?", (self.me,)
        ).fetchone()[0]
        snapshot.send_snapshot(
            self.clinic,
            self.session,
            sealing_key(self.clinic),
            cancel=self.cancel,
            progress=self.progress,
        )
        self._in_transaction({"pushed_seq": max(int(held), setup.pushed_seq)})

    # --- push -----------------------------------------------------------------------------

    def push(self) -> None:
        rewinds = 0
        for _ in range(_PUSH_LIMIT):
            self._check_cancel()
            row = self.conn.execute(
                "SELECT seq, after_seq, envelope FROM local_sync_outgoing ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                if not self._seal_next():
                    return
                continue
            seq, after_seq, envelope = int(row[0]), int(row[1]), bytes(row[2])
            answer = request(self.session, "POST", "/v1/batches", envelope)
            if answer.status in (200, 201):
                self.conn.execute("DELETE FROM local_sync_outgoing WHERE seq = ?", (seq,))
                self.report.pushed += 1
                self.progress(self.report.pushed, 0, "Sending changes to the other workstations")
                continue
            expected = answer.body.get("expected") if isinstance(answer.body, dict) else None
            if (
                answer.status == 409
                and isinstance(expected, int)
                and not isinstance(expected, bool)
            ):
                if expected < seq or rewinds >= 3:
                    raise SyncError(_LOST)
                # The relay holds later batches of this desk than its records say (this
                # database came back from an old backup): unseal, fetch those batches
                # (own ones above batch_seq are applied), then seal again from there.
                rewinds += 1
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute("DELETE FROM local_sync_outgoing")
                    state.update_setup(self.conn, {"pushed_seq": after_seq, "batch_seq": seq - 1})
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.pull()
                continue
            raise refusal(answer)

    def _seal_next(self) -> bool:
        """Seal the next batch of own changes into local_sync_outgoing; False when none."""
        data_key = sealing_key(self.clinic)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            setup = self._setup()
            batch = journal.next_batch(self.conn, self.me, setup.pushed_seq, self.schema_version)
            if batch is None:
                self.conn.execute("COMMIT")
                return False
            seq = setup.batch_seq + 1
            batch_id = uuid.uuid4().hex
            envelope = seal(data_key, self.clinic.clinic_id, self.me, seq, batch_id, batch.payload)
            self.conn.execute(
                "INSERT INTO local_sync_outgoing "
                "(seq, batch_id, after_seq, upto_seq, envelope, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (seq, batch_id, batch.after_seq, batch.upto_seq, envelope, utc_now()),
            )
            state.update_setup(self.conn, {"pushed_seq": batch.upto_seq, "batch_seq": seq})
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return True

    # --- pull -----------------------------------------------------------------------------

    def pull(self) -> None:
        while True:
            self._check_cancel()
            cursor = self._setup().cursor
            page = require_mapping(
                self.session.call("GET", f"/v1/batches?after={cursor}&limit={PAGE}")
            )
            batches, more, head = page.get("batches"), page.get("more"), page.get("head")
            if not isinstance(batches, list) or not isinstance(more, bool):
                raise SyncError(NOT_UNDERSTOOD)
            if not isinstance(head, int) or isinstance(head, bool):
                raise SyncError(NOT_UNDERSTOOD)
            if head < cursor:
                raise SyncError(_LOST)
            for item in batches:
                self._check_cancel()
                cursor = self._take(item, cursor)
            self.report.head = head
            if not more or not batches:
                return

    def _take(self, item: object, after: int) -> int:
        """Apply (or skip, or park) one batch; the cursor it moved to."""
        if not isinstance(item, dict):
            raise SyncError(NOT_UNDERSTOOD)
        cursor, device_id, seq = item.get("cursor"), item.get("device_id"), item.get("seq")
        try:
            envelope = base64.b64decode(str(item.get("envelope", "")), validate=True)
        except (binascii.Error, ValueError):
            raise SyncError(NOT_UNDERSTOOD) from None
        if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor <= after:
            raise SyncError(NOT_UNDERSTOOD)
        header, data = open_envelope(envelope, self.keys, clinic_id=self.clinic.clinic_id)
        if header.device_id != device_id or header.seq != seq:
            raise EnvelopeError("A batch was relabelled on its way and was refused.")
        if header.device_id == self.me:
            return self._take_own(cursor, header.seq, data)
        last = state.peer_seqs(self.conn).get(header.device_id, 0)
        if not check_sequence(last, header):
            self._in_transaction({"cursor": cursor})  # a repeat: already applied
            return cursor
        opened = payload.decode(data, header.device_id)
        peer = (header.device_id, header.seq)
        if opened.schema_version > self.schema_version or unknown_to(
            self.clinic.store.schema, opened.changes
        ):
            self._park(cursor, header.device_id, header.seq, opened.schema_version, data)
            return cursor

        def bookkeeping(conn: object) -> None:
            state.update_setup(self.conn, {"cursor": cursor})
            state.set_peer_seq(self.conn, *peer)

        applied = self._apply(opened.changes, bookkeeping)
        self.report.changes = self.report.changes | applied.changes
        self.report.pulled += 1
        self.progress(self.report.pulled, 0, "Receiving changes from the other workstations")
        return cursor

    def _take_own(self, cursor: int, seq: int, data: bytes) -> int:
        """This desk's own batch: already here, unless this database came back from an
        old backup and the relay holds later work of this desk (applied, then)."""
        setup = self._setup()
        if seq <= setup.batch_seq:
            self._in_transaction({"cursor": cursor})
            return cursor
        if seq != setup.batch_seq + 1:
            raise EnvelopeError(
                f"Batches from this workstation arrived out of order (expected "
                f"{setup.batch_seq + 1:,}, got {seq:,}); they will be fetched again in order."
            )
        opened = payload.decode(data, self.me)
        nothing_pending = state.pending_changes(self.conn, self.me) == 0

        def bookkeeping(conn: object) -> None:
            values: dict[str, Any] = {"cursor": cursor, "batch_seq": seq}
            if nothing_pending:  # what came back is not this desk's to send again
                top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0]
                values["pushed_seq"] = int(top)
            state.update_setup(self.conn, values)

        applied = self._apply(opened.changes, bookkeeping)
        self.report.changes = self.report.changes | applied.changes
        return cursor

    def _park(self, cursor: int, device_id: str, seq: int, schema: int, data: bytes) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "INSERT INTO local_sync_parked "
                "(cursor, device_id, seq, schema_version, payload, parked_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cursor) DO NOTHING",
                (cursor, device_id, seq, schema, data, utc_now()),
            )
            state.update_setup(self.conn, {"cursor": cursor})
            state.set_peer_seq(self.conn, device_id, seq)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.report.parked = True
        log.info("sync: a batch from a newer Frontdesk was kept until this one is updated")

    def apply_parked(self) -> None:
        """Batches kept from a newer Frontdesk, applied once this desk knows their schema."""
        rows = self.conn.execute(
            "SELECT cursor, device_id, payload FROM local_sync_parked "
            "WHERE schema_version <= ? ORDER BY cursor",
            (self.schema_version,),
        ).fetchall()
        for cursor, device_id, data in rows:
            opened = payload.decode(bytes(data), str(device_id))
            if unknown_to(self.clinic.store.schema, opened.changes):
                continue

            def unpark(conn: object, cursor: int = int(cursor)) -> None:
                self.conn.execute("DELETE FROM local_sync_parked WHERE cursor = ?", (cursor,))

            applied = self._apply(opened.changes, unpark)
            self.report.changes = self.report.changes | applied.changes

    # --- digest and snapshots -----------------------------------------------------------------

    def _digest_data_key(self) -> bytes:
        keys = ring(self.conn)
        return keys[0].data_key if keys else self.clinic.opened.data_key

    def compare_digest(self) -> None:
        setup = self._setup()
        if self.report.head is None or setup.cursor != self.report.head:
            return
        if setup.digest_cursor == setup.cursor:
            return  # compared at this position already
        data_key = self._digest_data_key()
        self.conn.execute("BEGIN")  # one read snapshot: nothing written between the checks
        try:
            pending = state.pending_changes(self.conn, self.me)
            parked = self.conn.execute("SELECT count(*) FROM local_sync_parked").fetchone()[0]
            if pending or parked:
                return
            held = digest.advance(self.conn, data_key, digest.read_state(self.conn))
            counts = digest.table_counts(self.conn, self.clinic.store.schema)
            text = digest.finish(data_key, held, counts)
        finally:
            self.conn.execute("COMMIT")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            digest.save_state(self.conn, held)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        answer = require_mapping(
            self.session.call("POST", "/v1/digests", {"cursor": setup.cursor, "digest": text})
        )
        status = answer.get("status")
        if status not in ("recorded", "match", "mismatch"):
            raise SyncError(NOT_UNDERSTOOD)
        values: dict[str, Any] = {"digest_cursor": setup.cursor, "digest_status": status}
        if status == "mismatch":
            log.warning("sync: this workstation's digest differs from the others'; repairing")
            values["bootstrap_needed"] = 1
        self._in_transaction(values)

    def repair(self) -> None:
        applied = snapshot.repair_from_snapshot(
            self.clinic, self.session, self.keys, cancel=self.cancel, progress=self.progress
        )
        self.report.changes = self.report.changes | applied.changes

    def maybe_send_snapshot(self) -> None:
        """A fresh starting point for new desks when the relay has none, or when many
        batches came since the newest; only from a desk that is fully in step."""
        setup = self._setup()
        if self.report.head is None or setup.cursor != self.report.head:
            return
        if self.conn.execute("SELECT count(*) FROM local_sync_parked").fetchone()[0]:
            return
        found = snapshot.latest(self.session)
        if found is not None and found.cursor + SNAPSHOT_EVERY > setup.cursor:
            return
        lately = setup.snapshot_cursor is not None and (
            setup.snapshot_cursor + SNAPSHOT_EVERY > setup.cursor
        )
        if found is not None and lately:
            return  # this desk sent one lately; another desk's turn
        snapshot.send_snapshot(
            self.clinic,
            self.session,
            sealing_key(self.clinic),
            cancel=self.cancel,
            progress=self.progress,
        )
