"""Health, spaces (one per clinic) and the devices enrolled in them."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from relay import __version__
from relay.auth import Caller, StorageDep, hash_token, new_token
from relay.errors import conflict, forbidden, not_found
from relay.models import DeviceOut, Devices, Health, Id, NewSpace, Token
from relay.routes.responses import AUTHED, errors, iso
from relay.settings import Settings

router = APIRouter()


@router.get("/v1/health", tags=["health"])
async def health() -> Health:
    """Whether the relay answers (no token needed; touches no database)."""
    return Health(status="ok", version=__version__)


@router.post("/v1/spaces", status_code=201, tags=["spaces"], responses=errors(403, 409))
async def create_space(
    body: NewSpace,
    request: Request,
    storage: StorageDep,
    registration: Annotated[
        str | None,
        Header(
            alias="X-Relay-Registration",
            description="the relay's registration key, when it was started with one",
        ),
    ] = None,
) -> Token:
    """Open a space for a clinic (space id = clinic id) with its first device."""
    settings: Settings = request.app.state.settings
    if settings.registration_key is not None and not hmac.compare_digest(
        (registration or "").encode(), settings.registration_key.encode()
    ):
        raise forbidden("registration", "This relay needs its registration key to open a space.")
    token = new_token()
    made = await run_in_threadpool(
        storage.create_space, body.space_id, body.device_id, hash_token(token)
    )
    if not made:
        raise conflict("space_exists", "This relay already has a space with that id.")
    return Token(token=token)


@router.get("/v1/devices", tags=["devices"], responses=AUTHED)
def list_devices(caller: Caller, storage: StorageDep) -> Devices:
    """Every device ever enrolled in the caller's space, revoked ones included."""
    return Devices(
        devices=[
            DeviceOut(
                device_id=d.device_id,
                enrolled_at=iso(d.enrolled_at) or "",
                last_seen_at=iso(d.last_seen_at),
                revoked_at=iso(d.revoked_at),
            )
            for d in storage.devices(caller.space_id)
        ]
    )


@router.post(
    "/v1/devices/{device_id}/revoke",
    status_code=204,
    response_class=Response,
    tags=["devices"],
    responses={**AUTHED, **errors(404)},
)
def revoke_device(device_id: Annotated[Id, Path()], caller: Caller, storage: StorageDep) -> None:
    """Revoke a device of the caller's space for good: its token fails at once."""
    if not storage.revoke_device(caller.space_id, device_id):
        raise not_found("no_device", "This space has no device with that id.")
