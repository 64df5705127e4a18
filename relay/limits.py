"""Rate limits (token buckets) and body size limits, as ASGI middleware.

Rate limits are token buckets kept in this process's memory: one per device token
(keyed by the token's hash, valid or not), one per client address, and a stricter one
per address for unauthenticated invite claims. With several relay processes behind a
load balancer each process counts on its own, so a client can get up to N times the
rate; that is accepted (the limits protect the relay from floods, they do not meter
anyone). Behind a reverse proxy, start the relay with --forwarded-allow-ips so the
client address is the real one, not the proxy's.

Body limits are checked twice: a Content-Length above the limit is refused before a
byte is read, and a body sent without one (chunked) is counted as it arrives and
refused once it passes the limit. Accepted bodies are buffered (16 MiB at most) and
handed on to the application.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.errors import ApiError, bad_request, too_large, too_many
from relay.settings import Settings

_CLAIM_PATH = re.compile(r"^/v1/invites/[^/]+/claim/?$")
_CHUNK_PATH = re.compile(r"^/v1/snapshots/[^/]+/chunks/[^/]+/?$")
_BATCHES_PATH = re.compile(r"^/v1/batches/?$")
_MAX_BUCKETS = 100_000  # idle full buckets are forgotten past this many


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `rate` per second, one per key."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """0 when the request may go on; otherwise the seconds until it could."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    self._forget_full(now)
                if len(self._buckets) >= _MAX_BUCKETS:  # a flood of new keys: start afresh
                    self._buckets.clear()
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


async def send_error(error: ApiError, send: Send) -> None:
    """An ApiError as a complete JSON response, from middleware below FastAPI's handlers."""
    body = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


class RateLimitMiddleware:
    """429 with Retry-After when a token, an address or an address's claims go too fast."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.by_token = TokenBuckets(settings.token_rate, settings.token_burst)
        self.by_address = TokenBuckets(settings.address_rate, settings.address_burst)
        self.claims = TokenBuckets(settings.claim_rate, settings.claim_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        waits = [self.by_address.take(address)]
        if _CLAIM_PATH.match(scope["path"]):
            waits.append(self.claims.take(address))
        authorization = _header(scope, b"authorization")
        if authorization:
            waits.append(self.by_token.take(hashlib.sha256(authorization).hexdigest()))
        wait = max(waits)
        if wait > 0:
            await send_error(too_many(max(1, math.ceil(wait))), send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a body over the route's limit, by Content-Length or while it streams."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, method: str, path: str) -> int:
        if method == "PUT" and _CHUNK_PATH.match(path):
            return self.settings.max_chunk_bytes
        if method == "POST" and _BATCHES_PATH.match(path):
            return self.settings.max_batch_bytes
        return self.settings.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_error(bad_request("bad_length", "Content-Length is not a number."), send)
                return
            if length > limit:
                await send_error(too_large(limit), send)
                return
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(too_large(limit), send)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
