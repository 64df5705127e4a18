"""The email channel: one message over SMTP, with errors the outbox can act on.

The outbox decides *whether* and *what* to send; this module only delivers, and tells
the caller in two words what went wrong: `kind` for the reason shown in Messages and
Settings, `permanent` for whether a later retry can help. Nothing here touches the
database, and no message or log line carries an address, a name or the server's reply
text (servers echo the recipient's address back in their refusals).
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from app.errors import FrontdeskError

log = logging.getLogger(__name__)

SECURITY_MODES: tuple[str, ...] = ("starttls", "tls", "none")
MESSAGE_ID_DOMAIN = "frontdesk.invalid"

# 998 is SMTP's hard line limit. The default 78 makes the email package fold a long
# unsubscribe URL into encoded words, which mail programs no longer read as a link.
# 7bit: non-ASCII bodies go quoted-printable, so servers without 8BITMIME take them too.
_POLICY = policy.SMTP.clone(max_line_length=998, cte_type="7bit")

_WHERE = "Settings ▸ Email"


class EmailDeliveryError(FrontdeskError):
    """An email could not be handed to the clinic's mail server.

    `kind` is one of "auth", "refused", "recipient", "timeout", "connection", "tls",
    "settings". `permanent` says a retry of the same message cannot succeed until
    something is changed (settings, the address). `delivery_unknown` is True when the
    connection was lost after the message itself was sent: the server may have taken
    it, so a retry could deliver it twice (its Message-ID stays the same, which lets
    most mailboxes drop the copy). `smtp_code` is the server's reply code, if any; its
    reply text is never kept, because it often repeats the recipient's address.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        permanent: bool,
        smtp_code: int | None = None,
        delivery_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.permanent = permanent
        self.smtp_code = smtp_code
        self.delivery_unknown = delivery_unknown


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the clinic's mail server; the password comes from the keyring."""

    host: str
    port: int
    security: str  # "starttls" | "tls" | "none"
    username: str = ""
    password: str = field(default="", repr=False)
    sender_address: str = ""
    sender_name: str = ""
    timeout_s: float = 15.0
    # Where patients' answers go when that is not the sending mailbox (often a no-reply
    # address or one nobody at the desk reads); '' = replies go to the sender.
    reply_to: str = ""


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered message for one recipient."""

    to: str
    subject: str
    text: str
    html: str | None = None
    message_key: str = ""  # the outbox idempotency key; only its hash leaves the app
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None


# --- checking what we were given ---------------------------------------------------


def _settings_error(message: str) -> EmailDeliveryError:
    return EmailDeliveryError(message, kind="settings", permanent=True)


def validate_settings(settings: SmtpSettings) -> None:
    """Refuse settings that can never work (Settings checks them on save, the sender
    before connecting), with the field to fix in plain words."""
    if not settings.host.strip():
        raise _settings_error(f"The mail server name is missing: fill it in under {_WHERE}.")
    if not 1 <= settings.port <= 65535:
        raise _settings_error(
            f"The mail server port must be a number from 1 to 65535: check it in {_WHERE}."
        )
    if settings.security not in SECURITY_MODES:
        raise _settings_error(
            f"Choose how to connect to the mail server (STARTTLS, TLS or none) in {_WHERE}."
        )
    if settings.timeout_s <= 0:
        raise _settings_error(
            f"The time to wait for the mail server must be more than zero: check it in {_WHERE}."
        )
    if "@" not in settings.sender_address:
        raise _settings_error(f"The sender address is not an email address: check it in {_WHERE}.")
    if settings.reply_to.strip():
        _reply_to(settings)
    if settings.username and settings.security == "none":
        # A clinic's mail password in clear text on the network is a breach waiting to happen.
        raise _settings_error(
            "Frontdesk will not send the email password over an unencrypted connection: "
            f"choose STARTTLS or TLS in {_WHERE}."
        )


def _address(text: str, display_name: str = "") -> Address:
    """Parse one bare address; the domain goes to its ASCII (IDNA) form for the envelope."""
    parsed = Address(addr_spec=text.strip())
    if not parsed.username or not parsed.domain:
        raise ValueError("incomplete address")
    domain = parsed.domain.encode("idna").decode("ascii")
    return Address(display_name=_one_line(display_name), username=parsed.username, domain=domain)


def _recipient(email: OutgoingEmail) -> Address:
    try:
        return _address(email.to)
    except (ValueError, HeaderParseError, IndexError, UnicodeError):
        raise EmailDeliveryError(
            "The patient's email address is not one that can be sent to: "
            "correct it on the patient's record.",
            kind="recipient",
            permanent=True,
        ) from None


def _sender(settings: SmtpSettings) -> Address:
    try:
        return _address(settings.sender_address, settings.sender_name)
    except (ValueError, HeaderParseError, IndexError, UnicodeError):
        raise _settings_error(
            f"The sender address is not an email address: check it in {_WHERE}."
        ) from None


def _reply_to(settings: SmtpSettings) -> Address:
    try:
        return _address(settings.reply_to)
    except (ValueError, HeaderParseError, IndexError, UnicodeError):
        raise _settings_error(
            f"The address for replies is not an email address: check it in {_WHERE}."
        ) from None


def _one_line(text: str) -> str:
    # A template that ends in a newline must not start a new header (or inject one).
    return " ".join(text.split())


def _unsubscribe_header(email: OutgoingEmail) -> str | None:
    targets: list[str] = []
    if email.unsubscribe_mailto:
        mailto = email.unsubscribe_mailto.strip()
        if not mailto.lower().startswith("mailto:"):
            mailto = f"mailto:{mailto}"
        targets.append(mailto)
    if email.unsubscribe_url:
        targets.append(email.unsubscribe_url.strip())
    for target in targets:
        if any(ch.isspace() or ch in "<>," for ch in target):
            raise _settings_error(
                f"The unsubscribe link or address has spaces or brackets in it: check {_WHERE}."
            )
    if email.unsubscribe_url and not email.unsubscribe_url.strip().startswith("https://"):
        raise _settings_error(f"The unsubscribe link must start with https://: check {_WHERE}.")
    return ", ".join(f"<{target}>" for target in targets) or None


def message_id_for(message_key: str) -> str:
    """The Message-ID a given outbox key always gets.

    Stable, so a retry after a crash that hid a successful send carries the same id and
    receiving systems can recognise the copy. Hashed, because the key names the rule and
    the patient's record, which the outside world has no business seeing.
    """
    if not message_key:
        return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"
    digest = hashlib.sha256(b"frontdesk-message-id\x00" + message_key.encode("utf-8"))
    return f"<{digest.hexdigest()[:40]}@{MESSAGE_ID_DOMAIN}>"


def build_message(settings: SmtpSettings, email: OutgoingEmail) -> EmailMessage:
    """The message as it goes on the wire: text, and HTML as its alternative if given."""
    recipient = _recipient(email)
    message = EmailMessage(policy=_POLICY)
    message["From"] = _sender(settings)
    message["To"] = recipient
    if settings.reply_to.strip():
        message["Reply-To"] = _reply_to(settings)
    message["Subject"] = _one_line(email.subject)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id_for(email.message_key)
    # Tells out-of-office and other robots not to answer a robot (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    unsubscribe = _unsubscribe_header(email)
    if unsubscribe:
        message["List-Unsubscribe"] = unsubscribe
        if email.unsubscribe_url:
            # RFC 8058 one-click: the mailbox provider POSTs to the URL, no page to click.
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


# --- talking to the server ----------------------------------------------------------


def _connect(settings: SmtpSettings, ssl_context: ssl.SSLContext | None) -> smtplib.SMTP:
    """An open, encrypted-as-asked and signed-in session, or an EmailDeliveryError."""
    # Loading the system's certificates takes tens of milliseconds: only when needed.
    encrypted = settings.security in ("tls", "starttls")
    context = ssl_context or (ssl.create_default_context() if encrypted else None)
    # Host and port go to the constructor: smtplib verifies the certificate against the
    # host given there, and it also turns a greeting other than 220 into an error.
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(
            settings.host.strip(), settings.port, timeout=settings.timeout_s, context=context
        )
    else:
        client = smtplib.SMTP(settings.host.strip(), settings.port, timeout=settings.timeout_s)
    try:
        client.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                # Never fall back to clear text: the message holds appointment details.
                raise EmailDeliveryError(
                    "The mail server does not offer an encrypted connection (STARTTLS) on "
                    f"this port: check the port and the security setting in {_WHERE}.",
                    kind="tls",
                    permanent=True,
                )
            client.starttls(context=context or ssl.create_default_context())
            client.ehlo_or_helo_if_needed()
        if settings.username:
            _sign_in(client, settings)
    except BaseException:
        client.close()
        raise
    return client


def _sign_in(client: smtplib.SMTP, settings: SmtpSettings) -> None:
    try:
        client.login(settings.username, settings.password)
    except smtplib.SMTPNotSupportedError:
        raise EmailDeliveryError(
            "The mail server does not take a sign-in on this connection: check the "
            f"security setting, or leave the user name empty, in {_WHERE}.",
            kind="auth",
            permanent=True,
        ) from None
    except UnicodeEncodeError:
        raise EmailDeliveryError(
            "The mail server sign-in cannot carry accented or non-Latin letters: check "
            f"the user name and password in {_WHERE}.",
            kind="auth",
            permanent=True,
        ) from None
    except (smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected):
        raise
    except smtplib.SMTPException:
        # smtplib's "No suitable authentication method found".
        raise EmailDeliveryError(
            "The mail server asks for a kind of sign-in Frontdesk does not offer: ask "
            "your email provider for SMTP settings with a password sign-in.",
            kind="auth",
            permanent=True,
        ) from None


def _reply_error(code: int, *, kind: str, refused: str) -> EmailDeliveryError:
    if 500 <= code <= 599:
        return EmailDeliveryError(refused, kind=kind, permanent=True, smtp_code=code)
    return EmailDeliveryError(
        "The mail server could not take the message just now. It will be tried again "
        f"later; if this keeps happening, check {_WHERE}.",
        kind=kind,
        permanent=False,
        smtp_code=code if code > 0 else None,
    )


def _translate(error: OSError, *, delivery_unknown: bool) -> EmailDeliveryError:
    """Turn smtplib's and the socket layer's errors into a kind, a verdict and plain words."""
    result: EmailDeliveryError
    if isinstance(error, smtplib.SMTPAuthenticationError):
        result = _reply_error(
            error.smtp_code,
            kind="auth",
            refused="The mail server refused the sign-in: check the user name and "
            f"password in {_WHERE}.",
        )
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in error.recipients.values()]
        result = _reply_error(
            max(codes, default=550),
            kind="recipient",
            refused="The mail server would not accept the patient's email address: "
            "check it on the patient's record.",
        )
    elif isinstance(error, smtplib.SMTPSenderRefused):
        result = _reply_error(
            error.smtp_code,
            kind="refused",
            refused=f"The mail server refused the sender address: check it in {_WHERE}.",
        )
    elif isinstance(error, smtplib.SMTPDataError):
        result = _reply_error(
            error.smtp_code,
            kind="refused",
            refused="The mail server refused this message (it may have judged it spam "
            "or too large), so it was not sent.",
        )
    elif isinstance(error, smtplib.SMTPResponseException):
        # Greeting, HELO, STARTTLS or another command turned down.
        result = _reply_error(
            error.smtp_code,
            kind="refused",
            refused="The mail server turned Frontdesk away: check the server name, port "
            f"and security setting in {_WHERE}.",
        )
    elif isinstance(error, ssl.SSLCertVerificationError):
        result = EmailDeliveryError(
            "The mail server's security certificate could not be verified, so nothing "
            f"was sent: check the server name in {_WHERE}.",
            kind="tls",
            permanent=True,
        )
    elif isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        result = _dropped()
    elif isinstance(error, ssl.SSLError):
        result = EmailDeliveryError(
            "Could not set up an encrypted connection with the mail server: check the "
            f"port and the security setting (STARTTLS or TLS) in {_WHERE}.",
            kind="tls",
            permanent=True,
        )
    elif isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # smtplib reports a read that timed out as a closed connection; its cause says which.
        result = EmailDeliveryError(
            "The mail server did not answer in time. Try again later; if this keeps "
            f"happening, check the server name and port in {_WHERE}.",
            kind="timeout",
            permanent=False,
        )
    elif isinstance(error, socket.gaierror):
        result = EmailDeliveryError(
            "Could not find the mail server by its name: check the internet connection "
            f"and the server name in {_WHERE}.",
            kind="connection",
            permanent=False,
        )
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        result = _dropped()
    else:
        result = EmailDeliveryError(
            "Could not reach the mail server: check the internet connection, and the "
            f"server name and port in {_WHERE}.",
            kind="connection",
            permanent=False,
        )
    result.delivery_unknown = delivery_unknown and not result.permanent
    return result


def _dropped() -> EmailDeliveryError:
    return EmailDeliveryError(
        "The mail server closed the connection early. Try again later; if this keeps "
        f"happening, check the port and the security setting in {_WHERE}.",
        kind="connection",
        permanent=False,
    )


def _fail(error: EmailDeliveryError, step: str, cause: BaseException) -> EmailDeliveryError:
    # Kind, code and exception type only: the cause's text may hold the server's reply.
    log.info(
        "email %s failed: kind=%s code=%s permanent=%s unknown=%s (%s)",
        step,
        error.kind,
        error.smtp_code,
        error.permanent,
        error.delivery_unknown,
        type(cause).__name__,
    )
    return error


def _close(client: smtplib.SMTP) -> None:
    """Say goodbye; a failure here changes nothing about what was already accepted."""
    try:
        client.quit()
    except OSError as error:
        log.debug("email: QUIT failed (%s); connection closed", type(error).__name__)
        client.close()


def check_settings(settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
    """Connect, encrypt and sign in as `settings` say, then hang up; nothing is sent.

    `ssl_context` is for tests that trust their own certificate; the app leaves it
    None and gets the system's trusted certificates with full verification.
    """
    validate_settings(settings)
    try:
        client = _connect(settings, ssl_context)
    except EmailDeliveryError as error:
        raise _fail(error, "check", error) from None
    except OSError as error:
        raise _fail(_translate(error, delivery_unknown=False), "check", error) from None
    _close(client)


def send_email(
    settings: SmtpSettings,
    email: OutgoingEmail,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Hand one message to the mail server; returns its Message-ID once the server took it.

    Everything is checked before connecting, so a bad address or setting costs no
    network round trip. Once the server has said 250 to the message, nothing that
    follows (a failed QUIT) turns it into an error: that would make the outbox send it
    again.
    """
    validate_settings(settings)
    message = build_message(settings, email)
    sender = _sender(settings).addr_spec
    recipient = _recipient(email).addr_spec
    payload = message.as_bytes(policy=_POLICY)
    try:
        client = _connect(settings, ssl_context)
    except EmailDeliveryError as error:
        raise _fail(error, "connect", error) from None
    except OSError as error:
        raise _fail(_translate(error, delivery_unknown=False), "connect", error) from None
    data_sent = False
    try:
        # MAIL, RCPT and DATA one by one (rather than sendmail) to know when the message
        # itself has gone out: a connection lost after that leaves its fate unknown.
        code, _reply = client.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, b"", "")
        code, _reply = client.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({"": (code, b"")})
        data_sent = True
        code, _reply = client.data(payload)
        if code != 250:
            raise smtplib.SMTPDataError(code, b"")
    except OSError as error:
        client.close()
        unknown = data_sent and not isinstance(error, smtplib.SMTPResponseException)
        raise _fail(_translate(error, delivery_unknown=unknown), "send", error) from None
    _close(client)
    return str(message["Message-ID"])
