"""Reading the audit log for the viewer and its CSV export: filters, newest first, in pages.

Paging is by position (keyset on when and number), never OFFSET, so page 5,000 of a
million entries costs what page 1 does; every filter has an index behind it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from app.audit import log as audit
from app.audit.actions import AUDIT_EXPORT, LABELS, label
from app.errors import InvalidInputError
from app.ops import CancelToken, Progress, no_progress
from app.security.permissions import require

if TYPE_CHECKING:
    from app.clinic import Clinic

PAGE = 200


@dataclass(frozen=True)
class AuditFilter:
    """What the manager asked to see; empty fields mean "any". Days are the clinic's."""

    first: date | None = None
    last: date | None = None
    user_id: str = ""
    actions: tuple[str, ...] = ()
    patient_id: str = ""

    def __post_init__(self) -> None:
        if self.first and self.last and self.first > self.last:
            raise InvalidInputError("The first day comes after the last day.")


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str  # UTC, milliseconds, as stored
    user_id: str
    user_name: str  # '' when nobody was signed in or the person is unknown
    workstation: str
    action: str
    patient_id: str
    patient_name: str  # for the viewer inside the app; the entry itself holds only the id
    target: str
    detail: dict[str, Any]

    @property
    def kind(self) -> str:
        return label(self.action)

    @property
    def summary(self) -> str:
        return describe_detail(self.action, self.target, self.detail)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: just older than this entry."""

    at: str
    seq: int


def _utc_bound(day: date, zone: ZoneInfo) -> str:
    moment = datetime.combine(day, time(0), zone).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _where(filters: AuditFilter, zone: ZoneInfo) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if filters.first is not None:
        clauses.append("e.at >= ?")
        params.append(_utc_bound(filters.first, zone))
    if filters.last is not None:
        clauses.append("e.at < ?")
        params.append(_utc_bound(filters.last + timedelta(days=1), zone))
    if filters.user_id:
        clauses.append("e.user_id = ?")
        params.append(filters.user_id)
    if filters.patient_id:
        # "<> ''" lets SQLite use the partial index on patient entries (it cannot tell
        # that the bound id is not '').
        clauses.append("e.patient_id = ? AND e.patient_id <> ''")
        params.append(filters.patient_id)
    if filters.actions:
        clauses.append(f"e.action IN ({', '.join('?' for _ in filters.actions)})")
        params.extend(filters.actions)
    return clauses, params


_SELECT = """
SELECT e.seq, e.at, e.user_id, coalesce(u.name, ''), e.workstation, e.action, e.patient_id,
       coalesce(p.family_name || CASE WHEN p.given_names <> '' THEN ', ' || p.given_names
                                      ELSE '' END, ''),
       e.body
FROM audit_event e
LEFT JOIN app_user u ON u.id = e.user_id
LEFT JOIN patient p ON p.id = e.patient_id AND e.patient_id <> ''
"""


def _row(values: Sequence[Any]) -> AuditRow:
    try:
        body = json.loads(values[8])
    except ValueError:  # a damaged entry still lists; verify names it
        body = {}
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    return AuditRow(
        seq=int(values[0]),
        at=str(values[1]),
        user_id=str(values[2]),
        user_name=str(values[3]),
        workstation=str(values[4]),
        action=str(values[5]),
        patient_id=str(values[6]),
        patient_name=str(values[7]),
        target=str(body.get("target", "")),
        detail=detail,
    )


def entries(
    clinic: Clinic, filters: AuditFilter, *, after: Cursor | None = None, limit: int = PAGE
) -> list[AuditRow]:
    """One page, newest first; pass the last row's cursor for the next page."""
    require(clinic, "audit.view")
    clauses, params = _where(filters, ZoneInfo(clinic.settings.timezone))
    if after is not None:
        clauses.append("(e.at, e.seq) < (?, ?)")
        params.extend((after.at, after.seq))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"{_SELECT} {where} ORDER BY e.at DESC, e.seq DESC LIMIT ?"
    return [_row(r) for r in clinic.conn.execute(sql, (*params, limit)).fetchall()]


def cursor_of(row: AuditRow) -> Cursor:
    return Cursor(row.at, row.seq)


def iter_entries(clinic: Clinic, filters: AuditFilter, batch: int = 5000) -> Iterator[AuditRow]:
    after: Cursor | None = None
    while rows := entries(clinic, filters, after=after, limit=batch):
        yield from rows
        after = cursor_of(rows[-1])


def people(clinic: Clinic) -> list[tuple[str, str]]:
    """(id, name) of everyone who could appear in the log, for the person filter."""
    rows = clinic.conn.execute("SELECT id, name FROM app_user ORDER BY name").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def alarm_words(problem: str) -> str:
    """An alarm entry's finding in words: "head missing" → "the sealed head file was missing"."""
    if problem.startswith("head "):
        return f"the sealed head file was {problem.removeprefix('head ')}"
    return f"the newest entries were {problem}"


