"""Workstations syncing through the real relay: the first desk starts the space and sends
its starting snapshot; others join with a real code and start from that snapshot
(app/sync/snapshot.join_from_snapshot), exactly as the desktop does.

`first_desk(clinic, relay_url)` needs an administrator acting on `clinic` (import
`tests.support.acting.administrator_acting` into the test module).
"""

from __future__ import annotations

from pathlib import Path

from app.clinic import Clinic
from app.sync.client import run_round
from app.sync.enrollment import (
    admit,
    claim,
    create_invite,
    start_space,
    wait_for_claim,
    wait_for_package,
)
from app.sync.service import SyncResult
from app.sync.snapshot import join_from_snapshot


def first_desk(clinic: Clinic, relay_url: str) -> Clinic:
    """Connect the clinic to the relay and send its starting snapshot (its first round)."""
    start_space(clinic, relay_url)
    result = sync(clinic)
    assert result.status.state == "synced", result.status.message
    return clinic


def join_desk(existing: Clinic, home: Path) -> Clinic:
    """A new workstation joined through a real code, started from the relay's snapshot,
    and caught up with a first round."""
    invite = create_invite(existing)
    pending = claim(invite.code)
    seen = wait_for_claim(existing, invite, poll_seconds=0.05)
    admit(existing, invite, seen)
    joined = wait_for_package(pending, poll_seconds=0.05)
    desk = join_from_snapshot(joined, home)
    result = sync(desk)
    assert result.status.state in ("synced", "pending"), result.status.message
    return desk


def sync(desk: Clinic, timeout_s: float = 10.0) -> SyncResult:
    return run_round(desk, timeout_s=timeout_s)


def settle(*desks: Clinic, rounds: int = 3) -> None:
    """Rounds on every desk until all have pushed and pulled everything."""
    for _ in range(rounds):
        for desk in desks:
            result = sync(desk)
            assert result.status.state in ("synced", "pending"), result.status.message


def push_as(desk: Clinic, data: bytes, *, data_key: bytes | None = None) -> None:
    """Push a payload as `desk`'s next batch straight to the relay (sealed with `data_key`,
    by default the key the desk seals with), moving the desk's batch number on as its own
    push would: a batch a differently built Frontdesk might send."""
    import uuid

    import requests

    from app.sync.envelope import seal
    from app.sync.rotation import sealing_key

    address, token, seq = desk.conn.execute(
        "SELECT relay_url, device_token, batch_seq + 1 FROM local_sync"
    ).fetchone()
    key = data_key or sealing_key(desk)
    envelope = seal(key, desk.clinic_id, desk.store.device_id, seq, uuid.uuid4().hex, data)
    answer = requests.post(
        f"{address}/v1/batches",
        data=envelope,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    desk.conn.execute("UPDATE local_sync SET batch_seq = ?", (seq,))
