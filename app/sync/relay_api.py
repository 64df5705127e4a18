"""The relay's calls for spaces, invites, devices, key mailboxes and the sender lease.

One thin typed wrapper per call of the relay API (v1), with one translation of what can
go wrong into words: not reachable, busy, refused, this desk removed. Batches, snapshots
and digests are the sync engine's (app/sync/client.py); these are the calls around them
that enrollment, device management, key rotation and the single sender need.

Only https is accepted, except on this computer (loopback), where tests and a relay run
for one desk need no certificate: the relay sees only ciphertext, but the device token
in each request must not travel in the clear.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import requests

from app.errors import DeviceRevokedError, RelayError, SyncError

if TYPE_CHECKING:
    from app.clinic import Clinic

log = logging.getLogger(__name__)

TIMEOUT_S: Final = 15.0
_LOOPBACK_NAMES: Final = frozenset({"localhost"})

NOT_REACHED: Final = (
    "The sync server could not be reached. Check the internet connection; Frontdesk keeps "
    "working here and tries again."
)
REMOVED: Final = (
    "This workstation was removed from the clinic's sync, so it no longer sends or "
    "receives changes. An administrator can add it again from another workstation."
)


def check_relay_url(url: str) -> str:
    """The relay address as it will be used (no trailing slash), or InvalidRelayUrl words."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RelayError(
            "The sync server address should look like https://sync.example.org (as the sync "
            "server's administrator gave it)."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise RelayError("The sync server address should be only https:// and the server's name.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise RelayError(
            "The sync server address must start with https:// so the connection is encrypted "
            "(plain http:// only for a sync server on this same computer)."
        )
    return text


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class RelaySession:
    """One relay address, this desk's token once it has one, and a pooled HTTP session."""

    url: str
    token: str = ""
    timeout_s: float = TIMEOUT_S
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.url = check_relay_url(self.url)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RelaySession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
        absent_ok: bool = False,
    ) -> Any:
        """Send one request; the decoded JSON answer (None for 204, or for 404 when
        `absent_ok`). Anything else raises RelayError (DeviceRevokedError for 401)."""
        sent = dict(headers or {})
        if auth:
            if not self.token:
                raise RelayError("This workstation is not connected to a sync server yet.")
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            answer = self.http.request(
                method, self.url + path, json=body, headers=sent, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            log.info("relay %s %s not reached: %s", method, _route(path), type(exc).__name__)
            raise RelayError(NOT_REACHED) from None
        status = answer.status_code
        if status == 204:
            return None
        if status == 404 and absent_ok:
            return None
        if 200 <= status < 300:
            try:
                return answer.json()
            except ValueError:
                raise RelayError(
                    "The sync server answered something Frontdesk does not understand. Check "
                    "the sync server address.",
                    status=status,
                ) from None
        code = _error_code(answer)
        log.info("relay %s %s refused: %s %s", method, _route(path), status, code)
        if status == 401 and auth:
            raise DeviceRevokedError(REMOVED, status=status, code=code)
        if status == 429:
            wait = answer.headers.get("Retry-After", "")
            after = f" in {wait} seconds" if wait.isdigit() else " in a minute"
            raise RelayError(
                f"The sync server is busy. Frontdesk tries again{after}.", status=status, code=code
            )
        if status >= 500:
            raise RelayError(
                "The sync server had a problem of its own. Frontdesk tries again later.",
                status=status,
                code=code,
            )
        raise RelayError(
            "The sync server refused the request. If it goes on, tell its administrator.",
            status=status,
            code=code,
        )


SERVER_READY: Final = "The sync server answered: it is ready."
NOT_A_SYNC_SERVER: Final = (
    "Something answered at that address, but it is not a Frontdesk sync server. Check the "
    "address the sync server's administrator gave."
)


def check_relay(url: str) -> str:
    """Whether a sync server answers at `url`, before anything is sent to it (no token,
    nothing of the clinic): its words when it is ready; RelayError with the words of
    what is wrong otherwise (address, not reached, busy, not a sync server)."""
    with RelaySession(url) as session:
        try:
            answer = session.call("GET", "/v1/health", auth=False)
        except RelayError as exc:
            if exc.status in (404, 405):  # a web server, but without the sync API
                raise RelayError(NOT_A_SYNC_SERVER, status=exc.status, code=exc.code) from None
            raise
    if not isinstance(answer, dict) or answer.get("status") != "ok":
        raise RelayError(NOT_A_SYNC_SERVER)
    return SERVER_READY


def session_for(clinic: Clinic) -> RelaySession:
    """A session with this desk's relay and token; refuses when sync is not set up."""
    from app.sync.state import read_setup

    setup = read_setup(clinic.conn)
    if setup is None or not setup.device_token:
        raise SyncError("This workstation is not connected to a sync server.")
    return RelaySession(setup.relay_url, setup.device_token)


def _error_code(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) else ""


def _route(path: str) -> str:
    """The path without ids, for the log (ids are not secret, but they say nothing useful)."""
    return "/".join(p if p.isalpha() or p == "v1" else "…" for p in path.split("/"))


def require_mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RelayError("The sync server answered something Frontdesk does not understand.")
    return value


def require_text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise RelayError("The sync server answered something Frontdesk does not understand.")
    return value


def require_number(values: Mapping[str, Any], name: str) -> float:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RelayError("The sync server answered something Frontdesk does not understand.")
    return float(value)
