"""The sender lease: which one desk of a clinic sends the outbound messages."""

from __future__ import annotations

from fastapi import APIRouter, Response

from relay.auth import Caller, StorageDep
from relay.models import LeaseClaim, LeaseResult, SenderState
from relay.routes.responses import AUTHED

router = APIRouter(tags=["sender"])


@router.get("/v1/sender", responses=AUTHED)
def sender(caller: Caller, storage: StorageDep) -> SenderState:
    """Who holds the sender role now (null when nobody or the lease ran out)."""
    lease = storage.lease(caller.space_id)
    return SenderState(holder=lease.holder, expires_in=round(lease.expires_in, 3))


@router.post("/v1/sender/claim", responses=AUTHED)
def claim_sender(body: LeaseClaim, caller: Caller, storage: StorageDep) -> LeaseResult:
    """Claim or renew the sender role for `lease_seconds`. Granted at once when nobody
    holds it, the lease ran out, or the caller holds it (a renewal). With `take_over`
    it is granted from another holder, who is refused from then on; the caller sends
    only after `wait_seconds` (what remained of the old lease)."""
    lease = storage.claim_lease(
        caller.space_id, caller.device_id, float(body.lease_seconds), body.take_over
    )
    return LeaseResult(
        granted=lease.granted,
        holder=lease.holder,
        expires_in=round(lease.expires_in, 3),
        wait_seconds=round(lease.wait_seconds, 3),
    )


@router.post("/v1/sender/release", status_code=204, response_class=Response, responses=AUTHED)
def release_sender(caller: Caller, storage: StorageDep) -> None:
    """Give up the sender role (nothing happens when the caller does not hold it)."""
    storage.release_lease(caller.space_id, caller.device_id)
