"""A loopback HTTP server that speaks the Twilio Messages API: sending, status, inbound.

Shared by the SMS channel, sender and reply tests; scripted failures (429, 5xx, lost
answers) come from `FakeTwilio.script`.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from app.reminders.sms_channel import IDEMPOTENCY_HEADER, SmsAccount

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "loopback-secret-token"
CLINIC_NUMBER = "+13125550100"
PATIENT = "+13125550199"
BODY = "Lakeside Clinic: your visit is Tue 9:00. Reply C to confirm."


@dataclass
class Message:
    sid: str
    to: str
    sender: str
    body: str
    direction: str
    sent_at: datetime
    status: str = "queued"
    error_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": SID,
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "direction": self.direction,
            "status": self.status,
            "error_code": self.error_code,
            "date_created": format_datetime(self.sent_at),
            "date_sent": format_datetime(self.sent_at),
        }


@dataclass
class FakeTwilio:
    """State of the loopback service; tests script its next answers through `script`.

    A script entry is (status, headers) for a plain error answer, or one of the words
    "store-then-503" / "store-then-drop": the message is created and the answer is lost,
    as when a real connection fails after the service has acted.
    """

    url: str = ""
    messages: dict[str, Message] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    script: list[tuple[int, dict[str, str]] | str] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)  # To number → Twilio code
    requests: list[tuple[str, str]] = field(default_factory=list)
    keys_seen: list[str | None] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)
    page_size: int = 50
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Twilio does not document honouring the idempotency header; the crash tests turn
    # this off to prove the sender does not depend on it.
    honour_keys: bool = True

    def add_inbound(self, sender: str, body: str, at: datetime) -> str:
        sid = f"SM{len(self.messages):032x}"
        self.messages[sid] = Message(sid, CLINIC_NUMBER, sender, body, "inbound", at, "received")
        return sid

    def outbound(self) -> list[Message]:
        return [m for m in self.messages.values() if m.direction == "outbound-api"]


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    base = f"/2010-04-01/Accounts/{SID}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the test output is for failures."""

        def _answer(
            self, status: int, payload: object, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(
            self, status: int, code: int, message: str, headers: dict[str, str] | None = None
        ) -> None:
            self._answer(status, {"code": code, "message": message, "status": status}, headers)

        def _drop(self) -> None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _authorised(self) -> bool:
            expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._error(401, 20003, "Authenticate")
                return False
            return True

        def _scripted(self) -> str | None:
            """Plays the next scripted failure; returns a store-then word for the caller."""
            with fake.lock:
                step = fake.script.pop(0) if fake.script else None
            if step is None or isinstance(step, str):
                return step
            status, headers = step
            self._error(status, 20429 if status == 429 else 20500, "scripted", headers)
            return "answered"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            fake.requests.append(("POST", self.path))
            step = self._scripted()
            if step == "answered" or not self._authorised():
                return
            if self.path != f"{base}/Messages.json":
                self._error(404, 20404, "not found")
                return
            fake.forms.append(form)
            key = self.headers.get(IDEMPOTENCY_HEADER)
            fake.keys_seen.append(key)
            if form["To"] in fake.refusals:
                code = fake.refusals[form["To"]]
                # Like Twilio, the text names the number: the client must not repeat it.
                self._error(400, code, f"The 'To' number {form['To']} is not valid.")
                return
            with fake.lock:
                sid = fake.by_key.get(key) if key and fake.honour_keys else None
                if sid is None:
                    sid = f"SM{len(fake.messages):032x}"
                    fake.messages[sid] = Message(
                        sid,
                        form["To"],
                        form.get("From") or form["MessagingServiceSid"],
                        form["Body"],
                        "outbound-api",
                        datetime.now(UTC),
                    )
                    if key:
                        fake.by_key[key] = sid
            if step == "store-then-503":
                self._error(503, 20503, "lost answer")
            elif step == "store-then-drop":
                self._drop()
            else:
                self._answer(201, fake.messages[sid].as_json())

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.requests.append(("GET", self.path))
            if self._scripted() == "answered" or not self._authorised():
                return
            if parts.path == f"{base}/Messages.json":
                self._list(parse_qs(parts.query))
                return
            prefix = f"{base}/Messages/"
            sid = parts.path.removeprefix(prefix).removesuffix(".json")
            if parts.path.startswith(prefix) and sid in fake.messages:
                self._answer(200, fake.messages[sid].as_json())
            else:
                self._error(404, 20404, "The requested resource was not found")

        def _list(self, query: dict[str, list[str]]) -> None:
            to = query.get("To", [None])[0]
            day = query.get("DateSent>", [None])[0]
            size = int(query.get("PageSize", [str(fake.page_size)])[0])
            size = min(size, fake.page_size)
            page = int(query.get("Page", ["0"])[0])
            rows = [
                m
                for m in fake.messages.values()
                if (to is None or m.to == to)
                and (day is None or m.sent_at.date().isoformat() >= day)
            ]
            rows.sort(key=lambda m: m.sent_at, reverse=True)  # newest first, as Twilio
            chunk = rows[page * size : (page + 1) * size]
            next_uri = None
            if (page + 1) * size < len(rows):
                params = {k: v[0] for k, v in query.items()} | {"Page": str(page + 1)}
                next_uri = f"{base}/Messages.json?{urlencode(params)}"
            self._answer(
                200,
                {
                    "messages": [m.as_json() for m in chunk],
                    "page": page,
                    "page_size": size,
                    "next_page_uri": next_uri,
                },
            )

    return Handler


@contextmanager
def running_fake_twilio() -> Iterator[FakeTwilio]:
    """The service on a free loopback port for the life of the block."""
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def account_for(fake: FakeTwilio, **changes: Any) -> SmsAccount:
    """An account that signs in to the fake service."""
    values: dict[str, Any] = {"base_url": fake.url, "timeout_s": 5.0, **changes}
    return SmsAccount(SID, TOKEN, CLINIC_NUMBER, **values)
