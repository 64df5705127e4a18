"""One log line per request: method, route pattern, status, time. Never a body, a
token, a query or the concrete path (an invite id in a path is a ticket)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("relay.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            pattern = getattr(route, "path", None) or "(no route)"
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                pattern,
                status or "-",
                (time.perf_counter() - started) * 1000,
            )
