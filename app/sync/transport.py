"""Byte requests to the relay: envelopes pushed, snapshot pieces sent and fetched.

The JSON calls go through RelaySession.call (app/sync/relay_api.py); these carry
application/octet-stream bodies or answers, and hand back the status and decoded
answer where the caller must tell one refusal from another (a push's sequence 409).
Failures become the same RelayError words as the JSON calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from app.errors import DeviceRevokedError, RelayError
from app.sync.relay_api import NOT_REACHED, REMOVED, RelaySession

log = logging.getLogger(__name__)

_OCTETS = {"Content-Type": "application/octet-stream"}
NOT_UNDERSTOOD = "The sync server answered something Frontdesk does not understand."


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # decoded JSON, or None
    content: bytes


def request(session: RelaySession, method: str, path: str, data: bytes | None = None) -> Answer:
    """One authenticated request; any answer comes back (errors are the caller's), except
    not reaching the relay at all, which raises RelayError with status 0."""
    headers = {"Authorization": f"Bearer {session.token}"}
    if data is not None:
        headers.update(_OCTETS)
    try:
        answer = session.http.request(
            method, session.url + path, data=data, headers=headers, timeout=session.timeout_s
        )
    except requests.RequestException as exc:
        log.info("relay %s not reached: %s", method, type(exc).__name__)
        raise RelayError(NOT_REACHED) from None
    body: Any = None
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = answer.json()
        except ValueError:
            body = None
    return Answer(answer.status_code, body, answer.content)


def refusal(answer: Answer) -> RelayError:
    """The words for an answer that is not a success, as RelaySession.call gives them."""
    status = answer.status
    code = ""
    if isinstance(answer.body, dict) and isinstance(answer.body.get("error"), str):
        code = answer.body["error"]
    if status == 401:
        return DeviceRevokedError(REMOVED, status=status, code=code)
    if status == 429:
        return RelayError(
            "The sync server is busy. Frontdesk tries again in a minute.", status=status, code=code
        )
    if status >= 500:
        return RelayError(
            "The sync server had a problem of its own. Frontdesk tries again later.",
            status=status,
            code=code,
        )
    return RelayError(
        "The sync server refused the request. If it goes on, tell the sync server's administrator.",
        status=status,
        code=code,
    )


def fetch_bytes(session: RelaySession, path: str) -> bytes:
    answer = request(session, "GET", path)
    if answer.status != 200:
        raise refusal(answer)
    return answer.content


def send_bytes(session: RelaySession, method: str, path: str, data: bytes) -> Answer:
    """Send bytes; a 2xx answer back, anything else raised in words."""
    answer = request(session, method, path, data)
    if not 200 <= answer.status < 300:
        raise refusal(answer)
    return answer
