"""The 360° view: everything that happened with a patient on one list, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from app.clinic import Clinic

KINDS = (
    "appointment",
    "visit",
    "call",
    "email",
    "sms",
    "letter",
    "note",
    "payment",
    "charge",
    "consent",
    "message",
)


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: str  # UTC ISO
    title: str
    detail: str
    direction: str  # in, out, none
    record_id: str
    amount_cents: int | None = None


# One SELECT per source, all shaped alike, so SQLite sorts and pages the union itself.
_SOURCES: dict[str, str] = {
    "appointment": (
        "SELECT 'appointment' AS kind, coalesce(start_at, created_at) AS at, "
        "'Appointment ' || CASE status WHEN 'fulfilled' THEN 'seen' "
        "WHEN 'noshow' THEN 'missed (no-show)' ELSE status END AS title, "
        "trim(kind || ' ' || reason) AS detail, "
        "'none' AS direction, id AS record_id, NULL AS amount "
        "FROM appointment WHERE patient_id = :p"
    ),
    "interaction": (
        "SELECT kind, occurred_at, "
        "CASE kind WHEN 'call' THEN 'Call' WHEN 'email' THEN 'Email' WHEN 'sms' THEN 'Text' "
        "WHEN 'letter' THEN 'Letter' WHEN 'visit' THEN 'Visit' ELSE 'Note' END "
        "|| CASE WHEN outcome != '' THEN ' · ' || outcome ELSE '' END, "
        "CASE WHEN subject != '' THEN subject ELSE substr(body, 1, 200) END, "
        "direction, id, NULL FROM interaction WHERE patient_id = :p"
    ),
    "payment": (
        "SELECT 'payment', received_at, 'Payment (' || method || ')', reference, 'in', id, "
        "amount_cents FROM payment WHERE patient_id = :p"
    ),
    "charge": (
        "SELECT 'charge', posted_at, 'Charge', description, 'none', id, amount_cents "
        "FROM charge WHERE patient_id = :p"
    ),
    "consent": (
        "SELECT 'consent', recorded_at, "
        "CASE granted WHEN 1 THEN 'Consent given' ELSE 'Consent withdrawn' END, "
        "channel || ' for ' || purpose || ' (' || source || ')'"
        " || coalesce(' · recorded by ' || u.name, ''), 'none', c.id, NULL "
        "FROM consent AS c LEFT JOIN app_user AS u ON u.id = c.recorded_by "
        "WHERE patient_id = :p"
    ),
    # The automatic messages (app.reminders.outbox) that reached the patient or were meant
    # to: sent, waiting for print, failed, not sent. Planned, due and cancelled ones are
    # only intentions and stay in Messages. A failure or a skip shows its reason; a sent
    # one its subject or the first line of what was said (blank lines before it skipped).
    # The states are MESSAGE_STATES below.
    "message": (
        "SELECT 'message', coalesce(o.sent_at, o.updated_at), "
        "CASE o.channel WHEN 'sms' THEN 'Text' WHEN 'email' THEN 'Email' "
        "WHEN 'letter' THEN 'Letter' ELSE 'Message' END || ' ' || "
        "CASE o.state WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed' "
        "WHEN 'skipped' THEN 'not sent' ELSE 'waiting for print' END"
        " || coalesce(' · ' || nullif(r.name, ''), ''), "
        "CASE WHEN o.state IN ('failed', 'skipped') AND o.reason != '' THEN o.reason "
        "WHEN o.subject != '' THEN o.subject "
        "WHEN trim(o.body, char(9, 10, 13, 32)) != '' THEN rtrim(substr(ltrim(o.body, "
        "char(9, 10, 13, 32)), 1, min(200, instr(ltrim(o.body, char(9, 10, 13, 32)) "
        "|| char(10), char(10)) - 1)), char(13)) "
        "ELSE o.reason END, "
        "'out', o.id, NULL "
        "FROM outbox AS o LEFT JOIN reminder_rule AS r ON r.id = o.rule_id "
        "WHERE o.patient_id = :p AND o.state IN ('sent', 'to_print', 'failed', 'skipped')"
    ),
}
MESSAGE_STATES = ("sent", "to_print", "failed", "skipped")
"""The outbox states the timeline shows; the others are plans, not history."""
_INTERACTION_KINDS = {"visit", "call", "email", "sms", "letter", "note"}


def timeline(
    clinic: Clinic,
    patient_id: str,
    *,
    kinds: set[str] | None = None,
    limit: int = 50,
    offset: int = 0,
    text: str = "",
) -> list[TimelineEntry]:
    """One page of the patient's history; `kinds` filters (None = everything) and `text`
    keeps entries whose title or detail contains it (case-insensitive)."""
    wanted = set(KINDS) if kinds is None else set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown timeline kinds: {sorted(unknown)}")
    parts: list[str] = []
    params: dict[str, object] = {"p": patient_id, "limit": limit, "offset": offset}
    for source in ("appointment", "payment", "charge", "consent", "message"):
        if source in wanted:
            parts.append(_SOURCES[source])
    chosen = sorted(wanted & _INTERACTION_KINDS)
    if chosen:
        marks = ", ".join(f":k{i}" for i in range(len(chosen)))
        parts.append(_SOURCES["interaction"] + f" AND kind IN ({marks})")
        params.update({f"k{i}": k for i, k in enumerate(chosen)})
    if not parts:
        return []
    where = ""
    if text.strip():
        # One patient's history is small enough for a scan; LIKE's wildcards in the
        # typed text are escaped so '50%' finds fifty percent.
        escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["q"] = f"%{escaped}%"
        where = " WHERE title LIKE :q ESCAPE '\\' OR detail LIKE :q ESCAPE '\\'"
    # Every part is a constant above; typed text only ever arrives as the :q parameter.
    head = "WITH entry(kind, at, title, detail, direction, record_id, amount) AS ("
    union = head + " UNION ALL ".join(parts) + ") SELECT * FROM entry" + where  # noqa: S608
    sql = union + " ORDER BY 2 DESC, 6 LIMIT :limit OFFSET :offset"
    rows = clinic.conn.execute(sql, params).fetchall()
    return [TimelineEntry(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6]) for r in rows]
