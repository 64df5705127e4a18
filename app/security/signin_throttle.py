"""The growing wait after wrong passwords, per account and for this desk as a whole.

Three tries are free (a typo, Caps Lock); then each failure doubles the wait: 1 s, 2 s,
4 s … up to 5 minutes. A good sign-in clears it. There is never a permanent lock-out: a
front desk cannot be left without anyone able to sign in, and the Emergency Kit's
recovery key is the way back for an administrator (45 CFR 164.312(a)(2)(ii)). The
counts live in `local_signin_throttle`, so restarting the program does not reset them.
Guessing is slowed at this desk only; a copy of the database is guarded by Argon2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.store.database import Connection

FREE_FAILURES = 3
MAX_WAIT_SECONDS = 300.0
DESK = "desk"


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def keys_for(user_id: str) -> tuple[str, ...]:
    """The counters one attempt touches: the desk's, and the account's when it exists."""
    return (DESK, user_key(user_id)) if user_id else (DESK,)


def delay_after(failures: int) -> float:
    """Seconds to wait after `failures` failures in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES), MAX_WAIT_SECONDS)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_seconds(conn: Connection, keys: Sequence[str], now: datetime) -> float:
    """How long the next attempt must wait (0 when it may go ahead now)."""
    marks = ",".join("?" * len(keys))
    rows = conn.execute(
        f"SELECT wait_until FROM local_signin_throttle WHERE key IN ({marks})"  # noqa: S608 - marks only
        " AND wait_until IS NOT NULL",
        tuple(keys),
    ).fetchall()
    longest = 0.0
    for (until,) in rows:
        longest = max(longest, (_moment(str(until)) - now).total_seconds())
    return longest


def failures(conn: Connection, key: str) -> int:
    row = conn.execute(
        "SELECT failures FROM local_signin_throttle WHERE key = ?", (key,)
    ).fetchone()
    return int(row[0]) if row else 0


def record_failure(conn: Connection, keys: Sequence[str], now: datetime) -> float:
    """Count one failure on each key; returns the wait the next attempt now faces."""
    longest = 0.0
    for key in keys:
        count = failures(conn, key) + 1
        delay = delay_after(count)
        until = _text(now + timedelta(seconds=delay)) if delay else None
        conn.execute(
            "INSERT INTO local_signin_throttle (key, failures, last_failed_at, wait_until)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
            " last_failed_at = excluded.last_failed_at, wait_until = excluded.wait_until",
            (key, count, _text(now), until),
        )
        longest = max(longest, delay)
    return longest


def reset(conn: Connection, keys: Sequence[str]) -> None:
    marks = ",".join("?" * len(keys))
    conn.execute(
        f"DELETE FROM local_signin_throttle WHERE key IN ({marks})",  # noqa: S608 - marks only
        tuple(keys),
    )
