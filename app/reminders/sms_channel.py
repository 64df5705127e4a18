"""The SMS channel: a client for a Twilio-compatible REST API that sends, looks up and polls.

It holds no state of its own: the outbox decides what to send and records what came
back, and this module only turns one request into one typed answer or one typed error.
Errors never carry the number or the text (the provider's own error text often echoes
the number, so it is never copied into a message or a log line).
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from app.errors import FrontdeskError, InvalidInputError
from app.version import __version__

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# Twilio refuses bodies longer than this (in characters, after splitting into parts).
MAX_BODY_CHARACTERS = 1600

_SETTINGS_PLACE = "Settings ▸ Text messages"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_UTC_TEXT = "%Y-%m-%dT%H:%M:%SZ"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# A server asking for a longer pause than this is treated as down for now: the sender
# must not sit in one request for minutes while other messages wait.
_MAX_WAIT_S = 120.0
_FIRST_WAIT_S = 1.0
_LONGEST_BACKOFF_S = 30.0
_MAX_PAGES = 1000

KIND_AUTH = "auth"
KIND_RECIPIENT = "recipient"
KIND_RATE = "rate"
KIND_SERVER = "server"
KIND_CONNECTION = "connection"
KIND_SETTINGS = "settings"


@dataclass(frozen=True)
class SmsAccount:
    """Where and as whom to send; `sender` is an E.164 number or a messaging service SID."""

    account_sid: str
    auth_token: str = field(repr=False)
    sender: str
    base_url: str = "https://api.twilio.com"
    timeout_s: float = 15.0
    max_attempts: int = 4


@dataclass(frozen=True)
class SentSms:
    """The provider accepted the message; `status` is its first state (usually "queued")."""

    provider_id: str
    status: str


@dataclass(frozen=True)
class SmsStatus:
    """Where a sent message is now: queued, sent, delivered, undelivered, failed…"""

    provider_id: str
    status: str
    error_code: str | None


@dataclass(frozen=True)
class InboundSms:
    """A reply from a patient's phone; `received_at` is UTC text like 2026-11-28T15:00:00Z."""

    provider_id: str
    from_number: str
    body: str
    received_at: str


