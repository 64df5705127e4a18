"""Three desks working offline and exchanging their changes in any order end identical.

Deliveries are duplicated, reordered and dropped (a dropped one is sent again later, as
the relay would), clocks are skewed by up to hours, and at the end every desk holds the
same rows, the rows are what merging the journal says, and no accepted edit is lost:
each change row is the winner of its column, superseded by a later one, or a conflict.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.clinic import Clinic
from app.store.keyring_store import SERVICE
from tests.conftest import Template
from tests.support.memory_keyring import MemoryKeyring
from tests.support.sync_desks import (
    WORK,
    copy_desk,
    deliver,
    do_work,
    domain_state,
    lost_edits,
    open_desk,
    outgoing,
    tables_match_merge,
)

_work = st.tuples(
    st.just("work"),
    st.integers(0, 2),
    st.sampled_from(WORK),
    st.integers(0, 50),
    st.integers(0, 10_000),
)
# A delivery: from, to, which of the sender's batches (indexes into what it has now,
# so repeats and any order happen), and whether the receiver's answer is lost.
_delivery = st.tuples(
    st.just("deliver"),
    st.integers(0, 2),
    st.integers(1, 2),  # the receiver, counted on from the sender
    st.lists(st.integers(0, 30), min_size=1, max_size=6),
    st.sampled_from((False, False, False, True)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    skews=st.lists(st.integers(-3 * 3_600_000, 3 * 3_600_000), min_size=3, max_size=3),
    steps=st.lists(st.one_of(_work, _delivery), min_size=25, max_size=50),
)
def test_three_desks_end_identical_with_no_accepted_edit_lost(
    tmp_path_factory: pytest.TempPathFactory,
    clinic_template: Template,
    memory_keyring: MemoryKeyring,
    skews: list[int],
    steps: list[tuple[object, ...]],
) -> None:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    folder = tmp_path_factory.mktemp("desks")
    ticks = [1_800_000_000_000]

    def wall(skew: int) -> int:
        ticks[0] += 7  # time goes on between steps, the same for all; each desk is off by its skew
        return ticks[0] + skew

    desks: list[Clinic] = []
    try:
        for n, skew in enumerate(skews):
            home = copy_desk(
                clinic_template.home, folder / f"desk{n}-{uuid.uuid4()}", clinic_template.data_key
            )
            desks.append(open_desk(home, lambda skew=skew: wall(skew)))
        for step in steps:
            if step[0] == "work":
                _, who, kind, pick, word = step
                do_work(desks[who], str(kind), int(pick), int(word))  # type: ignore[call-overload]
            else:
                _, sender, offset, picks, dropped = step
                receiver = (sender + offset) % 3  # type: ignore[operator]
                _, batches = outgoing(desks[sender], max_rows=3)
                for index in picks:  # type: ignore[attr-defined]
                    if batches and not dropped:
                        deliver(
                            desks[receiver],
                            batches[index % len(batches)],
                            desks[sender].store.device_id,
                        )
        for _round in range(2):  # everyone hears everything at last
            for sender in desks:
                _, batches = outgoing(sender)
                for receiver in desks:
                    if receiver is not sender:
                        for data in reversed(batches):
                            deliver(receiver, data, sender.store.device_id)
        states = [domain_state(desk) for desk in desks]
        assert states[0] == states[1] == states[2]
        found = [k for (k,) in desks[0].conn.execute("SELECT kind FROM local_sync_conflict")]
        for kind in set(found):
            event(kind)
        for desk in desks:
            assert lost_edits(desk) == []
            assert tables_match_merge(desk) == []
            assert desk.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        for desk in desks:
            desk.close()
        shutil.rmtree(folder, ignore_errors=True)
