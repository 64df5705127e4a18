"""The SMS client against a loopback server that speaks the Twilio Messages API."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from app.errors import InvalidInputError
from app.reminders.sms_channel import (
    IDEMPOTENCY_HEADER,
    InboundSms,
    SmsAccount,
    SmsClient,
    SmsDeliveryError,
)

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
                sid = fake.by_key.get(key) if key else None
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


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Client:
    sms: SmsClient
    waits: list[float]


def _client(fake: FakeTwilio, **changes: Any) -> Client:
    waits: list[float] = []
    account = SmsAccount(SID, TOKEN, CLINIC_NUMBER, base_url=fake.url, timeout_s=5.0)
    return Client(SmsClient(replace(account, **changes), sleep=waits.append), waits)


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    made = _client(fake)
    yield made
    made.sms.close()


# --- sending -------------------------------------------------------------------------


def test_send_posts_the_text_with_sign_in_and_idempotency_key(
    fake: FakeTwilio, client: Client
) -> None:
    sent = client.sms.send(PATIENT, BODY, key="rule1:appt9:2026-11-28")

    assert sent.status == "queued"
    [message] = fake.outbound()
    assert (message.sid, message.to, message.sender, message.body) == (
        sent.provider_id,
        PATIENT,
        CLINIC_NUMBER,
        BODY,
    )
    assert fake.keys_seen == ["rule1:appt9:2026-11-28"]
    assert client.waits == []


def test_messaging_service_sender_goes_in_its_own_field(fake: FakeTwilio) -> None:
    made = _client(fake, sender="MG00000000000000000000000000000001")
    made.sms.send(PATIENT, BODY, key="k1")
    assert fake.forms[0]["MessagingServiceSid"] == "MG00000000000000000000000000000001"
    assert "From" not in fake.forms[0]


def test_same_key_sent_twice_is_one_text(fake: FakeTwilio, client: Client) -> None:
    first = client.sms.send(PATIENT, BODY, key="same-key")
    second = client.sms.send(PATIENT, BODY, key="same-key")

    assert first.provider_id == second.provider_id
    assert len(fake.outbound()) == 1


def test_rate_limit_and_server_errors_are_retried_with_backoff(
    fake: FakeTwilio, client: Client
) -> None:
    fake.script = [(429, {"Retry-After": "3"}), (503, {}), (503, {})]

    sent = client.sms.send(PATIENT, BODY, key="k-retry")

    assert client.waits == [3.0, 2.0, 4.0]  # Retry-After honoured, then 2^n backoff
    assert [m.sid for m in fake.outbound()] == [sent.provider_id]
    assert len([r for r in fake.requests if r[0] == "POST"]) == 4


@pytest.mark.parametrize("lost", ["store-then-503", "store-then-drop"])
def test_retry_after_a_lost_answer_does_not_send_twice(
    fake: FakeTwilio, client: Client, lost: str
) -> None:
    fake.script = [lost]

    sent = client.sms.send(PATIENT, BODY, key="k-lost")

    assert len(fake.outbound()) == 1
    assert fake.outbound()[0].sid == sent.provider_id
    assert fake.keys_seen == ["k-lost", "k-lost"]
    assert client.waits == [1.0]


@pytest.mark.parametrize(
    ("answer", "kind"), [((503, {}), "server"), ((429, {"Retry-After": "1"}), "rate")]
)
def test_giving_up_after_max_attempts_is_not_permanent(
    fake: FakeTwilio, client: Client, answer: tuple[int, dict[str, str]], kind: str
) -> None:
    fake.script = [answer] * 4

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send(PATIENT, BODY, key="k-down")

    assert (caught.value.kind, caught.value.permanent) == (kind, False)
    assert "tried again later" in str(caught.value)
    assert len(fake.requests) == 4
    assert len(client.waits) == 3
    assert fake.outbound() == []


def test_unreachable_service_is_a_connection_error_after_retries(fake: FakeTwilio) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    made = _client(fake, base_url=f"http://127.0.0.1:{port}", max_attempts=3)

    with pytest.raises(SmsDeliveryError) as caught:
        made.sms.send(PATIENT, BODY, key="k-offline")

    assert (caught.value.kind, caught.value.permanent) == ("connection", False)
    assert "internet connection" in str(caught.value)
    assert made.waits == [1.0, 2.0]


def test_wrong_token_is_a_permanent_auth_error_without_retries(fake: FakeTwilio) -> None:
    made = _client(fake, auth_token="not-the-token")

    with pytest.raises(SmsDeliveryError) as caught:
        made.sms.send(PATIENT, BODY, key="k-auth")

    assert (caught.value.kind, caught.value.permanent) == ("auth", True)
    assert "Settings ▸ Text messages" in str(caught.value)
    assert "not-the-token" not in str(caught.value)
    assert made.waits == []
    assert len(fake.requests) == 1


@pytest.mark.parametrize("code", [21211, 21614, 21610])
def test_number_that_cannot_get_texts_is_a_permanent_recipient_error_naming_no_data(
    fake: FakeTwilio, client: Client, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake.refusals[PATIENT] = code
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send(PATIENT, BODY, key="k-bad-number")

    error = caught.value
    assert (error.kind, error.permanent, error.provider_code) == ("recipient", True, code)
    for secret in (PATIENT, PATIENT[2:], BODY, "Lakeside"):
        assert secret not in str(error)
        assert secret not in caplog.text
    assert client.waits == []


def test_other_refusal_is_a_permanent_settings_error(fake: FakeTwilio, client: Client) -> None:
    fake.refusals[PATIENT] = 21999

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send(PATIENT, BODY, key="k-other")

    assert (caught.value.kind, caught.value.permanent) == ("settings", True)
    assert "21999" in str(caught.value)


def test_number_not_in_international_form_is_refused_before_any_request(
    fake: FakeTwilio, client: Client
) -> None:
    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send("312 555 0199", BODY, key="k-local")

    assert (caught.value.kind, caught.value.permanent) == ("recipient", True)
    assert "0199" not in str(caught.value)
    assert fake.requests == []


@pytest.mark.parametrize(
    "changes",
    [
        {"auth_token": ""},
        {"account_sid": " "},
        {"sender": ""},
        {"base_url": "http://sms.example.com"},  # the token must not travel in clear
        {"max_attempts": 0},
    ],
)
def test_incomplete_or_unsafe_account_is_a_settings_error(
    fake: FakeTwilio, changes: dict[str, Any]
) -> None:
    with pytest.raises(SmsDeliveryError) as caught:
        _client(fake, **changes)
    assert (caught.value.kind, caught.value.permanent) == ("settings", True)
    assert "Settings ▸ Text messages" in str(caught.value)
    assert fake.requests == []


def test_account_repr_hides_the_token() -> None:
    assert TOKEN not in repr(SmsAccount(SID, TOKEN, CLINIC_NUMBER))


# --- status ----------------------------------------------------------------------------


def test_status_is_polled_from_the_service(fake: FakeTwilio, client: Client) -> None:
    delivered = client.sms.send(PATIENT, BODY, key="k-a")
    failed = client.sms.send("+13125550123", BODY, key="k-b")
    fake.messages[delivered.provider_id].status = "delivered"
    fake.messages[failed.provider_id].status = "undelivered"
    fake.messages[failed.provider_id].error_code = 30003

    assert client.sms.status(delivered.provider_id).status == "delivered"
    assert client.sms.status(delivered.provider_id).error_code is None
    lookup = client.sms.status(failed.provider_id)
    assert (lookup.provider_id, lookup.status, lookup.error_code) == (
        failed.provider_id,
        "undelivered",
        "30003",
    )


def test_status_lookup_retries_a_server_error(fake: FakeTwilio, client: Client) -> None:
    sent = client.sms.send(PATIENT, BODY, key="k-c")
    fake.script = [(502, {})]
    assert client.sms.status(sent.provider_id).status == "queued"
    assert client.waits == [1.0]


def test_status_of_an_unknown_message_is_a_permanent_error(client: Client) -> None:
    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.status("SM" + "f" * 32)
    assert caught.value.permanent


# --- replies ---------------------------------------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_inbound_collects_every_page_newer_than_since_oldest_first(
    fake: FakeTwilio, client: Client
) -> None:
    fake.page_size = 2
    fake.add_inbound("+13125550001", "old, the day before", _at("2026-11-27T23:59:00Z"))
    fake.add_inbound("+13125550002", "same day, before since", _at("2026-11-28T14:00:00Z"))
    fake.add_inbound("+13125550003", "exactly at since", _at("2026-11-28T15:00:00Z"))
    expected = [
        (fake.add_inbound(f"+1312555010{i}", f"reply {i}", _at(f"2026-11-28T16:0{i}:00Z")), i)
        for i in range(7)
    ]
    client.sms.send(PATIENT, BODY, key="k-out")  # outbound, listed by date but not a reply
    [outbound] = fake.outbound()
    outbound.to, outbound.sent_at = CLINIC_NUMBER, _at("2026-11-28T16:30:00Z")  # on the list

    replies = client.sms.inbound("2026-11-28T15:00:00Z")

    assert replies == [
        InboundSms(sid, f"+1312555010{i}", f"reply {i}", f"2026-11-28T16:0{i}:00Z")
        for sid, i in expected
    ]
    pages = [r for r in fake.requests if r[0] == "GET"]
    assert len(pages) == 5  # 10 rows listed at 2 a page: every next_page_uri was followed
    assert all("2026-11-28" in path for _, path in pages)


def test_inbound_paging_survives_a_busy_service(fake: FakeTwilio, client: Client) -> None:
    fake.page_size = 1
    for i in range(3):
        fake.add_inbound(f"+1312555020{i}", "C", _at(f"2026-11-28T16:0{i}:00Z"))
    fake.script = [(503, {"Retry-After": "0"})]

    replies = client.sms.inbound("2026-11-28T00:00:00Z")

    assert [r.from_number for r in replies] == [f"+1312555020{i}" for i in range(3)]
    assert client.waits == [0.0]


def test_inbound_with_no_replies_is_empty(client: Client) -> None:
    assert client.sms.inbound("2026-11-28T15:00:00Z") == []


def test_inbound_since_must_be_utc_text(client: Client) -> None:
    with pytest.raises(InvalidInputError):
        client.sms.inbound("28/11/2026 3pm")
