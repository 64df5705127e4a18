"""What a write changed: the value every core write function returns to its caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Changes:
    """Which kinds of rows changed, and for which patients; views refresh from this alone."""

    tables: frozenset[str] = frozenset()
    patient_ids: frozenset[str] = frozenset()

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.tables | other.tables, self.patient_ids | other.patient_ids)

    def __bool__(self) -> bool:
        return bool(self.tables)

    def touches(self, *tables: str) -> bool:
        return any(t in self.tables for t in tables)


@dataclass(frozen=True)
class Created:
    """A write that made one new record: its id, and what changed."""

    id: str
    changes: Changes
