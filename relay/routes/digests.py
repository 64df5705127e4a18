"""Digests: desks compare what they hold after a full sync, through the relay.

A digest is a keyed hash the relay cannot invert or forge; the relay only remembers
the first one reported at each cursor and says whether a later one agrees.
"""

from __future__ import annotations

from fastapi import APIRouter

from relay.auth import Caller, StorageDep
from relay.models import DigestIn, DigestResult
from relay.routes.responses import AUTHED, errors

router = APIRouter(tags=["digests"])


@router.post("/v1/digests", responses={**AUTHED, **errors(409)})
def report_digest(body: DigestIn, caller: Caller, storage: StorageDep) -> DigestResult:
    """'recorded' for the first digest at a cursor; then 'match' or 'mismatch' (a
    mismatching desk starts again from a snapshot)."""
    status = storage.report_digest(caller.space_id, caller.device_id, body.cursor, body.digest)
    return DigestResult(status=status)
