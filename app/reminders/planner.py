"""The planner: turns the rules and the current schedule into outbox rows, and keeps them true.

One run reads first and then writes in one short transaction, changing only messages
still as it read them (the sender's moves are conditional in the same way):

1. every open message (planned or due) is checked against the current data: its rule
   paused or deleted, its visit cancelled or moved to another day, the balance paid, the
   patient booked again, died, merged or asked not to be contacted → cancelled, each
   with its reason; otherwise re-timed when its rule or visit changed, skipped when it
   can no longer go in time (stale), and made due when its time has come;
2. every active rule asks, set-based, which subjects want a message whose time falls in
   [now - the rule's window, now + horizon]; the ones whose idempotency key is not in
   the outbox yet are inserted (due at once when their time has passed).

Catching up: when the app starts after being closed (or the clock jumps forward),
what is still within its rule's window goes, everything older is skipped with a plain
reason: never a burst of old messages. Messages the sender has taken (sending, sent,
failed, waiting for print) are never touched here.

A message the planner cancelled for a reason that can pass (a visit moved away and
back, a rule paused and resumed, a recall booked and the booking cancelled) may be
wanted again; its key is taken by the cancelled row, so the new one gets the next
generation of that key ("…#2"), the same on every workstation with the same data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.engagement import campaign_rules, survey_rules
from app.reminders import outbox
from app.reminders.planning_base import OpenMessage as _Open
from app.reminders.planning_base import Span as _Span
from app.reminders.planning_base import Verdict as _Verdict
from app.reminders.planning_base import Wanted
from app.reminders.planning_subjects import (
    Visit,
    balance_candidates,
    balance_facts,
    birthday_candidates,
    booked_again,
    full_date,
    reachable,
    recall_candidates,
    recall_facts,
    utc_range,
    visit_candidates,
    visit_facts,
)
from app.reminders.planning_times import (
    add_months,
    birthday_in,
    birthday_keys,
    local_day,
    months_before_range,
    parse_utc,
    when_text,
    window_text,
)
from app.reminders.rules import Rule, load_rules
from app.reminders.settings import load_settings
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import Tx, utc_text

DEFAULT_HORIZON: Final = timedelta(days=3)

# Why a message was cancelled, as the Messages page shows it.
VISIT_CANCELLED: Final = "The visit was cancelled"
VISIT_MOVED: Final = "The visit was moved to another day"
VISIT_REMOVED: Final = "The visit was removed"
VISIT_MISSED: Final = "The visit was marked as missed"
VISIT_HELD: Final = "The visit has taken place"
VISIT_TOO_EARLY: Final = "The visit was moved to before this reminder's time"
NOT_MISSED: Final = "The visit is no longer marked as missed"
NOT_COVERED: Final = "The rule no longer covers this visit"
RULE_PAUSED: Final = "The rule was paused"
RULE_DELETED: Final = "The rule was deleted"
RULE_CHANGED: Final = "The rule no longer has this message"
BALANCE_PAID: Final = "The balance was paid"
OLDEST_PAID: Final = "The oldest unpaid charge was paid"
ALREADY_BOOKED: Final = "Already booked"
RECALL_MOVED: Final = "A newer visit changed when the patient is due"
NO_VISIT: Final = "The visit the recall counted from was removed"
NO_BIRTH_DATE: Final = "The birth date was changed"
DECEASED: Final = "The patient has died"
MERGED: Final = "The record was merged into another"
DO_NOT_CONTACT: Final = "The patient asked not to be contacted"

# Reasons that can pass: when the rule wants the message again, it is planned anew
# (under the next generation of its key). A visit cancelled, a bill paid, a message
# cancelled at the desk or skipped as stale stay as they are.
REVIVABLE: Final = frozenset(
    {
        VISIT_MOVED,
        VISIT_TOO_EARLY,
        NOT_COVERED,
        RULE_PAUSED,
        RULE_CHANGED,
        ALREADY_BOOKED,
        RECALL_MOVED,
        NO_BIRTH_DATE,
        DECEASED,
        MERGED,
        DO_NOT_CONTACT,
    }
)
PLANNED_EVENT: Final = "Planned"
DUE_EVENT: Final = "Due"


@dataclass(frozen=True)
class PlanReport:
    """What one planning run did. `changes` is for the GUI's data bus."""

    planned: int = 0  # new messages (including those due at once)
    made_due: int = 0  # messages whose time came (including new ones)
    retimed: int = 0  # open messages whose time changed with their rule or visit
    cancelled: int = 0
    stale: int = 0  # open messages skipped: too late to send
    changes: Changes = field(default_factory=Changes, compare=False)


