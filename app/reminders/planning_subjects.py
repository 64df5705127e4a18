"""What each rule kind is about, read set-based: the visits, recalls, balances and birthdays.

Every function here is one or a few statements for a whole rule, never one per patient:
planning 100,000 patients must take well under a second. The same reads serve two
questions, so the planner cannot disagree with itself: which subjects a rule wants a
message for now (`*_candidates`), and what became of the subjects of messages already
planned (`*_facts`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.reminders.planning_times import day_start
from app.reminders.rules import Rule
from app.store.database import Connection
from app.store.writer import utc_text

# Who is never planned for. The sender checks again at send time; this keeps the
# outbox free of messages that could never go.
REACHABLE: Final = "p.deceased = 0 AND p.do_not_contact = 0 AND p.merged_into IS NULL"

# The rule's visit filters; an empty list means every visit. Lists go in as JSON so the
# statement text never depends on their length.
_VISIT_FILTERS: Final = (
    " AND (:kinds = '[]' OR a.kind IN (SELECT value FROM json_each(:kinds)))"
    " AND (:providers = '[]' OR a.provider_id IN (SELECT value FROM json_each(:providers)))"
    " AND (:locations = '[]' OR a.location_id IN (SELECT value FROM json_each(:locations)))"
)


def _list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def utc_range(first: date, last: date, zone: ZoneInfo) -> tuple[str, str]:
    """The UTC text range [start, end) of local days first..last."""
    return utc_text(day_start(first, zone)), utc_text(day_start(last + timedelta(days=1), zone))


@dataclass(frozen=True)
class Visit:
    id: str
    patient_id: str
    start_at: str | None
    status: str
    kind: str
    provider_id: str | None
    location_id: str | None

    def matches(self, rule: Rule) -> bool:
        """Whether the rule's filters (type, provider, location) still cover this visit."""
        return (
            (not rule.appointment_kinds or self.kind in rule.appointment_kinds)
            and (not rule.provider_ids or self.provider_id in rule.provider_ids)
            and (not rule.location_ids or self.location_id in rule.location_ids)
        )


_VISIT_COLUMNS: Final = (
    "a.id, a.patient_id, a.start_at, a.status, a.kind, a.provider_id, a.location_id"
)

# The range on (status, start_at) picks the rows (appointment_status_start); the
# patient is a primary-key lookup.
_VISITS_SQL: Final = (
    f"SELECT {_VISIT_COLUMNS} FROM appointment a "  # noqa: S608 - constant text
    "JOIN patient p ON p.id = a.patient_id "
    "WHERE a.status IN (SELECT value FROM json_each(:statuses)) "
    "AND a.start_at >= :lo AND a.start_at < :hi AND " + REACHABLE + _VISIT_FILTERS
)
_NOT_BOOKED: Final = (
    " AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = a.patient_id "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now)"
)


def _filters(rule: Rule) -> dict[str, Any]:
    return {
        "kinds": _list(rule.appointment_kinds),
        "providers": _list(rule.provider_ids),
        "locations": _list(rule.location_ids),
    }


def visit_candidates(
    conn: Connection, rule: Rule, lo: str, hi: str, *, statuses: Sequence[str], now: str
) -> list[Visit]:
    """Visits of these statuses starting in [lo, hi) that the rule covers, of reachable
    patients. A missed visit (no_show) only when the patient has not booked again."""
    sql = _VISITS_SQL + (_NOT_BOOKED if rule.kind == "no_show" else "")
    params = {"statuses": _list(statuses), "lo": lo, "hi": hi, "now": now, **_filters(rule)}
    return [Visit(*r) for r in conn.execute(sql, params).fetchall()]


def visit_facts(conn: Connection, ids: Sequence[str]) -> dict[str, Visit]:
    rows = conn.execute(
        f"SELECT {_VISIT_COLUMNS} FROM appointment a "  # noqa: S608 - constant text
        "WHERE a.id IN (SELECT value FROM json_each(?))",
        (_list(ids),),
    ).fetchall()
    return {r[0]: Visit(*r) for r in rows}


def booked_again(conn: Connection, patient_ids: Sequence[str], now: str) -> set[str]:
    """Which of these patients have a booked or confirmed visit from `now` on."""
    rows = conn.execute(
        "SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM appointment b "
        "WHERE b.patient_id = j.value AND b.status IN ('booked', 'confirmed') AND b.start_at >= ?)",
        (_list(patient_ids), now),
    ).fetchall()
    return {str(r[0]) for r in rows}


# --- recalls -------------------------------------------------------------------------------

_RECALL_KINDS: Final = " AND (:kinds = '[]' OR {t}.kind IN (SELECT value FROM json_each(:kinds)))"

