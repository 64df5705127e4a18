"""Appending to the audit log: one hash-chained entry per view, change, export, print or sign-in.

Each entry's canonical bytes (`body`) are made once, here, and stored; its hash is
SHA-256(previous hash || body), the first entry chaining from a value derived from the
clinic id. Verify hashes the stored bytes and never rebuilds them, so a later change of
JSON library or Python version cannot break an old chain. The next number is read in the
same write transaction that inserts it, so two connections (a background import and the
desk) never both write entry 42.

Entries hold ids, counts, table and field names, never patient data values.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from app.audit.actions import AUDIT_ALARM
from app.audit.anchor import AnchorReading, AuditHead, read_anchor, write_anchor
from app.store.database import Connection, OperationalError
from app.store.writer import _write_error as write_error

if TYPE_CHECKING:
    from app.clinic import Clinic

__all__ = ["AuditHead", "genesis_hash", "head", "record", "restore_anchor", "workstation"]

_GENESIS_LABEL = b"frontdesk-audit-v1\x00"
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The indexed columns repeat body fields; verify compares them to the body's bytes
# without parsing JSON, which holds only for values JSON writes unchanged inside quotes.
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')
_HOST_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def genesis_hash(clinic_id: str) -> bytes:
    """The 'previous hash' of entry 1: ties the chain to this clinic."""
    return hashlib.sha256(_GENESIS_LABEL + clinic_id.encode()).digest()


def clinic_id_of(conn: Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'clinic_id'").fetchone()
    return str(row[0]) if row else ""


def head(conn: Connection) -> AuditHead:
    """The newest entry (number and hash); (0, the genesis value) for an empty log."""
    row = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return AuditHead(0, genesis_hash(clinic_id_of(conn)).hex())
    return AuditHead(int(row[0]), bytes(row[1]).hex())


@lru_cache(maxsize=8)
def _workstation(device_id: str, node: str) -> str:
    host = _HOST_CHARS.sub("-", node).strip("-")[:40] or "computer"
    return f"{host} ({device_id[:8]})"


def workstation(clinic: Clinic) -> str:
    """This computer, as the audit log names it: its network name, which a manager
    recognises ("FRONT-DESK-2"), and the start of this installation's device id, which
    stays the same when the computer is renamed and tells two "RECEPTION" PCs apart."""
    return computer_name(clinic.store.device_id)


def computer_name(device_id: str) -> str:
    """The same name for a device id that has no database yet (a new workstation asking
    to join names itself so)."""
    return _workstation(device_id, platform.node())


def utc_millis(moment: datetime | None = None) -> str:
    """'2026-11-29T07:58:32.123Z': entries a few milliseconds apart still sort in order."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(name: str, value: str) -> str:
    if not _PLAIN.fullmatch(value):
        raise ValueError(f"audit {name} holds a character that needs escaping")
    return value


def record(
    clinic: Clinic,
    action: str,
    *,
    patient_id: str = "",
    target: str = "",
    detail: Mapping[str, object] | None = None,
    user_id: str | None = None,
) -> int:
    """Append one entry and return its number.

    Inside the caller's open transaction when there is one (the entry then commits or
    rolls back with the work it describes), else in a transaction of its own. `detail`
    holds no patient data values: ids, counts, table and field names, file names that
    name no patient, reasons.
    """
    conn = clinic.conn
    if _in_transaction(conn):
        return _append(clinic, action, patient_id, target, detail, user_id)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except OperationalError as exc:  # another connection holds the write lock too long
        raise write_error(exc) from None
    try:
        seq = _append(clinic, action, patient_id, target, detail, user_id)
        conn.execute("COMMIT")
    except BaseException:
        if _in_transaction(conn):
            conn.execute("ROLLBACK")
        restore_anchor(clinic)
        raise
    return seq


def canonical_body(fields: Mapping[str, object]) -> bytes:
    """The bytes an entry's hash covers: sorted keys, no spaces, UTF-8 as is."""
    return _ENCODER.encode(fields).encode("utf-8")


def _in_transaction(conn: Connection) -> bool:
    return bool(conn.in_transaction)


def _append(
    clinic: Clinic,
    action: str,
    patient_id: str,
    target: str,
    detail: Mapping[str, object] | None,
    user_id: str | None,
) -> int:
    conn = clinic.conn
    opened = clinic.opened
    last = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        seq, prev = 0, genesis_hash(clinic.clinic_id)
    else:
        seq, prev = int(last[0]), bytes(last[1])
    # Before the head moves on, compare it with the sealed one: writing the new head
    # would otherwise hide entries removed from the end since (verify would then find a
    # complete chain). The finding becomes an entry of its own, which stays in the chain.
    problem = _head_problem(
        read_anchor(opened.paths.home, clinic.clinic_id, opened.data_key), seq, prev
    )
    who = clinic.acting_user_id if user_id is None else user_id
    if problem is not None:
        seq, prev = _insert(clinic, seq + 1, prev, AUDIT_ALARM, "", "", problem, "")
    seq, digest = _insert(clinic, seq + 1, prev, action, patient_id, target, detail, who)
    # While the write lock is held: heads are written in the order entries are. After a
    # finding, both slots: the other one may hold a head beyond this one.
    new_head = AuditHead(seq, digest.hex())
    both = problem is not None
    write_anchor(opened.paths.home, clinic.clinic_id, opened.data_key, new_head, both=both)
    return seq


def _head_problem(reading: AnchorReading, seq: int, digest: bytes) -> dict[str, object] | None:
    """What disagrees between the newest entry (`seq`, `digest`) and the sealed head."""
    if reading.head is None:
        if seq == 0:
            return None  # a new log: nothing sealed yet, nothing to lose
        return {"problem": f"head {reading.problem}", "newest_seq": seq}
    sealed = reading.head
    if sealed.seq > seq:
        what = "removed from the end"
    elif sealed.seq < seq:
        what = "added outside Frontdesk"
    elif seq and sealed.hash_hex != digest.hex():
        what = "rewritten"
    else:
        return None
    return {"problem": what, "sealed_seq": sealed.seq, "newest_seq": seq}


def _insert(
    clinic: Clinic,
    seq: int,
    prev: bytes,
    action: str,
    patient_id: str,
    target: str,
    detail: Mapping[str, object] | None,
    who: str,
) -> tuple[int, bytes]:
    fields = {
        "seq": seq,
        "at": utc_millis(),
        "user_id": _plain("user id", who),
        "workstation": workstation(clinic),
        "action": _plain("action", action),
        "patient_id": _plain("patient id", patient_id),
        "target": target,
        "detail": dict(detail or {}),
    }
    body = canonical_body(fields)
    digest = hashlib.sha256(prev + body).digest()
    clinic.conn.execute(
        "INSERT INTO audit_event (seq, at, user_id, workstation, action, patient_id, body, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            fields["at"],
            fields["user_id"],
            fields["workstation"],
            action,
            patient_id,
            body,
            digest,
        ),
    )
    return seq, digest


def restore_anchor(clinic: Clinic) -> AuditHead:
    """Write the head the database really holds: after a rolled-back transaction that had
    added entries, and after a restore or a rekey (a new data folder or a new key)."""
    current = head(clinic.conn)
    opened = clinic.opened
    write_anchor(opened.paths.home, clinic.clinic_id, opened.data_key, current, both=True)
    return current
