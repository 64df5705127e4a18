"""One reminder pass: plan everywhere, and on the sender workstation recover, send and poll.

Every workstation plans (the outbox is idempotent: the same rule, subject and occurrence is
one row however many desks plan it), so Messages shows the same list on every desk. Only
the workstation chosen as the sender, and only when the clinic turned sending on, talks to
the mail server and the SMS service. The in-app scheduler, the `send-due` command and the
tray's "Send now" all run this one function, so they can never behave differently.

A step that fails (the mail server refuses the sign-in, the network is down) is reported
in the PassReport and logged by its error type; the other steps still run, because a
broken email account must not stop the texts or the replies. Only the typed errors are
caught: anything else is a bug and goes to the caller's crash handling.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import requests

from app.clinic import Clinic, put_setting
from app.engagement import pollen_days
from app.engagement.pollen_days import PollenDay
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError
from app.reminders import planner, replies, sender
from app.reminders.planner import PlanReport
from app.reminders.replies import ReplyReport
from app.reminders.rules import load_rules
from app.reminders.sender import Channels, SendReport
from app.reminders.settings import claim_sender_if_unset, device_id, load_settings
from app.store.changes import Changes
from app.store.writer import utc_text
from app.sync import sender_lease
from app.sync.relay_api import REMOVED

log = logging.getLogger(__name__)

LAST_PASS_SETTING: Final = "reminders.last_pass"  # noqa: S105 - a setting key, not a secret
KEEP_RUNNING_SETTING: Final = "reminders.keep_running."  # + the workstation's device id
# A pass that found nothing to do is recorded at most this often: the setting row is
# journalled (synced), and a row per minute per clinic would only say "still alive".
QUIET_RECORD_EVERY: Final = timedelta(minutes=15)

MODE_SENDING: Final = "sending"  # this workstation sends
MODE_OFF: Final = "off"  # the clinic has not turned sending on: plan only
MODE_OTHER_SENDER: Final = "other_sender"  # another workstation sends: plan only
MODE_PLAN_ONLY: Final = "plan_only"  # asked for (send-due --plan-only)

STEPS: Final = {
    "recover": "checking messages a previous run left half-sent",
    "pollen": "deciding today's pollen level",
    "plan": "planning",
    "send": "sending",
    "replies": "reading text-message replies",
    "delivery": "checking delivery",
}

T = TypeVar("T")


@dataclass(frozen=True)
class StepProblem:
    """A step that could not finish. `message` is the typed error's own words, which the
    errors module keeps free of patient data; `kind` is the error's type name."""

    step: str
    kind: str
    message: str

    def describe(self) -> str:
        return f"Problem while {STEPS.get(self.step, self.step)}: {self.message}"


