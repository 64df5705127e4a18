"""Checking the audit chain: every entry's hash, no gaps, the head kept outside the database.

Verify hashes the stored body bytes in number order and never rebuilds them (rebuilding
JSON costs more than the whole check: see docs/security/audit.md). The columns the
viewer filters on repeat fields of the body; one SQL pass compares them with the
body's bytes (the body's keys are sorted, so each column sits at a known place), and
`deep` also parses every body. The first broken link is named: its number, when, what
kind and who.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app.audit.actions import AUDIT_ALARM, AUDIT_VERIFY, label
from app.audit.anchor import AuditHead, read_anchor
from app.audit.log import genesis_hash, record
from app.audit.query import alarm_words
from app.ops import CancelToken, Progress, no_progress
from app.store import database
from app.store.database import Connection, DatabaseError

if TYPE_CHECKING:
    from app.clinic import Clinic

CHANGED = "changed"
GAP = "missing (gap)"
REMOVED_FROM_END = "removed from the end"
COLUMNS_DISAGREE = "columns disagree with the entry"
ADDED_AFTER_HEAD = "added outside Frontdesk"
REWRITTEN = "rewritten (its hash differs from the sealed head)"

BATCH = 32_768  # rows per fetch: big enough to keep SQLite busy, small enough for memory

# Without parsing JSON: the canonical body is {"action":…,"at":…,"detail":…,
# "patient_id":…,"seq":…,"target":…,"user_id":…,"workstation":…} and record() refuses
# column values that JSON would escape, so each column's bytes sit at a known place.
_COLUMNS_DISAGREE_SQL = """
SELECT min(seq) FROM audit_event
WHERE seq <= ? AND NOT (
    substr(body, 1, length(CAST('{"action":"' || action || '","at":"' || at
        || '","detail":' AS BLOB)))
      = CAST('{"action":"' || action || '","at":"' || at || '","detail":' AS BLOB)
    AND instr(body, CAST(',"patient_id":"' || patient_id || '","seq":' || seq
        || ',"target":' AS BLOB)) > 0
    AND substr(body, -length(CAST(',"user_id":"' || user_id || '","workstation":"'
        || workstation || '"}' AS BLOB)))
      = CAST(',"user_id":"' || user_id || '","workstation":"' || workstation || '"}' AS BLOB)
)
"""


@dataclass(frozen=True)
class BrokenLink:
    """The first entry where the log stops being trustworthy."""

    seq: int
    at: str  # UTC as stored; '' when the entry is gone
    action: str
    user_name: str
    what: str  # one of the constants above
    user_id: str = ""
    through_seq: int = 0  # removed from the end: the newest entry the sealed head knew


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    first_broken: BrokenLink | None
    newest_at: str = ""  # UTC of the newest entry checked
    anchor_problem: str = ""  # why the head file outside the database could not be used
    # Entries Frontdesk itself wrote on finding the head and the log disagreeing (see
    # log._head_problem): the chain is whole again after them, but they stay on record.
    alarms: int = 0
    first_alarm: int = 0
    first_alarm_problem: str = ""
    newest_hash: str = ""  # hex; worth noting down to compare later (see docs)

    @property
    def intact(self) -> bool:
        return self.first_broken is None and not self.anchor_problem


def verify(
    conn: Connection,
    clinic_id: str,
    anchor: AuditHead | None,
    *,
    upto: int | None = None,
    deep: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    second_connection: Callable[[], Connection] | None = None,
) -> VerifyReport:
    """Check entries 1…`upto` (default: all) against each other and against `anchor`
    (None: the caller has no trustworthy head, so the end of the log goes unchecked).

    With `second_connection` (opens another connection to the same database) the
    columns are compared on it, on another thread, while this one checks the chain:
    both passes are bound by decrypting pages, so two cores halve the wait.
    """
    if upto is None:
        row = conn.execute("SELECT max(seq) FROM audit_event").fetchone()
        upto = int(row[0] or 0)
    parallel = second_connection is not None
    columns = _ColumnCheck(second_connection or (lambda: conn), upto, deep, owns=parallel)
    if parallel:
        columns.start()
    try:
        broken_seq, what = _check_chain(conn, clinic_id, upto, progress, cancel)
    except BaseException:
        if parallel:
            columns.stop()
        raise
    if parallel:
        columns.join()
    else:
        columns.run()
    if columns.error is not None:
        raise columns.error
    if columns.first is not None and (broken_seq is None or columns.first < broken_seq):
        broken_seq, what = columns.first, COLUMNS_DISAGREE
    through = 0
    if anchor is not None and broken_seq is None:
        broken_seq, what, through = _check_anchor(conn, anchor, upto)
    newest = conn.execute("SELECT at, hash FROM audit_event WHERE seq = ?", (upto,)).fetchone()
    # Intact means gapless: the count is the newest number (no second pass to count).
    entries = upto if broken_seq is None else _count(conn, upto)
    link = None if broken_seq is None else _name(conn, broken_seq, what, through)
    alarms, first_alarm, problem = _alarms(conn, upto)
    return VerifyReport(
        entries,
        link,
        str(newest[0]) if newest else "",
        alarms=alarms,
        first_alarm=first_alarm,
        first_alarm_problem=problem,
        newest_hash=bytes(newest[1]).hex() if newest and isinstance(newest[1], bytes) else "",
    )


def _alarms(conn: Connection, upto: int) -> tuple[int, int, str]:
    rows = conn.execute(
        "SELECT seq, body FROM audit_event WHERE action = ? AND seq <= ? ORDER BY seq",
        (AUDIT_ALARM, upto),
    ).fetchall()
    if not rows:
        return 0, 0, ""
    try:
        problem = str(json.loads(rows[0][1])["detail"]["problem"])
    except (ValueError, KeyError, TypeError):
        problem = "unknown"
    return len(rows), int(rows[0][0]), problem


def _count(conn: Connection, upto: int) -> int:
    row = conn.execute("SELECT count(*) FROM audit_event WHERE seq <= ?", (upto,)).fetchone()
    return int(row[0])


class _ColumnCheck(threading.Thread):
    """The first entry whose columns disagree with its body, on a connection of its own."""

    def __init__(
        self, open_connection: Callable[[], Connection], upto: int, deep: bool, *, owns: bool
    ) -> None:
        super().__init__(name="audit-columns", daemon=True)
        self._open = open_connection
        self._owns = owns
        self._upto = upto
        self._deep = deep
        self._conn: Connection | None = None
        self.first: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = self._conn = self._open()
        try:
            self.first = _first_columns_disagreement(conn, self._upto, self._deep)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.error = exc
        finally:
            if self._owns:
                conn.close()

    def stop(self) -> None:
        """Cancelled: stop the running query (SQLite checks between steps) and wait."""
        if self._conn is not None and self.is_alive():
            # The query may end (and its connection close) between the two checks.
            with contextlib.suppress(DatabaseError):
                self._conn.interrupt()
        self.join()
        self.error = None


def _check_chain(
    conn: Connection,
    clinic_id: str,
    upto: int,
    progress: Progress,
    cancel: CancelToken | None,
) -> tuple[int | None, str]:
    sha256 = hashlib.sha256
    prev = genesis_hash(clinic_id)
    expect = 1
    cursor = conn.execute(
        "SELECT seq, body, hash FROM audit_event WHERE seq <= ? ORDER BY seq", (upto,)
    )
    while rows := cursor.fetchmany(BATCH):
        for seq, body, digest in rows:
            if seq != expect:
                return expect, GAP
            try:
                if sha256(prev + body).digest() != digest:
                    return seq, CHANGED
            except TypeError:  # stored as text or a number: not what record() wrote
                return seq, CHANGED
            prev = digest
            expect += 1
        progress(expect - 1, upto, "Checking the audit log")
        if cancel is not None:
            cancel.raise_if_cancelled()
    if expect - 1 != upto:  # rows missing at the end of the range (a gap before `upto`)
        return expect, GAP
    return None, ""


def _first_columns_disagreement(conn: Connection, upto: int, deep: bool) -> int | None:
    row = conn.execute(_COLUMNS_DISAGREE_SQL, (upto,)).fetchone()
    first = None if row is None or row[0] is None else int(row[0])
    if not deep:
        return first
    cursor = conn.execute(
        "SELECT seq, at, user_id, workstation, action, patient_id, body FROM audit_event "
        "WHERE seq <= ? ORDER BY seq",
        (upto,),
    )
    while rows := cursor.fetchmany(BATCH):
        for seq, at, user_id, workstation, action, patient_id, body in rows:
            if first is not None and seq >= first:
                return first
            try:
                fields = json.loads(body)
                same = (
                    fields["seq"] == seq
                    and fields["at"] == at
                    and fields["user_id"] == user_id
                    and fields["workstation"] == workstation
                    and fields["action"] == action
                    and fields["patient_id"] == patient_id
                )
            except (ValueError, KeyError, TypeError):
                same = False
            if not same:
                return int(seq)
    return first


def _check_anchor(conn: Connection, anchor: AuditHead, upto: int) -> tuple[int | None, str, int]:
    if anchor.seq > upto:
        return upto + 1, REMOVED_FROM_END, anchor.seq
    if anchor.seq < upto:
        return anchor.seq + 1, ADDED_AFTER_HEAD, 0
    if anchor.seq == 0:
        return None, "", 0
    row = conn.execute("SELECT hash FROM audit_event WHERE seq = ?", (anchor.seq,)).fetchone()
    if row is None or bytes(row[0]).hex() != anchor.hash_hex:
        return anchor.seq, REWRITTEN, 0
    return None, "", 0


def _name(conn: Connection, seq: int, what: str, through: int) -> BrokenLink:
    """Who and what the broken entry says: the columns, else the body (when they disagree
    both are suspect, so the columns are shown: they are what the viewer listed)."""
    row = conn.execute(
        "SELECT e.at, e.action, e.user_id, coalesce(u.name, '') FROM audit_event e "
        "LEFT JOIN app_user u ON u.id = e.user_id WHERE e.seq = ?",
        (seq,),
    ).fetchone()
    if row is None:
        return BrokenLink(seq, "", "", "", what, through_seq=through)
    return BrokenLink(seq, str(row[0]), str(row[1]), str(row[3]), what, str(row[2]), through)


def verify_clinic(
    clinic: Clinic,
    *,
    deep: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """Verify this clinic's log against its sealed head.

    The head file and the newest entry number are read together under the write lock
    (held for a moment), because entries and head are written together under it; the
    chain up to that entry is then checked without blocking anyone.
    """
    conn = clinic.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        reading = read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key)
        upto = int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_event").fetchone()[0])
    finally:
        conn.execute("COMMIT")
    opened = clinic.opened
    report = verify(
        conn,
        clinic.clinic_id,
        reading.head,
        upto=upto,
        deep=deep,
        progress=progress,
        cancel=cancel,
        second_connection=lambda: database.connect(opened.paths.database, opened.data_key),
    )
    if reading.problem and upto > 0:
        return VerifyReport(report.entries, report.first_broken, report.newest_at, reading.problem)
    return report


def record_check(clinic: Clinic, report: VerifyReport) -> int:
    """The check itself is an entry: its result, so a later reader sees when it was done."""
    detail: dict[str, object] = {"entries": report.entries, "intact": report.intact}
    if report.first_broken is not None:
        detail["first_broken"] = report.first_broken.seq
        detail["what"] = report.first_broken.what
    if report.anchor_problem:
        detail["head"] = report.anchor_problem
    if report.alarms:
        detail["alarms"] = report.alarms
    return record(clinic, AUDIT_VERIFY, detail=detail)


def _local(at: str, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def describe(report: VerifyReport, zone: ZoneInfo) -> str:
    """The result in plain words, for the command line and the viewer."""
    lines: list[str] = []
    link = report.first_broken
    if link is None:
        newest = f", newest {_local(report.newest_at, zone)}" if report.newest_at else ""
        lines.append(f"The audit log is intact: {report.entries:,} entries{newest}.")
    else:
        lines.append(_describe_link(link, zone))
    if report.alarms:
        lines.append(
            f"Warning: Frontdesk found the log and its sealed head disagreeing "
            f"{report.alarms:,} time(s) and recorded it; the first was entry "
            f"{report.first_alarm:,}: {alarm_words(report.first_alarm_problem)}. This happens "
            "after a power cut or a crash, or when someone removed or changed entries."
        )
    if report.anchor_problem:
        lines.append(
            "The record of the newest entry kept outside the database (the file audit-head "
            f"in the data folder) is {report.anchor_problem}, so entries removed from the "
            "end of the log could not be detected."
        )
    return "\n".join(lines)


def _describe_link(link: BrokenLink, zone: ZoneInfo) -> str:
    who = link.user_name or (link.user_id and "an unknown person") or "nobody signed in"
    entry = f"entry {link.seq:,}"
    if link.at:
        entry += f" ({_local(link.at, zone)}, {label(link.action).lower()} by {who})"
    head = "The audit log is broken: "
    if link.what == GAP:
        return head + f"{entry} is missing: an entry was deleted from the middle of the log."
    if link.what == REMOVED_FROM_END:
        return head + (
            f"entries {link.seq:,} to {link.through_seq:,} were removed from the end of the "
            "log. If this computer lost power or crashed just before, the newest entries may "
            "simply not have been saved; otherwise someone removed them."
        )
    if link.what == ADDED_AFTER_HEAD:
        return head + f"{entry} and any after it were added outside Frontdesk."
    if link.what == COLUMNS_DISAGREE:
        return head + (
            f"{entry} was changed: the columns the viewer lists disagree with the hashed entry."
        )
    if link.what == REWRITTEN:
        return head + f"the log up to {entry} was rewritten."
    return head + f"{entry} was changed."
