"""A real SMTP server on loopback (aiosmtpd) that keeps what arrives, for the email tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
USER = "desk@maple-clinic.example"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps what arrives, or answers RCPT/DATA with a set reply."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    envelopes: list[Any] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        self.tls_seen.append(session.ssl is not None)
        return "250 Message accepted for delivery"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if login == USER and password == PASSWORD:
            self.logins.append(login)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def message(self) -> EmailMessage:
        assert len(self.envelopes) == 1
        parsed = message_from_bytes(self.envelopes[0].content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def messages(self) -> list[EmailMessage]:
        """Everything delivered so far, parsed."""
        parsed = [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]
        return [m for m in parsed if isinstance(m, EmailMessage)]


@contextmanager
def running_smtp(mailbox: Mailbox | None = None, **kwargs: Any) -> Iterator[tuple[Mailbox, int]]:
    """aiosmtpd on a free loopback port for the life of the block: (mailbox, port)."""
    mailbox = mailbox or Mailbox()
    if "tls_context" in kwargs or "ssl_context" in kwargs:
        kwargs.setdefault("authenticator", mailbox.authenticator)
    port = free_port()
    controller = Controller(mailbox, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
