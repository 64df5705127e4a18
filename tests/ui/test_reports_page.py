"""The Reports page: every report draws and tabulates the same figures, saves a picture and
a CSV that read back, reacts to its filters, and says what is wrong with a bad range."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.ops import CancelToken, OperationCancelledError
from app.reports import attendance
from app.reports.catalogue import REPORTS
from app.reports.figure import cell_text
from app.reports.filters import ReportFilters
from tests.integration.test_reports_figures import FIRST, LAST, Built, _build
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.reports.page import NOT_BY_PROVIDER, ReportsPage, run_report


@pytest.fixture
def built(clinic: Clinic) -> Built:
    return _build(clinic)


@pytest.fixture
def page(qtbot: QtBot, clinic: Clinic, built: Built) -> ReportsPage:
    shown = ReportsPage(clinic, DataBus(), today=date(2026, 4, 10))
    qtbot.addWidget(shown)
    shown.resize(1280, 720)
    shown.show()
    _wait(qtbot, shown)
    shown.set_filters(ReportFilters(FIRST, LAST))
    _wait(qtbot, shown)
    return shown


def _wait(qtbot: QtBot, page: ReportsPage) -> None:
    run = page.last_run
    assert run is not None
    qtbot.waitUntil(lambda: run.finished, timeout=15_000)
    assert run.error is None


def _table(page: ReportsPage) -> list[list[str]]:
    table = page.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_every_report_shows_its_figures_in_the_chart_and_the_table(
    qtbot: QtBot, page: ReportsPage
) -> None:
    for report in REPORTS:
        page.select_report(report.key)
        _wait(qtbot, page)
        figure = page.figure
        assert figure is not None and page.chart.figure is figure
        assert _table(page) == [[cell_text(c) for c in row] for row in figure.rows]
        assert page.chart.accessibleName() == f"Chart: {figure.title}"
        assert page.chart.accessibleDescription()
        assert page.title.text() == figure.title
        if report.key not in ("reactivation", "leads", "cost"):  # none of those here
            assert not figure.is_empty, report.key
            assert page.save_csv.isEnabled()
        else:
            assert page.status.text() == figure.empty_reason


def test_the_no_show_table_holds_the_reports_figures(qtbot: QtBot, page: ReportsPage) -> None:
    page.select_report("no_shows")
    _wait(qtbot, page)
    rows = attendance.no_shows(page.clinic, ReportFilters(FIRST, LAST))
    assert [int(r[1]) for r in _table(page)] == [r.reminded for r in rows]


def test_the_chart_saves_as_a_picture_twice_its_size(
    qtbot: QtBot, page: ReportsPage, tmp_path: Path
) -> None:
    target = tmp_path / "no-shows.png"
    assert page.save_picture_to(target)
    image = QImage(str(target))
    assert not image.isNull()
    assert (image.width(), image.height()) == (page.chart.width() * 2, page.chart.height() * 2)
    assert "no-shows.png" in page.status.text()


def test_the_figures_save_as_a_csv_that_reads_back_the_same(
    qtbot: QtBot, page: ReportsPage, tmp_path: Path
) -> None:
    for key in ("nps", "messages"):
        page.select_report(key)
        _wait(qtbot, page)
        target = tmp_path / f"{key}.csv"
        assert page.save_csv_to(target)
        with target.open(encoding="utf-8-sig", newline="") as handle:
            read = list(csv.reader(handle))
        figure = page.figure
        assert figure is not None
        assert read[0] == list(figure.columns)
        assert read[1:] == _table(page)


def test_choosing_a_provider_changes_the_figures_and_says_when_it_does_not_apply(
    qtbot: QtBot, page: ReportsPage, built: Built
) -> None:
    page.select_report("no_shows")
    _wait(qtbot, page)
    everyone = _table(page)
    page.set_filters(ReportFilters(FIRST, LAST, built.providers[0]))
    _wait(qtbot, page)
    assert _table(page) != everyone
    assert page.provider.currentData() == built.providers[0]
    page.select_report("messages")
    _wait(qtbot, page)
    assert NOT_BY_PROVIDER in page.note.text()


def test_a_shorter_range_shows_fewer_months(qtbot: QtBot, page: ReportsPage) -> None:
    page.select_report("nps")
    _wait(qtbot, page)
    assert len(_table(page)) == 3
    page.set_filters(ReportFilters(date(2026, 2, 1), date(2026, 2, 28)))
    _wait(qtbot, page)
    assert [row[0] for row in _table(page)] == ["2026-02"]


def test_a_range_that_ends_before_it_starts_is_explained_next_to_the_dates(
    qtbot: QtBot, page: ReportsPage
) -> None:
    before = page.last_run
    page.first.setDate(page.last.date().addDays(5))
    page.refresh()
    assert page.last_run is before  # nothing was run
    assert page.filter_error.isVisible()
    assert "before its start" in page.filter_error.text()


def test_hovering_a_month_of_the_chart_tells_its_figures(qtbot: QtBot, page: ReportsPage) -> None:
    page.select_report("confirmations")
    _wait(qtbot, page)
    page.chart.repaint()
    chart = page.chart
    tips = [chart.spot_at(QPointF(chart.width() * x / 20, chart.height() / 2)) for x in range(20)]
    assert any("Jan 2026" in tip and "Confirmed by reply" in tip for tip in tips)


def test_cancel_stops_a_report_and_says_so(clinic: Clinic, built: Built) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        run_report(clinic, REPORTS[0], ReportFilters(FIRST, LAST), cancel)
    figure = run_report(clinic, REPORTS[0], ReportFilters(FIRST, LAST), CancelToken())
    assert not figure.is_empty
