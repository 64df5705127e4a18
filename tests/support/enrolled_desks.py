"""Desks enrolled through the real relay, for the sync enrollment, key and sender tests.

Desk A is the test's `clinic` (an administrator signed in: import
`tests.support.acting.administrator_acting` into the test module) connected to the
test's relay, whose first sync round leaves the starting snapshot there; `join` adds a
desk B through the whole enrollment (code, claim, proof, admit, package) and makes B's
clinic from the relay's snapshot (app/sync/snapshot.join_from_snapshot). Nothing is
stood in for: relay, keys, proofs, packages and snapshot are the real thing.

Fixtures `desk_a` and `desk_b`: import `desk_a_fixture, desk_b_fixture` into the test
module (named apart so the test's parameters do not shadow an import).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.sync.enrollment import (
    JoinedClinic,
    admit,
    claim,
    create_invite,
    start_space,
    wait_for_claim,
    wait_for_package,
)
from app.sync.service import sync_once
from app.sync.snapshot import join_from_snapshot


@pytest.fixture(name="desk_a")
def desk_a_fixture(clinic: Clinic, relay_url: str) -> Clinic:
    start_space(clinic, relay_url)
    first = sync_once(clinic)  # sends the clinic's starting snapshot
    assert first.status.state == "synced", first.status.message
    return clinic


def join(desk_a: Clinic, home_b: Path) -> tuple[Clinic, JoinedClinic]:
    """The whole dance: code on A, claim on B, check and admit on A, package to B, and
    B's clinic from the relay's newest snapshot."""
    invite = create_invite(desk_a)
    pending = claim(invite.code)  # B types the code
    seen = wait_for_claim(desk_a, invite, poll_seconds=0.05)
    assert seen.check_code == pending.check_code  # both screens show the same
    admit(desk_a, invite, seen)
    joined = wait_for_package(pending, poll_seconds=0.05)
    return join_from_snapshot(joined, home_b), joined


@pytest.fixture(name="desk_b")
def desk_b_fixture(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk, _joined = join(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()
