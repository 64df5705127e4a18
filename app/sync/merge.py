"""Merging change rows from several workstations: the rule every device applies alike.

The unit is the change row of the journal (table, row, column, value, hybrid logical
clock, device). Per column the last writer wins, "last" meaning the greater (HLC,
device id): the HLC orders causally later writes later even with clock skew between
PCs, and the device id breaks exact ties the same way on every device. An insert (column
'*') sets every column it carries at its clock. A delete (column '-') is a tombstone
and wins: the row stays deleted. An edit made later than the delete (by HLC), which the
deleting device therefore had not seen, is never dropped silently: it is kept as a
conflict for a manager to look at.

`merge` is a function of the SET of change rows: any order of arrival, any repeat, any
split into batches gives the same result. That is what lets three devices that
received the same rows in different orders end identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

INSERT_COLUMN = "*"
DELETE_COLUMN = "-"


@dataclass(frozen=True, order=True)
class ChangeRow:
    hlc: str  # Hlc.encode(): fixed width, so text order is clock order
    device_id: str
    tbl: str
    row_id: str
    col: str
    value: str | None  # JSON; None for a tombstone

    @property
    def stamp(self) -> tuple[str, str]:
        return (self.hlc, self.device_id)


@dataclass
class RowState:
    """One row after merging: its winning value per column (with the change that set
    it), whether it is deleted (by which tombstone), and the edits that came too late."""

    columns: dict[str, tuple[object, ChangeRow]] = field(default_factory=dict)
    deleted_by: ChangeRow | None = None
    conflicts: list[ChangeRow] = field(default_factory=list)

    @property
    def deleted(self) -> bool:
        return self.deleted_by is not None

    def values(self) -> dict[str, object]:
        return {col: value for col, (value, _change) in sorted(self.columns.items())}


def merge(changes: Iterable[ChangeRow]) -> dict[tuple[str, str], RowState]:
    """The state of every row the changes touch, the same for any order or repetition."""
    rows: dict[tuple[str, str], RowState] = {}
    edits: dict[tuple[str, str], set[ChangeRow]] = {}
    for change in set(changes):
        key = (change.tbl, change.row_id)
        state = rows.setdefault(key, RowState())
        if change.col == DELETE_COLUMN:
            # The first tombstone by (HLC, device) names the delete; any later one repeats it.
            if state.deleted_by is None or change.stamp < state.deleted_by.stamp:
                state.deleted_by = change
            continue
        edits.setdefault(key, set()).add(change)
        for col, value in _assignments(change):
            held = state.columns.get(col)
            if held is None or change.stamp > held[1].stamp:
                state.columns[col] = (value, change)
    for key, state in rows.items():
        if state.deleted_by is not None:
            tombstone = state.deleted_by.stamp
            state.conflicts = sorted(c for c in edits.get(key, ()) if c.stamp > tombstone)
    return rows


def _assignments(change: ChangeRow) -> list[tuple[str, object]]:
    value = json.loads(change.value) if change.value is not None else None
    if change.col == INSERT_COLUMN:
        if not isinstance(value, dict):
            raise ValueError("an insert change carries the whole row as a JSON object")
        return [(str(col), v) for col, v in value.items()]
    return [(change.col, value)]
