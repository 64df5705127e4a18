"""Talking to the relay: one sync round (push, pull, digest, snapshot) and its outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.ops import CancelToken, Progress, no_progress

if TYPE_CHECKING:
    from app.clinic import Clinic
    from app.sync.service import SyncResult


def run_round(
    clinic: Clinic, *, cancel: CancelToken | None = None, progress: Progress = no_progress
) -> SyncResult:
    """Placeholder until the relay client lands: reports the status without contacting."""
    from app.sync.service import SyncResult, sync_status

    return SyncResult(sync_status(clinic))
