"""Invites: how a new workstation enrolls without the relay seeing the clinic key.

The existing desk registers an invite id; the new desk claims it (no token: knowing
the id is the ticket) with its public key and a proof only the existing desk can
check; the existing desk checks it and leaves a package sealed to the new desk's key;
the new desk fetches it once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from relay.auth import Caller, StorageDep, hash_token, new_token
from relay.errors import conflict, gone, not_found
from relay.models import (
    Claim,
    Claimed,
    Id,
    InviteCreated,
    InviteState,
    NewInvite,
    PackageIn,
    PackageOut,
)
from relay.routes.responses import AUTHED, errors

router = APIRouter(tags=["invites"])
InviteId = Annotated[Id, Path()]


@router.post("/v1/invites", status_code=201, responses={**AUTHED, **errors(409)})
def create_invite(body: NewInvite, caller: Caller, storage: StorageDep) -> InviteCreated:
    """Register an invite id for the caller's space, claimable for `expires_in` seconds."""
    if not storage.create_invite(
        caller.space_id, caller.device_id, body.invite_id, body.expires_in
    ):
        raise conflict("invite_exists", "This invite id is taken; make a new one.")
    return InviteCreated(invite_id=body.invite_id, expires_in=body.expires_in)


@router.post("/v1/invites/{invite_id}/claim", status_code=201, responses=errors(409, 410))
def claim_invite(invite_id: InviteId, body: Claim, storage: StorageDep) -> Claimed:
    """Enroll a new device with an invite (once). Unknown, expired and used invites all
    get the same 410, so the answer tells a guesser nothing."""
    token = new_token()
    space_id = storage.claim_invite(
        invite_id,
        body.device_id,
        body.public_key,
        body.proof,
        hash_token(token),
        sealed_name=body.sealed_name,
    )
    if space_id is None:
        raise gone("invite_gone", "This enrollment code is not valid any more; make a new one.")
    return Claimed(token=token, space_id=space_id)


@router.get("/v1/invites/{invite_id}", responses={**AUTHED, **errors(404)})
def invite_state(invite_id: InviteId, caller: Caller, storage: StorageDep) -> InviteState:
    """Whether the invite was claimed, and by which device with which key, proof and
    sealed name."""
    invite = storage.invite(caller.space_id, invite_id)
    if invite is None:
        raise not_found("no_invite", "This space has no such invite.")
    return InviteState(
        state="claimed" if invite.claimed else "waiting",
        device_id=invite.device_id,
        public_key=invite.public_key,
        proof=invite.proof,
        sealed_name=invite.sealed_name,
    )


@router.put(
    "/v1/invites/{invite_id}/package",
    status_code=204,
    response_class=Response,
    responses={**AUTHED, **errors(404, 409)},
)
def put_package(invite_id: InviteId, body: PackageIn, caller: Caller, storage: StorageDep) -> None:
    """Leave the sealed package for the device that claimed the invite."""
    storage.put_package(caller.space_id, invite_id, body.package)


@router.get("/v1/invites/{invite_id}/package", responses={**AUTHED, **errors(404)})
def take_package(invite_id: InviteId, caller: Caller, storage: StorageDep) -> PackageOut:
    """The package, for the claiming device only, handed over once (404 until it is there)."""
    package = storage.take_package(caller.space_id, invite_id, caller.device_id)
    if package is None:
        raise not_found("no_package", "No package is waiting for this device (yet).")
    return PackageOut(package=package)
