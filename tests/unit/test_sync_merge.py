"""The merge rule: last writer per column by (HLC, device), deletes win, late edits kept
as conflicts, and the same result for any order, repetition or batching of arrival."""

from __future__ import annotations

import json
import random

from hypothesis import given
from hypothesis import strategies as st

from app.store.hlc import Hlc, HybridLogicalClock
from app.sync.merge import ChangeRow, merge

HOUR_MS = 3_600_000


def change(hlc: Hlc, device: str, col: str, value: object, row: str = "r1") -> ChangeRow:
    encoded = None if col == "-" else json.dumps(value)
    return ChangeRow(hlc.encode(), device, "patient", row, col, encoded)


def test_the_later_clock_wins_whatever_order_the_rows_arrive_in() -> None:
    early = change(Hlc(1_000, 0), "b", "phone", "+15550001")
    late = change(Hlc(2_000, 0), "a", "phone", "+15550002")
    for order in ([early, late], [late, early]):
        assert merge(order)[("patient", "r1")].values() == {"phone": "+15550002"}


def test_an_exact_tie_is_broken_by_device_id_the_same_everywhere() -> None:
    one = change(Hlc(5_000, 3), "device-a", "family_name", "Okafor")
    two = change(Hlc(5_000, 3), "device-b", "family_name", "Okafor-Reyes")
    assert merge([one, two])[("patient", "r1")].values() == {"family_name": "Okafor-Reyes"}
    assert merge([two, one])[("patient", "r1")].values() == {"family_name": "Okafor-Reyes"}


def test_a_pc_whose_clock_is_hours_behind_still_orders_its_later_edit_later() -> None:
    """Desk A's clock is an hour ahead. Desk B, behind, receives A's edit, then edits the
    same field: the HLC puts B's edit after A's, so B's (the later act) wins."""
    a = HybridLogicalClock(wall_clock=lambda: 10 * HOUR_MS)
    b = HybridLogicalClock(wall_clock=lambda: 9 * HOUR_MS)
    from_a = change(a.now(), "desk-a", "phone", "+15550001")
    b.observe(Hlc.decode(from_a.hlc))
    from_b = change(b.now(), "desk-b", "phone", "+15550002")
    assert merge([from_b, from_a])[("patient", "r1")].values() == {"phone": "+15550002"}


def test_an_insert_sets_every_column_and_later_edits_replace_single_columns() -> None:
    insert = ChangeRow(
        Hlc(1, 0).encode(),
        "a",
        "patient",
        "r1",
        "*",
        json.dumps({"id": "r1", "family_name": "Okafor", "phone": "+15550001"}),
    )
    edit = change(Hlc(2, 0), "b", "phone", "+15550009")
    state = merge([edit, insert])[("patient", "r1")]
    assert state.values() == {"family_name": "Okafor", "id": "r1", "phone": "+15550009"}
    assert not state.deleted and state.conflicts == []


def test_deleted_on_one_desk_and_edited_later_on_another_stays_deleted_edit_kept() -> None:
    before = change(Hlc(1, 0), "a", "phone", "+15550001")
    tombstone = change(Hlc(2, 0), "a", "-", None)
    late_edit = change(Hlc(3, 0), "b", "phone", "+15550002")
    state = merge([late_edit, tombstone, before])[("patient", "r1")]
    assert state.deleted and state.deleted_by == tombstone
    assert state.conflicts == [late_edit]  # never silently lost
    # An edit the deleting desk had seen (earlier by HLC) is not a conflict.
    assert before not in state.conflicts


_rows = st.sampled_from(["r1", "r2", "r3"])
_devices = st.sampled_from(["desk-a", "desk-b", "desk-c"])
_cols = st.sampled_from(["family_name", "phone", "-"])


@st.composite
def change_rows(draw: st.DrawFn) -> ChangeRow:
    col = draw(_cols)
    # Few distinct clock values, so ties between devices happen often.
    hlc = Hlc(draw(st.integers(0, 6)), draw(st.integers(0, 2)))
    value = draw(st.sampled_from(["Okafor", "Reyes", "+15550001", None]))
    return change(hlc, draw(_devices), col, value, row=draw(_rows))


def _snapshot(changes: list[ChangeRow]) -> dict[object, object]:
    return {
        key: (state.values(), state.deleted_by, state.conflicts)
        for key, state in merge(changes).items()
    }


@given(st.lists(change_rows(), max_size=40), st.randoms(use_true_random=False))
def test_three_desks_receiving_the_same_rows_in_any_order_end_identical(
    changes: list[ChangeRow], rnd: random.Random
) -> None:
    expected = _snapshot(changes)
    for _ in range(3):  # three devices, each its own delivery
        delivered = list(changes)
        delivered += rnd.sample(changes, k=len(changes) // 2)  # repeated deliveries
        rnd.shuffle(delivered)
        assert _snapshot(delivered) == expected
    # Every accepted edit of a deleted row is either applied before the delete or kept.
    for key, state in merge(changes).items():
        if state.deleted_by is not None:
            later = {c for c in changes if (c.tbl, c.row_id) == key and c.col != "-"}
            later = {c for c in later if c.stamp > state.deleted_by.stamp}
            assert set(state.conflicts) == later