# Tables whose own names mean nothing at the desk; the rest read well with spaces.
_TABLE_WORDS = {
    "app_user": "person",
    "contact_point": "phone or email",
    "interaction": "call, message or note",
    "reminder_rule": "message rule",
    "outbox": "message",
    "outbox_event": "message step",
    "patient_identifier": "record number",
    "survey_response": "survey answer",
    "education_item": "health tip",
    "channel_spend": "channel spend",
}


def _words(table: str) -> str:
    return _TABLE_WORDS.get(table, table.replace("_", " "))


def describe_detail(action: str, target: str, detail: dict[str, Any]) -> str:
    """The entry's details in a few plain words (the viewer's "What" column)."""
    parts: list[str] = []
    tables = detail.get("tables")
    if isinstance(tables, dict):
        parts.append(", ".join(f"{_words(str(t))} {n}" for t, n in tables.items()))
    if "patients" in detail:
        parts.append(f"{detail['patients']:,} patients")
    problem = detail.get("problem")
    if isinstance(problem, str):
        parts.append(alarm_words(problem))
    for key in ("rows", "letters", "labels", "pages", "files", "entries"):
        value = detail.get(key)
        if isinstance(value, int):
            parts.append(f"{value:,} {key}")
    if "report" in detail:
        parts.append(str(detail["report"]))
    if "reason" in detail:
        parts.append(str(detail["reason"]))
    if target and action not in ("import",):
        parts.append(target)
    return "; ".join(p for p in parts if p)


CSV_HEADER = (
    "Entry",
    "When (UTC)",
    "When (clinic time)",
    "Person",
    "Person id",
    "Workstation",
    "Kind",
    "Kind code",
    "Patient id",
    "What",
    "Details (JSON)",
)


def export_csv(
    clinic: Clinic,
    filters: AuditFilter,
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """The entries the filters select, newest first, as a formula-safe CSV; returns rows.

    Patients appear by their Frontdesk id only, so the file names nobody; the export is
    itself an entry of the log.
    """
    from app.exports.csv_export import atomic_csv, safe_cell

    require(clinic, "audit.view")
    zone = ZoneInfo(clinic.settings.timezone)
    written = 0
    with atomic_csv(path) as writer:
        writer.writerow(CSV_HEADER)
        for row in iter_entries(clinic, filters):
            writer.writerow(
                [
                    row.seq,
                    row.at,
                    local_time(row.at, zone),
                    safe_cell(row.user_name),
                    row.user_id,
                    safe_cell(row.workstation),
                    row.kind,
                    row.action,
                    row.patient_id,
                    safe_cell(row.summary),
                    safe_cell(json.dumps(row.detail, ensure_ascii=False, sort_keys=True)),
                ]
            )
            written += 1
            if written % 5000 == 0:
                progress(written, 0, f"Saving audit entries: {written:,}")
                if cancel is not None:
                    cancel.raise_if_cancelled()
    audit.record(
        clinic,
        AUDIT_EXPORT,
        target=path.name,
        detail={"entries": written, "filters": _filter_words(filters)},
    )
    return written


def filter_from_text(
    clinic: Clinic,
    *,
    first: str = "",
    last: str = "",
    user: str = "",
    kinds: str = "",
    patient_id: str = "",
) -> AuditFilter:
    """The filters as typed on the command line: days as YYYY-MM-DD, a person by name or
    id, kinds comma-separated (`patient.view,print`). Refuses what it cannot read."""

    def day(text: str, what: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInputError(
                f"Write the {what} day as YYYY-MM-DD, for example 2026-11-01."
            ) from None

    user_id = ""
    if user:
        known = people(clinic)
        matches = [
            i for i, name in known if user in (i, name) or name.casefold() == user.casefold()
        ]
        if not matches:
            raise InvalidInputError(f"Nobody called {user!r} uses Frontdesk here.")
        user_id = matches[0]
    codes = tuple(c.strip() for c in kinds.split(",") if c.strip())
    unknown = [c for c in codes if c not in LABELS]
    if unknown:
        raise InvalidInputError(f"Unknown kind {unknown[0]!r}. Kinds: {', '.join(sorted(LABELS))}.")
    return AuditFilter(day(first, "first"), day(last, "last"), user_id, codes, patient_id)


def _filter_words(filters: AuditFilter) -> dict[str, object]:
    words: dict[str, object] = {}
    if filters.first:
        words["from"] = filters.first.isoformat()
    if filters.last:
        words["to"] = filters.last.isoformat()
    if filters.user_id:
        words["user_id"] = filters.user_id
    if filters.actions:
        words["actions"] = list(filters.actions)
    if filters.patient_id:
        words["patient_id"] = filters.patient_id
    return words


def local_time(at: str, zone: ZoneInfo) -> str:
    """'2026-11-29 01:58:32' in the clinic's time zone (seconds: entries come quickly)."""
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
