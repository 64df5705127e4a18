"""The sender on a real clinic against loopback SMTP and a Twilio-like service: each branch
of the protocol, bad accounts, refusals, retries, recovery after a crash, delivery reports."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from app.clinic import Clinic
from app.ops import CancelToken
from app.reminders import sender
from app.reminders.email_channel import message_id_for
from app.reminders.outbox import get_message, history, transition
from app.reminders.sender import (
    BUSY,
    NOT_SENDER,
    RECOVERED_DUE,
    RECOVERED_SENT,
    SENDING_OFF,
    Channels,
    channel_problems,
    poll_delivery,
    recover_interrupted,
    send_due,
)
from app.reminders.sender_lock import sending_lock
from app.reminders.settings import update_settings
from app.reminders.sms_channel import SmsAccount, SmsClient
from app.scheduling.appointments import set_status
from app.store.writer import utc_text
from tests.support.fake_smtp import Mailbox, free_port, running_smtp
from tests.support.fake_twilio import (
    CLINIC_NUMBER,
    SID,
    FakeTwilio,
    account_for,
    running_fake_twilio,
)
from tests.support.sender_world import (
    NOW,
    appointment_rule,
    due_messages,
    email_settings_for,
    patient_with_visit,
    phone_number,
    start_sending,
)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as service:
        service.honour_keys = False  # Twilio does not document the idempotency header
        yield service


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def channels(fake: FakeTwilio, smtp: tuple[Mailbox, int]) -> Iterator[Channels]:
    made = Channels.from_accounts(email_settings_for(smtp[1]), account_for(fake))
    yield made
    made.close()


@pytest.fixture
def sending(clinic: Clinic) -> Clinic:
    start_sending(clinic)
    return clinic


def _messages(
    clinic: Clinic, n: int, channels: tuple[str, ...] = ("sms", "email", "letter")
) -> list[str]:
    rule = appointment_rule(clinic, channels)
    return due_messages(clinic, rule, [patient_with_visit(clinic, i) for i in range(n)])


def _states(clinic: Clinic, ids: list[str]) -> list[str]:
    return [get_message(clinic, i).state for i in ids]


# --- the plain path ------------------------------------------------------------------------


def test_due_texts_are_sent_once_and_recorded_with_the_service_reference(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 3)

    report = send_due(sending, channels, now=NOW)
    again = send_due(sending, channels, now=NOW + timedelta(minutes=5))

    assert (report.sent, again.sent) == (3, 0)
    assert sorted(m.to for m in fake.outbound()) == [phone_number(i) for i in range(3)]
    by_number = {m.to: m for m in fake.outbound()}
    for i, message_id in enumerate(ids):
        message = get_message(sending, message_id)
        assert message.state == "sent" and message.channel == "sms"
        assert message.provider_ref == by_number[phone_number(i)].sid
        assert message.body == by_number[phone_number(i)].body
        assert message.sent_at == utc_text(NOW) and message.attempts == 1
        assert [e.state for e in history(sending, message_id)] == ["sending", "sent"]


def test_an_email_carries_the_message_id_made_from_the_outbox_id(
    sending: Clinic, channels: Channels, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1, ("email",))

    report = send_due(sending, channels, now=NOW)

    assert report.sent == 1
    [email] = smtp[0].messages()
    assert email["Message-ID"] == message_id_for(message_id)
    assert email["To"] == "patient0@example.org"
    message = get_message(sending, message_id)
    assert message.provider_ref == message_id_for(message_id)
    assert message.subject and message.subject == email["Subject"]


def test_a_letter_waits_for_print_and_nothing_goes_out(
    sending: Clinic, channels: Channels, fake: FakeTwilio, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1, ("letter",))

    report = send_due(sending, channels, now=NOW)

    message = get_message(sending, message_id)
    assert report.to_print == 1
    assert (message.state, message.reason, message.channel) == (
        "to_print",
        "Waiting for print",
        "letter",
    )
    assert "0 Elm Street" in message.recipient and "appointment" in message.body
    assert fake.outbound() == [] and smtp[0].messages() == []


def test_only_messages_whose_time_has_come_are_sent(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    rule = appointment_rule(sending)
    [now_due] = due_messages(sending, rule, [patient_with_visit(sending, 1)])
    [later] = due_messages(
        sending, rule, [patient_with_visit(sending, 2)], due_at=NOW + timedelta(hours=1)
    )
    [retry_later] = due_messages(sending, rule, [patient_with_visit(sending, 3)])
    with sending.store.write() as tx:
        tx.update("outbox", retry_later, {"next_try_at": utc_text(NOW + timedelta(minutes=5))})

    report = send_due(sending, channels, now=NOW)

    assert report.sent == 1
    assert _states(sending, [now_due, later, retry_later]) == ["sent", "due", "due"]


def test_a_workstation_that_is_not_the_sender_sends_nothing(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 2)
    update_settings(sending, sender_device="another-workstation")

    report = send_due(sending, channels, now=NOW)

    assert report.refused == NOT_SENDER and report.sent == 0
    assert _states(sending, ids) == ["due", "due"] and fake.requests == []


def test_nothing_is_sent_while_sending_is_switched_off(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 1)
    update_settings(sending, enabled=False)

    assert send_due(sending, channels, now=NOW).refused == SENDING_OFF
    assert _states(sending, ids) == ["due"] and fake.requests == []


def test_a_second_pass_on_the_same_computer_waits_its_turn(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 1)

    with sending_lock(sending.home) as held:
        assert held
        report = send_due(sending, channels, now=NOW)

    assert report.refused == BUSY and _states(sending, ids) == ["due"]
    assert send_due(sending, channels, now=NOW).sent == 1


def test_cancel_and_limit_stop_between_messages(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 3)
    token = CancelToken()
    token.cancel()

    cancelled = send_due(sending, channels, now=NOW, cancel=token)
    limited = send_due(sending, channels, now=NOW, limit=2)

    assert cancelled.cancelled and cancelled.sent == 0
    assert limited.sent == 2 and sorted(_states(sending, ids)) == ["due", "sent", "sent"]


# --- decisions at send time -------------------------------------------------------------


def test_a_cancelled_visit_is_skipped_with_the_reason(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    rule = appointment_rule(sending)
    patient_id, visit_id = patient_with_visit(sending, 1)
    [message_id] = due_messages(sending, rule, [(patient_id, visit_id)])
    set_status(sending, visit_id, "cancelled", "")

    report = send_due(sending, channels, now=NOW)

    message = get_message(sending, message_id)
    assert report.skipped == 1 and fake.requests == []
    assert (message.state, message.reason) == ("skipped", "The visit was cancelled")


def test_the_daily_limit_makes_a_message_wait_with_one_history_line(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    update_settings(sending, daily_limit=1)
    rule = appointment_rule(sending, window_hours=48)
    patient_id, first_visit = patient_with_visit(sending, 1)
    second = appointment_rule(sending, window_hours=48)
    [one] = due_messages(sending, rule, [(patient_id, first_visit)])
    [other] = due_messages(sending, second, [(patient_id, first_visit)])

    report = send_due(sending, channels, now=NOW)
    send_due(sending, channels, now=NOW + timedelta(minutes=15))

    # Both are due at the same moment: which goes first is not specified, one goes.
    states = {get_message(sending, i).state: i for i in (one, other)}
    assert sorted(states) == ["due", "sent"]
    waiting = states["due"]
    message = get_message(sending, waiting)
    assert report.sent == 1 and report.waiting == 1
    assert message.next_try_at is not None and message.next_try_at > utc_text(NOW)
    assert message.reason.startswith("Waiting for tomorrow: the daily limit of 1 message")
    assert [e.state for e in history(sending, waiting)] == ["due"]


# --- when a channel says no ----------------------------------------------------------------


def test_a_number_that_cannot_receive_texts_falls_back_to_email(
    sending: Clinic, channels: Channels, fake: FakeTwilio, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1)
    fake.refusals[phone_number(0)] = 21614

    report = send_due(sending, channels, now=NOW)

    message = get_message(sending, message_id)
    assert report.sent == 1 and fake.outbound() == []
    assert len(smtp[0].messages()) == 1
    assert (message.state, message.channel, message.recipient) == (
        "sent",
        "email",
        "patient0@example.org",
    )
    steps = history(sending, message_id)
    assert [e.state for e in steps] == ["sending", "sending", "sent"]
    assert "cannot receive text messages" in steps[1].reason
    assert steps[1].reason.endswith("Trying email instead.")
    assert phone_number(0) not in steps[1].reason


def test_refused_by_every_channel_fails_with_every_reason(
    sending: Clinic, channels: Channels, fake: FakeTwilio, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1, ("sms", "email"))
    fake.refusals[phone_number(0)] = 21614
    smtp[0].rcpt_reply = "550 5.1.1 No such user here"

    report = send_due(sending, channels, now=NOW)

    message = get_message(sending, message_id)
    assert report.failed == 1 and report.sent == 0
    assert message.state == "failed"
    assert "cannot receive text messages" in message.reason
    assert "would not accept the patient's email address" in message.reason
    assert "patient0@example.org" not in message.reason


def test_an_sms_account_that_cannot_sign_in_marks_nothing_sent_and_is_shown(
    sending: Clinic, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 3, ("sms", "email"))
    wrong = SmsAccount(SID, "not-the-token", CLINIC_NUMBER, base_url=fake.url, timeout_s=5.0)
    bad = Channels.from_accounts(sms=wrong)

    report = send_due(sending, bad, now=NOW)
    bad.close()

    assert report.sent == 0 and report.waiting == 3 and fake.outbound() == []
    assert len(fake.requests) == 1  # the first refusal rests texts for the rest of the pass
    messages = sorted((get_message(sending, i) for i in ids), key=lambda m: -m.attempts)
    assert all(m.state == "due" for m in messages)
    assert [m.attempts for m in messages] == [1, 0, 0]
    assert "refused the sign-in" in messages[0].reason
    assert messages[0].next_try_at == utc_text(NOW + timedelta(minutes=1))
    shown = channel_problems(sending)["sms"]
    assert "refused the sign-in" in shown.reason and shown.at == utc_text(NOW)
    assert [p.channel for p in report.channel_problems] == ["sms"]

    good = Channels.from_accounts(sms=account_for(fake))
    fixed = send_due(sending, good, now=NOW + timedelta(minutes=2))
    good.close()

    assert fixed.sent == 3 and len(fake.outbound()) == 3
    assert channel_problems(sending) == {}


def test_email_settings_that_cannot_work_mark_nothing_sent_and_are_shown(
    sending: Clinic, smtp: tuple[Mailbox, int]
) -> None:
    ids = _messages(sending, 2, ("email",))
    # A password over an unencrypted connection: refused before anything is sent.
    unsafe = replace(email_settings_for(smtp[1]), username="desk", password="secret")

    report = send_due(sending, Channels(email=unsafe), now=NOW)

    assert report.sent == 0 and smtp[0].messages() == []
    assert _states(sending, ids) == ["due", "due"]
    assert "unencrypted" in channel_problems(sending)["email"].reason


def test_the_mail_server_refusing_for_now_retries_that_message_later(
    sending: Clinic, channels: Channels, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1, ("email",))
    smtp[0].data_reply = "451 4.3.0 Try again later"

    first = send_due(sending, channels, now=NOW)
    again_at = NOW + timedelta(minutes=1)
    second = send_due(sending, channels, now=again_at)
    smtp[0].data_reply = None
    third = send_due(sending, channels, now=again_at + timedelta(minutes=5))

    assert (first.waiting, second.waiting, third.sent) == (1, 1, 1)
    message = get_message(sending, message_id)
    assert message.state == "sent" and message.attempts == 3
    reasons = [e.reason for e in history(sending, message_id) if e.state == "due"]
    # 10:00 in Chicago: one minute, then five minutes after each try.
    assert reasons[0].endswith("Next try at 10:01.") and reasons[1].endswith("Next try at 10:06.")
    assert len(smtp[0].messages()) == 1


def test_a_mail_server_that_is_down_holds_back_email_for_the_pass(
    sending: Clinic, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 3, ("email",))
    nobody = email_settings_for(free_port())

    report = send_due(sending, Channels(email=nobody), now=NOW)

    assert report.sent == 0 and report.waiting == 3
    assert [p.channel for p in report.channel_problems] == ["email"]
    tried = sorted((get_message(sending, i) for i in ids), key=lambda m: -m.attempts)
    assert [m.attempts for m in tried] == [1, 0, 0]  # one try, the others left alone
    assert tried[0].next_try_at == utc_text(NOW + timedelta(minutes=1))
    assert all(m.state == "due" for m in tried)
    assert channel_problems(sending) == {}  # a server that is down is not the account


def test_rate_limits_are_retried_then_sent_once(sending: Clinic, fake: FakeTwilio) -> None:
    [message_id] = _messages(sending, 1, ("sms",))
    fake.script = [(429, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]
    channels = Channels.from_accounts(sms=account_for(fake))

    report = send_due(sending, channels, now=NOW)
    channels.close()

    assert report.sent == 1 and len(fake.outbound()) == 1
    assert get_message(sending, message_id).state == "sent"


def test_an_sms_service_that_stays_busy_leaves_the_texts_due(
    sending: Clinic, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 2, ("sms", "email"))
    fake.script = [(429, {"Retry-After": "0"})] * 2
    channels = Channels.from_accounts(sms=account_for(fake, max_attempts=2))

    report = send_due(sending, channels, now=NOW)

    assert report.sent == 0 and report.waiting == 2 and fake.outbound() == []
    first, second = sorted((get_message(sending, i) for i in ids), key=lambda m: -m.attempts)
    assert first.state == "due" and "slow down" in first.reason
    assert second.attempts == 0 and second.state == "due"
    channels.close()


def _hang_up_after_the_message() -> Iterator[int]:
    """A mail server that takes the whole message, then drops the line instead of 250."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rb") as reader:
                conn.sendall(b"220 loopback ESMTP\r\n")
                while line := reader.readline():
                    command = line[:4].upper()
                    if command == b"EHLO":
                        conn.sendall(b"250-loopback\r\n250 8BITMIME\r\n")
                    elif command == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        while (body := reader.readline()) and body != b".\r\n":
                            pass
                        break
                    else:
                        conn.sendall(b"250 OK\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_an_email_whose_fate_is_unknown_fails_for_a_person_to_decide(sending: Clinic) -> None:
    [message_id] = _messages(sending, 1, ("email", "letter"))
    port = next(gen := _hang_up_after_the_message())

    report = send_due(sending, Channels(email=email_settings_for(port)), now=NOW)
    gen.close()

    message = get_message(sending, message_id)
    assert report.failed == 1
    assert message.state == "failed" and message.reason.startswith("May have been sent")
    assert "Check with the patient" in message.reason


# --- after a crash between the claim and the outcome --------------------------------------


def _claim(clinic: Clinic, message_id: str, channel: str, recipient: str, body: str) -> None:
    """Step 3 of the protocol, as a sender that is then killed leaves it."""
    with clinic.store.write() as tx:
        assert transition(
            tx,
            message_id,
            "sending",
            "Sending",
            expect=("due",),
            device_id=clinic.store.device_id,
            values={"channel": channel, "recipient": recipient, "body": body, "attempts": 1},
        )


def test_a_text_the_service_has_is_recovered_as_sent_and_not_sent_again(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    [message_id] = _messages(sending, 1)
    body = "Lakeside: your visit is Thu 9:00."
    _claim(sending, message_id, "sms", phone_number(0), body)
    with SmsClient(account_for(fake)) as client:
        sid = client.send(phone_number(0), body, key="crashed-1").provider_id

    recovered = recover_interrupted(sending, channels, now=NOW)
    report = send_due(sending, channels, now=NOW)

    message = get_message(sending, message_id)
    assert recovered == 1 and report.sent == 0
    assert (message.state, message.reason, message.provider_ref) == ("sent", RECOVERED_SENT, sid)
    assert len(fake.outbound()) == 1


def test_a_text_the_service_never_got_goes_back_to_due_and_is_sent_once(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    [message_id] = _messages(sending, 1)
    body = "Lakeside: your visit is Thu 9:00."
    # The same words to the same number an hour before the claim are another message.
    with SmsClient(account_for(fake)) as client:
        old = client.send(phone_number(0), body, key="yesterday").provider_id
    fake.messages[old].sent_at -= timedelta(hours=1)
    _claim(sending, message_id, "sms", phone_number(0), body)

    recovered = recover_interrupted(sending, channels, now=NOW)
    after_recovery = get_message(sending, message_id)
    report = send_due(sending, channels, now=NOW)

    assert recovered == 1
    assert (after_recovery.state, after_recovery.reason) == ("due", RECOVERED_DUE)
    assert report.sent == 1 and len(fake.outbound()) == 2
    assert get_message(sending, message_id).state == "sent"


def test_an_interrupted_email_is_marked_may_have_been_sent(
    sending: Clinic, channels: Channels, smtp: tuple[Mailbox, int]
) -> None:
    [message_id] = _messages(sending, 1)
    _claim(sending, message_id, "email", "patient0@example.org", "Your visit")

    assert recover_interrupted(sending, channels, now=NOW) == 1
    assert send_due(sending, channels, now=NOW).sent == 0

    message = get_message(sending, message_id)
    assert message.state == "failed" and message.reason.startswith("May have been sent")
    assert smtp[0].messages() == []


def test_an_interrupted_letter_goes_to_the_print_queue(sending: Clinic, channels: Channels) -> None:
    [message_id] = _messages(sending, 1)
    _claim(sending, message_id, "letter", "Ada Tester0, 0 Elm Street", "Dear Ada")

    assert recover_interrupted(sending, channels, now=NOW) == 1
    assert get_message(sending, message_id).state == "to_print"


def test_a_text_whose_fate_cannot_be_asked_stays_sending_for_the_next_pass(
    sending: Clinic, fake: FakeTwilio
) -> None:
    [message_id] = _messages(sending, 1)
    _claim(sending, message_id, "sms", phone_number(0), "Your visit")
    unreachable = Channels.from_accounts(
        sms=account_for(fake, base_url=f"http://127.0.0.1:{free_port()}")
    )

    report = send_due(sending, unreachable, now=NOW)
    unreachable.close()

    assert report.recovered == 0 and [p.channel for p in report.channel_problems] == ["sms"]
    assert get_message(sending, message_id).state == "sending"


def test_a_workstation_that_is_not_the_sender_recovers_nothing(
    sending: Clinic, channels: Channels
) -> None:
    [message_id] = _messages(sending, 1)
    _claim(sending, message_id, "email", "patient0@example.org", "Your visit")
    update_settings(sending, sender_device="another-workstation")

    assert recover_interrupted(sending, channels, now=NOW) == 0
    assert get_message(sending, message_id).state == "sending"


# --- delivery reports ------------------------------------------------------------------------


def test_delivery_reports_are_stored_and_a_failed_one_is_told(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    ids = _messages(sending, 2, ("sms",))
    send_due(sending, channels, now=NOW)
    refs = [get_message(sending, i).provider_ref for i in ids]
    fake.messages[refs[0]].status = "delivered"
    fake.messages[refs[1]].status = "undelivered"
    fake.messages[refs[1]].error_code = 30003

    changed = poll_delivery(sending, channels, now=NOW + timedelta(hours=1))
    again = poll_delivery(sending, channels, now=NOW + timedelta(hours=2))
    too_late = poll_delivery(sending, channels, now=NOW + timedelta(days=4))

    assert (changed, again, too_late) == (2, 0, 0)
    delivered, undelivered = (get_message(sending, i) for i in ids)
    assert delivered.delivery == "delivered" and delivered.state == "sent"
    assert undelivered.delivery == "undelivered" and undelivered.state == "sent"
    reason = "The phone company could not deliver the text (code 30003)."
    assert undelivered.reason == reason
    assert history(sending, ids[1])[-1].reason == reason


def test_the_report_module_names_its_public_parts() -> None:
    assert set(sender.__all__) >= {"send_due", "recover_interrupted", "poll_delivery"}


def test_a_fallback_to_a_channel_down_this_pass_waits_instead_of_skipping_to_a_letter(
    sending: Clinic, fake: FakeTwilio
) -> None:
    rule = appointment_rule(sending)
    [email_first] = due_messages(
        sending,
        rule,
        [patient_with_visit(sending, 1, phone=None)],
        due_at=NOW - timedelta(minutes=1),
    )
    [text_refused] = due_messages(sending, rule, [patient_with_visit(sending, 2)])
    fake.refusals[phone_number(2)] = 21614
    channels = Channels.from_accounts(email_settings_for(free_port()), account_for(fake))

    report = send_due(sending, channels, now=NOW)
    channels.close()

    assert report.to_print == 0 and report.waiting == 2
    message = get_message(sending, text_refused)
    assert message.state == "due" and "Email cannot be used just now" in message.reason
    assert get_message(sending, email_first).state == "due"


# --- a send without a clear answer --------------------------------------------------------


@pytest.mark.parametrize("lost", ["store-then-503", "store-then-drop"])
def test_a_text_the_service_took_without_answering_is_found_not_sent_again(
    sending: Clinic, channels: Channels, fake: FakeTwilio, lost: str
) -> None:
    [message_id] = _messages(sending, 1, ("sms",))
    fake.script = [lost]

    first = send_due(sending, channels, now=NOW)
    assert (first.sent, first.waiting) == (0, 1)
    assert get_message(sending, message_id).state == "sending"
    assert "checks with the service" in history(sending, message_id)[-1].reason

    second = send_due(sending, channels, now=NOW + timedelta(minutes=1))

    assert len(fake.outbound()) == 1
    message = get_message(sending, message_id)
    assert (message.state, message.provider_ref) == ("sent", fake.outbound()[0].sid)
    assert history(sending, message_id)[-1].reason == RECOVERED_SENT
    assert second.recovered == 1


def test_a_text_the_service_refused_with_a_server_error_goes_at_the_next_pass(
    sending: Clinic, channels: Channels, fake: FakeTwilio
) -> None:
    [message_id] = _messages(sending, 1, ("sms",))
    fake.script = [(503, {})]

    send_due(sending, channels, now=NOW)
    assert fake.outbound() == [] and get_message(sending, message_id).state == "sending"

    send_due(sending, channels, now=NOW + timedelta(minutes=1))

    assert len(fake.outbound()) == 1
    assert get_message(sending, message_id).state == "sent"
    assert RECOVERED_DUE in [e.reason for e in history(sending, message_id)]
