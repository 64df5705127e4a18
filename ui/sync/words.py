"""What the status bar and the Sync tab say about sync, in desk words.

The core's SyncStatus (app/sync/service.py) gives a state and a few facts; these
functions turn them into the sentence a receptionist reads: no "relay", no "cursor",
no "batch", only workstations, changes and the sync server.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Literal, Protocol

from app.sync.relay_api import REMOVED
from app.sync.state import STATES

# The core's states, in the core's order (one list: a new state must get words here).
OFF, SYNCED, PENDING, SYNCING, OFFLINE, ERROR, UPDATE_NEEDED = STATES
UPDATE_WORDS = "Update Frontdesk: another workstation uses a newer version"
REMOVED_WORDS = "Sync stopped: this workstation was removed — ask an administrator"
OFFLINE_TAIL = "changes are kept and sent when the connection is back"
STOPPED = "Sync stopped"


class StatusFacts(Protocol):
    """The fields of app.sync.service.SyncStatus these words read."""

    @property
    def state(self) -> str: ...
    @property
    def pending(self) -> int: ...
    @property
    def offline_since(self) -> datetime | str | None: ...
    @property
    def last_synced_at(self) -> datetime | str | None: ...
    @property
    def message(self) -> str: ...


def as_time(value: datetime | str | None) -> datetime | None:
    """An aware UTC time from what the core stored (a datetime or ISO text)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def changes_words(count: int) -> str:
    return f"{count} change" if count == 1 else f"{count} changes"


def ago(then: datetime, now: datetime, zone: tzinfo) -> str:
    """'just now', '2 min ago', 'at 10:42', 'yesterday at 16:05', 'on 3 Mar at 09:10'."""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 60 * 60:
        return f"{int(seconds // 60)} min ago"
    local, today = then.astimezone(zone), now.astimezone(zone).date()
    clock = f"{local:%H:%M}"
    if local.date() == today:
        return f"at {clock}"
    if (today - local.date()).days == 1:
        return f"yesterday at {clock}"
    return f"on {local.day} {local:%b} at {clock}"


def clock_or_day(then: datetime, now: datetime, zone: tzinfo) -> str:
    """'10:42' today, else 'yesterday 16:05' or '3 Mar 09:10'."""
    local, today = then.astimezone(zone), now.astimezone(zone).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if (today - local.date()).days == 1:
        return f"yesterday {local:%H:%M}"
    return f"{local.day} {local:%b} {local:%H:%M}"


def status_line(status: StatusFacts, now: datetime, zone: tzinfo) -> str:
    """The one line of the status bar ('' when sync is off: the line is hidden)."""
    state = status.state
    if state == OFF:
        return ""
    if state == UPDATE_NEEDED:
        return UPDATE_WORDS
    if state == ERROR:
        if status.message == REMOVED:
            return REMOVED_WORDS
        # The first sentence fits the status bar; the whole reason is in Settings ▸ Sync.
        reason = first_sentence(status.message) or "ask an administrator to look at Settings ▸ Sync"
        return reason if reason.startswith(STOPPED) else f"{STOPPED}: {_lower_first(reason)}"
    if state == OFFLINE:
        since = as_time(status.offline_since)
        when = f" since {clock_or_day(since, now, zone)}" if since else ""
        return f"Offline{when} — {OFFLINE_TAIL}"
    if state == SYNCING:
        if status.pending:
            return f"Syncing — sending {changes_words(status.pending)}…"
        return "Syncing…"
    if state == PENDING or status.pending:
        if status.pending:
            return f"Waiting to send {changes_words(status.pending)}"
        return "Waiting to sync"
    last = as_time(status.last_synced_at)
    return f"Synced {ago(last, now, zone)}" if last else "Synced"


def tone(status: StatusFacts) -> Literal["danger", "warning"] | None:
    """The theme colour of the line: a stop or an update needs someone; the rest is calm."""
    if status.state in (ERROR, UPDATE_NEEDED):
        return "danger"
    if status.state == OFFLINE:
        return "warning"
    return None


def first_sentence(text: str) -> str:
    """'The sync server refused. Tell…' → 'The sync server refused' (no final stop)."""
    head = text.strip().split(". ", 1)[0].strip()
    return head[:-1] if head.endswith(".") else head


def _lower_first(text: str) -> str:
    """'This workstation…' → 'this workstation…'; 'FRONT-DESK-2…' stays as it is."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]