class SmsDeliveryError(FrontdeskError):
    """The SMS service did not take or answer a request; the message says what to do.

    `permanent` means trying the same request again will fail the same way (so the
    outbox falls back to the next channel or marks the message failed); `kind` is one
    of auth, recipient, rate, server, connection, settings. `provider_code` is the
    service's numeric error code when it gave one (never patient data).
    `delivery_unknown` means a text was sent to the service and no clear answer came
    back (a server error, a lost connection, no answer in time): it may be on its way,
    so it must be looked up before it is sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        permanent: bool,
        provider_code: int | None = None,
        delivery_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.permanent = permanent
        self.provider_code = provider_code
        self.delivery_unknown = delivery_unknown


# Twilio error codes that say the number itself cannot get this text; anything else in
# a 400 is about our account, sender or message, which Settings (or the template) fixes.
_RECIPIENT_CODES: Mapping[int, str] = {
    21211: "The patient's mobile number is not a valid number for text messages: "
    "check it on the patient's record.",
    21614: "The patient's number is not a mobile phone and cannot receive text messages: "
    "use another way to reach them.",
    21610: "This patient's phone has replied STOP to the clinic's texts, so the SMS service "
    "will not deliver more: use another way to reach them.",
    21612: "The SMS service cannot reach the patient's number from the clinic's sender: "
    "use another way to reach them.",
    21408: "The SMS account is not allowed to text the patient's country: enable it in the "
    "SMS service's settings, or use another way to reach them.",
}
_SETTINGS_CODES: Mapping[int, str] = {
    21212: f"The sender number is not valid: check it in {_SETTINGS_PLACE}.",
    21606: f"The sender number cannot send text messages: check it in {_SETTINGS_PLACE}.",
    21659: f"The sender number does not belong to this SMS account: check it in {_SETTINGS_PLACE}.",
    21602: "The text message is empty: check the reminder's template.",
    21617: "The text message is too long: shorten the reminder's template.",
}


def _settings_error(message: str) -> SmsDeliveryError:
    return SmsDeliveryError(message, kind=KIND_SETTINGS, permanent=True)


def check_account(account: SmsAccount) -> None:
    """Refuse an account that can never work (Settings checks it on save, the client
    when it is made), with the field to fix in plain words."""
    if not account.account_sid.strip() or not account.auth_token.strip():
        raise _settings_error(
            f"The SMS account is not set up: enter the account SID and token in {_SETTINGS_PLACE}."
        )
    if not account.sender.strip():
        raise _settings_error(
            f"No sender is set for text messages: enter the clinic's SMS number in "
            f"{_SETTINGS_PLACE}."
        )
    parts = urlsplit(account.base_url)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if not parts.hostname or (parts.scheme != "https" and not loopback):
        # The token goes with every request: never over plain HTTP to another machine.
        raise _settings_error(
            f"The SMS service address must start with https://: check it in {_SETTINGS_PLACE}."
        )
    if account.max_attempts < 1 or account.timeout_s <= 0:
        raise _settings_error(
            f"The SMS retry and timeout settings are not valid: check them in {_SETTINGS_PLACE}."
        )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_code(response: requests.Response) -> int | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _refusal(response: requests.Response) -> SmsDeliveryError:
    """The typed error for a final 4xx answer (5xx and 429 are retried before this)."""
    status = response.status_code
    code = _error_code(response)
    if status in (401, 403) or code == 20003:
        return SmsDeliveryError(
            "The SMS account refused the sign-in: check the account SID and token in "
            f"{_SETTINGS_PLACE}.",
            kind=KIND_AUTH,
            permanent=True,
            provider_code=code,
        )
    if code is not None and code in _RECIPIENT_CODES:
        return SmsDeliveryError(
            _RECIPIENT_CODES[code], kind=KIND_RECIPIENT, permanent=True, provider_code=code
        )
    if code is not None and code in _SETTINGS_CODES:
        return SmsDeliveryError(
            _SETTINGS_CODES[code], kind=KIND_SETTINGS, permanent=True, provider_code=code
        )
    if status == 404:
        return SmsDeliveryError(
            "The SMS service does not know this account or message: check the account SID "
            f"in {_SETTINGS_PLACE}.",
            kind=KIND_SETTINGS,
            permanent=True,
            provider_code=code,
        )
    suffix = f" (error {code})" if code is not None else f" (HTTP {status})"
    return SmsDeliveryError(
        f"The SMS service refused the request{suffix}: check the settings in "
        f"{_SETTINGS_PLACE}, or look the error up in the SMS service's help.",
        kind=KIND_SETTINGS,
        permanent=True,
        provider_code=code,
    )


def _gave_up(kind: str, attempts: int) -> SmsDeliveryError:
    tries = "once" if attempts == 1 else f"{attempts} times"
    if kind == KIND_RATE:
        message = (
            f"The SMS service is asking us to slow down (tried {tries}); the message "
            "will be tried again later."
        )
    elif kind == KIND_SERVER:
        message = (
            f"The SMS service is having trouble (tried {tries}); the message will be "
            "tried again later."
        )
    else:
        message = (
            f"Could not reach the SMS service (tried {tries}): check this computer's "
            "internet connection; the message will be tried again later."
        )
    return SmsDeliveryError(message, kind=kind, permanent=False)


def _never_connected(exc: BaseException) -> bool:
    """Whether the request surely never reached the service (refused, no route, no name,
    or no connection in time), so sending it again cannot make a second text."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, urllib3.exceptions.NewConnectionError)


def _maybe_taken(kind: str) -> SmsDeliveryError:
    return SmsDeliveryError(
        "The SMS service did not answer clearly after the text was sent: it may be on its "
        "way. Frontdesk checks with the service before sending it again.",
        kind=kind,
        permanent=False,
        delivery_unknown=True,
    )


