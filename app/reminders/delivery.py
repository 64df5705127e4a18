"""Handing one drafted message to its channel, and what the sender should make of a failure.

The channels (email_channel, sms_channel) raise typed errors with a kind and a permanent
flag; the sender needs one of five verdicts instead: try the next channel, try this message
later, leave the whole channel alone for this pass (and tell the staff when it is the
account), or stop because it may already have arrived. That mapping lives here, next to
the calls, so the outbox code reads as the protocol and nothing else.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final

import requests

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.reminders import accounts
from app.reminders.email_channel import EmailDeliveryError, OutgoingEmail, SmtpSettings, send_email
from app.reminders.sms_channel import (
    API_VERSION,
    MAX_BODY_CHARACTERS,
    SmsAccount,
    SmsClient,
    SmsDeliveryError,
)
from app.store.writer import utc_text

log = logging.getLogger(__name__)

# The verdicts on a failed delivery.
NEXT_CHANNEL: Final = "next_channel"
"""This message cannot go this way (the number takes no texts, the address is refused)."""
LATER: Final = "later"
"""Only this message, only for now (a greylisting 4xx): try it again after a pause."""
CHANNEL_DOWN: Final = "channel_down"
"""The service is unreachable or overloaded: every message on it waits for a later pass."""
ACCOUNT: Final = "account"
"""The clinic's account or settings are wrong: nothing can go until staff fix them."""
MAYBE_SENT: Final = "maybe_sent"
"""The message may have arrived: sending it again is a person's decision."""
LOOK_UP: Final = "look_up"
"""The SMS service may have taken the text: it stays "sending" and the next pass asks
the service (as after a crash) before it is sent again."""

CHANNEL_NAMES: Final = {"sms": "text", "email": "email", "letter": "letter"}

# Twilio codes that are about this one text's content, not the account: another channel
# (or a fixed template) helps, so they must not stop every text of the pass.
_MESSAGE_CODES: Final = frozenset({21602, 21617})


class DeliveryFailedError(FrontdeskError):
    """A delivery that did not happen (or may have): `verdict` says what to do next,
    the message is a plain reason with no patient data, fit for the message's history."""

    def __init__(self, message: str, *, verdict: str, channel: str) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.channel = channel


@dataclass(frozen=True)
class Delivered:
    """The channel took the message: its reference there, and its first delivery state."""

    provider_ref: str
    delivery: str = ""


