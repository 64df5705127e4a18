"""One sender among synced workstations: the sending turn is a lease held at the relay.

Without sync a clinic names its sending computer in the reminder settings, and that is
enough: there is one outbox. With sync every desk holds a copy of the outbox, and the
setting itself travels with a delay, so two desks could each believe they send. The
relay therefore hands out one lease per clinic (`/v1/sender/claim`): a desk sends only
while it is the chosen sender AND holds an unexpired lease.

Time is measured on this computer with `time.monotonic()` from the moment the request
was sent, never with the wall clock (a clock set back an hour must not stretch a
lease), and the desk stops handing over messages `margin` seconds before its lease
ends by its own count, which is earlier than the relay's count (the relay starts when
the request arrives). When the relay cannot be reached the holder may go on only until
its lease ends.

A desk that gains the turn (first pass, after a take-over, after its lease lapsed)
sends nothing until a sync round has finished after that moment: what the previous
sender sent in its last minutes must be in this desk's outbox first. "Make this desk
the sender" takes the lease over at once, but the new holder waits out what remained of
the old lease (`wait_seconds`), during which the old holder finds its renewal refused
and stops.

The turn is kept in this process's memory only: a monotonic reading means nothing to
another process or after a restart. A process that finds its device already holding
the lease at the relay continues it without waiting for a sync (nobody else could have
sent meanwhile).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from app.clinic import Clinic
from app.errors import DeviceRevokedError, RelayError
from app.sync import state
from app.sync.devices import mark_removed
from app.sync.relay_api import (
    REMOVED,
    RelaySession,
    require_mapping,
    require_number,
    session_for,
)
from app.sync.service import is_enabled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeasePolicy:
    """How long a turn lasts and when it is renewed; tests use seconds, desks minutes."""

    lease_seconds: int = 120
    renew_below: float = 60.0  # renew before a message when less than this is left
    margin: float = 30.0  # hand nothing over when less than this is left (a slow server)


POLICY = LeasePolicy()  # read at each call: a test may set shorter turns

WAITING_TURN: Final = (
    "Another computer of the clinic holds the sending turn; this one sends when its turn "
    "ends. Nothing was sent from here."
)
CATCHING_UP: Final = (
    "This computer just took over sending and first catches up with the other computers "
    "(sync), so nothing goes twice. Nothing was sent yet."
)
NOT_REACHED: Final = (
    "The sync server cannot be reached, so this computer cannot hold the sending turn. "
    "Nothing was sent; sending starts again when the sync server is back."
)

NOT_ASKED_YET: Final = (
    "This computer asks the sync server for the sending turn at its next sending pass. "
    "Nothing was sent from here yet."
)
TAKE_OVER_LATER: Final = (
    "This computer is now the sender. The sync server could not be reached, so it takes "
    "the sending turn over at its next sending pass, once the server answers."
)


@dataclass(frozen=True)
class _Turn:
    until: float  # monotonic: the lease's end as this computer counts it
    send_from: float  # monotonic: the start of sending (after a take-over's wait)
    ready_after: datetime | None  # UTC: a full sync must have finished after it (None:
    # this device held the lease all along, so nobody else can have sent meanwhile)


@dataclass(frozen=True)
class SenderTurn:
    """What Settings ▸ Reminders shows about the sending turn (plain words in `message`)."""

    holds: bool  # this desk may hand over a message now
    holder: str | None  # the device the relay names, when known
    seconds_left: float  # of this desk's lease, by this computer's clock
    wait_seconds: float  # before this desk may start (after a take-over)
    message: str


_lock = threading.Lock()
_turns: dict[tuple[str, str], _Turn] = {}
# Why a desk holds no turn, as its last claim found (waiting for another, not reached).
_no_turn: dict[tuple[str, str], str] = {}
_take_over_wanted: set[tuple[str, str]] = set()


def _key(clinic: Clinic) -> tuple[str, str]:
    return clinic.clinic_id, clinic.store.device_id


def _held_turn(clinic: Clinic) -> _Turn | None:
    """This desk's turn as last granted, read under the lock the renewals write under."""
    with _lock:
        return _turns.get(_key(clinic))