_OPEN_SQL: Final = (
    "SELECT o.id, o.idem_key, o.rule_id, o.touch, o.patient_id, o.subject_id, o.occurrence, "
    "o.due_at, o.stale_at, o.state, p.deceased, p.do_not_contact, p.merged_into IS NOT NULL, "
    "p.birth_date FROM outbox o JOIN patient p ON p.id = o.patient_id "
    "WHERE o.state IN ('planned', 'due') ORDER BY o.due_at, o.id"
)


def plan(
    clinic: Clinic, *, now: datetime | None = None, horizon: timedelta = DEFAULT_HORIZON
) -> PlanReport:
    """Bring the outbox in line with the rules and the data as of `now` (aware).

    The reading (most of the time) happens before the write transaction, so the desk is
    not kept waiting; the transaction then applies only the changes to messages still as
    they were read (the sender or the desk may have moved one meanwhile) and inserts only
    keys still unused, so a run racing another writer never undoes or doubles anything.
    """
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        raise ValueError("plan() needs an aware 'now'")
    if horizon < timedelta(0):
        raise ValueError("the planning horizon cannot be negative")
    start = moment.astimezone(UTC)
    span = _Span(start, start + horizon, ZoneInfo(clinic.settings.timezone))
    rules = {r.id: r for r in load_rules(clinic)}
    sending_on = load_settings(clinic).enabled
    device = clinic.store.device_id
    updates = _review_open(clinic.conn, rules, span, sending_on)
    wants = [(rule, wanted(clinic.conn, rule, span)) for rule in rules.values() if rule.active]
    with clinic.store.write() as tx:
        counts = _apply(tx, updates, span, device)
        planned, born_due = _plan_new(tx, wants, span, device)
    return PlanReport(
        planned=planned,
        made_due=counts["due"] + born_due,
        retimed=counts["retimed"],
        cancelled=counts["cancelled"],
        stale=counts["stale"],
        changes=tx.changes,
    )


# --- 1. the messages already planned ----------------------------------------------------------


@dataclass(frozen=True)
class _Update:
    """A change to one open message, applied only if it is still as it was read."""

    message_id: str
    seen: tuple[str, str, str]  # state, due_at, stale_at
    values: dict[str, Any]
    outcome: str  # 'cancelled', 'stale', 'due' or '' (only re-timed)
    retimed: bool


def _review_open(
    conn: Connection, rules: dict[str, Rule], span: _Span, sending_on: bool
) -> list[_Update]:
    by_rule: dict[str, list[_Open]] = defaultdict(list)
    for row in conn.execute(_OPEN_SQL).fetchall():
        message = _Open(
            id=row[0],
            idem_key=row[1],
            rule_id=row[2],
            touch=int(row[3]),
            patient_id=row[4],
            subject_id=row[5],
            occurrence=row[6],
            due_at=row[7],
            stale_at=row[8],
            state=row[9],
            deceased=bool(row[10]),
            do_not_contact=bool(row[11]),
            merged=bool(row[12]),
            birth_date=row[13],
        )
        by_rule[message.rule_id].append(message)
    updates: list[_Update] = []
    now_text = span.now_text
    for rule_id, messages in by_rule.items():
        verdicts = _judge_rule(conn, rules.get(rule_id), messages, span)
        for message in messages:
            verdict = verdicts[message.id]
            seen = (message.state, message.due_at, message.stale_at)
            if isinstance(verdict, str):
                values = {"state": "cancelled", "reason": verdict}
                updates.append(_Update(message.id, seen, values, "cancelled", False))
                continue
            due, stale = (utc_text(t) for t in verdict)
            retimed = (due, stale) != (message.due_at, message.stale_at)
            values = {"due_at": due, "stale_at": stale} if retimed else {}
            if stale <= now_text:
                reason = _stale_reason(rules[rule_id], verdict[0], verdict[1], span, sending_on)
                values.update(state="skipped", reason=reason)
                updates.append(_Update(message.id, seen, values, "stale", retimed))
            elif message.state == "planned" and due <= now_text:
                values.update(state="due", reason="")
                updates.append(_Update(message.id, seen, values, "due", retimed))
            elif retimed:
                updates.append(_Update(message.id, seen, values, "", retimed))
    return updates


