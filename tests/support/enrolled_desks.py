"""Desks enrolled through the real relay, for the sync enrollment, key and sender tests.

Desk A is the test's `clinic` (an administrator signed in: import
`tests.support.acting.administrator_acting` into the test module) connected to the
test's relay; `join` adds a desk B through the whole enrollment (code, claim, proof,
admit, package). B's database is made the way the sync engine's snapshot restore makes
one (a byte copy of a desk's database with B's device id and no local sync rows), then
B records its own sync link; keys, proofs and packages are the real thing.

Fixtures `desk_a` and `desk_b`: import `desk_a_fixture, desk_b_fixture` into the test
module (named apart so the test's parameters do not shadow an import).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic, open_clinic
from app.store import database
from app.sync.enrollment import (
    JoinedClinic,
    admit,
    claim,
    create_invite,
    install_key_file,
    match_key_file,
    record_join,
    start_space,
    wait_for_claim,
    wait_for_package,
)


@pytest.fixture(name="desk_a")
def desk_a_fixture(clinic: Clinic, relay_url: str) -> Clinic:
    start_space(clinic, relay_url)
    return clinic


def join(desk_a: Clinic, home_b: Path) -> tuple[Clinic, JoinedClinic]:
    """The whole dance: code on A, claim on B, check and admit on A, package to B."""
    invite = create_invite(desk_a)
    pending = claim(invite.code)  # B types the code
    seen = wait_for_claim(desk_a, invite, poll_seconds=0.05)
    assert seen.check_code == pending.check_code  # both screens show the same
    admit(desk_a, invite, seen)
    joined = wait_for_package(pending, poll_seconds=0.05)
    return make_desk(desk_a, joined, home_b), joined


def make_desk(source: Clinic, joined: JoinedClinic, home: Path) -> Clinic:
    """B's database as the snapshot restore makes it, then B's own sync records."""
    install_key_file(joined, home)
    source.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source.opened.paths.database, home / "clinic.db")
    conn = database.connect(home / "clinic.db", joined.data_key)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (joined.device_id,))
    for (table,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'local_sync%'"
    ).fetchall():
        conn.execute(f"DELETE FROM {table}")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    match_key_file(home, database.database_salt(home / "clinic.db"))
    desk = open_clinic(home)
    record_join(desk, joined)
    return desk


@pytest.fixture(name="desk_b")
def desk_b_fixture(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk, _joined = join(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()
