"""Key packages: after a key rotation, the new data key sealed to each remaining desk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from relay.auth import Caller, StorageDep
from relay.models import Id, KeyPackageOut, KeyPackages, PackageIn
from relay.routes.responses import AUTHED, errors

router = APIRouter(tags=["keys"])


@router.put(
    "/v1/keys/{key_id}/devices/{device_id}",
    status_code=204,
    response_class=Response,
    responses={**AUTHED, **errors(404)},
)
def put_key_package(
    key_id: Annotated[Id, Path()],
    device_id: Annotated[Id, Path()],
    body: PackageIn,
    caller: Caller,
    storage: StorageDep,
) -> None:
    """Leave key `key_id`, sealed to `device_id` (an enrolled, unrevoked device of the
    caller's space); a second put for the same key and device replaces the first."""
    storage.put_key_package(caller.space_id, caller.device_id, key_id, device_id, body.package)


@router.get("/v1/keys", responses=AUTHED)
def key_packages(caller: Caller, storage: StorageDep) -> KeyPackages:
    """Every key package addressed to the calling device."""
    return KeyPackages(
        packages=[
            KeyPackageOut(key_id=p.key_id, from_device=p.from_device, package=p.package)
            for p in storage.key_packages(caller.space_id, caller.device_id)
        ]
    )