def _apply(tx: Tx, updates: Sequence[_Update], span: _Span, device: str) -> dict[str, int]:
    counts = dict.fromkeys(("due", "retimed", "cancelled", "stale"), 0)
    if not updates:
        return counts
    ids = json.dumps([u.message_id for u in updates])
    current = {
        str(r[0]): (str(r[1]), str(r[2]), str(r[3]))
        for r in tx.conn.execute(
            "SELECT id, state, due_at, stale_at FROM outbox "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    }
    events: list[tuple[str, str, str]] = []
    for update in updates:
        if current.get(update.message_id) != update.seen:
            continue  # moved by someone else since it was read: theirs stands
        tx.update("outbox", update.message_id, {**update.values, "updated_at": span.now_text})
        if update.outcome:
            counts[update.outcome] += 1
            state = str(update.values["state"])
            events.append((update.message_id, state, str(update.values["reason"]) or DUE_EVENT))
        if update.retimed and update.outcome != "stale":
            counts["retimed"] += 1
    outbox.record_events(tx, events, device)
    return counts


def _stale_reason(rule: Rule, due: datetime, stale: datetime, span: _Span, sending_on: bool) -> str:
    when = when_text(due, span.zone)
    if stale < due + timedelta(hours=rule.window_hours):
        return f"Not sent: it was due at {when} and the visit had started before it could go"
    allowed = window_text(rule.window_hours)
    if not sending_on:
        return (
            f"Not sent: it was due at {when} while sending was switched off, and it is now "
            f"later than the rule allows ({allowed})"
        )
    return (
        f"Not sent: it was due at {when} and the computer was off until later than the "
        f"rule allows ({allowed})"
    )


def _judge_rule(
    conn: Connection, rule: Rule | None, messages: Sequence[_Open], span: _Span
) -> dict[str, _Verdict]:
    verdicts: dict[str, _Verdict] = {}
    pending: list[_Open] = []
    for m in messages:
        if rule is None:
            verdicts[m.id] = RULE_DELETED
        elif not rule.active:
            verdicts[m.id] = RULE_PAUSED
        elif m.touch >= len(rule.touches):
            verdicts[m.id] = RULE_CHANGED
        elif m.deceased:
            verdicts[m.id] = DECEASED
        elif m.merged:
            verdicts[m.id] = MERGED
        elif m.do_not_contact:
            verdicts[m.id] = DO_NOT_CONTACT
        else:
            pending.append(m)
    if rule is None or not pending:
        return verdicts
    judge = _JUDGES[rule.kind]
    verdicts.update(judge(conn, rule, pending, span))
    return verdicts


def _judge_visits(
    conn: Connection, rule: Rule, messages: Sequence[_Open], span: _Span
) -> dict[str, _Verdict]:
    visits = visit_facts(conn, [m.subject_id for m in messages])
    booked: set[str] = set()
    if rule.kind == "no_show":
        booked = booked_again(conn, sorted({m.patient_id for m in messages}), span.now_text)
    verdicts: dict[str, _Verdict] = {}
    for m in messages:
        visit = visits.get(m.subject_id)
        if visit is None or visit.start_at is None:
            verdicts[m.id] = VISIT_REMOVED
            continue
        verdicts[m.id] = _judge_visit(rule, m, visit, m.patient_id in booked, span)
    return verdicts


def _judge_visit(rule: Rule, m: _Open, visit: Visit, booked: bool, span: _Span) -> _Verdict:
    assert visit.start_at is not None  # checked by the caller
    start = parse_utc(visit.start_at)
    if visit.status == "cancelled":
        return VISIT_CANCELLED
    if rule.kind == "appointment":
        if visit.status == "noshow":
            return VISIT_MISSED
        if visit.status in ("arrived", "fulfilled"):
            return VISIT_HELD
    else:
        if visit.status != "noshow":
            return NOT_MISSED
        if booked:
            return ALREADY_BOOKED
    day = local_day(start, span.zone)
    if day.isoformat() != m.occurrence:
        return VISIT_MOVED
    if not visit.matches(rule):
        return NOT_COVERED
    cap = start if rule.kind == "appointment" else None
    due, stale = span.timing(rule, m.touch, day, cap)
    return VISIT_TOO_EARLY if stale <= due else (due, stale)


def _judge_recalls(
    conn: Connection, rule: Rule, messages: Sequence[_Open], span: _Span
) -> dict[str, _Verdict]:
    facts = recall_facts(conn, rule, sorted({m.patient_id for m in messages}), span.now_text)
    verdicts: dict[str, _Verdict] = {}
    for m in messages:
        found = facts.get(m.patient_id)
        if found is None or found.last_visit is None:
            verdicts[m.id] = NO_VISIT
        elif found.booked:
            verdicts[m.id] = ALREADY_BOOKED
        else:
            due_day = add_months(
                local_day(parse_utc(found.last_visit), span.zone), rule.recall_months
            )
            if due_day.isoformat() != m.occurrence:
                verdicts[m.id] = RECALL_MOVED
            else:
                verdicts[m.id] = span.timing(rule, m.touch, due_day)
    return verdicts


def _judge_balances(
    conn: Connection, rule: Rule, messages: Sequence[_Open], span: _Span
) -> dict[str, _Verdict]:
    facts = balance_facts(conn, sorted({m.patient_id for m in messages}))
    verdicts: dict[str, _Verdict] = {}
    for m in messages:
        found = facts.get(m.patient_id)
        if found is None or found.oldest_unpaid is None or found.due_cents < rule.min_balance_cents:
            verdicts[m.id] = BALANCE_PAID
            continue
        anchor = local_day(parse_utc(found.oldest_unpaid), span.zone)
        if anchor.isoformat() != m.occurrence:
            verdicts[m.id] = OLDEST_PAID
        else:
            verdicts[m.id] = span.timing(rule, m.touch, anchor)
    return verdicts


def _judge_birthdays(
    conn: Connection, rule: Rule, messages: Sequence[_Open], span: _Span
) -> dict[str, _Verdict]:
    verdicts: dict[str, _Verdict] = {}
    for m in messages:
        born = full_date(m.birth_date)
        if born is None or not m.occurrence.isdigit():
            verdicts[m.id] = NO_BIRTH_DATE
            continue
        # A corrected birth date moves this year's greeting to the right day.
        verdicts[m.id] = span.timing(rule, m.touch, birthday_in(int(m.occurrence), born))
    return verdicts


_JUDGES: Final = {
    "appointment": _judge_visits,
    "no_show": _judge_visits,
    "recall": _judge_recalls,
    "billing": _judge_balances,
    "birthday": _judge_birthdays,
    **survey_rules.JUDGES,
    **campaign_rules.JUDGES,
}


# --- 2. what the rules want now ------------------------------------------------------------------


def wanted(conn: Connection, rule: Rule, span: _Span) -> list[Wanted]:
    """The messages `rule` asks for whose time falls in this run (due by `span.until`,
    not yet stale at `span.now`)."""
    found = _WANTERS[rule.kind](conn, rule, span)
    return [
        w
        for w in found
        if w.due_at <= span.until and w.due_at < w.stale_at and w.stale_at > span.now
    ]


def _want_visits(conn: Connection, rule: Rule, span: _Span) -> Iterable[Wanted]:
    statuses = ("booked", "confirmed") if rule.kind == "appointment" else ("noshow",)
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        lo, hi = utc_range(first, last, span.zone)
        for visit in visit_candidates(conn, rule, lo, hi, statuses=statuses, now=span.now_text):
            assert visit.start_at is not None  # the range excludes NULL
            start = parse_utc(visit.start_at)
            day = local_day(start, span.zone)
            cap = start if rule.kind == "appointment" else None
            due, stale = span.timing(rule, touch, day, cap)
            yield Wanted(touch, visit.patient_id, visit.id, day.isoformat(), due, stale)


def _want_recalls(conn: Connection, rule: Rule, span: _Span) -> Iterable[Wanted]:
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        since, until = months_before_range(first, last, rule.recall_months)
        lo, hi = utc_range(since, until, span.zone)
        for patient_id, last_visit in recall_candidates(conn, rule, lo, hi, span.now_text):
            due_day = add_months(local_day(parse_utc(last_visit), span.zone), rule.recall_months)
            if first <= due_day <= last:
                due, stale = span.timing(rule, touch, due_day)
                yield Wanted(touch, patient_id, "", due_day.isoformat(), due, stale)


def _want_balances(conn: Connection, rule: Rule, span: _Span) -> Iterable[Wanted]:
    ranges = [span.anchors(rule, touch) for touch in range(len(rule.touches))]
    patients = balance_candidates(conn, [utc_range(f, t, span.zone) for f, t in ranges])
    owing = {
        patient_id: found.oldest_unpaid
        for patient_id, found in balance_facts(conn, patients).items()
        if found.oldest_unpaid is not None and found.due_cents >= rule.min_balance_cents
    }
    for patient_id in reachable(conn, sorted(owing)):
        anchor = local_day(parse_utc(owing[patient_id]), span.zone)
        for touch, (first, last) in enumerate(ranges):
            if first <= anchor <= last:
                due, stale = span.timing(rule, touch, anchor)
                yield Wanted(touch, patient_id, "", anchor.isoformat(), due, stale)


def _want_birthdays(conn: Connection, rule: Rule, span: _Span) -> Iterable[Wanted]:
    for touch in range(len(rule.touches)):
        first, last = span.anchors(rule, touch)
        for patient_id, text in birthday_candidates(conn, birthday_keys(first, last)):
            born = full_date(text)
            if born is None:
                continue
            for year in sorted({first.year, last.year}):
                anchor = birthday_in(year, born)
                if first <= anchor <= last and year > born.year:
                    due, stale = span.timing(rule, touch, anchor)
                    yield Wanted(touch, patient_id, "", str(year), due, stale)


_WANTERS: Final = {
    "appointment": _want_visits,
    "no_show": _want_visits,
    "recall": _want_recalls,
    "billing": _want_balances,
    "birthday": _want_birthdays,
    **survey_rules.WANTERS,
    **campaign_rules.WANTERS,
}


def _plan_new(
    tx: Tx, wants: Sequence[tuple[Rule, list[Wanted]]], span: _Span, device: str
) -> tuple[int, int]:
    """Insert the wanted messages not in the outbox yet; returns (new, of which due)."""
    rows: list[dict[str, Any]] = []
    events: list[tuple[str, str, str]] = []
    now_text = span.now_text
    for rule, found in wants:
        by_key = {w.key(rule.id): w for w in found}
        for key, want in _new_keys(tx.conn, by_key).items():
            due = utc_text(want.due_at)
            row = outbox.new_row(
                idem=key,
                rule_id=rule.id,
                touch=want.touch,
                purpose=rule.effective_purpose,
                patient_id=want.patient_id,
                subject_kind=rule.subject_kind,
                subject_id=want.subject_id,
                occurrence=want.occurrence,
                due_at=due,
                stale_at=utc_text(want.stale_at),
                now=now_text,
            )
            events.append((row["id"], "planned", PLANNED_EVENT))
            if due <= now_text:
                row["state"] = "due"
                events.append((row["id"], "due", DUE_EVENT))
            rows.append(row)
    tx.insert_many("outbox", rows)
    outbox.record_events(tx, events, device)
    return len(rows), sum(1 for r in rows if r["state"] == "due")


def _new_keys(conn: Connection, by_key: dict[str, Wanted]) -> dict[str, Wanted]:
    """The wanted messages to insert, under the key each gets: its own when unused, the
    next generation when the planner cancelled the last one for a reason that passed."""
    if not by_key:
        return {}
    taken = {
        str(k): (str(state), str(reason))
        for k, state, reason in conn.execute(
            "SELECT idem_key, state, reason FROM outbox "
            "WHERE idem_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(by_key)),),
        ).fetchall()
    }
    fresh: dict[str, Wanted] = {}
    for key, want in by_key.items():
        if key not in taken:
            fresh[key] = want
        elif _revivable(*taken[key]):
            revived = _next_generation(conn, key)
            if revived is not None:
                fresh[revived] = want
    return fresh


def _next_generation(conn: Connection, key: str) -> str | None:
    """The key for a message wanted again after a passing cancellation, or None when a
    later generation already exists and is not itself such a cancellation."""
    rows = conn.execute(
        "SELECT idem_key, state, reason FROM outbox WHERE idem_key > ? AND idem_key < ?",
        (key + "#", key + "$"),
    ).fetchall()
    latest, revivable = 1, True  # the first generation is the key itself, known revivable
    for other, state, reason in rows:
        suffix = str(other)[len(key) + 1 :]
        if suffix.isdigit() and int(suffix) > latest:
            latest, revivable = int(suffix), _revivable(str(state), str(reason))
    return f"{key}#{latest + 1}" if revivable else None


def _revivable(state: str, reason: str) -> bool:
    return state == "cancelled" and reason in REVIVABLE
