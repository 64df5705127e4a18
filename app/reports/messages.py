"""Messages by channel and month: what went out (sent) and what could not go (failed).

A sent message counts in the local month it was sent (outbox.sent_at); a failed one
in the month it was given up on (its last change, outbox.updated_at). Every purpose
counts (reminders, recalls, surveys, campaigns). A campaign's phone call is an outbox
row on channel 'call', sent when the call was made. A message that failed before a
channel was chosen (no consented way to reach the patient) has no channel.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.clinic import Clinic
from app.reports.figure import STACKED, Figure, Series, month_label
from app.reports.filters import ReportFilters, month_bounds

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


# How long after falling due a message is still looked for: the outbox has no index on
# sent_at, so the query seeks outbox(state, due_at) from this long before the range. A
# message is sent within minutes of falling due, a letter when printed (days), a retry
# within the rule's stale time; one sent three months late is not counted.
LATEST_AFTER_DUE = timedelta(days=92)

# One range seek per state on outbox(state, due_at). Rows are grouped by UTC day, except
# on the days a local month begins (there by their exact time), and the days are put in
# their local months here: a UTC day without a month boundary lies in one local month.
_VOLUME = (
    "SELECT CASE WHEN substr(stamp, 1, 10) IN (SELECT value FROM json_each(:edges))"
    " THEN stamp ELSE substr(stamp, 1, 10) END AS slot, channel,"
    " sum(state = 'sent'), sum(state = 'failed') "
    "FROM (SELECT o.state, o.channel,"
    "  CASE o.state WHEN 'sent' THEN o.sent_at ELSE o.updated_at END AS stamp"
    "  FROM outbox o WHERE o.state IN ('sent', 'failed')"
    "  AND o.due_at >= :early AND o.due_at < :hi) "
    "WHERE stamp >= :lo AND stamp < :hi GROUP BY slot, channel"
)


def message_volume(clinic: Clinic, filters: ReportFilters) -> list[MessageVolume]:
    """Per month (oldest first) and channel; channels with nothing in a month left out."""
    bounds = month_bounds(clinic, filters)
    lo, hi = bounds[0].lo, bounds[-1].hi
    early = datetime.strptime(lo, "%Y-%m-%dT%H:%M:%SZ") - LATEST_AFTER_DUE
    edges = sorted({b.lo[:10] for b in bounds} | {hi[:10]})
    params = {
        "edges": json.dumps(edges),
        "early": early.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lo": lo,
        "hi": hi,
    }
    starts = [b.lo for b in bounds]
    totals: dict[tuple[str, str], list[int]] = {}
    for slot, channel, sent, failed in clinic.conn.execute(_VOLUME, params).fetchall():
        moment = str(slot) if len(str(slot)) > 10 else f"{slot}T00:00:00Z"
        month = bounds[bisect_right(starts, moment) - 1].month
        counts = totals.setdefault((month, str(channel)), [0, 0])
        counts[0] += int(sent)
        counts[1] += int(failed)
    order = {key: n for n, key in enumerate(_ORDER)}
    found = [MessageVolume(m, c, s, f) for (m, c), (s, f) in totals.items()]
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
