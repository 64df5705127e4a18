"""Snapshots: a whole sealed database in pieces, from which a new device starts.

A device begins a snapshot (its cursor, number of pieces, size), uploads the pieces
in any order (a piece may be sent again until completion), and completes it; only a
completed snapshot is offered. The relay keeps the newest two completed snapshots of
a space and drops unfinished ones a day after they were begun.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from relay.auth import Caller, StorageDep
from relay.errors import ApiError, not_found
from relay.models import NewSnapshot, Snapshot, SnapshotCreated
from relay.routes.responses import AUTHED, BINARY_SCHEMA, binary_body, errors, iso
from relay.settings import MIB, SEAL_ALLOWANCE, Settings

router = APIRouter(tags=["snapshots"])
SnapshotId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
ChunkIndex = Annotated[int, Path(ge=0, le=1_000_000)]


@router.post("/v1/snapshots", status_code=201, responses={**AUTHED, **errors(409)})
def begin_snapshot(
    body: NewSnapshot, request: Request, caller: Caller, storage: StorageDep
) -> SnapshotCreated:
    """Begin uploading a snapshot taken at `cursor` (no later than the space's head)."""
    settings: Settings = request.app.state.settings
    if body.chunks > settings.max_snapshot_chunks:
        raise ApiError(
            422,
            "too_many_chunks",
            f"A snapshot has at most {settings.max_snapshot_chunks:,} pieces.",
        )
    snapshot_id = storage.begin_snapshot(
        caller.space_id, caller.device_id, body.cursor, body.chunks, body.size
    )
    return SnapshotCreated(snapshot_id=snapshot_id)


@router.put(
    "/v1/snapshots/{snapshot_id}/chunks/{n}",
    status_code=204,
    response_class=Response,
    responses={**AUTHED, **errors(404, 409)},
    openapi_extra=binary_body("One sealed piece", 16 * MIB + SEAL_ALLOWANCE),
)
async def put_chunk(
    snapshot_id: SnapshotId, n: ChunkIndex, request: Request, caller: Caller, storage: StorageDep
) -> None:
    """Upload piece n (0 … chunks-1) of a snapshot this device began."""
    data = await request.body()
    await run_in_threadpool(
        storage.put_chunk, caller.space_id, snapshot_id, caller.device_id, n, data
    )


@router.post(
    "/v1/snapshots/{snapshot_id}/complete",
    status_code=204,
    response_class=Response,
    responses={**AUTHED, **errors(404, 409)},
)
def complete_snapshot(snapshot_id: SnapshotId, caller: Caller, storage: StorageDep) -> None:
    """Offer the snapshot to new devices; 409 {"error": "missing_chunks", "missing": [...]}
    while a piece is missing."""
    storage.complete_snapshot(caller.space_id, snapshot_id, caller.device_id)


@router.get("/v1/snapshots/latest", responses={**AUTHED, **errors(404)})
def latest_snapshot(caller: Caller, storage: StorageDep) -> Snapshot:
    """The completed snapshot with the highest cursor, or 404 when there is none."""
    found = storage.latest_snapshot(caller.space_id)
    if found is None:
        raise not_found("no_snapshot", "This space has no snapshot yet.")
    return Snapshot(
        snapshot_id=found.snapshot_id,
        cursor=found.cursor,
        chunks=found.chunks,
        size=found.size,
        device_id=found.device_id,
        created_at=iso(found.created_at) or "",
    )


@router.get(
    "/v1/snapshots/{snapshot_id}/chunks/{n}",
    response_class=Response,
    responses={
        **AUTHED,
        **errors(404),
        200: {
            "description": "The piece's bytes.",
            "content": {"application/octet-stream": {"schema": BINARY_SCHEMA}},
        },
    },
)
async def get_chunk(
    snapshot_id: SnapshotId, n: ChunkIndex, caller: Caller, storage: StorageDep
) -> Response:
    """Piece n of a completed snapshot of the caller's space."""
    data = await run_in_threadpool(storage.chunk, caller.space_id, snapshot_id, n)
    if data is None:
        raise not_found("no_chunk", "This space has no completed snapshot with that piece.")
    return Response(content=data, media_type="application/octet-stream")
