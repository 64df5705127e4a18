"""What the endpoints share: documented error answers, times as text, binary bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relay.models import ErrorBody

_WHY = {
    400: "Malformed request (not JSON, not an envelope, a bad header).",
    401: "No device token, an unknown one, or a revoked device's.",
    403: "Not allowed (a wrong registration key).",
    404: "Nothing of that id in the caller's space.",
    409: "Conflicts with what the relay holds (see `error`).",
    410: "The invite is unknown, expired or used (one answer for all three).",
    413: "The body is too large.",
    422: "A field is missing or out of range.",
    429: "Too many requests: wait for Retry-After seconds.",
    503: "The relay's database is not reachable.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these refusals, all with the ErrorBody schema."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


# The refusals any endpoint may give (limits, malformed requests).
COMMON = errors(400, 413, 422, 429, 503)
AUTHED = errors(401)

BINARY_SCHEMA = {"type": "string", "format": "binary"}


def binary_body(description: str, max_bytes: int) -> dict[str, Any]:
    """openapi_extra declaring an application/octet-stream request body."""
    return {
        "requestBody": {
            "required": True,
            "description": f"{description} (at most {max_bytes:,} bytes)",
            "content": {"application/octet-stream": {"schema": BINARY_SCHEMA}},
        }
    }


def iso(moment: float | None) -> str | None:
    """A stored time (seconds since the epoch) as ISO 8601 UTC text."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
