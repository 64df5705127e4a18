"""The relay's refusals: one exception type carrying the HTTP status and the JSON error.

Every refusal leaves the relay as `{"error": "<code>", "message": "<plain words>"}`
(plus a few named extra fields, such as `expected` for a sequence gap), so a client
can branch on the code and show the words. Messages never echo request bodies.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """A request the relay refuses, with the status and body it answers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, **self.extra}


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def unauthorized(message: str = "This device is not enrolled here (or was removed).") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def conflict(code: str, message: str, **extra: object) -> ApiError:
    return ApiError(409, code, message, extra=extra)


def gone(code: str, message: str) -> ApiError:
    return ApiError(410, code, message)


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, "too_large", f"The request body is larger than this relay accepts ({limit:,} bytes)."
    )


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests; try again in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def unavailable(
    message: str = "The relay's database is not reachable; try again soon.",
) -> ApiError:
    return ApiError(503, "unavailable", message, headers={"Retry-After": "5"})
