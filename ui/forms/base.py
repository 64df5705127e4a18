"""The base of every form dialog: fields with their own error line, Save, and a guarded close.

A form subclass builds its fields with `add_field`, fills them, calls `mark_clean()`,
and implements `_save() -> Changes` with app/ calls. `save()` does the rest the same way
everywhere: bad input is shown next to its field (or above the buttons), the Changes are
published on the bus, and the dialog closes. Closing with unsaved edits asks first, through
a window-modal question (`discard_box`) so nothing blocks and tests can answer it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.ops import show_error
from ui.theme import error_line, hint_line

log = logging.getLogger(__name__)

# Unambiguous whichever way round the clinic writes dates: "Tue 3 Mar 2026".
DATE_FORMAT = "ddd d MMM yyyy"
SAVE_KEYS = ("Ctrl+Return", "Ctrl+Enter")


class FieldError(InvalidInputError):
    """Bad input that belongs to one field of a form, so it is shown next to that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FormInputError(InvalidInputError):
    """Several fields are wrong at once; each is shown next to its own field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(" ".join(str(e) for e in errors))
        self.errors = tuple(errors)


@dataclass
class _Field:
    label: str  # plain words, used for accessible names
    widget: QWidget
    holder: QWidget  # the widget with its hint and error lines: the row's field
    error: QLabel
    hint: QLabel
    form: QFormLayout  # the layout holding the row, for hiding it


def to_qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def from_qdate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


def plain_label(text: str) -> str:
    """'&Amount:' -> 'Amount', for accessible names built from a visible label."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(": ").strip()