@dataclass(frozen=True)
class PassReport:
    """What one pass did, in counts; the sub-reports are the steps' own."""

    at: str  # UTC text of the pass's `now`
    device: str
    mode: str
    plan: PlanReport | None = None
    recovered: int = 0
    send: SendReport | None = None
    replies: ReplyReport | None = None
    delivery_updates: int = 0
    problems: tuple[StepProblem, ...] = ()
    cancelled: bool = False
    # The chosen desk that may not send now, with sync on: the sending turn's own words
    # (app/sync/sender_lease.py: waiting for the turn, catching up, not reached); "".
    turn: str = ""

    @property
    def catching_up(self) -> bool:
        """This desk just gained the sending turn and sends once a sync round has
        finished after that moment (a round now, then a pass, sends what is due)."""
        return self.turn == sender_lease.CATCHING_UP

    def counts(self) -> dict[str, Any]:
        """Numbers only (never a name, number or text): what is stored and shown."""
        return {
            "plan": _counts(self.plan),
            "send": _counts(self.send),
            "replies": _counts(self.replies),
            "recovered": self.recovered,
            "delivery_updates": self.delivery_updates,
            "problems": len(self.problem_lines()),
        }

    @property
    def sent(self) -> int:
        return self.send.sent if self.send is not None else 0

    @property
    def failed(self) -> int:
        return self.send.failed if self.send is not None else 0

    @property
    def ok(self) -> bool:
        """No step failed and no channel reported a problem: what `send-due` exits 0 on."""
        return not self.problems and not (self.send and self.send.channel_problems)

    def problem_lines(self) -> list[str]:
        """Each problem in plain words (no patient data): the steps' and the channels'."""
        lines = [p.describe() for p in self.problems]
        if self.send is not None:
            channel = {"sms": "text messages", "email": "email"}
            lines += [
                f"Problem with {channel.get(p.channel, p.channel)}: {p.reason}"
                for p in self.send.channel_problems
            ]
        return lines

    @property
    def changed(self) -> bool:
        """Whether the pass wrote anything the pages show (so they refresh)."""
        numbers = [self.recovered, self.delivery_updates]
        for report in (self.plan, self.send, self.replies):
            numbers.extend(_counts(report).values())
        return any(numbers)

    def summary(self) -> str:
        """One plain line, counts only, for the command line and the log."""
        plan = _counts(self.plan)
        planned = plan.get("planned", 0)
        parts: list[str] = []
        if self.mode == MODE_SENDING:
            parts.append(f"sent {self.sent}")
            if self.failed:
                parts.append(f"failed {self.failed}")
            if self.send is not None and self.send.skipped:
                parts.append(f"not sent (reason in Messages) {self.send.skipped}")
            printing = self.send.to_print if self.send is not None else 0
            if printing:
                parts.append(f"{printing} letters waiting for print")
            if self.send is not None and self.send.refused:
                parts.append("another pass was already sending")
        parts.append(f"newly planned {planned}")
        if plan.get("stale"):
            parts.append(f"skipped as too late {plan['stale']}")
        if self.mode == MODE_SENDING:
            read = _counts(self.replies).get("received", 0)
            if read:
                parts.append(f"replies read {read}")
            if self.recovered:
                parts.append(f"half-sent checked {self.recovered}")
        head = {
            MODE_SENDING: "Reminders",
            MODE_OFF: "Reminders (sending is off, nothing sent)",
            MODE_OTHER_SENDER: "Reminders (another computer sends, nothing sent from here)",
            MODE_PLAN_ONLY: "Reminders (plan only, nothing sent)",
        }[self.mode]
        if self.mode == MODE_OTHER_SENDER and self.turn:
            head = "Reminders (this computer's sending turn has not started, nothing sent)"
        line = f"{head}: {', '.join(parts)}."
        problems = len(self.problem_lines())
        if problems:
            line += f" {problems} problem{'s' if problems > 1 else ''}."
        if self.cancelled:
            line += " Stopped early."
        return line


def _counts(report: object) -> dict[str, int]:
    """The whole-number fields of a step's report (its counts), whatever else it holds."""
    if report is None or not dataclasses.is_dataclass(report) or isinstance(report, type):
        return {}
    values = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    return {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}


def run_pass(
    clinic: Clinic,
    *,
    now: datetime | None = None,
    channels: Channels | None = None,
    cancel: CancelToken | None = None,
    plan_only: bool = False,
) -> PassReport:
    """Plan, and when this workstation sends: recover, send, read replies, check delivery."""
    now = now or datetime.now(UTC)
    settings = load_settings(clinic)
    if plan_only:
        mode = MODE_PLAN_ONLY
    elif not settings.enabled:
        mode = MODE_OFF
    else:
        # A clinic that never chose a sender: the first workstation that runs with
        # sending on takes the role (and Settings shows which one it is).
        settings = claim_sender_if_unset(clinic)
        mode = MODE_SENDING if settings.sender_device == device_id(clinic) else MODE_OTHER_SENDER
    step = _Steps(cancel)
    turn = ""
    if mode == MODE_SENDING:
        # With sync on the chosen desk also needs the sending turn at the relay, for the
        # replies and delivery checks as much as for sending ("" without sync).
        turn = sender_lease.prepare_to_send(clinic)
        if turn:
            mode = MODE_OTHER_SENDER
            if turn in (sender_lease.NOT_REACHED, REMOVED):
                step.problems.append(StepProblem("send", "SyncError", turn))
    if mode != MODE_SENDING:
        report = PassReport(
            at=utc_text(now),
            device=device_id(clinic),
            mode=mode,
            plan=step.run("plan", lambda: planner.plan(clinic, now=now)),
            problems=tuple(step.problems),
            cancelled=step.cancelled,
            turn=turn,
        )
        return report
    own_channels = channels is None
    channels = channels if channels is not None else sender.channels_for(clinic)
    try:
        recovered = step.run(
            "recover", lambda: sender.recover_interrupted(clinic, channels, now=now)
        )
        step.run("pollen", lambda: decide_pollen(clinic, now))
        planned = step.run("plan", lambda: planner.plan(clinic, now=now))
        sent = step.run("send", lambda: sender.send_due(clinic, channels, now=now, cancel=cancel))
        sms = channels.sms
        read = (
            step.run("replies", lambda: replies.poll_replies(clinic, sms, now=now))
            if sms is not None
            else None
        )
        delivered = step.run("delivery", lambda: sender.poll_delivery(clinic, channels, now=now))
    finally:
        if own_channels:  # the SMS client's connections, when this pass opened them
            channels.close()
    report = PassReport(
        at=utc_text(now),
        device=device_id(clinic),
        mode=mode,
        plan=planned,
        recovered=recovered or 0,
        send=sent,
        replies=read,
        delivery_updates=delivered or 0,
        problems=tuple(step.problems),
        cancelled=step.cancelled,
    )
    _record(clinic, report, now)
    return report


