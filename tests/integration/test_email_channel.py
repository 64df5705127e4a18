"""The email channel against real SMTP servers on loopback: aiosmtpd, and raw sockets
for the servers that misbehave (never answer, hang up)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.errors import FrontdeskError
from app.reminders.email_channel import (
    EmailDeliveryError,
    OutgoingEmail,
    SmtpSettings,
    build_message,
    check_settings,
    send_email,
)
from tests.support.fake_smtp import HOST, PASSWORD, USER, Mailbox, free_port

# --- a self-signed certificate for 127.0.0.1 ----------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Full verification, trusting only this certificate (as the app trusts the OS's)."""
        return ssl.create_default_context(cafile=str(self.cert_file))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


# --- aiosmtpd ----------------------------------------------------------------------------


@dataclass
class Server:
    mailbox: Mailbox
    port: int


ServerFactory = Callable[..., Server]


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """Starts aiosmtpd servers on free loopback ports; all are stopped afterwards."""
    controllers: list[Controller] = []

    def start(mailbox: Mailbox | None = None, **kwargs: Any) -> Server:
        mailbox = mailbox or Mailbox()
        if "tls_context" in kwargs or "ssl_context" in kwargs:
            kwargs.setdefault("authenticator", mailbox.authenticator)
        port = free_port()
        controller = Controller(mailbox, hostname=HOST, port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return Server(mailbox, port)

    yield start
    for controller in controllers:
        controller.stop()


# --- servers that misbehave --------------------------------------------------------------


class RawServer:
    """A bare TCP server; `behave` runs for each connection in its own thread."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self.stopping = threading.Event()
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.behave = behave
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _peer = self.listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            self.behave(conn, self.stopping)

    def stop(self) -> None:
        self.stopping.set()
        self.acceptor.join()
        for thread in self.threads:
            thread.join()
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], int]]:
    servers: list[RawServer] = []

    def start(behave: Callable[[socket.socket, threading.Event], None]) -> int:
        server = RawServer(behave)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.stop()


def never_answer(conn: socket.socket, stopping: threading.Event) -> None:
    stopping.wait()


def hang_up_after_greeting(conn: socket.socket, stopping: threading.Event) -> None:
    conn.sendall(b"220 loopback ESMTP\r\n")


def hang_up_after_message(conn: socket.socket, stopping: threading.Event) -> None:
    """Takes the whole message, then drops the line instead of saying 250."""
    reader = conn.makefile("rb")
    conn.sendall(b"220 loopback ESMTP\r\n")
    while line := reader.readline():
        command = line[:4].upper()
        if command == b"EHLO":
            conn.sendall(b"250-loopback\r\n250 8BITMIME\r\n")
        elif command == b"DATA":
            conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            while (body := reader.readline()) and body != b".\r\n":
                pass
            reader.close()
            return
        else:
            conn.sendall(b"250 OK\r\n")
    reader.close()


# --- what gets sent ------------------------------------------------------------------------


def settings_for(port: int, security: str = "none", **changes: Any) -> SmtpSettings:
    base = SmtpSettings(
        host=HOST,
        port=port,
        security=security,
        sender_address="desk@maple-clinic.example",
        sender_name="Maple Family Clinic",
        timeout_s=5.0,
    )
    return replace(base, **changes)


def signed_in(port: int, security: str, password: str = PASSWORD) -> SmtpSettings:
    return settings_for(port, security, username=USER, password=password)


REMINDER = OutgoingEmail(
    to="jane.roe@example.org",
    subject="Your visit on Tuesday\n",
    text="Hello Jane, see you Tuesday at 9:00. Café opens at 8.",
    html="<p>Hello Jane, see you <b>Tuesday</b> at 9:00. Café opens at 8.</p>",
    message_key="appt-7d:patient-0193a1b2-jane-roe:2025-03-04",
    unsubscribe_url="https://maple-clinic.example/unsubscribe/" + "t0k3n" * 30,
    unsubscribe_mailto="unsubscribe@maple-clinic.example",
)


def assert_no_patient_data(text: str) -> None:
    for piece in ("jane", "roe", "0193a1b2", "2025-03-04", "example.org", PASSWORD):
        assert piece not in text.lower()


# --- delivery --------------------------------------------------------------------------


def test_plain_server_receives_both_parts_and_the_headers(smtp_server: ServerFactory) -> None:
    server = smtp_server()

    message_id = send_email(settings_for(server.port), REMINDER)

    envelope = server.mailbox.envelopes[0]
    assert envelope.mail_from == "desk@maple-clinic.example"
    assert envelope.rcpt_tos == ["jane.roe@example.org"]
    received = server.mailbox.message()
    assert received["From"] == "Maple Family Clinic <desk@maple-clinic.example>"
    assert received["To"] == "jane.roe@example.org"
    assert received["Subject"] == "Your visit on Tuesday"
    assert received["Date"]
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Message-ID"] == message_id
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert plain is not None and html is not None
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content().strip() == REMINDER.text
    assert html.get_content().strip() == REMINDER.html
    # Both ways out, each a whole link (a long URL must not be folded into encoded words).
    assert received["List-Unsubscribe"] == (
        f"<mailto:unsubscribe@maple-clinic.example>, <{REMINDER.unsubscribe_url}>"
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_text_only_message_has_no_html_part_and_no_one_click_without_a_url(
    smtp_server: ServerFactory,
) -> None:
    server = smtp_server()
    email = replace(REMINDER, html=None, unsubscribe_url=None)

    send_email(settings_for(server.port), email)

    received = server.mailbox.message()
    assert received.get_content_type() == "text/plain"
    assert received["List-Unsubscribe"] == "<mailto:unsubscribe@maple-clinic.example>"
    assert received["List-Unsubscribe-Post"] is None


def test_replies_go_to_the_reply_to_address_when_one_is_set(smtp_server: ServerFactory) -> None:
    server = smtp_server()
    settings = settings_for(server.port, reply_to=" frontdesk@maple-clinic.example ")

    send_email(settings, REMINDER)
    send_email(settings_for(server.port), REMINDER)

    with_reply_to, without = server.mailbox.messages()
    assert with_reply_to["Reply-To"] == "frontdesk@maple-clinic.example"
    assert with_reply_to["From"] == "Maple Family Clinic <desk@maple-clinic.example>"
    assert server.mailbox.envelopes[0].mail_from == "desk@maple-clinic.example"
    assert without["Reply-To"] is None


def test_message_id_is_stable_per_key_and_hides_the_key() -> None:
    settings = settings_for(25)
    first = build_message(settings, REMINDER)["Message-ID"]
    again = build_message(settings, REMINDER)["Message-ID"]
    other = build_message(settings, replace(REMINDER, message_key="appt-2d:x:2025-03-04"))[
        "Message-ID"
    ]
    keyless = {
        build_message(settings, replace(REMINDER, message_key=""))["Message-ID"] for _ in "ab"
    }

    assert first == again
    assert first != other
    assert first.startswith("<") and first.endswith("@frontdesk.invalid>")
    assert_no_patient_data(first)
    assert len(keyless) == 2


def test_a_line_break_in_the_subject_cannot_add_a_header(smtp_server: ServerFactory) -> None:
    server = smtp_server()
    email = replace(REMINDER, subject="Reminder\r\nBcc: someone@elsewhere.example")

    send_email(settings_for(server.port), email)

    received = server.mailbox.message()
    assert received["Bcc"] is None
    assert received["Subject"] == "Reminder Bcc: someone@elsewhere.example"
    assert server.mailbox.envelopes[0].rcpt_tos == ["jane.roe@example.org"]


def test_starttls_with_sign_in_delivers_over_an_encrypted_connection(
    smtp_server: ServerFactory, certificate: Certificate
) -> None:
    server = smtp_server(tls_context=certificate.server_context(), require_starttls=True)

    send_email(
        signed_in(server.port, "starttls"), REMINDER, ssl_context=certificate.client_context()
    )

    assert server.mailbox.logins == [USER]
    assert server.mailbox.tls_seen == [True]
    assert server.mailbox.message()["Subject"] == "Your visit on Tuesday"


def test_implicit_tls_with_sign_in_delivers(
    smtp_server: ServerFactory, certificate: Certificate
) -> None:
    server = smtp_server(ssl_context=certificate.server_context(), auth_require_tls=False)

    send_email(signed_in(server.port, "tls"), REMINDER, ssl_context=certificate.client_context())

    assert server.mailbox.logins == [USER]
    assert server.mailbox.message()["To"] == "jane.roe@example.org"


def test_check_settings_signs_in_and_sends_nothing(
    smtp_server: ServerFactory, certificate: Certificate
) -> None:
    server = smtp_server(tls_context=certificate.server_context())

    check_settings(signed_in(server.port, "starttls"), ssl_context=certificate.client_context())

    assert server.mailbox.logins == [USER]
    assert server.mailbox.envelopes == []


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_password_is_a_permanent_sign_in_error(
    smtp_server: ServerFactory, certificate: Certificate, security: str
) -> None:
    if security == "tls":
        server = smtp_server(ssl_context=certificate.server_context(), auth_require_tls=False)
    else:
        server = smtp_server(tls_context=certificate.server_context())
    settings = signed_in(server.port, security, password="not the password")

    for attempt in (send_email, check_settings):
        with pytest.raises(EmailDeliveryError) as caught:
            if attempt is send_email:
                send_email(settings, REMINDER, ssl_context=certificate.client_context())
            else:
                check_settings(settings, ssl_context=certificate.client_context())
        assert caught.value.kind == "auth"
        assert caught.value.permanent
        assert "user name and password" in str(caught.value)
        assert "not the password" not in str(caught.value)
    assert server.mailbox.envelopes == []


def test_an_untrusted_certificate_stops_before_sign_in(
    smtp_server: ServerFactory, certificate: Certificate
) -> None:
    """Without the test's trust, the product's default verification must refuse the server."""
    server = smtp_server(tls_context=certificate.server_context())

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(signed_in(server.port, "starttls"), REMINDER)

    assert (caught.value.kind, caught.value.permanent) == ("tls", True)
    assert server.mailbox.logins == []
    assert server.mailbox.envelopes == []


def test_starttls_asked_but_not_offered_never_falls_back_to_clear_text(
    smtp_server: ServerFactory,
) -> None:
    server = smtp_server()

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(server.port, "starttls"), REMINDER)

    assert (caught.value.kind, caught.value.permanent) == ("tls", True)
    assert server.mailbox.envelopes == []


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "kind", "permanent", "code"),
    [
        ("550 5.1.1 <jane.roe@example.org>: user unknown", None, "recipient", True, 550),
        (None, "550 5.7.1 Message from jane.roe rejected as spam", "refused", True, 550),
        ("451 4.3.0 <jane.roe@example.org>: try again later", None, "recipient", False, 451),
        (None, "451 4.7.1 Greylisted, come back later", "refused", False, 451),
    ],
    ids=["recipient-550", "data-550", "recipient-451", "data-451"],
)
def test_server_refusals_say_whether_a_retry_can_help(
    smtp_server: ServerFactory,
    rcpt_reply: str | None,
    data_reply: str | None,
    kind: str,
    permanent: bool,
    code: int,
) -> None:
    server = smtp_server(Mailbox(rcpt_reply=rcpt_reply, data_reply=data_reply))

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(server.port), REMINDER)

    error = caught.value
    assert isinstance(error, FrontdeskError)
    assert (error.kind, error.permanent, error.smtp_code) == (kind, permanent, code)
    assert not error.delivery_unknown
    assert_no_patient_data(str(error))
    assert server.mailbox.envelopes == []


# --- servers that misbehave ---------------------------------------------------------------


def test_a_server_that_never_answers_times_out_and_can_be_retried(
    raw_server: Callable[..., int],
) -> None:
    port = raw_server(never_answer)

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(port, timeout_s=0.5), REMINDER)

    assert (caught.value.kind, caught.value.permanent) == ("timeout", False)


def test_a_server_that_never_answers_the_tls_handshake_times_out(
    raw_server: Callable[..., int], certificate: Certificate
) -> None:
    port = raw_server(never_answer)

    with pytest.raises(EmailDeliveryError) as caught:
        check_settings(
            settings_for(port, "tls", timeout_s=0.5),
            ssl_context=certificate.client_context(),
        )

    assert (caught.value.kind, caught.value.permanent) == ("timeout", False)


def test_a_server_that_hangs_up_after_the_greeting_is_a_connection_error(
    raw_server: Callable[..., int],
) -> None:
    port = raw_server(hang_up_after_greeting)

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(port), REMINDER)

    assert (caught.value.kind, caught.value.permanent) == ("connection", False)
    assert not caught.value.delivery_unknown


def test_a_line_lost_after_the_message_went_out_is_flagged_as_maybe_delivered(
    raw_server: Callable[..., int],
) -> None:
    port = raw_server(hang_up_after_message)

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(port), REMINDER)

    assert (caught.value.kind, caught.value.permanent) == ("connection", False)
    assert caught.value.delivery_unknown


def test_nobody_listening_is_a_connection_error() -> None:
    port = free_port()

    for attempt in (
        lambda: send_email(settings_for(port), REMINDER),
        lambda: check_settings(settings_for(port)),
    ):
        with pytest.raises(EmailDeliveryError) as caught:
            attempt()
        assert (caught.value.kind, caught.value.permanent) == ("connection", False)


# --- bad settings and addresses, caught before any connection --------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"host": "  "},
        {"port": 0},
        {"port": 65536},
        {"security": "ssl"},
        {"sender_address": "front desk"},
        {"timeout_s": 0},
        {"username": USER, "password": PASSWORD},  # a password in clear text
        {"reply_to": "front desk"},
        {"reply_to": "a@b.example, c@d.example"},
    ],
    ids=[
        "no-host",
        "port-0",
        "port-65536",
        "unknown-security",
        "sender",
        "timeout",
        "clear-text",
        "reply-to",
        "two-reply-tos",
    ],
)
def test_bad_settings_are_refused_before_connecting(changes: dict[str, Any]) -> None:
    settings = replace(settings_for(free_port()), **changes)

    for attempt in (
        lambda: send_email(settings, REMINDER),
        lambda: check_settings(settings),
    ):
        with pytest.raises(EmailDeliveryError) as caught:
            attempt()
        assert (caught.value.kind, caught.value.permanent) == ("settings", True)
        assert "Settings ▸ Email" in str(caught.value)
        assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "address", ["jane.roe", "jane roe@example.org", "a@b.example, c@d.example", "<x@y.example>"]
)
def test_an_address_that_cannot_be_sent_to_is_a_permanent_recipient_error(address: str) -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings_for(free_port()), replace(REMINDER, to=address))

    assert (caught.value.kind, caught.value.permanent) == ("recipient", True)
    assert_no_patient_data(str(caught.value))


def test_a_reply_to_that_is_not_an_address_is_refused_with_the_reason(
    smtp_server: ServerFactory,
) -> None:
    server = smtp_server()
    settings = settings_for(server.port, reply_to="replies at maple-clinic")

    with pytest.raises(EmailDeliveryError) as caught:
        send_email(settings, REMINDER)

    assert str(caught.value) == (
        "The address for replies is not an email address: check it in Settings ▸ Email."
    )
    assert server.mailbox.envelopes == []


def test_the_password_stays_out_of_repr() -> None:
    assert PASSWORD not in repr(signed_in(587, "starttls"))
