"""Every control a person can reach has a name a screen reader can say, and the
keyboard reaches it: checked over the main window, its pages and every form."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from ui.bus import DataBus
from ui.main_window import AREAS, MainWindow

CONTROLS = (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)


def spoken_name(widget: QWidget) -> str:
    """What assistive technology reads: the accessible name, else a button's own words."""
    if widget.accessibleName().strip():
        return widget.accessibleName()
    if isinstance(widget, QAbstractButton):
        return widget.text().replace("&", "").strip()
    return ""


def unnamed_controls(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisibleTo(root):
            continue
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus and not isinstance(
            widget, QAbstractItemView
        ):
            continue  # not reachable by keyboard: part of another control (a combo's list)
        parent = widget.parentWidget()
        if isinstance(widget, QHeaderView):
            continue  # a table's header is read with the table
        if isinstance(parent, (QComboBox, QAbstractSpinBox)):
            continue  # the inner line edit of a combo box or date field
        if not spoken_name(widget):
            missing.append(
                f"{type(widget).__name__} {widget.objectName()!r} in {type(parent).__name__}"
            )
    return missing


def some_patient(clinic: Clinic) -> str:
    return str(
        clinic.conn.execute("SELECT id FROM patient WHERE deceased = 0 LIMIT 1").fetchone()[0]
    )


def test_every_page_of_the_main_window_names_its_controls(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    window = MainWindow(demo_clinic)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    for row, area in enumerate(AREAS):
        window.nav.setCurrentRow(row)
        assert unnamed_controls(window) == [], area
    window.open_patient(some_patient(demo_clinic))
    assert unnamed_controls(window) == [], "patient view"


def _forms() -> list[tuple[str, Callable[[Clinic, DataBus, str], QWidget]]]:
    from ui.forms.appointment import AppointmentDialog
    from ui.forms.call import LogCallDialog
    from ui.forms.details import DetailsDialog
    from ui.forms.new_patient import NewPatientDialog
    from ui.forms.note import NoteDialog
    from ui.forms.payment import PaymentDialog
    from ui.forms.tag import TagDialog

    return [
        ("call", lambda c, b, p: LogCallDialog(c, b, p)),
        ("note", lambda c, b, p: NoteDialog(c, b, p)),
        ("book", lambda c, b, p: AppointmentDialog(c, b, p)),
        ("details", lambda c, b, p: DetailsDialog(c, b, p)),
        ("payment", lambda c, b, p: PaymentDialog(c, b, p)),
        ("tag", lambda c, b, p: TagDialog(c, b, p)),
        ("new patient", lambda c, b, _p: NewPatientDialog(c, b, None, initial_text="Ada Okafor")),
    ]


@pytest.mark.parametrize("name", [name for name, _make in _forms()])
def test_every_form_names_its_controls_and_tab_reaches_them(
    qtbot: QtBot, demo_clinic: Clinic, name: str
) -> None:
    make = dict(_forms())[name]
    dialog = make(demo_clinic, DataBus(), some_patient(demo_clinic))
    qtbot.addWidget(dialog)
    dialog.show()
    assert unnamed_controls(dialog) == []
    reachable = [
        w
        for w in dialog.findChildren(QWidget)
        if isinstance(w, (QLineEdit, QComboBox, QPlainTextEdit))
        and w.isVisibleTo(dialog)
        and w.isEnabled()
        and w.focusPolicy() & Qt.FocusPolicy.TabFocus
        and not isinstance(w.parentWidget(), (QComboBox, QAbstractSpinBox))
    ]
    seen: set[int] = set()
    start = dialog.focusWidget() or dialog
    current: QWidget | None = start
    for _ in range(200):  # walk the tab chain once around
        current = current.nextInFocusChain() if current else None
        if current is None or current is start:
            break
        seen.add(id(current))
    assert all(id(w) in seen for w in reachable)


def test_the_check_itself_finds_a_nameless_field(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QPushButton, QVBoxLayout

    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    layout.addWidget(QLineEdit())
    layout.addWidget(QPushButton("Save"))
    root.show()
    assert unnamed_controls(root) == ["QLineEdit '' in QWidget"]
