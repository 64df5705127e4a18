"""How one relay process is set up: database, registration key, limits, clock.

Read from the command line and the environment (RELAY_*), or built directly by tests.
Every limit has a default fit for a clinic's own relay; a hosted relay raises the
per-address limits when many clinics share one proxy address.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs

MIB = 1024 * 1024
# Room for the seal around a 4 MiB batch or a 16 MiB snapshot piece: the envelope's
# magic, header, nonce and tag (well under 1 KiB; 64 KiB leaves no doubt).
SEAL_ALLOWANCE = 64 * 1024


def default_database_url() -> str:
    """SQLite in the per-user data folder of whoever runs the relay."""
    folder = platformdirs.user_data_path("frontdesk-relay", appauthor=False)
    return f"sqlite:///{folder / 'relay.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    # When set, POST /v1/spaces needs it in X-Relay-Registration: who may open a space.
    registration_key: str | None = None
    # Token buckets (requests per second, burst). 0 turns a limit off.
    token_rate: float = 20.0
    token_burst: int = 200
    address_rate: float = 100.0
    address_burst: int = 1000
    # Unauthenticated invite claims, per client address: an invite id is a ticket.
    claim_rate: float = 0.2
    claim_burst: int = 10
    # Bodies (413 above these).
    max_batch_bytes: int = 4 * MIB + SEAL_ALLOWANCE
    max_chunk_bytes: int = 16 * MIB + SEAL_ALLOWANCE
    max_json_bytes: int = 512 * 1024
    max_snapshot_chunks: int = 4096
    # Time limits.
    max_invite_seconds: int = 900
    max_lease_seconds: int = 600
    incomplete_snapshot_seconds: float = 86_400.0
    snapshots_kept: int = 2
    # A page of batches stops growing past this many envelope bytes (at least one batch).
    pull_page_bytes: int = 8 * MIB
    # A pull that waits (long-poll) sees a push made through another relay process on
    # the same database within this many seconds (one query per check for all waiters;
    # a push through this process wakes its waiters at once).
    wait_check_seconds: float = 0.15
    # PostgreSQL connections held by this process (several processes may share one server).
    database_pool: int = 10
    clock: Callable[[], float] = time.time

    def sqlite_path(self) -> Path | None:
        """The SQLite file named by the URL, or None for PostgreSQL."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        return Path(self.database_url[len(prefix) :])


_ENV: Mapping[str, str] = {
    "RELAY_DATABASE_URL": "database_url",
    "RELAY_REGISTRATION_KEY": "registration_key",
    "RELAY_RATE_LIMIT": "token_rate",
    "RELAY_RATE_BURST": "token_burst",
    "RELAY_ADDRESS_RATE_LIMIT": "address_rate",
    "RELAY_ADDRESS_RATE_BURST": "address_burst",
    "RELAY_CLAIM_RATE_LIMIT": "claim_rate",
    "RELAY_CLAIM_RATE_BURST": "claim_burst",
    "RELAY_DATABASE_POOL": "database_pool",
    "RELAY_WAIT_CHECK_SECONDS": "wait_check_seconds",
}


def from_environment(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from RELAY_* variables, then explicit overrides (the command line)."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    for variable, name in _ENV.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        kind = types[name]
        try:
            values[name] = float(raw) if kind == "float" else int(raw) if kind == "int" else raw
        except ValueError:
            raise ValueError(f"{variable} must be a number, not {raw!r}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)  # type: ignore[arg-type]
