"""Batches: sealed envelopes pushed by one device and pulled by every device of a space."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from relay.auth import Caller, StorageDep
from relay.envelope_header import HeaderError, read_header
from relay.errors import bad_request, conflict
from relay.models import BatchOut, BatchPage, Pushed
from relay.routes.responses import AUTHED, binary_body, errors
from relay.settings import MIB, SEAL_ALLOWANCE, Settings

router = APIRouter(tags=["batches"])


@router.post(
    "/v1/batches",
    status_code=201,
    response_model=Pushed,
    responses={
        **AUTHED,
        **errors(409),
        200: {"model": Pushed, "description": "This batch id was stored before: its cursor."},
    },
    openapi_extra=binary_body("A sealed envelope", 4 * MIB + SEAL_ALLOWANCE),
)
async def push_batch(request: Request, caller: Caller, storage: StorageDep) -> JSONResponse:
    """Store an envelope at the space's next cursor (201); the same batch id again
    answers 200 with the cursor it got. A new batch must carry the device's next
    sequence number, else 409 {"error": "sequence", "expected": n}."""
    envelope = await request.body()
    try:
        header = read_header(envelope)
    except HeaderError as error:
        raise bad_request("bad_envelope", str(error)) from None
    if header.clinic_id != caller.space_id:
        raise conflict("wrong_space", "The envelope names another clinic than this device's.")
    if header.device_id != caller.device_id:
        raise conflict("wrong_device", "The envelope names another device than the caller.")
    pushed = await run_in_threadpool(
        storage.push, caller.space_id, caller.device_id, header.batch_id, header.seq, envelope
    )
    return JSONResponse({"cursor": pushed.cursor}, status_code=201 if pushed.created else 200)


@router.get("/v1/batches", responses=AUTHED)
def pull_batches(
    request: Request,
    caller: Caller,
    storage: StorageDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last cursor already held")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many batches")] = 100,
) -> BatchPage:
    """Batches after a cursor, oldest first, the caller's own included. A page also stops
    at about 8 MiB of envelopes (always holding at least one), so read `more` rather
    than counting: ask again after the last cursor while `more` is true."""
    settings: Settings = request.app.state.settings
    page = storage.pull(caller.space_id, after, limit, settings.pull_page_bytes)
    return BatchPage(
        batches=[
            BatchOut(
                cursor=b.cursor,
                device_id=b.device_id,
                seq=b.seq,
                batch_id=b.batch_id,
                envelope=base64.b64encode(b.envelope).decode("ascii"),
            )
            for b in page.batches
        ],
        more=page.more,
        head=page.head,
    )
