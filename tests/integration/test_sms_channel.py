"""The SMS client against a loopback server that speaks the Twilio Messages API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest

from app.errors import InvalidInputError
from app.reminders.sms_channel import (
    InboundSms,
    SmsAccount,
    SmsClient,
    SmsDeliveryError,
)
from tests.support.fake_twilio import (
    BODY,
    CLINIC_NUMBER,
    PATIENT,
    SID,
    TOKEN,
    FakeTwilio,
    running_fake_twilio,
)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as state:
        yield state


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


def test_rate_limit_is_retried_with_backoff_as_the_service_did_not_act(
    fake: FakeTwilio, client: Client
) -> None:
    fake.script = [(429, {"Retry-After": "3"}), (429, {}), (429, {})]

    sent = client.sms.send(PATIENT, BODY, key="k-retry")

    assert client.waits == [3.0, 2.0, 4.0]  # Retry-After honoured, then 2^n backoff
    assert [m.sid for m in fake.outbound()] == [sent.provider_id]
    assert len([r for r in fake.requests if r[0] == "POST"]) == 4


@pytest.mark.parametrize("lost", ["store-then-503", "store-then-drop", (503, {})])
def test_a_send_without_a_clear_answer_is_not_repeated_but_reported_as_maybe_taken(
    fake: FakeTwilio, client: Client, lost: str | tuple[int, dict[str, str]]
) -> None:
    fake.honour_keys = False  # as Twilio, which does not document honouring the key
    fake.script = [lost]

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send(PATIENT, BODY, key="k-lost")

    assert caught.value.delivery_unknown and not caught.value.permanent
    assert "checks with the service before sending it again" in str(caught.value)
    assert len([r for r in fake.requests if r[0] == "POST"]) == 1
    assert len(fake.outbound()) == (0 if isinstance(lost, tuple) else 1)
    assert client.waits == []


def test_giving_up_after_max_attempts_is_not_permanent(fake: FakeTwilio, client: Client) -> None:
    fake.script = [(429, {"Retry-After": "1"})] * 4

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.send(PATIENT, BODY, key="k-down")

    assert (caught.value.kind, caught.value.permanent) == ("rate", False)
    assert not caught.value.delivery_unknown
    assert "tried again later" in str(caught.value)
    assert len(fake.requests) == 4
    assert len(client.waits) == 3
    assert fake.outbound() == []


def test_a_lookup_gives_up_on_a_service_in_trouble_after_max_attempts(
    fake: FakeTwilio, client: Client
) -> None:
    sent = client.sms.send(PATIENT, BODY, key="k-status")
    fake.script = [(503, {})] * 4

    with pytest.raises(SmsDeliveryError) as caught:
        client.sms.status(sent.provider_id)

    assert (caught.value.kind, caught.value.permanent) == ("server", False)
    assert len(client.waits) == 3


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