# Patients whose last fulfilled visit (of the rule's kinds) lies in [lo, hi): the
# newest in the range, with no newer one after it, and nothing booked from now on.
_RECALL_CANDIDATES_SQL: Final = (
    "SELECT g.patient_id, g.last FROM ("  # noqa: S608 - constant text
    "SELECT a.patient_id, max(a.start_at) AS last FROM appointment a "
    "JOIN patient p ON p.id = a.patient_id "
    "WHERE a.status = 'fulfilled' AND a.start_at >= :lo AND a.start_at < :hi AND "
    + REACHABLE
    + _RECALL_KINDS.format(t="a")
    + " GROUP BY a.patient_id) g "
    "WHERE NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = g.patient_id "
    "AND b.status = 'fulfilled' AND b.start_at >= :hi"
    + _RECALL_KINDS.format(t="b")
    + ") AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = g.patient_id "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now)"
)

_RECALL_FACTS_SQL: Final = (
    "SELECT j.value, (SELECT max(a.start_at) FROM appointment a "  # noqa: S608 - constant
    "WHERE a.patient_id = j.value AND a.status = 'fulfilled'"
    + _RECALL_KINDS.format(t="a")
    + "), EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = j.value "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now) "
    "FROM json_each(:patients) j"
)


def recall_candidates(
    conn: Connection, rule: Rule, lo: str, hi: str, now: str
) -> list[tuple[str, str]]:
    """(patient, last fulfilled visit start) for last visits in [lo, hi)."""
    params = {"lo": lo, "hi": hi, "now": now, "kinds": _list(rule.recall_visit_kinds)}
    return [(str(p), str(last)) for p, last in conn.execute(_RECALL_CANDIDATES_SQL, params)]


@dataclass(frozen=True)
class RecallFacts:
    last_visit: str | None
    booked: bool


def recall_facts(
    conn: Connection, rule: Rule, patient_ids: Sequence[str], now: str
) -> dict[str, RecallFacts]:
    params = {"patients": _list(patient_ids), "now": now, "kinds": _list(rule.recall_visit_kinds)}
    rows = conn.execute(_RECALL_FACTS_SQL, params).fetchall()
    return {str(r[0]): RecallFacts(r[1], bool(r[2])) for r in rows}


# --- balances --------------------------------------------------------------------------------

# Payments pay the oldest charges first: the running total of charges (oldest first)
# passes the sum of payments at the oldest charge not yet covered, whose posting day is
# the notices' anchor.
_BALANCE_SQL: Final = (
    "WITH who(pid) AS (SELECT value FROM json_each(:patients)), "
    "paid(pid, cents) AS (SELECT w.pid, (SELECT coalesce(sum(y.amount_cents), 0) "
    "FROM payment y WHERE y.patient_id = w.pid) FROM who w), "
    "running AS (SELECT c.patient_id, c.posted_at, sum(c.amount_cents) OVER "
    "(PARTITION BY c.patient_id ORDER BY c.posted_at, c.id) AS cum "
    "FROM charge c WHERE c.patient_id IN (SELECT pid FROM who)) "
    "SELECT r.patient_id, min(CASE WHEN r.cum > d.cents THEN r.posted_at END), "
    "max(r.cum) - d.cents FROM running r JOIN paid d ON d.pid = r.patient_id "
    "GROUP BY r.patient_id"
)


@dataclass(frozen=True)
class BalanceFacts:
    oldest_unpaid: str | None  # posted_at of the oldest charge not covered by payments
    due_cents: int


def balance_facts(conn: Connection, patient_ids: Sequence[str]) -> dict[str, BalanceFacts]:
    rows = conn.execute(_BALANCE_SQL, {"patients": _list(patient_ids)}).fetchall()
    return {str(r[0]): BalanceFacts(r[1], int(r[2])) for r in rows}


def balance_candidates(conn: Connection, lo: str, hi: str) -> list[tuple[str, str]]:
    """(patient, posted_at) of charges posted in [lo, hi) to reachable patients: only they
    can have their oldest unpaid charge there. (No index leads with posted_at; the scan
    reads the narrow charge_patient index, not the table.)"""
    rows = conn.execute(
        "SELECT c.patient_id, c.posted_at FROM charge c "  # noqa: S608 - constant text
        "JOIN patient p ON p.id = c.patient_id WHERE c.posted_at >= ? AND c.posted_at < ? AND "
        + REACHABLE,
        (lo, hi),
    ).fetchall()
    return [(str(p), str(at)) for p, at in rows]


# --- birthdays -------------------------------------------------------------------------------

# The expression is the patient_birthday index's, word for word, so only those days'
# patients are read. Partial dates ('1974', '1974-12') never give a 'MM-DD' there.
_BIRTHDAY_SQL: Final = (
    "SELECT p.id, p.birth_date FROM patient p "  # noqa: S608 - constant text
    "WHERE substr(p.birth_date, 6, 5) IN (SELECT value FROM json_each(?)) "
    "AND length(p.birth_date) = 10 AND " + REACHABLE
)


def birthday_candidates(conn: Connection, keys: Sequence[str]) -> list[tuple[str, str]]:
    return [(str(p), str(b)) for p, b in conn.execute(_BIRTHDAY_SQL, (_list(keys),))]


def full_date(text: str | None) -> date | None:
    """A stored birth date when it is a whole date; partial or odd ones give None."""
    if not text or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