def sync_on(clinic: Clinic) -> bool:
    """Whether this desk syncs (then the lease rules apply; otherwise nothing changes)."""
    return is_enabled(clinic)


def holds_turn(clinic: Clinic, policy: LeasePolicy | None = None) -> bool:
    """Whether this desk may hand over a message now (no network: its own count)."""
    policy = policy or POLICY
    turn = _held_turn(clinic)
    if turn is None:
        return False
    now = time.monotonic()
    return now >= turn.send_from and turn.until - now > policy.margin and _caught_up(clinic, turn)


def _caught_up(clinic: Clinic, turn: _Turn) -> bool:
    if turn.ready_after is None:
        return True
    setup = state.read_setup(clinic.conn)
    if setup is None or not setup.last_synced_at:
        return False
    synced = datetime.fromisoformat(setup.last_synced_at.replace("Z", "+00:00"))
    # The record has whole seconds: only a sync stamped in a later second surely
    # started after the moment (one stamped in the same second may have begun before).
    return synced >= turn.ready_after.replace(microsecond=0) + timedelta(seconds=1)


def _drop(clinic: Clinic) -> None:
    with _lock:
        _turns.pop(_key(clinic), None)


def _claim(
    clinic: Clinic, session: RelaySession, *, take_over: bool, policy: LeasePolicy
) -> tuple[bool, str | None, float]:
    """One claim at the relay; keeps this desk's turn up to date. Returns (granted,
    holder, wait_seconds)."""
    key = _key(clinic)
    with _lock:
        before = _turns.get(key)
    started = time.monotonic()
    held_before = before is not None and before.until > started
    if not held_before and not take_over:
        # A lease this device already holds at the relay (another pass of this process
        # before a restart, the scheduled task) continues without a catch-up.
        now_held = require_mapping(session.call("GET", "/v1/sender"))
        held_before = (
            now_held.get("holder") == clinic.store.device_id
            and require_number(now_held, "expires_in") > 0
        )
        started = time.monotonic()
    answer = require_mapping(
        session.call(
            "POST",
            "/v1/sender/claim",
            {"lease_seconds": policy.lease_seconds, "take_over": take_over},
        )
    )
    granted = answer.get("granted") is True
    holder = answer.get("holder")
    holder = holder if isinstance(holder, str) else None
    wait = max(0.0, require_number(answer, "wait_seconds"))
    if not granted:
        _drop(clinic)
        with _lock:
            _no_turn[key] = WAITING_TURN
        return False, holder, wait
    expires_in = min(float(policy.lease_seconds), require_number(answer, "expires_in"))
    wall_ready = datetime.now(UTC) + timedelta(seconds=wait)
    with _lock:
        current = _turns.get(key)
        if held_before and not take_over and current is not None:
            turn = replace(current, until=started + expires_in)
        elif held_before and not take_over:
            turn = _Turn(started + expires_in, started, None)
        else:
            turn = _Turn(started + expires_in, started + wait, wall_ready)
        _turns[key] = turn
        _no_turn.pop(key, None)
        if take_over:
            _take_over_wanted.discard(key)
    return True, holder, wait


def take_over(
    clinic: Clinic, session: RelaySession | None = None, policy: LeasePolicy | None = None
) -> SenderTurn:
    """Take the sending turn over now (the chosen desk, with sync on); sending starts once
    what remained of the old holder's lease has passed and a sync has finished. If the
    relay cannot be reached the take-over is tried again at the next sending pass."""
    policy = policy or POLICY
    if not sync_on(clinic):
        return sender_turn(clinic, policy)  # without sync the setting alone decides
    if session is None:
        try:
            with session_for(clinic) as own:
                return take_over(clinic, own, policy)
        except RelayError:
            with _lock:
                _take_over_wanted.add(_key(clinic))
            raise
    try:
        _claim(clinic, session, take_over=True, policy=policy)
    except DeviceRevokedError:
        _removed(clinic)
        raise
    except RelayError:
        with _lock:
            _take_over_wanted.add(_key(clinic))
        raise
    return sender_turn(clinic, policy)


