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
from typing import Final
from zoneinfo import ZoneInfo

from app.reminders.planning_times import day_start
from app.reminders.rules import Rule
from app.store.database import Connection
from app.store.writer import utc_text

# Who is never planned for. The sender checks again at send time; this keeps the
# outbox free of messages that could never go.
REACHABLE: Final = "p.deceased = 0 AND p.do_not_contact = 0 AND p.merged_into IS NULL"

# A rule's visit filters, added only when the rule has them (an empty list means every
# visit): a filter that is always true still costs a row read per visit. The lists go in
# as JSON, so the statement text never depends on their length.
_KIND_FILTER: Final = " AND {t}.kind IN (SELECT value FROM json_each(:kinds))"
_PROVIDER_FILTER: Final = " AND a.provider_id IN (SELECT value FROM json_each(:providers))"
_LOCATION_FILTER: Final = " AND a.location_id IN (SELECT value FROM json_each(:locations))"


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
    "AND a.start_at >= :lo AND a.start_at < :hi AND " + REACHABLE
)
_NOT_BOOKED: Final = (
    " AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = a.patient_id "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now)"
)


def visit_candidates(
    conn: Connection, rule: Rule, lo: str, hi: str, *, statuses: Sequence[str], now: str
) -> list[Visit]:
    """Visits of these statuses starting in [lo, hi) that the rule covers, of reachable
    patients. A missed visit (no_show) only when the patient has not booked again."""
    sql = _VISITS_SQL
    if rule.appointment_kinds:
        sql += _KIND_FILTER.format(t="a")
    if rule.provider_ids:
        sql += _PROVIDER_FILTER
    if rule.location_ids:
        sql += _LOCATION_FILTER
    if rule.kind == "no_show":
        sql += _NOT_BOOKED
    params = {
        "statuses": _list(statuses),
        "lo": lo,
        "hi": hi,
        "now": now,
        "kinds": _list(rule.appointment_kinds),
        "providers": _list(rule.provider_ids),
        "locations": _list(rule.location_ids),
    }
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

# Patients whose last fulfilled visit (of the rule's kinds) lies in [lo, hi): the
# newest in the range, with no newer one after it, and nothing booked from now on. The
# patient is checked last, on the few rows left.
_RECALL_CANDIDATES_SQL: Final = (
    "SELECT g.patient_id, g.last FROM ("  # noqa: S608 - constant text
    "SELECT a.patient_id, max(a.start_at) AS last FROM appointment a "
    "WHERE a.status = 'fulfilled' AND a.start_at >= :lo AND a.start_at < :hi{kinds_a} "
    "GROUP BY a.patient_id) g JOIN patient p ON p.id = g.patient_id "
    "WHERE NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = g.patient_id "
    "AND b.status = 'fulfilled' AND b.start_at >= :hi{kinds_b}) "
    "AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = g.patient_id "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now) AND " + REACHABLE
)

_RECALL_FACTS_SQL: Final = (
    "SELECT j.value, (SELECT max(a.start_at) FROM appointment a "
    "WHERE a.patient_id = j.value AND a.status = 'fulfilled'{kinds_a}), "
    "EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = j.value "
    "AND b.status IN ('booked', 'confirmed') AND b.start_at >= :now) "
    "FROM json_each(:patients) j"
)


def _with_kinds(sql: str, rule: Rule) -> str:
    if rule.recall_visit_kinds:
        return sql.format(kinds_a=_KIND_FILTER.format(t="a"), kinds_b=_KIND_FILTER.format(t="b"))
    return sql.format(kinds_a="", kinds_b="")


def recall_candidates(
    conn: Connection, rule: Rule, lo: str, hi: str, now: str
) -> list[tuple[str, str]]:
    """(patient, last fulfilled visit start) for last visits in [lo, hi)."""
    params = {"lo": lo, "hi": hi, "now": now, "kinds": _list(rule.recall_visit_kinds)}
    sql = _with_kinds(_RECALL_CANDIDATES_SQL, rule)
    return [(str(p), str(last)) for p, last in conn.execute(sql, params)]


@dataclass(frozen=True)
class RecallFacts:
    last_visit: str | None
    booked: bool


def recall_facts(
    conn: Connection, rule: Rule, patient_ids: Sequence[str], now: str
) -> dict[str, RecallFacts]:
    params = {"patients": _list(patient_ids), "now": now, "kinds": _list(rule.recall_visit_kinds)}
    rows = conn.execute(_with_kinds(_RECALL_FACTS_SQL, rule), params).fetchall()
    return {str(r[0]): RecallFacts(r[1], bool(r[2])) for r in rows}


# --- balances --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceFacts:
    oldest_unpaid: str | None  # posted_at of the oldest charge not covered by payments
    due_cents: int


# Two plain reads for all the patients at once; the running total is summed in Python,
# which on a large clinic is several times quicker than SQLite's window functions here.
_CHARGES_SQL: Final = (
    "SELECT c.patient_id, c.posted_at, c.amount_cents FROM charge c "
    "WHERE c.patient_id IN (SELECT value FROM json_each(?)) "
    "ORDER BY c.patient_id, c.posted_at, c.id"
)
_PAID_SQL: Final = (
    "SELECT j.value, (SELECT coalesce(sum(y.amount_cents), 0) FROM payment y "
    "WHERE y.patient_id = j.value) FROM json_each(?) j"
)


def balance_facts(conn: Connection, patient_ids: Sequence[str]) -> dict[str, BalanceFacts]:
    """Each patient's balance and the oldest charge it still includes: payments pay the
    oldest charges first, so that is the charge where the running total of charges
    (oldest first) passes the sum of payments. Patients without charges are left out."""
    ids = _list(patient_ids)
    paid = {str(p): int(cents) for p, cents in conn.execute(_PAID_SQL, (ids,))}
    facts: dict[str, BalanceFacts] = {}
    patient, running, oldest = "", 0, None

    def close() -> None:
        if patient:
            facts[patient] = BalanceFacts(oldest, running - paid.get(patient, 0))

    for who, posted_at, cents in conn.execute(_CHARGES_SQL, (ids,)):
        if who != patient:
            close()
            patient, running, oldest = str(who), 0, None
        running += int(cents)
        if oldest is None and running > paid.get(patient, 0):
            oldest = str(posted_at)
    close()
    return facts


def balance_candidates(conn: Connection, ranges: Sequence[tuple[str, str]]) -> list[str]:
    """Patients with a charge posted in one of the UTC ranges [lo, hi): only they can have
    their oldest unpaid charge there (read from the charge_posted index alone). Whether
    they may be contacted is asked later (`reachable`), of the few with a balance."""
    if not ranges:
        return []
    test = " OR ".join("(posted_at >= ? AND posted_at < ?)" for _ in ranges)
    sql = f"SELECT DISTINCT patient_id FROM charge WHERE {test}"  # noqa: S608 - constants
    values = [bound for pair in ranges for bound in pair]
    return sorted(str(r[0]) for r in conn.execute(sql, values))


def reachable(conn: Connection, patient_ids: Sequence[str]) -> list[str]:
    """Those of the patients that may be contacted, in id order."""
    rows = conn.execute(
        "SELECT p.id FROM patient p WHERE p.id IN (SELECT value FROM json_each(?)) AND "  # noqa: S608
        + REACHABLE
        + " ORDER BY p.id",
        (_list(patient_ids),),
    ).fetchall()
    return [str(r[0]) for r in rows]


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
