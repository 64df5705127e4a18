"""Net Promoter Score by month, from the survey answers (survey_response).

An answer counts in the local month it was given; with a provider chosen, only the
answers about that provider's visits (the provider is stored on the answer when it
is given, so the figure stays when a visit is later edited). Promoters score 9–10,
passives 7–8, detractors 0–6; NPS = % promoters − % detractors, as
app/engagement/nps.py defines it (exact, rounded only for display).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from app.clinic import Clinic
from app.engagement import surveys
from app.reports.figure import LINE, Figure, Series, column, month_label
from app.reports.filters import ReportFilters, month_bounds


@dataclass(frozen=True)
class NpsMonth:
    month: str
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        if not self.answers:
            return None
        return float(Fraction(100 * (self.promoters - self.detractors), self.answers))


def nps_by_month(clinic: Clinic, filters: ReportFilters) -> list[NpsMonth]:
    """Every month of the range (zeros where nobody answered), oldest first.

    The counting is app/engagement/surveys.nps_by_month's (one GROUP BY over the answers
    by local month), so this report and the Surveys tab never disagree.
    """
    bounds = month_bounds(clinic, filters)
    by = "provider" if filters.provider_id is not None else ""
    points = surveys.nps_by_month(clinic, first=filters.first, last=filters.last, by=by)
    wanted = filters.provider_id or ""
    found = {
        p.month: NpsMonth(p.month, p.promoters, p.passives, p.detractors)
        for p in points
        if p.group_id == wanted
    }
    return [found.get(b.month, NpsMonth(b.month, 0, 0, 0)) for b in bounds]


def nps_figure(rows: list[NpsMonth]) -> Figure:
    table = tuple((r.month, r.promoters, r.passives, r.detractors, r.answers, r.nps) for r in rows)
    nothing = not any(r.answers for r in rows)
    return Figure(
        title="Net Promoter Score",
        columns=(
            "Month",
            "Promoters (9–10)",
            "Passives (7–8)",
            "Detractors (0–6)",
            "Answers",
            "NPS",
        ),
        rows=() if nothing else table,
        categories=tuple(month_label(r.month) for r in rows),
        series=(Series("NPS", column(table, 5)),),
        kind=LINE,
        unit="NPS",
        note=(
            "Answers to the satisfaction survey by the month they were given. NPS is the "
            "percent of promoters minus the percent of detractors (from −100 to 100)."
        ),
        empty_reason="Nobody answered the satisfaction survey in these months.",
    )