@dataclass(frozen=True)
class SyncedPass:
    """A pass framed by sync rounds (the scheduled task's run): the pass's report, and
    what went wrong with sync in plain words (the status's own, no patient data)."""

    report: PassReport
    sync_problems: tuple[str, ...] = ()
    rounds: int = 0  # sync rounds run (0 without sync)

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.sync_problems

    def problem_lines(self) -> list[str]:
        return [f"Problem with sync: {words}" for words in self.sync_problems] + (
            self.report.problem_lines()
        )


def run_pass_with_sync(
    clinic: Clinic,
    *,
    now: datetime | None = None,
    channels: Channels | None = None,
    cancel: CancelToken | None = None,
    plan_only: bool = False,
) -> SyncedPass:
    """One pass for when the window is closed (`main.py send-due`), with sync on framed
    by sync rounds: one before (the newest outbox and settings, and what the desk that
    sent before has sent), one after (what this desk sent and planned reaches the
    others). A desk that has just gained the sending turn — always so for a scheduled
    task, which runs less often than a turn lasts — sends only once a sync round has
    finished after it gained it (app/sync/sender_lease.py): then one more round, and
    the pass again. A round that fails is reported in words and stops nothing: the
    sending turn's rules decide whether this desk sends (it cannot gain the turn
    without the sync server, and keeps one it holds only until it runs out)."""
    from app.sync.service import is_enabled, sync_once

    def one_pass() -> PassReport:
        return run_pass(clinic, now=now, channels=channels, cancel=cancel, plan_only=plan_only)

    if not is_enabled(clinic):
        return SyncedPass(one_pass())
    problems: list[str] = []
    rounds = 0

    def one_round() -> None:
        nonlocal rounds
        rounds += 1
        status = sync_once(clinic, cancel).status
        trouble = status.state in ("offline", "error", "update_needed")
        if trouble and status.message and status.message not in problems:
            problems.append(status.message)

    one_round()
    report = one_pass()
    if report.catching_up and not report.cancelled:
        # The turn counts a round recorded in a later whole second than the moment it
        # was gained (the record keeps whole seconds): at most a second's wait.
        time.sleep(1.0 - time.time() % 1.0 + 0.01)
        one_round()
        again = one_pass()
        report = dataclasses.replace(again, plan=_both_plans(report.plan, again.plan))
    one_round()
    return SyncedPass(report, tuple(problems), rounds)


def _both_plans(first: PlanReport | None, second: PlanReport | None) -> PlanReport | None:
    """Two planning runs of one scheduled run, counted as one."""
    if first is None or second is None:
        return second or first
    return PlanReport(
        planned=first.planned + second.planned,
        made_due=first.made_due + second.made_due,
        retimed=first.retimed + second.retimed,
        cancelled=first.cancelled + second.cancelled,
        stale=first.stale + second.stale,
        changes=second.changes,
    )


def decide_pollen(clinic: Clinic, now: datetime) -> PollenDay | None:
    """Today's pollen level, decided once a day on the sending workstation (again an hour
    after an unknown), only when an allergy alert rule is on: the forecast service is
    asked for nothing the clinic does not use. The planners of every desk read it."""
    if not any(r.kind == "allergy" for r in load_rules(clinic, active_only=True)):
        return None
    today = now.astimezone(ZoneInfo(clinic.settings.timezone)).date()
    if not pollen_days.needs_deciding(clinic, today, now):
        return pollen_days.pollen_for(clinic, today)
    return pollen_days.decide_day(clinic, today, now=now)


