"""Groups of patients: saved filters (segments) edited with a count that follows every change.

A group is what campaigns, reports and exports choose their patients by. The count beside
the filter is read on a worker thread a quarter of a second after the last edit, so typing
never waits for it, and a count of an older filter is dropped when a newer one was asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.billing.ledger import parse_amount
from app.clinic import Clinic
from app.engagement.education import (
    ICD10CM_SYSTEM,
    SNOMED_SYSTEM,
    is_icd10cm_code,
)
from app.errors import FrontdeskError, InvalidInputError
from app.growth import acquisition
from app.growth.segments import (
    MAX_AGE_YEARS,
    MAX_MONTHS,
    Segment,
    SegmentTerms,
    check_terms,
    count,
    delete_segment,
    everyone,
    load_segments,
    save_segment,
    warn_size,
)
from app.patients.model import PURPOSES, SEXES
from app.patients.tags import all_tags
from app.reminders.rules import load_rules
from app.reminders.settings import load_settings
from app.scheduling.kinds import appointment_kinds
from app.store.changes import Changes
from ui.bus import DataBus
from ui.campaigns.background import LatestWork
from ui.forms.base import PendingQuestion
from ui.reminder_settings.widgets import TickList
from ui.reminder_settings.words import PURPOSE_LABELS, language_name
from ui.theme import ToneLabel, error_line, hint_line

COUNT_DELAY_MS: Final = 250
NOT_USED: Final = -1
ANY: Final = ""
SEX_LABELS: Final = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}
REACH_CHANNELS: Final = {"sms": "Text", "email": "Email", "letter": "Letter", "phone": "Phone call"}
FUTURE_CHOICES: Final = (
    ("either", "Either"),
    ("yes", "Has a visit booked"),
    ("no", "Has no visit booked"),
)
SEGMENT_TABLES: Final = ("segment", "reminder_rule")
PATIENT_TABLES: Final = ("patient", "appointment", "consent", "patient_tag", "contact_point")
CONDITIONS_HINT: Final = (
    "ICD-10 codes (E11 also covers E11.9) or SNOMED CT numbers, separated by commas; "
    "a patient with any of them counts."
)


def parse_conditions(text: str) -> tuple[tuple[str, str], ...]:
    """'E11, J30.1, 44054006' → the (system, code) pairs of SegmentTerms.conditions.

    A code with a letter is read as ICD-10, digits alone as SNOMED CT (check_terms then
    checks the SNOMED check digit), so the person never chooses a code system.
    """
    pairs: list[tuple[str, str]] = []
    for raw in text.replace(";", ",").split(","):
        code = raw.strip()
        if not code:
            continue
        if code.isdigit():
            pairs.append((SNOMED_SYSTEM, code))
        elif is_icd10cm_code(code.upper()):
            pairs.append((ICD10CM_SYSTEM, code.upper()))
        else:
            raise InvalidInputError(
                f"“{code[:20]}” is neither an ICD-10 code (like E11) nor a SNOMED CT number."
            )
    return tuple(dict.fromkeys(pairs))


def conditions_text(conditions: Sequence[tuple[str, str]]) -> str:
    return ", ".join(code for _system, code in conditions)


def count_text(matched: int, total: int) -> str:
    noun = "patient" if total == 1 else "patients"
    return f"{matched:,} of {total:,} {noun}"


def _optional_spin(maximum: int, empty: str, suffix: str = "") -> QSpinBox:
    """A number that may be left out: its lowest value reads `empty` and means 'not used'."""
    spin = QSpinBox()
    spin.setRange(NOT_USED, maximum)
    spin.setSpecialValueText(empty)
    spin.setSuffix(suffix)
    spin.setValue(NOT_USED)
    return spin


def _spin_value(spin: QSpinBox) -> int | None:
    return None if spin.value() == NOT_USED else spin.value()


def _combo(name: str, choices: Sequence[tuple[str, str]]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    for value, label in choices:
        combo.addItem(label, value)
    return combo


def _choose(combo: QComboBox, value: str, label: str | None = None) -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(label or value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class SegmentForm(QWidget):
    """The terms of one group, as inputs; `terms()` reads them back (raising on bad input)."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("What the group asks for")
        self._filling = False

        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Name of the group")
        self.name_edit.setPlaceholderText("such as “Adults not seen for 18 months”")
        self.name_edit.setMaxLength(80)

        self.age_min = _optional_spin(MAX_AGE_YEARS, "any", " years")
        self.age_min.setAccessibleName("Age from")
        self.age_max = _optional_spin(MAX_AGE_YEARS, "any", " years")
        self.age_max.setAccessibleName("Age to")
        self.sex = _combo(
            "Sex", [(ANY, "Any"), *((s, SEX_LABELS.get(s, s.capitalize())) for s in SEXES)]
        )
        self.language = _combo("Language", [(ANY, "Any")])
        self.conditions = QLineEdit()
        self.conditions.setAccessibleName("Conditions")
        self.conditions.setPlaceholderText("E11, J30.1")
        self.tags = TickList("Tags (the patient has every ticked tag)")
        self.sources = TickList("How they heard of the clinic")

        self.not_seen = _optional_spin(MAX_MONTHS, "not used", " months")
        self.not_seen.setAccessibleName("No visit in the last months")
        self.seen = _optional_spin(MAX_MONTHS, "not used", " months")
        self.seen.setAccessibleName("A visit in the last months")
        self.visit_kinds = TickList("Kinds of visit that count")
        self.future = _combo("A visit booked", FUTURE_CHOICES)
        self.balance = QLineEdit()
        self.balance.setAccessibleName("Owes at least")
        self.balance.setPlaceholderText("any balance")
        self.reach_channel = _combo(
            "Can be reached by", [(ANY, "Any way or none"), *REACH_CHANNELS.items()]
        )
        self.reach_purpose = _combo(
            "Reason for contacting", [(p, PURPOSE_LABELS[p]) for p in PURPOSES]
        )

        person = QGroupBox("About the patient")
        person.setAccessibleName("About the patient")
        person_form = self._form(person)
        ages = QHBoxLayout()
        ages.addWidget(self.age_min)
        to_label = QLabel("to")
        to_label.setBuddy(self.age_max)
        ages.addWidget(to_label)
        ages.addWidget(self.age_max)
        ages.addStretch(1)
        self._row(person_form, "&Age from:", ages, self.age_min)
        self._row(person_form, "Se&x:", self.sex)
        self._row(person_form, "&Language:", self.language)
        conditions = QVBoxLayout()
        conditions.addWidget(self.conditions)
        conditions_hint = hint_line(CONDITIONS_HINT)
        conditions_hint.setWordWrap(True)
        conditions_hint.setAccessibleName("About conditions")
        conditions.addWidget(conditions_hint)
        self._row(person_form, "C&onditions:", conditions, self.conditions)
        self._row(person_form, "&Tags (all of):", self.tags)
        self._row(person_form, "&Heard of us by:", self.sources)

        visits = QGroupBox("Visits, balance and messages")
        visits.setAccessibleName("Visits, balance and messages")
        visits_form = self._form(visits)
        self._row(visits_form, "No visit in the last:", self.not_seen)
        self._row(visits_form, "A visit in the last:", self.seen)
        self._row(visits_form, "&Visits that count:", self.visit_kinds)
        self._row(visits_form, "Visit &booked:", self.future)
        self._row(visits_form, "O&wes at least:", self.balance)
        self._row(visits_form, "Can be &reached by:", self.reach_channel)
        self._row(visits_form, "&For:", self.reach_purpose)
        reach_hint = hint_line(
            "Only patients who agreed to that reason (by the clinic's consent choices) and "
            "have the phone, email or address for it."
        )
        reach_hint.setWordWrap(True)
        reach_hint.setAccessibleName("About reaching")
        visits_form.addRow(reach_hint)

        name_row = QHBoxLayout()
        name_label = QLabel("&Name:")
        name_label.setBuddy(self.name_edit)
        name_row.addWidget(name_label)
        name_row.addWidget(self.name_edit, 1)
        columns = QHBoxLayout()
        columns.addWidget(person, 1)
        columns.addWidget(visits, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(name_row)
        layout.addLayout(columns)
        layout.addStretch(1)

        for spin in (self.age_min, self.age_max, self.not_seen, self.seen):
            spin.valueChanged.connect(lambda _v: self._changed())
        for combo in (self.sex, self.language, self.future, self.reach_channel, self.reach_purpose):
            combo.currentIndexChanged.connect(lambda _i: self._changed())
        for edit in (self.name_edit, self.conditions, self.balance):
            edit.textChanged.connect(lambda _t: self._changed())
        for ticks in (self.tags, self.sources, self.visit_kinds):
            ticks.edited.connect(self._changed)
        self.reach_channel.currentIndexChanged.connect(lambda _i: self._update_reach())
        self._update_reach()

    @staticmethod
    def _form(box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        # Lists and text fields take the width; numbers and choices keep their own.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        return form

    @staticmethod
    def _row(
        form: QFormLayout,
        label: str,
        field: QWidget | QHBoxLayout | QVBoxLayout,
        buddy: QWidget | None = None,
    ) -> None:
        caption = QLabel(label)
        target = buddy if buddy is not None else field
        if isinstance(target, QWidget):
            caption.setBuddy(target)
        form.addRow(caption, field)

    def _changed(self) -> None:
        if not self._filling:
            self.edited.emit()

    def _update_reach(self) -> None:
        self.reach_purpose.setEnabled(self.reach_channel.currentData() != ANY)

    def fill_choices(
        self,
        *,
        tags: Sequence[str],
        sources: Sequence[tuple[str, str]],
        visit_kinds: Sequence[str],
        languages: Sequence[str],
    ) -> None:
        """What the lists offer: the clinic's own tags, sources, visit kinds, languages."""
        self._filling = True
        try:
            self._tag_choices = list(tags)
            self._source_choices = list(sources)
            self._kind_choices = list(visit_kinds)
            current = str(self.language.currentData())
            self.language.clear()
            self.language.addItem("Any", ANY)
            for code in dict.fromkeys(languages):
                self.language.addItem(language_name(code), code)
            _choose(self.language, current)
        finally:
            self._filling = False

    def set_segment(self, name: str, terms: SegmentTerms) -> None:
        self._filling = True
        try:
            self.name_edit.setText(name)
            self.age_min.setValue(NOT_USED if terms.age_min is None else terms.age_min)
            self.age_max.setValue(NOT_USED if terms.age_max is None else terms.age_max)
            _choose(self.sex, terms.sex or ANY)
            _choose(self.language, terms.language or ANY, language_name(terms.language or ""))
            self.conditions.setText(conditions_text(terms.conditions))
            self.tags.fill(((t, t) for t in getattr(self, "_tag_choices", [])), terms.tags)
            self.sources.fill(getattr(self, "_source_choices", []), terms.sources)
            self.visit_kinds.fill(
                ((k, k) for k in getattr(self, "_kind_choices", [])), terms.visit_kinds
            )
            before, within = terms.last_visit_before_months, terms.last_visit_within_months
            self.not_seen.setValue(NOT_USED if before is None else before)
            self.seen.setValue(NOT_USED if within is None else within)
            future = terms.has_future_visit
            _choose(self.future, "either" if future is None else "yes" if future else "no")
            cents = terms.balance_min_cents
            self.balance.setText("" if cents is None else f"{cents / 100:.2f}")
            channel, purpose = terms.reachable_by or (ANY, "education")
            _choose(self.reach_channel, channel)
            _choose(self.reach_purpose, purpose)
            self._extra = terms.extra
        finally:
            self._filling = False
        self._update_reach()

    def name(self) -> str:
        return self.name_edit.text()

    def _purpose(self) -> str:
        return str(self.reach_purpose.currentData())

    def terms(self) -> SegmentTerms:
        """The terms as shown (not checked yet); bad typing raises InvalidInputError."""
        balance_text = self.balance.text().strip()
        balance = parse_amount(balance_text) if balance_text else None
        future = str(self.future.currentData())
        channel = str(self.reach_channel.currentData())
        return SegmentTerms(
            age_min=_spin_value(self.age_min),
            age_max=_spin_value(self.age_max),
            sex=str(self.sex.currentData()) or None,
            last_visit_before_months=_spin_value(self.not_seen),
            last_visit_within_months=_spin_value(self.seen),
            has_future_visit=None if future == "either" else future == "yes",
            visit_kinds=self.visit_kinds.ticked(),
            conditions=parse_conditions(self.conditions.text()),
            sources=self.sources.ticked(),
            tags=self.tags.ticked(),
            balance_min_cents=balance,
            reachable_by=None
            if channel == ANY
            else (channel, str(self.reach_purpose.currentData())),
            language=str(self.language.currentData()) or None,
            extra=getattr(self, "_extra", {}),
        )


class SegmentsTab(QWidget):
    """The "Groups of patients" tab: the saved groups, and the chosen one's filter."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Groups of patients")
        self.segments: list[Segment] = []
        self.current: Segment | None = None  # the saved group shown; None = a new one
        self.dirty = False
        self.shown_count: tuple[int, int] | None = None  # (matched, everyone) on screen
        self.question = PendingQuestion()
        self.counter = LatestWork(clinic, "group-count")
        self.counter.ready.connect(self._counted)
        self.destroyed.connect(self.counter.close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COUNT_DELAY_MS)
        self._timer.timeout.connect(self.count_now)

        self.list = QListWidget()
        self.list.setAccessibleName("Saved groups of patients")
        self.list.currentRowChanged.connect(self._row_chosen)
        self.new_button = QPushButton("&New group")
        self.new_button.setAccessibleName("New group")
        self.new_button.clicked.connect(self.new_segment)
        self.delete_button = QPushButton("Remove group…")
        self.delete_button.setAccessibleName("Remove the chosen group")
        self.delete_button.clicked.connect(self.remove_segment)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("Saved groups")
        heading.setBuddy(self.list)
        left_column.addWidget(heading)
        left_column.addWidget(self.list, 1)
        left_column.addWidget(self.new_button)
        left_column.addWidget(self.delete_button)

        self.form = SegmentForm()
        self.form.edited.connect(self._edited)
        self.count_label = QLabel("—")
        self.count_label.setAccessibleName("Patients in this group")
        font = self.count_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.count_label.setFont(font)
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_hint = hint_line()
        self.count_hint.setAccessibleName("About the count")
        self.warning = ToneLabel(tone="warning", bold=True)
        self.warning.setAccessibleName("Warning about this group")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self.error = error_line()
        self.error.setAccessibleName("Problem with this group")
        self.error.setWordWrap(True)
        self.error.hide()
        self.save_button = QPushButton("&Save group")
        self.save_button.setAccessibleName("Save group")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.status = hint_line()
        self.status.setAccessibleName("Groups status")

        count_row = QHBoxLayout()
        count_row.addWidget(self.count_label)
        count_row.addWidget(self.count_hint, 1)
        count_row.addWidget(self.status)
        count_row.addWidget(self.save_button)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setAccessibleName("Filter of the group")
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addLayout(count_row)
        right_column.addWidget(self.warning)
        right_column.addWidget(self.error)
        right_column.addWidget(scroll, 1)

        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        left.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        left.setMinimumWidth(self.fontMetrics().averageCharWidth() * 22)
        splitter.setSizes([self.fontMetrics().averageCharWidth() * 32, 1000])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        bus.changed.connect(self._on_changes)
        self.refresh()

    # --- filling -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the saved groups and the choices; an edit in progress is kept."""
        try:
            self.segments = load_segments(self.clinic)
            tags = all_tags(self.clinic)
            sources = [(s.key, s.label) for s in acquisition.sources(self.clinic)]
            kinds = sorted(appointment_kinds(self.clinic), key=str.casefold)
            languages = ["en", "es", load_settings(self.clinic).language]
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return
        self.form.fill_choices(tags=tags, sources=sources, visit_kinds=kinds, languages=languages)
        keep = self.current.id if self.current is not None else None
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for segment in self.segments:
                item = QListWidgetItem(segment.name)
                item.setData(Qt.ItemDataRole.UserRole, segment.id)
                self.list.addItem(item)
        finally:
            self.list.blockSignals(False)
        if self.dirty:
            self._select_quietly(keep)
            return
        found = next((s for s in self.segments if s.id == keep), None)
        if found is None and self.segments:
            found = self.segments[0]
        self.show_segment(found)

    def _select_quietly(self, segment_id: str | None) -> None:
        self.list.blockSignals(True)
        try:
            rows = [i for i, s in enumerate(self.segments) if s.id == segment_id]
            self.list.setCurrentRow(rows[0] if rows else -1)
        finally:
            self.list.blockSignals(False)
        self.delete_button.setEnabled(segment_id is not None and bool(rows))

    def show_segment(self, segment: Segment | None) -> None:
        """Show a saved group, or a new empty one (None)."""
        self.current = segment
        self.form.set_segment(
            segment.name if segment else "", segment.terms if segment else SegmentTerms()
        )
        self.dirty = False
        self._select_quietly(segment.id if segment else None)
        self.status.setText("")
        self.count_now()

    def _row_chosen(self, row: int) -> None:
        chosen = self.segments[row] if 0 <= row < len(self.segments) else None
        if not self.dirty:
            self.show_segment(chosen)
            return
        self._select_quietly(self.current.id if self.current else None)
        self.question.ask(
            self,
            "Discard your changes to this group?",
            "What you changed in the filter has not been saved.",
            yes="Discard",
            no="Keep editing",
            then=lambda: self.show_segment(chosen),
        )

    def new_segment(self) -> None:
        if self.dirty:
            self.question.ask(
                self,
                "Discard your changes to this group?",
                "What you changed in the filter has not been saved.",
                yes="Discard",
                no="Keep editing",
                then=self._start_new,
            )
            return
        self._start_new()

    def _start_new(self) -> None:
        self.show_segment(None)
        self.form.name_edit.setFocus()

    # --- the live count ----------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """No count is due, running or waiting to be shown (tests wait on this)."""
        return not self._timer.isActive() and self.counter.idle

    def _edited(self) -> None:
        self.dirty = True
        self.status.setText("")
        self._timer.start()

    def count_now(self) -> None:
        """Check the filter here (cheap) and count it on the worker (not cheap)."""
        self._timer.stop()
        try:
            terms = self.form.terms()
            check_terms(terms)
        except InvalidInputError as exc:
            self._show_error(str(exc))
            self.counter.request(lambda _clinic: None)  # any count still on its way is old
            self.shown_count = None
            self.count_label.setText("—")
            self.count_hint.setText("Fix the filter to see how many patients it holds.")
            self.warning.hide()
            return
        self.error.hide()
        self.count_hint.setText("counting…")
        self.counter.request(lambda clinic: (count(clinic, terms), everyone(clinic)))

    def _counted(self) -> None:
        outcome = self.counter.take()
        if outcome is None or (outcome.value is None and outcome.error is None):
            return
        if outcome.error is not None:
            self.shown_count = None
            self.count_label.setText("—")
            self.count_hint.setText("")
            problem = outcome.error
            self._show_error(
                str(problem)
                if isinstance(problem, FrontdeskError)
                else "Frontdesk could not count this group; try again."
            )
            return
        matched, total = outcome.value
        self.shown_count = (matched, total)
        self.count_label.setText(count_text(matched, total))
        self.count_label.setAccessibleDescription(count_text(matched, total))
        self.count_hint.setText("match this filter now")
        # Only the "nearly everyone" warnings belong here; the size question is asked at send.
        warning = warn_size(matched, total, ask_above=10**12)
        self.warning.setText(warning or "")
        self.warning.setVisible(warning is not None)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    # --- saving and removing -----------------------------------------------------------

    def save(self) -> Segment | None:
        try:
            terms = self.form.terms()
            base = self.current or Segment(id="", name="", terms=terms)
            stored = save_segment(self.clinic, replace(base, name=self.form.name(), terms=terms))
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return None
        self.error.hide()
        self.current = stored
        self.dirty = False
        self.bus.publish(Changes(frozenset({"segment"})))  # refreshes this tab too
        self.status.setText("Saved.")
        return stored

    def users_of(self, segment_id: str) -> list[str]:
        """The campaigns that choose their patients by this group."""
        return [r.name for r in load_rules(self.clinic) if r.segment_id == segment_id]

    def remove_segment(self) -> None:
        segment = self.current
        if segment is None:
            return
        users = self.users_of(segment.id)
        if users:
            names = ", ".join(f"“{n}”" for n in users)
            self._show_error(
                f"“{segment.name}” is used by {names}. Choose another group there first."
            )
            return
        self.question.ask(
            self,
            f"Remove the group “{segment.name}”?",
            "Only the saved filter goes; no patient record changes.",
            yes="Remove",
            no="Keep it",
            then=lambda: self._remove(segment.id),
        )

    def _remove(self, segment_id: str) -> None:
        try:
            changes = delete_segment(self.clinic, segment_id)
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return
        self.current = None
        self.dirty = False
        self.bus.publish(changes)
        self.refresh()

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches(*SEGMENT_TABLES):
            self.refresh()
        elif changes.touches(*PATIENT_TABLES):
            self._timer.start()  # the same filter may hold other patients now
