"""Batches: sealed envelopes pushed by one device and pulled by every device of a space."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from relay.auth import Caller, StorageDep
from relay.envelope_header import HeaderError, read_header
from relay.errors import bad_request, conflict, unauthorized
from relay.models import BatchOut, BatchPage, Pushed
from relay.routes.responses import AUTHED, binary_body, errors
from relay.settings import MIB, SEAL_ALLOWANCE, Settings
from relay.waits import Waits

router = APIRouter(tags=["batches"])

# The longest a pull may wait for a batch (a client asks for a little less than its own
# read timeout; proxies often cut idle requests after 60 s).
MAX_WAIT_SECONDS = 30


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
    if pushed.created:
        waits: Waits = request.app.state.waits
        waits.pushed(caller.space_id, pushed.cursor)
    return JSONResponse({"cursor": pushed.cursor}, status_code=201 if pushed.created else 200)


@router.get("/v1/batches", responses=AUTHED)
async def pull_batches(
    request: Request,
    caller: Caller,
    storage: StorageDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last cursor already held")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many batches")] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            allow_inf_nan=False,
            description="when nothing is after the cursor, wait up to this many seconds "
            "for a batch to arrive (a long-poll); 0 answers at once",
        ),
    ] = 0,
) -> BatchPage:
    """Batches after a cursor, oldest first, the caller's own included. A page also stops
    at about 8 MiB of envelopes (always holding at least one), so read `more` rather
    than counting: ask again after the last cursor while `more` is true.

    With `wait`, a pull that finds nothing waits until a batch arrives in the space
    (then answers with it at once), the wait runs out (an empty page) or the relay
    stops (an empty page, early): a desk learns of another desk's work within moments
    without asking again and again. Waiting holds no thread of the relay."""
    settings: Settings = request.app.state.settings
    page = await run_in_threadpool(
        storage.pull, caller.space_id, after, limit, settings.pull_page_bytes
    )
    if not page.batches and wait > 0:
        waits: Waits = request.app.state.waits
        arrived = await _wait_or_hang_up(
            request, waits.past(caller.space_id, after, page.head, wait)
        )
        if arrived:
            # The device may have been removed while it waited: it gets nothing new.
            if not await run_in_threadpool(
                storage.device_active, caller.space_id, caller.device_id
            ):
                raise unauthorized()
            page = await run_in_threadpool(
                storage.pull, caller.space_id, after, limit, settings.pull_page_bytes
            )
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


async def _wait_or_hang_up(request: Request, waiting: Coroutine[Any, Any, bool]) -> bool:
    """The wait's outcome, or False as soon as the caller hangs up (nobody to answer)."""
    wait = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(_hung_up(request))
    try:
        await asyncio.wait({wait, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (wait, gone):
            task.cancel()
    return wait.done() and not wait.cancelled() and wait.result()


async def _hung_up(request: Request) -> None:
    """Returns when the client disconnects (a GET's body was read; nothing else comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