@dataclass(frozen=True)
class Channels:
    """The ways out this pass may use; a channel that is None is not set up.

    `sms_account` is what the SMS client was made from: after an interruption the sender
    asks the service whether a text went, which needs the account (the client offers no
    listing of sent messages). `ssl_context` is made once for the pass: loading the
    system's trusted certificates takes tens of milliseconds, which per email would cost
    more than sending it. Make it with `from_accounts` to get all of them.
    """

    email: SmtpSettings | None = None
    sms: SmsClient | None = None
    sms_account: SmsAccount | None = None
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def from_accounts(
        cls,
        email: SmtpSettings | None = None,
        sms: SmsAccount | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Channels:
        if email is not None and ssl_context is None:
            ssl_context = ssl.create_default_context()
        return cls(
            email=email,
            sms=SmsClient(sms) if sms else None,
            sms_account=sms,
            ssl_context=ssl_context,
        )

    def close(self) -> None:
        if self.sms is not None:
            self.sms.close()

    def available(self, channel: str) -> bool:
        if channel == "email":
            return self.email is not None
        if channel == "sms":
            return self.sms is not None
        return channel == "letter"


def channels_for(clinic: Clinic) -> Channels:
    """The channels the clinic set up in Settings; one that cannot be used counts as not set up."""
    email = accounts.email_settings(clinic)
    account = accounts.sms_account(clinic)
    try:
        return Channels.from_accounts(email, account)
    except SmsDeliveryError as error:
        log.warning("SMS account not usable (%s); texts wait", error.kind)
        return Channels.from_accounts(email)


def not_set_up(channel: str) -> str:
    if channel == "sms":
        return "Text messages are not set up (Settings ▸ Text messages)."
    return "Email is not set up (Settings ▸ Email)."


# --- delivering ----------------------------------------------------------------------


def send_sms(client: SmsClient, to: str, body: str, *, key: str) -> Delivered:
    if not body.strip() or len(body) > MAX_BODY_CHARACTERS:
        raise DeliveryFailedError(
            f"The text is empty or longer than {MAX_BODY_CHARACTERS} characters, so it was "
            "not sent: check the reminder's template.",
            verdict=NEXT_CHANNEL,
            channel="sms",
        )
    try:
        sent = client.send(to, body, key=key)
    except SmsDeliveryError as error:
        raise _sms_problem(error) from None
    return Delivered(sent.provider_id, sent.status)


def _sms_problem(error: SmsDeliveryError) -> DeliveryFailedError:
    reason = str(error)
    if error.delivery_unknown:
        return DeliveryFailedError(reason, verdict=LOOK_UP, channel="sms")
    if error.kind == "recipient" or error.provider_code in _MESSAGE_CODES:
        verdict = NEXT_CHANNEL
    elif error.kind in ("auth", "settings") and error.permanent:
        verdict = ACCOUNT
    elif error.kind == "server" and error.permanent:
        # Accepted without a reference: it may well be on its way.
        verdict = MAYBE_SENT
        reason = (
            "May have been sent: the SMS service took the text but gave no reference. "
            "Check with the patient before sending it again."
        )
    else:  # rate, server, connection: the client already retried with backoff
        verdict = CHANNEL_DOWN
    return DeliveryFailedError(reason, verdict=verdict, channel="sms")


def deliver_email(
    settings: SmtpSettings,
    to: str,
    subject: str,
    text: str,
    *,
    html: str,
    message_key: str,
    unsubscribe: str,
    ssl_context: ssl.SSLContext | None = None,
) -> Delivered:
    """`message_key` is the outbox message id, so every try of one message carries the
    same Message-ID (email_channel.message_id_for) and mailboxes can drop a copy."""
    url = unsubscribe if unsubscribe.startswith("https://") else None
    mailto = unsubscribe if unsubscribe and url is None else None
    email = OutgoingEmail(
        to=to,
        subject=subject,
        text=text,
        html=html or None,
        message_key=message_key,
        unsubscribe_url=url,
        unsubscribe_mailto=mailto,
    )
    try:
        return Delivered(send_email(settings, email, ssl_context=ssl_context))
    except EmailDeliveryError as error:
        raise _email_problem(error) from None


def _email_problem(error: EmailDeliveryError) -> DeliveryFailedError:
    reason = str(error)
    if error.delivery_unknown:
        verdict = MAYBE_SENT
        reason = (
            "May have been sent: the connection to the mail server was lost just after the "
            "message was handed over. Check with the patient before sending it again."
        )
    elif error.kind in ("recipient", "refused"):
        verdict = NEXT_CHANNEL if error.permanent else LATER
    elif error.kind in ("auth", "tls", "settings") and error.permanent:
        verdict = ACCOUNT
    else:  # timeout, connection, a 4xx at sign-in
        verdict = CHANNEL_DOWN
    return DeliveryFailedError(reason, verdict=verdict, channel="email")


# --- after an interruption -------------------------------------------------------------

_LOOKUP_PAGES: Final = 20
_LOOKUP_SLACK: Final = timedelta(minutes=1)


def find_sent_sms(account: SmsAccount, to: str, body: str, claimed_at: datetime) -> str | None:
    """The service's id of a text with this body sent to `to` since `claimed_at` (less a
    minute for clocks that disagree), or None when there is none.

    Listed by number alone, newest first, until the texts are older than the claim: a
    filter on the send date would miss a text the service still holds as queued (it has
    no send date yet), and that is exactly the one an interruption leaves behind. Raises
    DeliveryFailedError (CHANNEL_DOWN) when the service cannot be asked; the caller then
    asks again on the next pass rather than guess.
    """
    cutoff = utc_text(claimed_at - _LOOKUP_SLACK)
    base = account.base_url.rstrip("/")
    url: str | None = f"{base}/{API_VERSION}/Accounts/{account.account_sid}/Messages.json"
    params: dict[str, str] | None = {"To": to, "PageSize": "100"}
    with requests.Session() as session:
        for _page in range(_LOOKUP_PAGES):
            if url is None:
                return None
            payload = _get_page(session, account, url, params)
            older_seen = False
            items = payload.get("messages")
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                created = _created(item)
                if created is None or created < cutoff:
                    older_seen = True
                    continue
                if (
                    str(item.get("direction", "")).startswith("outbound")
                    and item.get("to") == to
                    and str(item.get("body", "")).strip() == body.strip()
                    and isinstance(item.get("sid"), str)
                ):
                    return str(item["sid"])
            if older_seen:
                return None
            next_uri = payload.get("next_page_uri")
            url = f"{base}{next_uri}" if isinstance(next_uri, str) and next_uri else None
            params = None
    log.warning("SMS lookup stopped after %s pages", _LOOKUP_PAGES)
    return None


def _get_page(
    session: requests.Session, account: SmsAccount, url: str, params: dict[str, str] | None
) -> dict[str, object]:
    down = DeliveryFailedError(
        "Could not ask the SMS service whether the text went; asking again at the next pass.",
        verdict=CHANNEL_DOWN,
        channel="sms",
    )
    try:
        response = session.get(
            url,
            params=params,
            auth=(account.account_sid, account.auth_token),
            headers={"Accept": "application/json"},
            timeout=account.timeout_s,
        )
    except requests.RequestException:
        raise down from None
    if response.status_code in (401, 403):
        raise DeliveryFailedError(
            "The SMS account refused the sign-in: check the account SID and token in "
            "Settings ▸ Text messages.",
            verdict=ACCOUNT,
            channel="sms",
        )
    if response.status_code != 200:
        raise down
    try:
        payload = response.json()
    except ValueError:
        raise down from None
    if not isinstance(payload, dict):
        raise down
    return payload


def _created(item: dict[str, object]) -> str | None:
    value = item.get("date_created")
    if not isinstance(value, str):
        return None
    try:
        return utc_text(parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None
