"""Saving a report: the chart as a PNG picture, the figures as CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QByteArray, QStandardPaths
from PySide6.QtGui import QImageWriter
from PySide6.QtWidgets import QFileDialog, QWidget

from app.audit import log as audit
from app.audit.actions import EXPORT
from app.clinic import Clinic
from app.reports.figure import Figure, write_csv
from ui.reports.charts import ChartView

PICTURE_SCALE = 2.0  # twice the size on screen: sharp in a printed handout or a slide


class SaveError(Exception):
    """The picture could not be written (said in plain words)."""


def suggested_path(figure: Figure, suffix: str) -> Path:
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    # No patient data in a report's name: its title and the day.
    stem = "".join(ch if ch.isalnum() else "-" for ch in figure.title.lower()).strip("-")
    while "--" in stem:
        stem = stem.replace("--", "-")
    return Path(folder or Path.home()) / f"{stem}-{date.today().isoformat()}{suffix}"


def ask_path(parent: QWidget, title: str, suggested: Path, kind: str) -> Path | None:
    chosen, _filter = QFileDialog.getSaveFileName(parent, title, str(suggested), kind)
    if not chosen:
        return None
    path = Path(chosen)
    return path if path.suffix else path.with_suffix(suggested.suffix)


def save_picture(
    chart: ChartView, path: Path, *, clinic: Clinic | None = None, report: str = ""
) -> None:
    """The chart at PICTURE_SCALE × its size on screen, as PNG (audited when `clinic` given)."""
    writer = QImageWriter(str(path), QByteArray(b"png"))
    if not writer.write(chart.image(PICTURE_SCALE)):
        raise SaveError("The picture could not be saved there. Choose a folder you can save to.")
    if clinic is not None:
        detail = {"report": report, "picture": True}
        audit.record(clinic, EXPORT, target=path.name, detail=detail)


def save_csv(figure: Figure, path: Path, *, clinic: Clinic | None = None) -> int:
    """The report's table (what the chart shows, and more) as CSV; rows written."""
    return write_csv(figure, path, clinic=clinic)