def question_box(parent: QWidget, question: str, detail: str, *, yes: str, no: str) -> QMessageBox:
    """A yes/no question that does not block (tests and the event loop go on); the safe
    answer, No, is the default and what Esc picks. The caller connects `finished`."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        parent.windowTitle(),
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setInformativeText(detail)
    box.setAccessibleName(question)
    box.button(QMessageBox.StandardButton.Yes).setText(yes)
    box.button(QMessageBox.StandardButton.No).setText(no)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setEscapeButton(QMessageBox.StandardButton.No)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    return box


class PendingQuestion:
    """The one yes/no question a dialog has open at a time; `then` runs on Yes.

    Non-blocking like question_box, so the dialog keeps painting and a test can answer
    it (`answer`); `box` is None when nothing is being asked.
    """

    def __init__(self) -> None:
        self.box: QMessageBox | None = None

    def ask(
        self,
        parent: QWidget,
        question: str,
        detail: str,
        *,
        yes: str,
        no: str,
        then: Callable[[], object],
    ) -> QMessageBox:
        box = question_box(parent, question, detail, yes=yes, no=no)

        def answered(_result: int) -> None:
            self.box = None
            chosen = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
            box.deleteLater()
            if chosen:
                then()

        box.finished.connect(answered)
        self.box = box
        box.open()
        return box

    def answer(self, yes: bool) -> None:
        """Answer as the person would (tests, and code)."""
        if self.box is not None:
            which = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
            self.box.button(which).click()


class FormDialog(QDialog):
    """Subclasses implement `_save()`; see the module docstring."""

    saved = Signal(object)  # the Changes just published; for a caller that wants to follow up

    def __init__(
        self, clinic: Clinic, bus: DataBus, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.changes: Changes | None = None  # what the last successful save changed
        self.discard_box: QMessageBox | None = None  # the open "Discard your changes?" question
        self._dirty = False
        self._fields: dict[str, _Field] = {}
        self._tab_order_done = False
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setSizeGripEnabled(True)
        # Wide enough for a sentence of error text; in characters so it scales with the font.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 42)

        # Fields live in their own widget so the tab order can put them before the buttons.
        self.content_widget = QWidget(self)
        self.content = QVBoxLayout(self.content_widget)
        self.content.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.content.addLayout(self.form)

        self.general_error = error_line()
        self.general_error.setParent(self)
        self.general_error.setAccessibleName("Form error")
        self.general_error.setWordWrap(True)
        self.general_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.general_error.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.cancel_button: QPushButton = self.buttons.button(
            QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button.setAccessibleName("Save")
        self.save_button.setToolTip("Save (Ctrl+Enter)")
        self.cancel_button.setAccessibleName("Cancel")
        self.save_button.setDefault(True)
        self.save_button.setAutoDefault(True)
        self.cancel_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        for keys in SAVE_KEYS:
            QShortcut(QKeySequence(keys), self).activated.connect(self.save)

        layout = QVBoxLayout(self)
        layout.addWidget(self.content_widget)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)

    # --- building the form ------------------------------------------------------------

    def add_heading(self, text: str) -> QLabel:
        """A bold line above the fields saying whom the form is about."""
        heading = QLabel(text)
        heading.setAccessibleName(text)
        font = heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        heading.setFont(font)
        heading.setWordWrap(True)
        self.content.insertWidget(0, heading)
        return heading

    def add_field(
        self,
        label: str,
        widget: QWidget,
        name: str,
        hint: str = "",
        form: QFormLayout | None = None,
    ) -> QWidget:
        """Add a labelled row whose error line sits right under the widget.

        `name` is the key `FieldError` uses; `label` may carry a mnemonic ("&Amount").
        The widget gets the label as accessible name unless it already has one. `form`
        puts the row in another form layout of the dialog (a column, a tab) instead of
        `self.form`; errors, hints and `set_row_visible` work the same there.
        """
        form = form if form is not None else self.form
        words = plain_label(label)
        if isinstance(widget, QPlainTextEdit | QTextEdit):
            widget.setTabChangesFocus(True)  # Tab moves on, as everywhere else in a form
        if not widget.accessibleName():
            widget.setAccessibleName(words)
        caption = QLabel(label)
        caption.setBuddy(widget)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        hint_label = hint_line(hint)
        hint_label.setAccessibleName(f"{words} hint")
        hint_label.setWordWrap(True)
        hint_label.setVisible(bool(hint))
        column.addWidget(hint_label)
        error = error_line()
        error.setAccessibleName(f"{words} error")
        error.setWordWrap(True)
        error.hide()
        column.addWidget(error)
        form.addRow(caption, holder)
        self._fields[name] = _Field(words, widget, holder, error, hint_label, form)
        self.watch(widget, lambda: self._edited(name))
        return widget

    def watch(self, widget: QWidget, on_edit: Callable[[], None] | None = None) -> None:
        """Mark the form dirty when `widget` (or, for a plain container, any input in it)
        changes. Forms call this for inputs they add outside `add_field`."""
        callback = on_edit or self.mark_dirty

        def edited(*_args: object) -> None:
            callback()

        if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit):
            widget.textChanged.connect(edited)
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(edited)
            widget.editTextChanged.connect(edited)
        elif isinstance(widget, QDateTimeEdit):
            widget.dateTimeChanged.connect(edited)
        elif isinstance(widget, QSpinBox | QDoubleSpinBox):
            widget.valueChanged.connect(edited)
        elif isinstance(widget, QAbstractButton):
            if widget.isCheckable():
                widget.toggled.connect(edited)
        else:
            for child in widget.findChildren(
                QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
            ):
                self.watch(child, callback)

    def field_widget(self, name: str) -> QWidget:
        return self._fields[name].widget

    def error_label(self, name: str) -> QLabel:
        return self._fields[name].error

    def error_text(self, name: str) -> str:
        """The error shown under a field, '' when none is shown."""
        error = self._fields[name].error
        return error.text() if not error.isHidden() else ""

    def set_hint(self, name: str, text: str) -> None:
        hint = self._fields[name].hint
        hint.setText(text)
        hint.setVisible(bool(text))

    def hint_text(self, name: str) -> str:
        hint = self._fields[name].hint
        return hint.text() if not hint.isHidden() else ""

    def set_row_visible(self, name: str, visible: bool) -> None:
        field = self._fields[name]
        field.form.setRowVisible(field.holder, visible)

    # --- errors -----------------------------------------------------------------------

    def show_field_error(self, name: str, message: str) -> None:
        field = self._fields.get(name)
        if field is None:
            self.show_general_error(message)
            return
        field.error.setText(message)
        field.error.show()
        field.widget.setAccessibleDescription(message)

    def show_general_error(self, message: str) -> None:
        self.general_error.setText(message)
        self.general_error.show()

    def clear_errors(self) -> None:
        for name in self._fields:
            self._clear_field_error(name)
        self.general_error.clear()
        self.general_error.hide()

    def _clear_field_error(self, name: str) -> None:
        field = self._fields[name]
        if not field.error.isHidden():
            field.error.clear()
            field.error.hide()
            field.widget.setAccessibleDescription("")

    def _field_for(self, error: InvalidInputError) -> str | None:
        """Which field a plain core InvalidInputError belongs to; None shows it above
        the buttons. Forms whose only input could be wrong override this."""
        return None

    # --- dirty tracking ---------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self) -> None:
        self._dirty = True

    def mark_clean(self) -> None:
        """Call after filling the fields, so only the person's own edits count."""
        self._dirty = False

    def _edited(self, name: str) -> None:
        self._dirty = True
        self._clear_field_error(name)

    # --- saving -----------------------------------------------------------------------

    def _save(self) -> Changes:
        raise NotImplementedError

    def save(self) -> bool:
        """Validate and write through `_save`; True when saved and the dialog closed."""
        if not self.save_button.isEnabled() or self.discard_box is not None:
            return False
        self.clear_errors()
        try:
            changes = self._save()
        except Exception as exc:  # noqa: BLE001 - every failure is shown by report()
            self.report(exc)
            return False
        self.changes = changes
        self.bus.publish(changes)
        self._dirty = False
        self.saved.emit(changes)
        self.accept()
        return True

    def report(self, exc: BaseException) -> None:
        """Show a failed save or action where it belongs: bad input next to its field,
        other errors of ours above the buttons, anything unexpected logged and shown
        plainly (ui.ops.show_error)."""
        if isinstance(exc, FormInputError):
            for error in exc.errors:
                self.show_field_error(error.field, str(error))
            self._focus_first_error()
        elif isinstance(exc, FieldError):
            self.show_field_error(exc.field, str(exc))
            self._focus_first_error()
        elif isinstance(exc, InvalidInputError):
            name = self._field_for(exc)
            if name is None:
                self.show_general_error(str(exc))
            else:
                self.show_field_error(name, str(exc))
                self._focus_first_error()
        elif isinstance(exc, FrontdeskError):
            self.show_general_error(str(exc))
        else:
            show_error(self, self.windowTitle(), exc)

    def error_widgets(self) -> list[QWidget]:
        """The inputs whose error is shown now. Subclasses with inputs of their own
        (lines of a list) add theirs, so focus can go to whichever comes first."""
        return [field.widget for field in self._fields.values() if not field.error.isHidden()]

    def _focus_first_error(self) -> None:
        """Focus the wrong input that comes first in the tab order, which is the order
        the person reads, not the order fields were registered: a field added later
        (in another column, or after the form was shown) still gets its turn."""
        wrong = self.error_widgets()
        if not wrong:
            return
        chain = self._tab_chain()
        order = {id(widget): index for index, widget in enumerate(chain)}

        def position(widget: QWidget) -> int:
            if id(widget) in order:
                return order[id(widget)]
            # A container (a list of lines): where its first focusable input sits.
            inside = [i for i, w in enumerate(chain) if widget.isAncestorOf(w)]
            return min(inside, default=len(chain))

        first = min(wrong, key=position)  # min keeps registration order among equals
        target = first.focusProxy() or first
        if not target.focusPolicy() & Qt.FocusPolicy.TabFocus:
            inputs = [w for w in chain if first.isAncestorOf(w)]
            target = inputs[0] if inputs else first
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    def _tab_chain(self) -> list[QWidget]:
        """The dialog's inputs in tab order (the buttons included)."""
        chain: list[QWidget] = []
        widget = self.nextInFocusChain()
        while widget is not self and widget is not None and len(chain) < 1000:
            if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
                chain.append(widget)
            widget = widget.nextInFocusChain()
        return chain

    # --- closing ----------------------------------------------------------------------

    def reject(self) -> None:
        """Esc, Cancel and the window's close button all come here."""
        if self._dirty:
            self.ask_discard()
            return
        super().reject()

    def ask_discard(self) -> QMessageBox:
        """Open (without blocking) the question; Yes closes the form, No keeps it open."""
        if self.discard_box is not None:
            return self.discard_box
        box = question_box(
            self,
            "Discard your changes?",
            "What you entered in this form has not been saved.",
            yes="Discard",
            no="Keep editing",
        )
        box.finished.connect(lambda _result: self._discard_answered(box))
        self.discard_box = box
        box.open()
        return box

    def answer_discard(self, discard: bool) -> None:
        """Answer the open question as the person would (used by tests and by code)."""
        if self.discard_box is None:
            return
        button = QMessageBox.StandardButton.Yes if discard else QMessageBox.StandardButton.No
        self.discard_box.button(button).click()

    def _discard_answered(self, box: QMessageBox) -> None:
        self.discard_box = None
        discard = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if discard:
            self._dirty = False
            super().reject()

    # --- helpers for subclasses -------------------------------------------------------

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.settings.timezone)

    def today(self) -> date:
        """Today at the clinic, which is what 'today' means on a form, wherever the PC is."""
        return clinic_today(self.clinic)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        if not self._tab_order_done:
            self._tab_order_done = True
            # Forms rename the buttons ("Log call"); what is heard must match what is seen.
            for button in (self.save_button, self.cancel_button):
                button.setAccessibleName(plain_label(button.text()))
            self.order_tabs()
        super().showEvent(event)

    def order_tabs(self) -> None:
        """Fields in the order they were built, then the buttons in the order shown: the
        button box is created first, so Qt's default chain would start with it. Done on
        first show; call again after adding inputs to a shown form."""
        chain: list[QWidget] = []
        widget = self.nextInFocusChain()
        while widget is not self and widget is not None and len(chain) < 1000:
            if (
                self.content_widget.isAncestorOf(widget)
                and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            ):
                chain.append(widget)
            widget = widget.nextInFocusChain()
        box_layout = self.buttons.layout()
        for i in range(box_layout.count() if box_layout is not None else 0):
            item = box_layout.itemAt(i) if box_layout is not None else None
            button = item.widget() if item is not None else None
            if isinstance(button, QAbstractButton):
                chain.append(button)
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
