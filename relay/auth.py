"""Device tokens: made here, handed out once, stored only as SHA-256 hashes.

A token is 256 random bits; a stolen copy of the relay's database holds only hashes,
which open nothing. Looking a token up by its hash leaks no useful timing (the hash
of a guess says nothing about any stored hash); the final comparison is constant-time
all the same. A revoked device's token is refused on its very next request: the
revocation is read from the database each time, never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from relay.errors import unauthorized
from relay.storage.base import Storage

# Easy to spot in a leaked file (and for secret scanners); not a secret itself.
TOKEN_PREFIX = "fdr1_"  # noqa: S105
_TOUCH_EVERY = 60.0  # seconds between writes of a device's last_seen_at

bearer = HTTPBearer(auto_error=False, description="The device token the relay handed out.")


@dataclass(frozen=True)
class Device:
    """The caller: one device of one space."""

    space_id: str
    device_id: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def authenticate(storage: Storage, token: str) -> Device:
    """The device a token belongs to; 401 for unknown, malformed or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise unauthorized()
    digest = hash_token(token)
    owner = storage.token_owner(digest)
    if owner is None or not hmac.compare_digest(owner.token_hash, digest) or owner.revoked:
        raise unauthorized()
    if owner.last_seen_at is None or storage.clock() - owner.last_seen_at > _TOUCH_EVERY:
        storage.touch_device(owner.space_id, owner.device_id)
    return Device(owner.space_id, owner.device_id)


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def current_device(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Device:
    """FastAPI dependency: the authenticated caller, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("This request needs a device token (Authorization: Bearer …).")
    return authenticate(storage_of(request), credentials.credentials)


Caller = Annotated[Device, Depends(current_device)]
StorageDep = Annotated[Storage, Depends(storage_of)]
