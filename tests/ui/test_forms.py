"""The quick-action forms of the patient view save through the core, refuse bad input
next to the field, publish what they changed, and ask before throwing edits away."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog


class _EchoForm(FormDialog):
    """A two-field form whose save refuses an empty name, to test the base alone."""

    def __init__(self, clinic: Clinic, bus: DataBus) -> None:
        super().__init__(clinic, bus, "Echo")
        self.name = QLineEdit()
        self.text = QPlainTextEdit()
        self.add_field("&Name", self.name, "name")
        self.add_field("&Text", self.text, "text")
        self.name.setText("prefilled")
        self.mark_clean()

    def _save(self) -> Changes:
        if not self.name.text().strip():
            raise FieldError("name", "Type a name.")
        return Changes(frozenset({"patient"}), frozenset({"p1"}))


def _published(bus: DataBus) -> list[Changes]:
    seen: list[Changes] = []
    bus.changed.connect(seen.append)
    return seen


def test_form_base_shows_field_error_under_field_and_keeps_dialog_open(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    seen = _published(bus)
    form = _EchoForm(clinic, bus)
    qtbot.addWidget(form)
    form.show()
    form.name.clear()
    assert form.save() is False
    assert form.error_text("name") == "Type a name."
    assert form.error_label("name").accessibleName() == "Name error"
    assert form.isVisible() and not seen


def test_ctrl_enter_in_multiline_text_saves_and_publishes(qtbot: QtBot, clinic: Clinic) -> None:
    bus = DataBus()
    seen = _published(bus)
    form = _EchoForm(clinic, bus)
    qtbot.addWidget(form)
    form.show()
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow)
    form.text.setFocus()
    qtbot.keyClicks(form.text, "hello")
    qtbot.keyClick(form.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert seen and seen[0].patient_ids == frozenset({"p1"})
    assert not form.isVisible()
    assert "hello" in form.text.toPlainText() and "\n" not in form.text.toPlainText()


def test_closing_a_dirty_form_asks_and_no_keeps_it_open(qtbot: QtBot, clinic: Clinic) -> None:
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    form.reject()
    assert not form.isVisible() and form.discard_box is None  # nothing typed: closes at once
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    form.name.setText("changed")
    form.close()
    assert form.discard_box is not None
    assert form.discard_box.text() == "Discard your changes?"
    form.answer_discard(False)
    assert form.isVisible() and form.discard_box is None
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    assert form.discard_box is not None
    form.answer_discard(True)
    assert not form.isVisible()


def _tab_stops(start: QWidget) -> list[QWidget]:
    """The widgets Tab visits from `start`, in order, once round."""
    stops = [start]
    widget = start.nextInFocusChain()
    while widget is not start:
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisibleTo(start.window()):
            stops.append(widget)
        widget = widget.nextInFocusChain()
    return stops


def test_tab_goes_through_fields_in_order_then_buttons(qtbot: QtBot, clinic: Clinic) -> None:
    form = _EchoForm(clinic, DataBus())
    qtbot.addWidget(form)
    form.show()
    stops = _tab_stops(form.name)
    assert stops[1] is form.text
    assert set(stops[2:4]) == {form.save_button, form.cancel_button}