class _Steps:
    """Runs the steps of one pass: a typed failure is noted and the next step still runs;
    after a cancel the remaining steps are left for the next pass."""

    def __init__(self, cancel: CancelToken | None) -> None:
        self.cancel = cancel
        self.problems: list[StepProblem] = []
        self.cancelled = False

    def run(self, name: str, work: Callable[[], T]) -> T | None:
        if self.cancelled or (self.cancel is not None and self.cancel.cancelled):
            self.cancelled = True
            return None
        try:
            return work()
        except OperationCancelledError:
            self.cancelled = True
            return None
        except FrontdeskError as exc:
            self._note(name, exc, str(exc))
        except requests.RequestException as exc:
            self._note(name, exc, "The service could not be reached; the next pass tries again.")
        except OSError as exc:
            self._note(
                name, exc, "The network or a file was not available; the next pass tries again."
            )
        return None

    def _note(self, name: str, exc: BaseException, message: str) -> None:
        log.warning("reminder pass: %s failed (%s)", name, type(exc).__name__)
        self.problems.append(StepProblem(name, type(exc).__name__, message))


# --- what the last pass did (shown as "Last sent 10:05") ---------------------------------


@dataclass(frozen=True)
class LastPass:
    at: str  # UTC text
    device: str
    mode: str
    last_sent_at: str | None  # the last pass that sent something
    counts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        send = self.counts.get("send", {})
        return int(send.get("sent", 0)) if isinstance(send, dict) else 0

    @property
    def failed(self) -> int:
        send = self.counts.get("send", {})
        return int(send.get("failed", 0)) if isinstance(send, dict) else 0


def last_pass(clinic: Clinic) -> LastPass | None:
    """The sending workstation's last recorded pass, or None before the first."""
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (LAST_PASS_SETTING,)
    ).fetchone()
    if row is None:
        return None
    try:
        values = json.loads(row[0])
    except json.JSONDecodeError:
        log.warning("last reminder pass record unreadable; ignored")
        return None
    if not isinstance(values, dict):
        return None
    counts = values.get("counts")
    return LastPass(
        at=str(values.get("at", "")),
        device=str(values.get("device", "")),
        mode=str(values.get("mode", "")),
        last_sent_at=values.get("last_sent_at") or None,
        counts=counts if isinstance(counts, dict) else {},
    )


def _record(clinic: Clinic, report: PassReport, now: datetime) -> None:
    """Only the sending workstation records its passes (the others would overwrite the
    one record the desks share); a pass with nothing to say is recorded now and then."""
    before = last_pass(clinic)
    quiet = not report.changed and not report.problems
    if quiet and before is not None and before.device == report.device:
        try:
            recorded = datetime.fromisoformat(before.at.replace("Z", "+00:00"))
        except ValueError:
            recorded = None
        if recorded is not None and timedelta(0) <= now - recorded < QUIET_RECORD_EVERY:
            return
    last_sent = report.at if report.sent else (before.last_sent_at if before else None)
    value = {
        "at": report.at,
        "device": report.device,
        "mode": report.mode,
        "last_sent_at": last_sent,
        "counts": report.counts(),
    }
    try:
        with clinic.store.write() as tx:
            put_setting(tx, LAST_PASS_SETTING, json.dumps(value, sort_keys=True))
    except FrontdeskError as exc:  # the pass itself is done; the record can wait
        log.warning("reminder pass not recorded (%s)", type(exc).__name__)


# --- per workstation: keep running in the tray -------------------------------------------


def keep_running_in_tray(clinic: Clinic) -> bool:
    """Whether closing the window keeps Frontdesk sending from the tray on this computer
    (on unless someone turned it off here)."""
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (KEEP_RUNNING_SETTING + device_id(clinic),)
    ).fetchone()
    return True if row is None else bool(json.loads(row[0]))


def set_keep_running_in_tray(clinic: Clinic, keep: bool) -> Changes:
    with clinic.store.write() as tx:
        put_setting(tx, KEEP_RUNNING_SETTING + device_id(clinic), json.dumps(keep))
    return tx.changes
