"""Messages by channel and month: what went out (sent) and what could not go (failed).

A sent message counts in the local month it was sent (outbox.sent_at); a failed one
in the month it was given up on (its last change, outbox.updated_at). Every purpose
counts (reminders, recalls, surveys, campaigns). A campaign's phone call is an outbox
row on channel 'call', sent when the call was made. A message that failed before a
channel was chosen (no consented way to reach the patient) has no channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.clinic import Clinic
from app.reports.figure import STACKED, Figure, Series, month_label
from app.reports.filters import MONTHS_CTE, ReportFilters, month_bounds, months_param

CHANNEL_LABELS = {
    "sms": "Text (SMS)",
    "email": "Email",
    "letter": "Letter",
    "call": "Phone call",
    "": "No channel",
}
_ORDER = ("sms", "email", "letter", "call", "")


@dataclass(frozen=True)
class MessageVolume:
    month: str
    channel: str  # sms, email, letter, call, or "" (failed before a channel was chosen)
    sent: int
    failed: int

    @property
    def label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


# One range seek per month and state: outbox(state, due_at) narrows to messages due
# before the month ended (nothing is sent or given up before it is due), and the exact
# month is then read from sent_at / updated_at.
_VOLUME = (
    f"WITH {MONTHS_CTE} "  # noqa: S608 - constant parts
    "SELECT m.month, o.channel, sum(o.state = 'sent'), sum(o.state = 'failed') "
    "FROM months m JOIN outbox o ON o.state IN ('sent', 'failed') AND o.due_at < m.hi"
    " AND CASE o.state WHEN 'sent' THEN o.sent_at ELSE o.updated_at END >= m.lo"
    " AND CASE o.state WHEN 'sent' THEN o.sent_at ELSE o.updated_at END < m.hi "
    "GROUP BY m.month, o.channel"
)


def message_volume(clinic: Clinic, filters: ReportFilters) -> list[MessageVolume]:
    """Per month (oldest first) and channel; channels with nothing in a month left out."""
    bounds = month_bounds(clinic, filters)
    rows = clinic.conn.execute(_VOLUME, {"months": months_param(bounds)}).fetchall()
    order = {key: n for n, key in enumerate(_ORDER)}
    found = [MessageVolume(str(m), str(c), int(s), int(f)) for m, c, s, f in rows]
    return sorted(found, key=lambda r: (r.month, order.get(r.channel, len(order)), r.channel))


def message_figure(rows: list[MessageVolume], months: list[str]) -> Figure:
    channels = sorted(
        {r.channel for r in rows if r.sent},
        key=lambda c: (_ORDER.index(c) if c in _ORDER else len(_ORDER), c),
    )
    sent = {(r.month, r.channel): r.sent for r in rows}
    series = tuple(
        Series(CHANNEL_LABELS.get(c, c), tuple(float(sent.get((m, c), 0)) for m in months))
        for c in channels
    )
    failed = tuple(float(sum(r.failed for r in rows if r.month == m)) for m in months)
    if any(failed):
        series += (Series("Failed (any channel)", failed),)
    return Figure(
        title="Messages by channel",
        columns=("Month", "Channel", "Sent", "Failed"),
        rows=tuple((r.month, r.label, r.sent, r.failed) for r in rows),
        categories=tuple(month_label(m) for m in months),
        series=series,
        kind=STACKED,
        unit="messages",
        note=(
            "Messages sent in each month by channel, and messages that could not be sent "
            "(counted in the month they were given up on)."
        ),
        empty_reason="No messages were sent or failed in these months.",
    )
