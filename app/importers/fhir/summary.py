"""Counting what one FHIR import saw, mapped, skipped and failed, per resource type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.importers.fhir.mapping import MappedItem
from app.importers.fhir.model import MappingProblem


@dataclass
class ReadSummary:
    """Running counts over MappedItems; `add` each one as it goes by.

    seen: resources read, per type. mapped: records made, per type (contained
    resources included). skipped: resources of types Frontdesk does not import.
    failed: resources left out because of a problem. source_problems: files, lines or
    entries that held no readable resource. field_problems: fields left out.
    """

    seen: Counter[str] = field(default_factory=Counter)
    mapped: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    source_problems: list[tuple[str, str]] = field(default_factory=list)
    problems: list[MappingProblem] = field(default_factory=list)

    def add(self, item: MappedItem) -> None:
        if item.source_problem is not None:
            self.source_problems.append((item.location, item.source_problem))
            return
        if item.resource_type is not None:
            self.seen[item.resource_type] += 1
        if item.skipped_type is not None:
            self.skipped[item.skipped_type] += 1
        for record in item.records:
            self.mapped[record.key.type] += 1
        for problem in item.problems:
            self.problems.append(problem)
            if problem.dropped:
                self.failed[problem.resource_type] += 1

    @property
    def field_problems(self) -> int:
        return sum(1 for p in self.problems if not p.dropped)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form (for `main.py import --json`); locations included, no content."""
        types = sorted(set(self.seen) | set(self.mapped) | set(self.failed))
        return {
            "types": {
                t: {
                    "seen": self.seen[t],
                    "mapped": self.mapped[t],
                    "skipped": self.skipped[t],
                    "failed": self.failed[t],
                }
                for t in types
            },
            "skipped_types": dict(sorted(self.skipped.items())),
            "source_problems": [{"location": loc, "problem": p} for loc, p in self.source_problems],
            "problems": [
                {
                    "location": p.location,
                    "type": p.resource_type,
                    "reason": p.reason,
                    "dropped": p.dropped,
                }
                for p in self.problems
            ],
        }


def summarize(items: Iterable[MappedItem]) -> ReadSummary:
    """Count a whole run of MappedItems (keeps only the counts and the problem list)."""
    summary = ReadSummary()
    for item in items:
        summary.add(item)
    return summary