def want_take_over(clinic: Clinic) -> None:
    """The clinic just chose this desk: the next sending pass here takes the turn over
    (the click that chose it must not wait for the network)."""
    with _lock:
        _take_over_wanted.add(_key(clinic))


def prepare_to_send(clinic: Clinic, policy: LeasePolicy | None = None) -> str:
    """Before a sending pass on the chosen sender with sync on: claim or renew the turn.
    Returns "" when this desk may send, else the plain reason it may not (for the
    pass's report). Without sync, always "" (nothing changes)."""
    policy = policy or POLICY
    if not sync_on(clinic):
        return ""
    try:
        with session_for(clinic) as session:
            with _lock:
                wanted = _key(clinic) in _take_over_wanted
            _claim(clinic, session, take_over=wanted, policy=policy)
    except DeviceRevokedError:
        _removed(clinic)
        return REMOVED
    except RelayError as exc:
        log.info("sender lease not renewed: %s", type(exc).__name__)
        # Not reachable (or refusing for now): the turn held so far still counts; with
        # none held, the reason is the server, not another desk holding the turn.
        with _lock:
            if _key(clinic) not in _turns:
                _no_turn[_key(clinic)] = NOT_REACHED
                return NOT_REACHED
    return refusal(clinic, policy)


def still_may_send(clinic: Clinic, policy: LeasePolicy | None = None) -> bool:
    """Before each message of a pass: renew when the turn runs low, and say whether this
    desk may still hand one over (False: stop; the rest stays due). Without sync, True."""
    policy = policy or POLICY
    if not sync_on(clinic):
        return True
    turn = _held_turn(clinic)
    if turn is None:
        return False
    if turn.until - time.monotonic() < policy.renew_below:
        try:
            with session_for(clinic) as session:
                _claim(clinic, session, take_over=False, policy=policy)
        except DeviceRevokedError:
            _removed(clinic)
            return False
        except RelayError as exc:
            log.info("sender lease not renewed: %s", type(exc).__name__)
    return holds_turn(clinic, policy)


def refusal(clinic: Clinic, policy: LeasePolicy | None = None) -> str:
    """Why this desk may not send now ("" when it may), from its own count."""
    policy = policy or POLICY
    turn = _held_turn(clinic)
    if turn is None:
        return WAITING_TURN
    now = time.monotonic()
    if turn.until - now <= policy.margin:
        return NOT_REACHED
    if now < turn.send_from:
        return (
            "This computer just took over sending; it starts in about "
            f"{int(turn.send_from - now) + 1} seconds, when the other computer's turn ends. "
            "Nothing was sent yet."
        )
    if not _caught_up(clinic, turn):
        return CATCHING_UP
    return ""


def sender_turn(clinic: Clinic, policy: LeasePolicy | None = None) -> SenderTurn:
    """This desk's turn as it stands (no network), with words for Settings ▸ Reminders."""
    policy = policy or POLICY
    if not sync_on(clinic):
        return SenderTurn(True, None, 0.0, 0.0, "Without sync no sending turn is needed.")
    turn = _held_turn(clinic)
    now = time.monotonic()
    if turn is None:
        with _lock:
            why = _no_turn.get(_key(clinic), NOT_ASKED_YET)
        return SenderTurn(False, None, 0.0, 0.0, why)
    reason = refusal(clinic, policy)
    left = max(0.0, turn.until - now)
    return SenderTurn(
        holds=not reason,
        holder=clinic.store.device_id,
        seconds_left=left,
        wait_seconds=max(0.0, turn.send_from - now),
        message=reason or "This computer holds the sending turn and sends the messages.",
    )


def release(clinic: Clinic) -> None:
    """Give the turn back (sync turned off here, or another desk chosen): the next
    sender need not wait for the lease to run out. Best effort."""
    _drop(clinic)
    try:
        with session_for(clinic) as session:
            session.call("POST", "/v1/sender/release")
    except RelayError as exc:
        log.info("sender lease not released: %s", type(exc).__name__)


def _removed(clinic: Clinic) -> None:
    _drop(clinic)
    mark_removed(clinic.conn)