def _utc_text(value: object) -> str | None:
    """Twilio dates are RFC 2822 ("Sat, 28 Nov 2026 15:00:00 +0000"); ISO is accepted too."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(_UTC_TEXT)


def _parse_since(since_utc: str) -> str:
    try:
        datetime.strptime(since_utc, _UTC_TEXT)
    except ValueError:
        raise InvalidInputError(
            "The time to look for replies from must be UTC text like 2026-11-28T15:00:00Z."
        ) from None
    return since_utc


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise SmsDeliveryError(
            "The SMS service sent an answer that could not be read; the message will be "
            "tried again later.",
            kind=KIND_SERVER,
            permanent=False,
        )
    return payload


class SmsClient:
    """Talks to one SMS account; safe to keep for the life of the sender thread."""

    def __init__(
        self,
        account: SmsAccount,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_account(account)
        self._account = account
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._base = account.base_url.rstrip("/")
        self._account_url = f"{self._base}/{API_VERSION}/Accounts/{account.account_sid}"
        self._auth = (account.account_sid, account.auth_token)

    @property
    def account(self) -> SmsAccount:
        """The account this client signs in with (the outbox's lookups use it too)."""
        return self._account

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> SmsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the three calls ---------------------------------------------------------------

    def send(self, to: str, body: str, *, key: str) -> SentSms:
        """Hand one text to the service; `key` makes a retried request count once.

        The outbox passes the message's own idempotency key, so a POST whose answer was
        lost (timeout, dropped connection) can be sent again without a second text.
        """
        if not _KEY.fullmatch(key):
            raise InvalidInputError(
                "A text message was given an unusable reference; it was not sent."
            )
        if not _E164.fullmatch(to):
            raise SmsDeliveryError(
                "The patient's mobile number is not in international form: check it on the "
                "patient's record.",
                kind=KIND_RECIPIENT,
                permanent=True,
            )
        if not body.strip():
            raise _settings_error("The text message is empty: check the reminder's template.")
        if len(body) > MAX_BODY_CHARACTERS:
            raise _settings_error(
                f"The text message is longer than {MAX_BODY_CHARACTERS} characters: shorten "
                "the reminder's template."
            )
        form = {"To": to, "Body": body}
        sender = self._account.sender
        # A messaging service SID (MG…) lets the service pick the number; Twilio wants
        # it in its own field rather than in From.
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        # Not repeated blindly: a service that does not honour the key would send a
        # second text for a request it had already acted on.
        response = self._request(
            "POST",
            f"{self._account_url}/Messages.json",
            data=form,
            headers={IDEMPOTENCY_HEADER: key},
            repeatable=False,
        )
        payload = _json_object(response)
        sid = payload.get("sid")
        if not isinstance(sid, str) or not sid:
            raise SmsDeliveryError(
                "The SMS service took the message but sent back no reference; check the "
                "message's state before sending it again.",
                kind=KIND_SERVER,
                permanent=True,
            )
        return SentSms(provider_id=sid, status=str(payload.get("status") or "queued"))

    def status(self, provider_id: str) -> SmsStatus:
        """The message's current state, polled instead of waiting for a callback.

        A desktop app behind the clinic's router cannot receive the service's status
        callbacks, so the sender asks.
        """
        if not re.fullmatch(r"[A-Za-z0-9]+", provider_id):
            raise InvalidInputError("The text message reference is not valid.")
        response = self._request("GET", f"{self._account_url}/Messages/{provider_id}.json")
        payload = _json_object(response)
        code = payload.get("error_code")
        return SmsStatus(
            provider_id=str(payload.get("sid") or provider_id),
            status=str(payload.get("status") or "unknown"),
            error_code=None if code in (None, "") else str(code),
        )

    def inbound(self, since_utc: str) -> list[InboundSms]:
        """Replies received after `since_utc`, oldest first, across every page.

        The service filters by date only, so the whole day is fetched and the time is
        checked here; outbound messages on the same pages are left out.
        """
        since = _parse_since(since_utc)
        params = {"DateSent>": since[:10], "PageSize": "100"}
        sender = self._account.sender
        if not sender.startswith("MG"):
            # A messaging service has no single number to filter on; its replies are
            # told apart by direction alone.
            params["To"] = sender
        url: str | None = f"{self._account_url}/Messages.json"
        query: dict[str, str] | None = params
        seen_pages: set[str] = set()
        found: dict[str, InboundSms] = {}
        while url is not None:
            if url in seen_pages or len(seen_pages) >= _MAX_PAGES:
                log.warning("SMS reply listing stopped: the service repeated a page")
                break
            seen_pages.add(url)
            payload = _json_object(self._request("GET", url, params=query))
            for item in payload.get("messages") or []:
                reply = self._inbound_item(item)
                if reply is not None and reply.received_at > since:
                    found.setdefault(reply.provider_id, reply)
            url, query = self._next_page(payload.get("next_page_uri")), None
        return sorted(found.values(), key=lambda r: (r.received_at, r.provider_id))

    # --- helpers -----------------------------------------------------------------------

    def _next_page(self, uri: object) -> str | None:
        if not isinstance(uri, str) or not uri:
            return None
        url = urljoin(self._base + "/", uri)
        # Only follow pages on the same service: the token goes with the request.
        if urlsplit(url).netloc != urlsplit(self._base).netloc:
            log.warning("SMS reply listing stopped: the next page pointed to another server")
            return None
        return url

    @staticmethod
    def _inbound_item(item: object) -> InboundSms | None:
        if not isinstance(item, dict) or item.get("direction") != "inbound":
            return None
        sid, sender, body = item.get("sid"), item.get("from"), item.get("body")
        when = _utc_text(item.get("date_sent")) or _utc_text(item.get("date_created"))
        if not isinstance(sid, str) or not isinstance(sender, str) or when is None:
            log.warning("An SMS reply without its sender or date was skipped")
            return None
        return InboundSms(sid, sender, body if isinstance(body, str) else "", when)

    def _request(
        self, method: str, url: str, *, repeatable: bool = True, **kwargs: Any
    ) -> requests.Response:
        """One call with retries; returns a 2xx answer or raises SmsDeliveryError.

        A request that is not `repeatable` (sending a text) is tried again only when the
        service surely did not act on it: a 429, or a connection never made. After a
        server error, a lost connection or no answer in time it raises with
        `delivery_unknown`, and the outbox looks the text up before sending it again.
        """
        attempts = self._account.max_attempts
        headers = {
            "Accept": "application/json",
            "User-Agent": f"Frontdesk/{__version__}",
            **kwargs.pop("headers", {}),
        }
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    auth=self._auth,
                    headers=headers,
                    timeout=self._account.timeout_s,
                    **kwargs,
                )
            except requests.exceptions.SSLError:
                # A failed certificate check does not cure itself in seconds (a wrong
                # clock, a filtering proxy): tell the person rather than hammer.
                log.warning("SMS request failed the secure-connection check")
                raise SmsDeliveryError(
                    "The secure connection to the SMS service failed: check this "
                    "computer's date and time, and any network filter; the message will be "
                    "tried again later.",
                    kind=KIND_CONNECTION,
                    permanent=False,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind, reason = KIND_CONNECTION, type(exc).__name__
                if not repeatable and not _never_connected(exc):
                    raise _maybe_taken(kind) from None
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 429:
                    kind, reason = KIND_RATE, "HTTP 429"
                    wait = _retry_after(response)
                elif status >= 500:
                    kind, reason = KIND_SERVER, f"HTTP {status}"
                    if not repeatable:
                        log.warning("SMS send answered HTTP %s: it may have been taken", status)
                        raise _maybe_taken(kind)
                    wait = _retry_after(response)
                else:
                    error = _refusal(response)
                    log.warning(
                        "SMS request refused: HTTP %s, code %s, %s",
                        status,
                        error.provider_code,
                        error.kind,
                    )
                    raise error
            if attempt == attempts:
                log.warning("SMS request gave up after %s attempts (%s)", attempts, reason)
                raise _gave_up(kind, attempts)
            if wait is None:
                wait = min(_FIRST_WAIT_S * 2 ** (attempt - 1), _LONGEST_BACKOFF_S)
            if wait > _MAX_WAIT_S:
                log.warning("SMS service asked for a pause of %.0f s; trying later", wait)
                raise _gave_up(kind, attempt)
            log.info(
                "SMS request retry %s of %s in %.1f s (%s)", attempt + 1, attempts, wait, reason
            )
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
