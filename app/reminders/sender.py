"""The crash-safe sender: every due message goes out at most once, or stays visibly pending.

Each step of a message is its own committed transaction, and the commit is the point of
no return:

1. pick the due messages (on the sender workstation, with sending on);
2. decide from the current data whether and what to send (compose.decide): skip, wait,
   or a list of drafts in the patient's channel order;
3. claim: due → sending with the first draft's channel, recipient and text. The move is
   conditional on "due", so of two senders only one wins;
4. hand it to the channel (an SMS key and an email Message-ID that stay the same for the
   message, so a receiving system can recognise a copy);
5. record the outcome: sent; or the next draft (sending → sending, its own event) when the
   recipient cannot get it this way; or back to due with a later try when the service is
   down or the clinic's account is wrong; or failed.

A crash between 3 and 5 leaves the message in "sending", and nothing else ever does, so
`recover_interrupted` knows exactly what to look at: it asks the SMS service whether the
text arrived (the idempotency header is not relied on: Twilio does not document it),
and marks an email "may have been sent" for a person to decide (SMTP cannot be asked).
Recovery and sending hold an OS lock (sender_lock) so a second pass on the same computer
never mistakes a message being sent for one left by a crash.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic, put_setting
from app.errors import FrontdeskError, InvalidInputError
from app.ops import CancelToken, Progress, no_progress
from app.reminders.compose import Decision, Draft, decide
from app.reminders.delivery import (
    ACCOUNT,
    CHANNEL_DOWN,
    CHANNEL_NAMES,
    LATER,
    LOOK_UP,
    MAYBE_SENT,
    NEXT_CHANNEL,
    Channels,
    Delivered,
    DeliveryFailedError,
    channels_for,
    deliver_email,
    find_sent_sms,
    not_set_up,
    send_sms,
)
from app.reminders.outbox import Message, get_message, record_events, transition
from app.reminders.rules import CALL_CHANNEL, Rule, load_rules
from app.reminders.sender_lock import sending_lock
from app.reminders.settings import ReminderSettings, is_chosen_sender, load_settings
from app.store.writer import utc_now, utc_text
from app.sync import sender_lease

__all__ = [
    "ChannelProblem",
    "Channels",
    "SendReport",
    "channel_problems",
    "channels_for",
    "poll_delivery",
    "recover_interrupted",
    "send_due",
]

log = logging.getLogger(__name__)

BACKOFF: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=60),
)
"""The pause before the next try after the 1st, 2nd, 3rd and later failures of a message."""
PROBLEM_SETTING: Final = "reminders.channel_problem."
DELIVERY_WINDOW: Final = timedelta(days=3)
FINAL_DELIVERY: Final = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
_NOT_DELIVERED: Final = frozenset({"undelivered", "failed"})

SENDING_OFF: Final = "Sending is switched off (Settings ▸ Reminders); nothing was sent."
NOT_SENDER: Final = (
    "This computer is not the one that sends reminders (Settings ▸ Reminders); nothing was sent."
)
BUSY: Final = "Another sending pass is running on this computer; nothing more was sent."
RECOVERED_SENT: Final = "Found at the SMS service after an interruption"
RECOVERED_DUE: Final = "Interrupted before the text was handed over; sending again"
RECOVERED_EMAIL: Final = (
    "May have been sent: the sending was interrupted while the email was being handed to "
    "the mail server. Check with the patient before sending it again."
)
WAITING_FOR_PRINT: Final = "Waiting for print"
CALL_LIST_REASON: Final = "Put on the call list"
CALL_TASK_NAMESPACE: Final = uuid.UUID("0b6f3c57-2f51-4d7e-9a0e-3c1d2e8f4a61")
"""A reactivation call's task id is uuid5(this, the message id): one task per message."""


@dataclass(frozen=True)
class ChannelProblem:
    """Something wrong with a whole channel (an account that cannot sign in, a service that
    stays down): Settings and Messages show it; it clears at the channel's next success."""

    channel: str  # sms | email
    reason: str  # plain words, no patient data
    at: str  # UTC text


