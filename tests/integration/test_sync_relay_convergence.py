"""Three desks working offline and syncing through the real relay in random orders end
identical with no accepted edit lost (hypothesis stateful test).

Each desk has a wall clock of its own (up to hours off); the rules create, edit and
delete patients, phones and tags, run sync rounds, drop a pull (fetched, then lost
before it was applied), deliver again what a desk already has (its cursor set back:
duplicated deliveries, from the relay or from the start), and take the relay down and
up. At the end every desk syncs until nothing moves, and all three hold the same rows,
the rows merging the journal gives, and every change row is the winner of its column,
superseded by a later one, or a recorded conflict. Bounded: well under two minutes.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.clinic import Clinic, open_clinic
from app.store.keyring_store import SERVICE
from app.sync.client import run_round
from app.users import add_user
from tests.conftest import Template
from tests.support.memory_keyring import MemoryKeyring
from tests.support.relay import RunningRelay, running_relay
from tests.support.sync_desks import (
    WORK,
    do_work,
    domain_state,
    lost_edits,
    open_desk,
    patient_ids,
    tables_match_merge,
)
from tests.support.sync_relay_desks import first_desk, join_desk

HOUR_MS = 3_600_000
_STATES = ("synced", "pending", "offline")


class ThreeDesks(RuleBasedStateMachine):
    template: Template
    folder: Path

    def __init__(self) -> None:
        super().__init__()
        self.root = self.folder / uuid.uuid4().hex[:8]
        self.root.mkdir()
        self.relay_block = running_relay(self.root)
        self.relay: RunningRelay = self.relay_block.__enter__()
        self.desks: list[Clinic] = []

    @initialize(skews=st.lists(st.integers(-3 * HOUR_MS, 3 * HOUR_MS), min_size=3, max_size=3))
    def start(self, skews: list[int]) -> None:
        home_a = self.root / "desk-a"
        shutil.copytree(self.template.home, home_a)
        first = open_clinic(home_a)
        first.acting_user_id = add_user(first, "Avery Admin", "administrator").id
        first_desk(first, self.relay.url)
        for n in range(3):  # a few patients every desk starts with: work has shared ground
            do_work(first, "create", 0, n)
        assert run_round(first).status.state == "synced"
        homes = [home_a]
        for name in ("desk-b", "desk-c"):
            joined = join_desk(first, self.root / name)
            homes.append(joined.home)
            joined.close()
        first.close()
        for home, skew in zip(homes, skews, strict=True):
            self.desks.append(open_desk(home, lambda skew=skew: time.time_ns() // 1_000_000 + skew))

    @rule(
        who=st.integers(0, 2),
        kind=st.sampled_from(WORK),
        pick=st.integers(0, 30),
        word=st.integers(0, 9_999),
    )
    def work(self, who: int, kind: str, pick: int, word: int) -> None:
        do_work(self.desks[who], kind, pick, word)

    @rule(
        who=st.integers(0, 2),
        kind=st.sampled_from(WORK),
        pick=st.integers(0, 30),
        word=st.integers(0, 9_999),
    )
    def more_work(self, who: int, kind: str, pick: int, word: int) -> None:
        """The same as `work`: a second rule so work is drawn more often than the rest."""
        do_work(self.desks[who], kind, pick, word)

    @rule(
        first=st.integers(0, 2),
        offset=st.integers(1, 2),
        pick=st.integers(0, 30),
        word=st.integers(0, 9_999),
        kinds=st.tuples(
            st.sampled_from(("delete", "edit", "tag")), st.sampled_from(("edit", "tag", "phone"))
        ),
    )
    def same_patient_on_two_desks(
        self, first: int, offset: int, pick: int, word: int, kinds: tuple[str, str]
    ) -> None:
        """Two desks, neither having heard of the other's work, act on one patient both
        have: a delete against an edit, two edits of one field, one tag twice."""
        one, other = self.desks[first], self.desks[(first + offset) % 3]
        shared = sorted(set(patient_ids(one)) & set(patient_ids(other)))
        if not shared:
            return
        patient = shared[pick % len(shared)]
        for desk, kind in ((one, kinds[0]), (other, kinds[1])):
            ids = patient_ids(desk)
            do_work(desk, kind, ids.index(patient), word)

    @rule(who=st.integers(0, 2))
    def sync_round(self, who: int) -> None:
        result = run_round(self.desks[who], timeout_s=5)
        assert result.status.state in _STATES, result.status.message

    @rule(
        who=st.integers(0, 2),
        how=st.sampled_from(("dropped", "again", "again from the start")),
        back=st.integers(1, 6),
    )
    def deliver_oddly(self, who: int, how: str, back: int) -> None:
        """A pull whose answer is lost on the way (fetched, never applied); or a next pull
        that brings batches this desk already applied: a few back (skipped by their
        numbers), or everything from the relay's start (each change row already held is
        skipped when applied)."""
        desk = self.desks[who]
        if how == "dropped":
            url, token, cursor = desk.conn.execute(
                "SELECT relay_url, device_token, cursor FROM local_sync"
            ).fetchone()
            with contextlib.suppress(requests.RequestException):  # relay down: lost anyway
                requests.get(
                    f"{url}/v1/batches?after={cursor}&limit=50",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5,
                )
        elif how == "again":
            desk.conn.execute("UPDATE local_sync SET cursor = max(0, cursor - ?)", (back,))
        else:
            desk.conn.execute("DELETE FROM local_sync_peer")
            desk.conn.execute("UPDATE local_sync SET cursor = 0")

    @rule(up=st.booleans())
    def relay_goes(self, up: bool) -> None:
        """The relay stops answering (connections refused) or comes back."""
        if up:
            self.relay.start()
        else:
            self.relay.stop()

    @invariant()
    def nothing_is_lost_on_any_desk(self) -> None:
        for desk in self.desks:
            assert lost_edits(desk) == []

    def teardown(self) -> None:
        try:
            if self.desks:
                self.relay.start()
                for _ in range(3):
                    for desk in self.desks:
                        result = run_round(desk, timeout_s=5)
                        assert result.status.state in ("synced", "pending"), result.status.message
                states = [domain_state(desk) for desk in self.desks]
                event(f"patients: {min(len(states[0]['patient']), 5)}+")
                for (kind,) in self.desks[0].conn.execute("SELECT kind FROM local_sync_conflict"):
                    event(kind)
                assert states[0] == states[1] == states[2]
                for desk in self.desks:
                    assert (
                        desk.conn.execute("SELECT state FROM local_sync").fetchone()[0] == "synced"
                    )
                    assert tables_match_merge(desk) == []
                    assert desk.conn.execute("PRAGMA foreign_key_check").fetchall() == []
                    digest = desk.conn.execute("SELECT digest_status FROM local_sync").fetchone()[0]
                    assert digest in ("recorded", "match")
        finally:
            for desk in self.desks:
                desk.close()
            self.relay_block.__exit__(None, None, None)
            shutil.rmtree(self.root, ignore_errors=True)


def test_three_desks_through_the_relay_end_identical_with_nothing_lost(
    clinic_template: Template,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    ThreeDesks.template = clinic_template
    ThreeDesks.folder = tmp_path
    run_state_machine_as_test(
        ThreeDesks,
        settings=settings(
            max_examples=40,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
