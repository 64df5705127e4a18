"""What the desktop asks of sync: is it on, how does it stand, and "sync now".

`sync_once` does one whole round (push what is pending, pull and apply what others
sent, compare digests, send a snapshot when one is due) and never lets an error
escape: a relay that is down, slow or talking nonsense becomes a state with words for
the status bar. It blocks while it talks to the relay, so the desktop runs it on a
worker thread with its own connection (`clinic.fork()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.clinic import Clinic
from app.ops import CancelToken, Progress, no_progress
from app.store.changes import Changes
from app.sync.state import State, pending_changes, read_setup


@dataclass(frozen=True)
class SyncStatus:
    """The status bar's line: a state, how many own changes wait, and since when."""

    state: State
    pending: int = 0
    offline_since: datetime | None = None
    last_synced_at: datetime | None = None
    message: str = ""
    conflicts: int = 0  # open conflicts for a manager to look at (Settings ▸ Sync)


@dataclass(frozen=True)
class SyncResult:
    """What one round did: its status afterwards, and what changed here (for the views
    to refresh, like any other write)."""

    status: SyncStatus
    changes: Changes = field(default_factory=Changes)
    pushed: int = 0  # batches the relay accepted
    pulled: int = 0  # batches applied from other workstations


def is_enabled(clinic: Clinic) -> bool:
    """Whether this workstation syncs (set up and not paused)."""
    setup = read_setup(clinic.conn)
    return setup is not None and setup.enabled


def _moment(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def open_conflicts(clinic: Clinic) -> int:
    row = clinic.conn.execute(
        "SELECT count(*) FROM local_sync_conflict c WHERE NOT EXISTS "
        "(SELECT 1 FROM sync_resolution r WHERE r.conflict_key = c.key)"
    ).fetchone()
    return int(row[0])


def status_words(state: State, pending: int, last_error: str) -> str:
    """Plain words for each state; the relay's own trouble is in `last_error`."""
    if state == "off":
        return "Sync is off: this workstation keeps its data to itself."
    if state == "synced":
        return "All changes are synced with the other workstations."
    if state == "syncing":
        return "Syncing with the other workstations…"
    if state == "pending":
        if pending == 1:
            return "1 change is waiting to be sent to the other workstations."
        return f"{pending:,} changes are waiting to be sent to the other workstations."
    if state == "offline":
        return (
            "The sync server cannot be reached. Work goes on here; changes are kept and "
            "sent when it is back."
        )
    if state == "update_needed":
        return (
            "Another workstation uses a newer Frontdesk. Update this one: its changes are "
            "kept until then."
        )
    return last_error or "Sync stopped because of a problem; it will be tried again."


_STALE_ROUND = timedelta(minutes=15)


def _stale(started: str | None) -> bool:
    moment = _moment(started)
    return moment is None or datetime.now(UTC) - moment > _STALE_ROUND


def sync_status(clinic: Clinic) -> SyncStatus:
    """How sync stands on this workstation, read from its own records (no network)."""
    setup = read_setup(clinic.conn)
    if setup is None or not setup.enabled:
        return SyncStatus("off", message=status_words("off", 0, ""))
    pending = pending_changes(clinic.conn, clinic.store.device_id)
    state = setup.state
    if state == "syncing" and _stale(setup.last_attempt_at):
        state = "pending"  # a round that never finished (the program was closed or killed)
    if state == "synced" and pending:
        state = "pending"
    if state == "pending" and not pending and setup.last_synced_at:
        state = "synced"
    return SyncStatus(
        state=state,
        pending=pending,
        offline_since=_moment(setup.offline_since),
        last_synced_at=_moment(setup.last_synced_at),
        message=status_words(state, pending, setup.last_error),
        conflicts=open_conflicts(clinic),
    )


def sync_once(
    clinic: Clinic, cancel: CancelToken | None = None, progress: Progress = no_progress
) -> SyncResult:
    """One round with the relay; the result says how it went (never raises for the
    relay's or the network's trouble). Call it on a worker thread with `clinic.fork()`."""
    if not is_enabled(clinic):
        return SyncResult(sync_status(clinic))
    from app.sync.client import run_round

    return run_round(clinic, cancel=cancel, progress=progress)