@dataclass(frozen=True)
class SendReport:
    """What one sending pass did. `refused` says why it sent nothing at all."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    to_print: int = 0
    recovered: int = 0
    channel_problems: tuple[ChannelProblem, ...] = ()
    refused: str = ""
    cancelled: bool = False


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def _refusal(clinic: Clinic, settings: ReminderSettings) -> str:
    if not settings.enabled:
        return SENDING_OFF
    if not is_chosen_sender(clinic, settings):
        return NOT_SENDER
    # With sync on: claim or renew the sending turn at the relay ("" without sync).
    return sender_lease.prepare_to_send(clinic)


# --- the channel problems Settings and Messages show ------------------------------------


def channel_problems(clinic: Clinic) -> dict[str, ChannelProblem]:
    """The channels whose last use failed for the whole channel, by channel."""
    rows = clinic.conn.execute(
        "SELECT id, value FROM setting WHERE id >= ? AND id < ?",
        (PROBLEM_SETTING, PROBLEM_SETTING + "\uffff"),
    ).fetchall()
    found: dict[str, ChannelProblem] = {}
    for key, value in rows:
        channel = str(key)[len(PROBLEM_SETTING) :]
        try:
            data = json.loads(value)
        except ValueError:
            continue
        if isinstance(data, dict):
            found[channel] = ChannelProblem(
                channel, str(data.get("reason", "")), str(data.get("at", ""))
            )
    return found


def _save_problem(clinic: Clinic, problem: ChannelProblem) -> None:
    encoded = json.dumps({"at": problem.at, "reason": problem.reason}, ensure_ascii=False)
    with clinic.store.write() as tx:
        put_setting(tx, PROBLEM_SETTING + problem.channel, encoded)


def _clear_problem(clinic: Clinic, channel: str) -> None:
    key = PROBLEM_SETTING + channel
    with clinic.store.write() as tx:
        if tx.conn.execute("SELECT 1 FROM setting WHERE id = ?", (key,)).fetchone():
            tx.delete("setting", key)


# --- sending -----------------------------------------------------------------------------


def send_due(
    clinic: Clinic,
    channels: Channels,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    cancel: CancelToken | None = None,
    progress: Progress = no_progress,
) -> SendReport:
    """Send what is due, after recovering what an interrupted pass left half-sent.

    Only on the sender workstation with sending on; only one pass at a time per computer
    (a second one returns at once with `refused`). A cancel stops between messages: what
    went is recorded, the rest stays due.
    """
    moment = _moment(now)
    settings = load_settings(clinic)
    refusal = _refusal(clinic, settings)
    if refusal:
        return SendReport(refused=refusal)
    with sending_lock(clinic.home) as held:
        if not held:
            return SendReport(refused=BUSY)
        recovery = _Recovery(clinic, channels)
        recovery.run()
        sending = _Pass(clinic, channels, settings, moment)
        sending.problems.update(recovery.problems)
        sending.run(limit, cancel, progress)
    return SendReport(
        sent=sending.sent,
        failed=sending.failed,
        skipped=sending.skipped,
        waiting=sending.waiting,
        to_print=sending.to_print,
        recovered=recovery.recovered,
        channel_problems=tuple(sending.problems.values()),
        cancelled=sending.cancelled,
    )


def _draft_values(draft: Draft) -> dict[str, Any]:
    return {
        "channel": draft.channel,
        "recipient": draft.recipient,
        "subject": draft.subject,
        "body": draft.body,
    }


def _backoff(attempts: int) -> timedelta:
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


@dataclass
class _Pass:
    clinic: Clinic
    channels: Channels
    settings: ReminderSettings
    now: datetime
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    to_print: int = 0
    cancelled: bool = False
    problems: dict[str, ChannelProblem] = field(default_factory=dict)
    # Channels left alone for the rest of this pass (account wrong, service down).
    resting: set[str] = field(default_factory=set)
    rules: dict[str, Rule] = field(default_factory=dict)
    stored_problems: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rules = {rule.id: rule for rule in load_rules(self.clinic)}
        self.stored_problems = set(channel_problems(self.clinic))
        self.device = self.clinic.store.device_id
        self.zone = ZoneInfo(self.clinic.settings.timezone)

    def run(self, limit: int | None, cancel: CancelToken | None, progress: Progress) -> None:
        ids = self._due_ids(limit)
        for done, message_id in enumerate(ids):
            if cancel is not None and cancel.cancelled:
                self.cancelled = True
                return
            if not sender_lease.still_may_send(self.clinic):
                return  # the sending turn ended (sync on): the rest stays due
            progress(done, len(ids), "Sending reminders")
            self._one(message_id)
        progress(len(ids), len(ids), "Sending reminders")

    def _due_ids(self, limit: int | None) -> list[str]:
        now = utc_text(self.now)
        sql = (
            "SELECT id FROM outbox WHERE state = 'due' AND due_at <= ? "
            "AND (next_try_at IS NULL OR next_try_at <= ?) ORDER BY due_at, id"
        )
        params: list[Any] = [now, now]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        return [str(r[0]) for r in self.clinic.conn.execute(sql, params).fetchall()]

    # --- one message ---------------------------------------------------------------------

    def _one(self, message_id: str) -> None:
        message = get_message(self.clinic, message_id)
        if message.state != "due":
            return  # moved since the list was read (cancelled at the desk, another sender)
        try:
            decision = decide(
                self.clinic,
                message,
                self.rules.get(message.rule_id),
                now=self.now,
                settings=self.settings,
            )
        except FrontdeskError as error:
            # A template or record the message cannot be made from: staff must look.
            log.warning("outbox %s: could not be prepared (%s)", message.id, type(error).__name__)
            if self._move(message.id, "failed", str(error), expect=("due",)):
                self.failed += 1
            return
        if decision.skip and decision.wait_until is None:
            if self._move(message.id, "skipped", decision.skip, expect=("due",)):
                self.skipped += 1
            return
        if decision.wait_until is not None:
            self._wait(message, decision.wait_until, self._wait_reason(decision))
            return
        if decision.drafts and decision.drafts[0].channel == CALL_CHANNEL:
            self._put_on_call_list(message, decision.drafts[0])
            return
        drafts = [d for d in decision.drafts if self.channels.available(d.channel)]
        if not drafts:
            self._no_way(message, decision)
            return
        if drafts[0].channel in self.resting:
            self.waiting += 1  # the channel is down or refused us this pass: try next pass
            return
        self._claim_and_deliver(message, drafts)

    def _put_on_call_list(self, message: Message, draft: Draft) -> None:
        """A reactivation call: a call-back task due today on Today's call list, and the
        message marked sent, in one transaction. The task's id is made from the message's,
        so a second pass (or a second sender) can never add it twice."""
        today = self.now.astimezone(self.zone).date()
        task_id = str(uuid.uuid5(CALL_TASK_NAMESPACE, message.id))
        with self.clinic.store.write() as tx:
            claimed = transition(
                tx,
                message.id,
                "sending",
                CALL_LIST_REASON,
                expect=("due",),
                device_id=self.device,
                values={
                    "channel": CALL_CHANNEL,
                    "recipient": draft.recipient,
                    "subject": "",
                    "body": draft.body,
                    "attempts": message.attempts + 1,
                    "next_try_at": None,
                },
            )
            if not claimed:
                return
            if tx.current("task", task_id, ("id",)) is None:
                tx.insert(
                    "task",
                    {
                        "id": task_id,
                        "patient_id": message.patient_id,
                        "kind": "call-back",
                        "due_on": today.isoformat(),
                        "note": draft.body,
                        "created_at": utc_text(self.now),
                        "created_by": self.clinic.acting_user_id,
                        "interaction_id": None,
                        "done_at": None,
                        "done_by": "",
                    },
                )
            transition(
                tx,
                message.id,
                "sent",
                CALL_LIST_REASON,
                expect=("sending",),
                device_id=self.device,
                values={"sent_at": utc_text(self.now)},
            )
        self.sent += 1

    def _wait_reason(self, decision: Decision) -> str:
        if decision.skip:
            return decision.skip
        if decision.waiting_for:
            return decision.waiting_for
        until = datetime.fromisoformat(str(decision.wait_until).replace("Z", "+00:00"))
        local = until.astimezone(self.zone)
        day = "" if local.date() == self.now.astimezone(self.zone).date() else f"{local:%a} "
        return (
            f"Waiting until {day}{local:%H:%M} (the rule's quiet hours or the patient's "
            "daily limit)"
        )

    def _no_way(self, message: Message, decision: Decision) -> None:
        missing = sorted({d.channel for d in decision.drafts})
        if missing:
            # The patient can only be reached by a channel the clinic has not set up yet:
            # wait for it rather than drop the message.
            reason = " ".join(not_set_up(channel) for channel in missing)
            self._wait(message, None, reason)
            for channel in missing:
                self.problems.setdefault(
                    channel, ChannelProblem(channel, not_set_up(channel), utc_text(self.now))
                )
            return
        reason = "; ".join(decision.blocked) or "There is no way to reach this patient."
        if self._move(message.id, "skipped", reason, expect=("due",)):
            self.skipped += 1

    def _wait(self, message: Message, until: str | None, reason: str) -> None:
        """Stay due until `until`; a history line only when the reason is new, so a message
        that waits through forty passes has one line, not forty."""
        with self.clinic.store.write() as tx:
            row = tx.conn.execute(
                "SELECT state, reason, next_try_at FROM outbox WHERE id = ?", (message.id,)
            ).fetchone()
            if row is None or row[0] != "due":
                return
            if (row[1], row[2]) != (reason, until):
                tx.update(
                    "outbox",
                    message.id,
                    {"reason": reason, "next_try_at": until, "updated_at": utc_now()},
                )
            if row[1] != reason:
                record_events(tx, [(message.id, "due", reason)], self.device)
        self.waiting += 1

    def _claim_and_deliver(self, message: Message, drafts: list[Draft]) -> None:
        first = drafts[0]
        attempt = message.attempts + 1
        values = {**_draft_values(first), "attempts": attempt, "next_try_at": None}
        with self.clinic.store.write() as tx:
            claimed = transition(
                tx,
                message.id,
                "sending",
                f"Sending by {CHANNEL_NAMES[first.channel]}",
                expect=("due",),
                device_id=self.device,
                values=values,
            )
            if claimed and first.channel == "letter":
                # Nothing leaves the building here: the claim and the print queue commit
                # together, so a letter is never "sending".
                transition(
                    tx,
                    message.id,
                    "to_print",
                    WAITING_FOR_PRINT,
                    expect=("sending",),
                    device_id=self.device,
                )
        if not claimed:
            return  # another sender claimed it first: it is theirs
        if first.channel == "letter":
            self.to_print += 1
            return
        self._deliver(message, drafts, attempt)

    def _deliver(self, message: Message, drafts: list[Draft], attempt: int) -> None:
        reasons: list[str] = []
        index = 0
        while True:
            draft = drafts[index]
            try:
                delivered = self._hand_over(message.id, draft, attempt, index)
            except DeliveryFailedError as problem:
                if problem.verdict != NEXT_CHANNEL:
                    self._not_now(message.id, problem, attempt)
                    return
                reasons.append(str(problem))
                following = index + 1
                if following == len(drafts):
                    if self._move(message.id, "failed", " ".join(reasons), expect=("sending",)):
                        self.failed += 1
                    return
                if drafts[following].channel in self.resting:
                    # The next way is only down for now: wait for it rather than skip to
                    # a letter the patient never needed.
                    name = CHANNEL_NAMES[drafts[following].channel].capitalize()
                    self._retry_later(
                        message.id, f"{problem} {name} cannot be used just now.", attempt
                    )
                    return
                index = following
                self._fall_back(message.id, drafts[index], str(problem))
                if drafts[index].channel == "letter":
                    return
                continue
            self._sent(message.id, draft, delivered)
            return

    def _hand_over(self, message_id: str, draft: Draft, attempt: int, index: int) -> Delivered:
        if draft.channel == "sms" and self.channels.sms is not None:
            key = f"{message_id}.{attempt}.{index}"
            return send_sms(self.channels.sms, draft.recipient, draft.body, key=key)
        if draft.channel == "email" and self.channels.email is not None:
            return deliver_email(
                self.channels.email,
                draft.recipient,
                draft.subject,
                draft.body,
                html=draft.html,
                message_key=message_id,
                unsubscribe=draft.unsubscribe,
                ssl_context=self.channels.ssl_context,
            )
        raise DeliveryFailedError(not_set_up(draft.channel), verdict=NEXT_CHANNEL, channel="")

    def _fall_back(self, message_id: str, draft: Draft, problem: str) -> None:
        name = CHANNEL_NAMES[draft.channel]
        with self.clinic.store.write() as tx:
            transition(
                tx,
                message_id,
                "sending",
                f"{problem} Trying {name} instead.",
                expect=("sending",),
                device_id=self.device,
                values=_draft_values(draft),
            )
            if draft.channel == "letter":
                transition(
                    tx,
                    message_id,
                    "to_print",
                    WAITING_FOR_PRINT,
                    expect=("sending",),
                    device_id=self.device,
                )
        if draft.channel == "letter":
            self.to_print += 1

    def _sent(self, message_id: str, draft: Draft, delivered: Delivered) -> None:
        moved = self._move(
            message_id,
            "sent",
            f"Sent by {CHANNEL_NAMES[draft.channel]}",
            expect=("sending",),
            values={
                "provider_ref": delivered.provider_ref,
                "delivery": delivered.delivery,
                "sent_at": utc_text(self.now),
                "next_try_at": None,
            },
        )
        if not moved:  # only a second, unlocked pass could do this
            log.warning("outbox %s: sent, but its state had been changed meanwhile", message_id)
        self.sent += 1
        if draft.channel in self.stored_problems:
            _clear_problem(self.clinic, draft.channel)
            self.stored_problems.discard(draft.channel)

    def _not_now(self, message_id: str, problem: DeliveryFailedError, attempts: int) -> None:
        if problem.verdict == LOOK_UP:
            # Left as an interruption would leave it: the next pass's recovery asks the
            # service whether the text went, then sends it again only if it did not.
            self._move(message_id, "sending", str(problem), expect=("sending",))
            self.waiting += 1
            self.resting.add(problem.channel)
            return
        if problem.verdict == MAYBE_SENT:
            if self._move(message_id, "failed", str(problem), expect=("sending",)):
                self.failed += 1
            return
        self._retry_later(message_id, str(problem), attempts)
        if problem.verdict in (CHANNEL_DOWN, ACCOUNT):
            self.resting.add(problem.channel)
            found = ChannelProblem(problem.channel, str(problem), utc_text(self.now))
            self.problems[problem.channel] = found
            if problem.verdict == ACCOUNT:
                _save_problem(self.clinic, found)
                self.stored_problems.add(problem.channel)
        elif problem.verdict != LATER:  # pragma: no cover - every verdict is handled above
            raise AssertionError(problem.verdict)

    def _retry_later(self, message_id: str, why: str, attempts: int) -> None:
        retry_at = self.now + _backoff(attempts)
        local = retry_at.astimezone(self.zone).strftime("%H:%M")
        if self._move(
            message_id,
            "due",
            f"{why} Next try at {local}.",
            expect=("sending",),
            values={"next_try_at": utc_text(retry_at)},
        ):
            self.waiting += 1

    def _move(
        self,
        message_id: str,
        to: str,
        reason: str,
        *,
        expect: tuple[str, ...],
        values: dict[str, Any] | None = None,
    ) -> bool:
        with self.clinic.store.write() as tx:
            return transition(
                tx, message_id, to, reason, expect=expect, device_id=self.device, values=values
            )


# --- after an interruption ----------------------------------------------------------------


def recover_interrupted(clinic: Clinic, channels: Channels, *, now: datetime | None = None) -> int:
    """Settle the messages an interrupted pass left in "sending"; returns how many.

    A text the SMS service has is sent; one it has not goes back to due; a letter goes
    to the print queue; an email is marked "may have been sent" (a mail server cannot
    be asked). A text whose fate cannot be asked now (no account, service down) stays in
    "sending" for the next pass. Only on the sender workstation, and never while another
    pass on this computer is sending.
    """
    _moment(now)
    if not is_chosen_sender(clinic) or sender_lease.prepare_to_send(clinic):
        return 0
    with sending_lock(clinic.home) as held:
        if not held:
            return 0
        recovery = _Recovery(clinic, channels)
        recovery.run()
    return recovery.recovered


@dataclass
class _Recovery:
    clinic: Clinic
    channels: Channels
    recovered: int = 0
    problems: dict[str, ChannelProblem] = field(default_factory=dict)

    def run(self) -> None:
        ids = [
            str(r[0])
            for r in self.clinic.conn.execute(
                "SELECT id FROM outbox WHERE state = 'sending' ORDER BY updated_at, id"
            ).fetchall()
        ]
        for message_id in ids:
            message = get_message(self.clinic, message_id)
            if message.state != "sending":
                continue
            if message.channel == "sms" and "sms" in self.problems:
                continue
            if self._settle(message):
                self.recovered += 1

    def _settle(self, message: Message) -> bool:
        if message.channel == "letter":
            return self._move(message.id, "to_print", WAITING_FOR_PRINT)
        if message.channel == "email":
            return self._move(message.id, "failed", RECOVERED_EMAIL)
        if message.channel != "sms":
            return self._move(message.id, "due", RECOVERED_DUE)
        account = self.channels.sms_account
        if account is None:
            self._problem(
                "sms", "Texts left half-sent cannot be checked: the SMS account is not set up."
            )
            return False
        claimed = datetime.fromisoformat(message.updated_at.replace("Z", "+00:00"))
        try:
            sid = find_sent_sms(account, message.recipient, message.body, claimed)
        except DeliveryFailedError as problem:
            self._problem("sms", str(problem))
            return False
        if sid is None:
            return self._move(message.id, "due", RECOVERED_DUE, {"next_try_at": None})
        log.info("outbox %s: found at the SMS service after an interruption", message.id)
        return self._move(
            message.id,
            "sent",
            RECOVERED_SENT,
            {"provider_ref": sid, "sent_at": message.updated_at, "next_try_at": None},
        )

    def _problem(self, channel: str, reason: str) -> None:
        self.problems[channel] = ChannelProblem(channel, reason, utc_now())

    def _move(
        self, message_id: str, to: str, reason: str, values: dict[str, Any] | None = None
    ) -> bool:
        with self.clinic.store.write() as tx:
            return transition(
                tx,
                message_id,
                to,
                reason,
                expect=("sending",),
                device_id=self.clinic.store.device_id,
                values=values,
            )


# --- delivery reports ------------------------------------------------------------------------


def poll_delivery(clinic: Clinic, channels: Channels, *, now: datetime | None = None) -> int:
    """Ask the SMS service what became of the texts sent in the last three days whose fate
    is not final; returns how many changed. A text the phone company could not deliver
    gets a line in its history (it stays sent: it did leave the clinic)."""
    moment = _moment(now)
    client = channels.sms
    if client is None:
        return 0
    rows = clinic.conn.execute(
        "SELECT id, provider_ref, delivery FROM outbox WHERE channel = 'sms' AND state = 'sent' "
        "AND sent_at >= ? AND provider_ref != '' ORDER BY sent_at",
        (utc_text(moment - DELIVERY_WINDOW),),
    ).fetchall()
    changed = 0
    for message_id, provider_ref, delivery in rows:
        if delivery in FINAL_DELIVERY:
            continue
        try:
            status = client.status(str(provider_ref))
        except InvalidInputError:
            continue  # a reference the service could not have given; nothing to ask
        except FrontdeskError as error:
            log.info("delivery polling stopped (%s)", type(error).__name__)
            break
        if status.status == delivery:
            continue
        with clinic.store.write() as tx:
            values: dict[str, Any] = {"delivery": status.status}
            if status.status in _NOT_DELIVERED:
                code = f" (code {status.error_code})" if status.error_code else ""
                reason = f"The phone company could not deliver the text{code}."
                values["reason"] = reason
                record_events(tx, [(str(message_id), "sent", reason)], clinic.store.device_id)
            tx.update("outbox", str(message_id), values)
        changed += 1
    return changed
