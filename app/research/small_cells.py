"""Small cells: groups of fewer than k patients who share their quasi-identifiers.

Safe Harbor removes the 18 identifiers; it also asks that the clinic have no actual
knowledge that what is left could identify someone (45 CFR 164.514(b)(2)(ii)). A
95-year-old in a ZIP3 with one such patient is that kind of knowledge. k = 11 is the
usual cell-size threshold (CMS's), a policy and not part of the rule.

Two kinds of group are counted, on the quasi-identifiers the export holds (age group,
year of birth, sex, ZIP3 — only those the manager chose):
* demographic: patients with the same values of all of them;
* condition: patients with the same values *and* the same coded condition.

Suppression, when asked for, keeps every row (counts stay right for analysis) and hides
the rare values: a patient in a small demographic group gets "suppressed" in each
quasi-identifier column of patients.csv; a condition row in a small condition group gets
"suppressed" for its code and display. The report of a suppressed export lists how many
groups and patients, not their values: writing the values next to the files would undo
the suppression. An export without suppression lists the groups themselves (their
values are in the files anyway) so the manager can decide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

DEFAULT_K: Final = 11
MIN_K: Final = 2
MAX_K: Final = 1000
LISTED_GROUPS: Final = 1000  # the report names at most this many groups of each kind

QiValues = tuple[str, ...]
ConditionKey = tuple[str, str]  # (system, code)


@dataclass(frozen=True)
class SmallGroup:
    kind: str  # demographic, condition
    values: tuple[tuple[str, str], ...]  # (column, value)
    patients: int


@dataclass(frozen=True)
class SmallCells:
    k: int
    columns: tuple[str, ...]
    demographic_groups: tuple[SmallGroup, ...]
    condition_groups: tuple[SmallGroup, ...]
    # Who is in a small group (pseudonyms), and which (values, condition) cells are small.
    flagged_patients: frozenset[str]
    small_condition_cells: frozenset[tuple[QiValues, ConditionKey]]
    condition_rows_flagged: int

    @property
    def groups(self) -> int:
        return len(self.demographic_groups) + len(self.condition_groups)


def find_small_cells(
    k: int,
    columns: tuple[str, ...],
    values: Mapping[str, QiValues],
    conditions: Iterable[tuple[str, ConditionKey]] = (),
) -> SmallCells:
    """`values`: pseudonym → the patient's quasi-identifier values, in `columns` order.
    `conditions`: (pseudonym, (system, code)) pairs, repeats allowed."""
    demographic = Counter(values.values())
    small_demo = {v for v, n in demographic.items() if n < k}
    flagged = frozenset(p for p, v in values.items() if v in small_demo)
    holders: dict[tuple[QiValues, ConditionKey], set[str]] = {}
    rows: Counter[tuple[QiValues, ConditionKey]] = Counter()
    for pseudonym, condition in conditions:
        cell = (values.get(pseudonym, ()), condition)
        holders.setdefault(cell, set()).add(pseudonym)
        rows[cell] += 1
    small_cond = {cell for cell, who in holders.items() if len(who) < k}
    demo_groups = tuple(
        SmallGroup("demographic", tuple(zip(columns, v, strict=True)), demographic[v])
        for v in sorted(small_demo)
    )
    cond_groups = tuple(
        SmallGroup(
            "condition",
            (*zip(columns, v, strict=True), ("system", c[0]), ("code", c[1])),
            len(holders[(v, c)]),
        )
        for v, c in sorted(small_cond)
    )
    return SmallCells(
        k,
        columns,
        demo_groups,
        cond_groups,
        flagged,
        frozenset(small_cond),
        sum(rows[c] for c in small_cond),
    )


def report_json(cells: SmallCells, *, suppressed: bool) -> dict[str, object]:
    def listed(groups: tuple[SmallGroup, ...]) -> list[dict[str, object]]:
        if suppressed:
            return []
        return [{"values": dict(g.values), "patients": g.patients} for g in groups[:LISTED_GROUPS]]

    return {
        "k": cells.k,
        "quasi_identifiers": list(cells.columns),
        "suppressed": suppressed,
        "demographic_groups_under_k": len(cells.demographic_groups),
        "patients_in_small_demographic_groups": len(cells.flagged_patients),
        "condition_groups_under_k": len(cells.condition_groups),
        "condition_rows_in_small_groups": cells.condition_rows_flagged,
        "demographic_groups": listed(cells.demographic_groups),
        "condition_groups": listed(cells.condition_groups),
    }


def report_markdown(cells: SmallCells, *, suppressed: bool) -> str:
    qis = ", ".join(cells.columns) or "none (no age, sex or ZIP3 column was chosen)"
    lines = [
        "# Small-cell report",
        "",
        f"Groups of fewer than k = {cells.k} patients who share the same quasi-identifiers "
        f"({qis}), and the same groups with one coded condition.",
        "",
        f"* Demographic groups under {cells.k}: {len(cells.demographic_groups):,} "
        f"({len(cells.flagged_patients):,} patients)",
        f"* Condition groups under {cells.k}: {len(cells.condition_groups):,} "
        f"({cells.condition_rows_flagged:,} condition rows)",
        "",
    ]
    if suppressed:
        lines += [
            "Suppressed: in patients.csv, each patient of a small demographic group has "
            "`suppressed` in every quasi-identifier column; in conditions.csv, each row of a "
            "small condition group has `suppressed` as its code and display. No row was "
            "removed, so counts still add up. The groups' values are not listed here: "
            "that would undo the suppression.",
            "",
        ]
        return "\n".join(lines)
    lines += [
        "Not suppressed. Before you hand the files over, look at the groups below: a "
        'small group can point to one person ("the only woman over 90 in ZIP3 551"). '
        "Make the export again with *Suppress small groups* ticked, or with fewer "
        "columns (for example age group instead of year of birth), and check again.",
        "",
    ]
    for title, groups in (
        ("Demographic groups", cells.demographic_groups),
        ("Condition groups", cells.condition_groups),
    ):
        if not groups:
            continue
        names = [name for name, _ in groups[0].values]
        lines += [f"## {title}", "", "| " + " | ".join([*names, "patients"]) + " |"]
        lines.append("|" + "---|" * (len(names) + 1))
        for g in groups[:LISTED_GROUPS]:
            cells_text = [_md(value) for _, value in g.values]
            lines.append("| " + " | ".join([*cells_text, str(g.patients)]) + " |")
        if len(groups) > LISTED_GROUPS:
            lines.append(f"\n…and {len(groups) - LISTED_GROUPS:,} more.")
        lines.append("")
    return "\n".join(lines)


def _md(value: str) -> str:
    return (value or "(blank)").replace("|", "\\|")
