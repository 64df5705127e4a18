"""The relay as an ASGI application: `create_app(settings)` wires storage, limits,
error answers and the endpoints."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from relay import __version__
from relay.access_log import AccessLogMiddleware
from relay.errors import ApiError
from relay.limits import BodyLimitMiddleware, RateLimitMiddleware
from relay.routes import batches, digests, invites, keys, sender, snapshots, spaces
from relay.routes.responses import COMMON
from relay.settings import Settings
from relay.storage import open_storage
from relay.waits import Waits

log = logging.getLogger("relay")

_DESCRIPTION = """\
Stores and forwards a clinic's sealed sync batches between its workstations. It sees
only ciphertext, device ids and sizes; a device authenticates with a bearer token the
relay hands out once (stored as a SHA-256 hash). Errors are
`{"error": "<code>", "message": "<plain words>"}` with a 4xx status.
"""


def create_app(settings: Settings) -> FastAPI:
    """A relay application on the settings' database (opened now, closed at shutdown)."""
    storage = open_storage(settings)
    waits = Waits(storage, settings.wait_check_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        waits.close()
        storage.close()

    app = FastAPI(
        title="Frontdesk sync relay",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        responses=COMMON,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(_no_unknown_query)],
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.waits = waits
    for module in (spaces, invites, batches, snapshots, digests, sender, keys):
        app.include_router(module.router)

    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    # Outermost first: log every answer, then refuse floods before reading bodies.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(AccessLogMiddleware)
    return app


def _no_unknown_query(request: Request) -> None:
    """A query parameter the endpoint does not take is a malformed request (422), not
    something to ignore: a misspelt `afer=` would otherwise pull from the start."""
    if not request.query_params:
        return
    dependant = getattr(request.scope.get("route"), "dependant", None)
    allowed = _query_names(dependant) if isinstance(dependant, Dependant) else set()
    if not set(request.query_params.keys()) <= allowed:
        takes = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422, "invalid_request", f"Unknown query parameter; this address takes: {takes}."
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _json(
    status: int, body: dict[str, object], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return _json(error.status, error.body(), error.headers)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return _json(400, {"error": "malformed_json", "message": "The body is not valid JSON."})
    # Where and what, never the value sent (it could be anything).
    words = "; ".join(
        f"{'.'.join(str(part) for part in p.get('loc', ()))}: {p.get('msg', 'invalid')}"
        for p in problems[:5]
    )
    return _json(422, {"error": "invalid_request", "message": words or "Invalid request."})


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(error.status_code, f"http_{error.status_code}")
    message = {
        404: "There is no such address on this relay.",
        405: "This address does not take that method.",
    }.get(error.status_code, str(error.detail))
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return _json(error.status_code, {"error": code, "message": message}, headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route's,
    and GET and PUT of one path are two routes here)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # The type only: an exception's text could quote a request.
    log.error("unexpected %s in %s %s", type(error).__name__, request.method, request.url.path)
    return _json(500, {"error": "internal", "message": "The relay failed; this was logged."})
