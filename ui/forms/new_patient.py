"""New patient, from the finder when nothing fits: prefilled from what was typed, and a
look at similar patients on file before a second record for the same person is made."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients import model
from app.patients.consents import COMMON_SOURCES, set_consents
from app.patients.duplicates import DuplicateCandidate, similar_patients
from app.patients.editing import (
    DetailsEdit,
    DetailsInvalidError,
    birth_date_hint,
    check_details,
    draft_from_text,
    source_choices,
)
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.patients.validation import display_phone
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog, FormInputError
from ui.forms.details import PHONE_USE_WORDS, SEX_CHOICES
from ui.patient.header import CHANNEL_WORDS, birth_text
from ui.theme import css

# The quick ticks: the consent a new patient is most often asked for at the desk.
QUICK_PURPOSE = "appointment"
_ERROR_KEYS = {"phones.0": "phone", "emails.0": "email"}


def warning_style() -> str:
    """The possible-duplicates panel: framed in the theme's warning colour, on the field
    background. Built from the palette in force, as a style sheet keeps what it got."""
    base = QGuiApplication.palette().color(QPalette.ColorRole.Base).name()
    return (
        f"QFrame#duplicates {{ border: 1px solid {css('warning')}; border-radius: 4px; "
        f"background: {base}; }}"
    )


class PossibleDuplicateError(InvalidInputError):
    """Similar patients are on file; the form shows them and waits for a choice."""


class NewPatientDialog(FormDialog):
    """After it closes: `created_id` is the new patient, or `existing_id` the one chosen
    from the similar patients instead (both None after Cancel)."""

    open_existing = Signal(str)  # patient id the person chose instead of creating
    created = Signal(str)  # the new patient's id

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        parent: QWidget | None = None,
        initial_text: str = "",
    ) -> None:
        super().__init__(clinic, bus, "New patient", parent)
        self.created_id: str | None = None
        self.existing_id: str | None = None
        self.candidates: list[DuplicateCandidate] = []
        self._accepted_draft: PatientDraft | None = None  # "Create anyway" was for this
        self.save_button.setText("Create patient")
        self.save_button.setAccessibleName("Create patient")

        self.family = QLineEdit()
        self.add_field("&Family name", self.family, "family_name")
        self.given = QLineEdit()
        self.swap = QToolButton()
        self.swap.setText("Swap names")
        self.swap.setAccessibleName("Swap family and given names")
        self.swap.setToolTip("Swap the family and given names")
        self.swap.clicked.connect(self.swap_names)
        given_row = QWidget()
        given_layout = QHBoxLayout(given_row)
        given_layout.setContentsMargins(0, 0, 0, 0)
        given_layout.addWidget(self.given, 1)
        given_layout.addWidget(self.swap)
        self.given.setAccessibleName("Given names")
        self.add_field("&Given names", given_row, "given_names")
        self.preferred = QLineEdit()
        self.preferred.setPlaceholderText("What they like to be called")
        self.add_field("&Preferred name", self.preferred, "preferred_name")
        self.birth_date = QLineEdit()
        example = "14/3/1975" if clinic.settings.day_first else "3/14/1975"
        self.birth_date.setPlaceholderText(f"{example}, or just 1975")
        self.birth_date.textChanged.connect(self._birth_date_typed)
        self.add_field("&Birth date", self.birth_date, "birth_date")
        self.sex = QComboBox()
        for value, words in SEX_CHOICES:
            self.sex.addItem(words, value)
        self.add_field("&Sex", self.sex, "sex")

        phone_row = QWidget()
        phone_layout = QHBoxLayout(phone_row)
        phone_layout.setContentsMargins(0, 0, 0, 0)
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("(612) 555-0142")
        self.phone.setAccessibleName("Phone")
        self.phone_use = QComboBox()
        self.phone_use.setAccessibleName("Phone kind")
        for value in model.PHONE_USES:
            self.phone_use.addItem(PHONE_USE_WORDS[value], value)
        phone_layout.addWidget(self.phone, 1)
        phone_layout.addWidget(self.phone_use)
        self.add_field("P&hone", phone_row, "phone")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@example.com")
        self.add_field("&Email", self.email, "email")
        self.source = QComboBox()
        for value, words in source_choices(clinic):
            self.source.addItem(words, value)
        self.source.setAccessibleName("How did they hear about us?")
        self.add_field("How did they hea&r about us?", self.source, "acquisition_source")

        ticks = QWidget()
        ticks.setAccessibleName("Agrees to appointment reminders by")
        tick_row = QHBoxLayout(ticks)
        tick_row.setContentsMargins(0, 0, 0, 0)
        self.reminder_ticks: dict[str, QCheckBox] = {}
        for channel in model.CHANNELS:
            tick = QCheckBox(CHANNEL_WORDS[channel])
            tick.setAccessibleName(f"Appointment reminders by {CHANNEL_WORDS[channel].lower()}")
            tick.toggled.connect(lambda _on: self._ticks_changed())
            self.reminder_ticks[channel] = tick
            tick_row.addWidget(tick)
        tick_row.addStretch(1)
        self.add_field(
            "Reminders by", ticks, "reminders", hint="Optional: tick what the patient agreed to."
        )
        self.consent_source = QComboBox()
        self.consent_source.setEditable(True)
        self.consent_source.addItems(list(COMMON_SOURCES))
        self.consent_source.setAccessibleName("How did the patient tell us?")
        self.add_field("How did they tell us?", self.consent_source, "consent_source")
        self.set_row_visible("consent_source", False)

        self.phone_use.setCurrentIndex(self.phone_use.findData("mobile"))
        self.saved.connect(lambda _changes: self.created.emit(self.created_id or ""))
        self._build_duplicates_panel()
        self._prefill(initial_text)
        self.mark_clean()
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 40)

    # --- building ---------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # Palette events can come while FormDialog is still being built: no panel yet.
        panel: QFrame | None = getattr(self, "duplicates_panel", None)
        is_palette = event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
        )
        if is_palette and panel is not None and panel.styleSheet() != warning_style():
            panel.setStyleSheet(warning_style())
        super().changeEvent(event)

    def _build_duplicates_panel(self) -> None:
        panel = QFrame()
        panel.setObjectName("duplicates")
        panel.setStyleSheet(warning_style())
        panel.setAccessibleName("Possible duplicates")
        layout = QVBoxLayout(panel)
        self.duplicates_title = QLabel("This may be the same person:")
        font = self.duplicates_title.font()
        font.setBold(True)
        self.duplicates_title.setFont(font)
        layout.addWidget(self.duplicates_title)
        self.duplicates = QListWidget()
        self.duplicates.setAccessibleName("Similar patients on file")
        self.duplicates.setWordWrap(True)
        self.duplicates.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.duplicates_title.setBuddy(self.duplicates)
        self.duplicates.itemActivated.connect(lambda _item: self.open_chosen())
        layout.addWidget(self.duplicates)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("&Open this patient")
        self.open_button.setAccessibleName("Open the chosen patient instead")
        self.open_button.setAutoDefault(False)
        self.open_button.clicked.connect(self.open_chosen)
        self.create_anyway_button = QPushButton("Create &anyway")
        self.create_anyway_button.setAccessibleName("Create a new patient anyway")
        self.create_anyway_button.setAutoDefault(False)
        self.create_anyway_button.clicked.connect(self.create_anyway)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.create_anyway_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.duplicates_panel = panel
        self.content.addWidget(panel)
        panel.hide()

    def _prefill(self, text: str) -> None:
        if not text.strip():
            return
        guess = draft_from_text(self.clinic, text)
        self.family.setText(guess.family_name)
        self.given.setText(guess.given_names)
        self.birth_date.setText(guess.birth_date)
        if guess.phones:
            self.phone.setText(guess.phones[0].number)
        if guess.emails:
            self.email.setText(guess.emails[0])

    # --- reacting ---------------------------------------------------------------------

    def swap_names(self) -> None:
        family, given = self.family.text(), self.given.text()
        self.family.setText(given)
        self.given.setText(family)

    def _birth_date_typed(self, text: str) -> None:
        day_first = self.clinic.settings.day_first
        self.set_hint("birth_date", birth_date_hint(text, today=self.today(), day_first=day_first))

    def _ticks_changed(self) -> None:
        self.set_row_visible("consent_source", bool(self.reminder_decisions()))

    def reminder_decisions(self) -> list[tuple[str, str, bool]]:
        return [
            (c, QUICK_PURPOSE, True) for c, tick in self.reminder_ticks.items() if tick.isChecked()
        ]

    # --- reading the form -------------------------------------------------------------

    def draft(self) -> PatientDraft:
        phone = self.phone.text().strip()
        email = self.email.text().strip()
        return PatientDraft(
            family_name=self.family.text(),
            given_names=self.given.text(),
            preferred_name=self.preferred.text(),
            birth_date=self.birth_date.text(),
            sex=str(self.sex.currentData()),
            acquisition_source=str(self.source.currentData() or ""),
            phones=(PhoneDraft(phone, str(self.phone_use.currentData())),) if phone else (),
            emails=(email,) if email else (),
        )

    # --- saving -----------------------------------------------------------------------

    def _save(self) -> Changes:
        draft = self.draft()
        errors: list[FieldError] = []
        try:
            # The same checks as editing an existing patient, every field at once.
            check_details(
                self.clinic,
                DetailsEdit(
                    family_name=draft.family_name,
                    given_names=draft.given_names,
                    birth_date=draft.birth_date,
                    sex=draft.sex,
                    phones=tuple((p.number, p.use) for p in draft.phones),
                    emails=draft.emails,
                ),
            )
        except DetailsInvalidError as exc:
            errors += [FieldError(_ERROR_KEYS.get(k, k), m) for k, m in exc.errors.items()]
        decisions = self.reminder_decisions()
        source = self.consent_source.currentText().strip()
        if decisions and not source:
            errors.append(FieldError("consent_source", "Say how the patient told us."))
        if errors:
            raise FormInputError(errors)
        if draft != self._accepted_draft:
            self.candidates = similar_patients(self.clinic, draft)
            if self.candidates:
                self._show_candidates()
                raise PossibleDuplicateError(
                    "Nothing was created yet: open the patient on file, or choose "
                    "Create anyway if this is someone else."
                )
        created = create_patient(self.clinic, draft)
        self.created_id = created.id
        changes = created.changes
        if decisions:
            changes |= set_consents(self.clinic, created.id, decisions, source)
        return changes

    def _show_candidates(self) -> None:
        self.duplicates.clear()
        region = self.clinic.settings.region
        for candidate in self.candidates:
            phone = f" · {display_phone(candidate.phone, region)}" if candidate.phone else ""
            text = (
                f"{candidate.display_name} · {birth_text(candidate.birth_date)}{phone}\n"
                f"    Why: {candidate.reason}"
            )
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, candidate.patient_id)
            self.duplicates.addItem(item)
        self.duplicates.setCurrentRow(0)
        # Every candidate in view without scrolling (at most five), two lines each.
        rows = min(len(self.candidates), 5)
        line = self.fontMetrics().lineSpacing()
        self.duplicates.setFixedHeight(rows * (2 * line + 6) + 2 * self.duplicates.frameWidth())
        self.duplicates_panel.show()
        self.duplicates.setFocus()
        # Grow to fit the panel (and the message the base shows under it) instead of
        # squeezing the fields: once the layout has taken both in.
        QTimer.singleShot(0, self._grow_to_fit)

    def _grow_to_fit(self) -> None:
        layout = self.layout()
        if layout is not None:
            layout.activate()
        hint = self.sizeHint()
        self.resize(max(self.width(), hint.width()), max(self.height(), hint.height()))

    # --- the two answers --------------------------------------------------------------

    def open_chosen(self) -> None:
        """Close without creating, handing the chosen patient to whoever opened the form."""
        item = self.duplicates.currentItem()
        if item is None or self.duplicates_panel.isHidden():
            return
        self.existing_id = str(item.data(Qt.ItemDataRole.UserRole))
        self.mark_clean()
        self.open_existing.emit(self.existing_id)
        self.accept()

    def create_anyway(self) -> bool:
        """The person looked at the similar patients and this is someone else."""
        self._accepted_draft = self.draft()
        return self.save()
