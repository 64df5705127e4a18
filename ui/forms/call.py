"""Log a call (Ctrl+L): who dialled, how it went, a note, and when to call back."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QPlainTextEdit,
    QRadioButton,
    QWidget,
)

from app.clinic import Clinic
from app.errors import InvalidDateError
from app.interactions.calls import (
    CALL_DIRECTIONS,
    CALL_OUTCOMES,
    check_follow_up,
    default_follow_up,
    log_call,
)
from app.patients.records import get_patient
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import (
    DATE_FORMAT,
    FieldError,
    FormDialog,
    FormInputError,
    from_qdate,
    to_qdate,
)

# Mnemonics: Alt+letter picks an outcome without leaving the keyboard.
OUTCOME_TEXT = {  # with their Alt letters; the Today page's Mark done uses them too
    "reached": "&Reached",
    "voicemail": "&Voicemail",
    "no answer": "N&o answer",
    "wrong number": "&Wrong number",
}
_DIRECTION_TEXT = {"out": "&I called them", "in": "T&hey called"}
# After these the patient still has to be reached, so a call-back is ticked for them.
_CALL_BACK_AFTER = {"voicemail", "no answer"}


class LogCallDialog(FormDialog):
    def __init__(
        self, clinic: Clinic, bus: DataBus, patient_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, "Log a call", parent)
        self.patient_id = patient_id
        patient = get_patient(clinic, patient_id)
        self.setWindowTitle(f"Log a call · {patient.display_name}")
        self.add_heading(f"Call with {patient.display_name}")
        self.save_button.setText("Log call")
        self._call_back_chosen_by_hand = False
        self._setting_call_back = False

        direction_box = QWidget()
        direction_box.setAccessibleName("Who called")
        row = QHBoxLayout(direction_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.direction_group = QButtonGroup(self)
        self.direction_buttons: dict[str, QRadioButton] = {}
        for value, words in CALL_DIRECTIONS:
            button = QRadioButton(_DIRECTION_TEXT.get(value, words))
            button.setAccessibleName(words)
            self.direction_group.addButton(button)
            self.direction_buttons[value] = button
            row.addWidget(button)
        row.addStretch(1)
        self.direction_buttons["out"].setChecked(True)
        self.add_field("Who called", direction_box, "direction")

        outcome_box = QWidget()
        outcome_box.setAccessibleName("Outcome")
        grid = QGridLayout(outcome_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.outcome_group = QButtonGroup(self)
        self.outcome_buttons: dict[str, QRadioButton] = {}
        for i, outcome in enumerate(CALL_OUTCOMES):
            button = QRadioButton(OUTCOME_TEXT.get(outcome.value, outcome.label))
            button.setAccessibleName(outcome.label)
            self.outcome_group.addButton(button)
            self.outcome_buttons[outcome.value] = button
            grid.addWidget(button, i // 2, i % 2)
            button.toggled.connect(self._outcome_chosen)
        grid.setColumnStretch(2, 1)  # keep the choices together on a wide form
        self.add_field("Outcome", outcome_box, "outcome")

        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("What was said. Card numbers are hidden when saved.")
        self.note.setMinimumHeight(self.fontMetrics().lineSpacing() * 5)
        self.add_field("&Note", self.note, "note")

        follow_box = QWidget()
        follow_box.setAccessibleName("Call back")
        follow_row = QHBoxLayout(follow_box)
        follow_row.setContentsMargins(0, 0, 0, 0)
        self.call_back = QCheckBox("&Call back on")
        self.call_back.setAccessibleName("Call back on a date")
        self.follow_up = QDateEdit()
        self.follow_up.setAccessibleName("Call-back date")
        self.follow_up.setCalendarPopup(True)
        self.follow_up.setDisplayFormat(DATE_FORMAT)
        self.follow_up.setDate(to_qdate(default_follow_up(self.today())))
        self.follow_up.setEnabled(False)
        self.call_back.toggled.connect(self.follow_up.setEnabled)
        self.call_back.toggled.connect(lambda _on: self._call_back_touched())
        follow_row.addWidget(self.call_back)
        follow_row.addWidget(self.follow_up, 1)
        self.add_field(
            "Follow-up",
            follow_box,
            "follow_up",
            hint="The call-back appears on Today's call list on that day.",
        )
        self.mark_clean()

    def outcome(self) -> str | None:
        return next((v for v, b in self.outcome_buttons.items() if b.isChecked()), None)

    def direction(self) -> str:
        return next(v for v, b in self.direction_buttons.items() if b.isChecked())

    def _outcome_chosen(self, checked: bool) -> None:
        if not checked or self._call_back_chosen_by_hand:
            return
        self._setting_call_back = True
        self.call_back.setChecked(self.outcome() in _CALL_BACK_AFTER)
        self._setting_call_back = False

    def _call_back_touched(self) -> None:
        if not self._setting_call_back:
            self._call_back_chosen_by_hand = True

    def _save(self) -> Changes:
        errors: list[FieldError] = []
        today = self.today()
        outcome = self.outcome()
        if outcome is None:
            errors.append(FieldError("outcome", "Choose how the call went."))
        follow_up = from_qdate(self.follow_up.date()) if self.call_back.isChecked() else None
        if follow_up is not None:
            try:
                check_follow_up(follow_up, today)
            except InvalidDateError as exc:
                errors.append(FieldError("follow_up", str(exc)))
        if errors:
            raise FormInputError(errors)
        assert outcome is not None
        return log_call(
            self.clinic,
            self.patient_id,
            direction=self.direction(),
            outcome=outcome,
            note=self.note.toPlainText(),
            follow_up=follow_up,
            today=today,
        )
