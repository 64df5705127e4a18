"""Enquiries before a first visit (leads), spend per channel, and where new patients come from.

Three parts in one tab, each a sub-tab so every part has the room it needs at 1280×720:
the enquiries (the pipeline as a filtered list with its counts, a short form to add
one, buttons that move one along or make it a patient), the spend grid (one row per
channel, the last 12 months as columns; typing an amount saves it), and the four
acquisition reports for a chosen range of months. The lead list and the counts are
small tables read at once; the reports go over every patient and run on a worker
thread (ui.campaigns.background.LatestWork) so the screen never waits for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.billing.ledger import parse_amount
from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.growth import acquisition
from app.growth.acquisition import (
    LEAD_STATUSES,
    CostPerPatient,
    FirstYearRevenue,
    Lead,
    LeadConversion,
    LeadDraft,
    NewPatients,
)
from app.patients.validation import display_phone, normalize_email, normalize_phone
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.campaigns.background import LatestWork
from ui.forms.new_patient import NewPatientDialog
from ui.patient.header import local_text, money
from ui.theme import error_line, hint_line
from ui.today_page import Column, RowsModel, RowTable

STATUS_WORDS: Final = {
    "new": "New",
    "contacted": "Contacted",
    "booked": "Booked",
    "first_visit": "First visit",
    "lost": "Lost",
}
LIST_LIMIT: Final = 500
SPEND_MONTHS: Final = 12
RANGE_MONTHS: Final = 36  # how far back the report range can start
WATCHED: Final = ("lead", "lead_status", "channel_spend", "patient", "appointment", "payment")
REPORTS: Final = (
    ("new", "New patients per channel and month"),
    ("conversion", "Enquiries: how many became patients"),
    ("cost", "Cost per new patient"),
    ("revenue", "Payments in the first 12 months"),
)


def month_back(day: date, months: int) -> str:
    """The month `months` before the month of `day`, as 2025-03."""
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_words(month: str) -> str:
    return date(int(month[:4]), int(month[5:7]), 1).strftime("%b %Y")


def spend_text(cents: int) -> str:
    return money(cents).removesuffix(".00") if cents else ""


def spend_cents(text: str) -> int:
    """What a spend cell holds: blank or zero is no spend; otherwise an amount as the
    ledger reads one ("$1,200", "1200.50")."""
    cleaned = text.strip().replace(",", "").lstrip("$").strip()
    if not cleaned or cleaned.strip("0.") == "":
        return 0
    return parse_amount(text)


def rate_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@dataclass(frozen=True)
class ReportTable:
    """One report ready to show: column titles and rows of text, plus a line under it."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def build_report(clinic: Clinic, which: str, first: str, last: str, today: date) -> ReportTable:
    """Read one acquisition report for the months and put it in words (worker thread)."""
    if which == "new":
        new: list[NewPatients] = acquisition.new_patients_by_source(clinic, first, last)
        return ReportTable(
            ("Month", "Channel", "New patients"),
            tuple((month_words(r.month), r.label, f"{r.count:,}") for r in new),
            f"{sum(r.count for r in new):,} new patients in these months.",
        )
    if which == "conversion":
        conv: list[LeadConversion] = acquisition.lead_conversion(clinic, first, last)
        return ReportTable(
            ("Channel", "Enquiries", "Booked", "Came for a first visit", "Lost", "Came"),
            tuple(
                (
                    r.label,
                    f"{r.leads:,}",
                    f"{r.booked:,}",
                    f"{r.first_visit:,}",
                    f"{r.lost:,}",
                    rate_text(r.rate),
                )
                for r in conv
            ),
            "Came: enquiries that came for a first visit, out of all enquiries.",
        )
    if which == "cost":
        cost: list[CostPerPatient] = acquisition.cost_per_new_patient(clinic, first, last)
        return ReportTable(
            ("Month", "Channel", "Spend", "New patients", "Cost per new patient"),
            tuple(
                (
                    month_words(r.month),
                    r.label,
                    money(r.spend_cents),
                    f"{r.new_patients:,}",
                    "—" if r.cost_cents is None else money(r.cost_cents),
                )
                for r in cost
            ),
            "A dash: money spent and nobody new came that month.",
        )
    revenue: list[FirstYearRevenue] = acquisition.revenue_in_first_year(
        clinic, first, last, today=today.isoformat()
    )
    return ReportTable(
        ("Channel", "New patients", "Paid in their first year", "Per patient", "Year not over"),
        tuple(
            (
                r.label,
                f"{r.patients:,}",
                money(r.payments_cents),
                "—" if r.average_cents is None else money(r.average_cents),
                f"{r.still_in_first_year:,}",
            )
            for r in revenue
        ),
        "Year not over: patients whose first 12 months are still running; their figure grows.",
    )


def _bold(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class LeadsTab(QWidget):
    """The Enquiries tab of Campaigns (clinic, bus; refresh(); open_patient)."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Enquiries and channels")
        self.leads: list[Lead] = []
        self.convert_dialog: NewPatientDialog | None = None
        self._converting: str | None = None
        self._filling_spend = False
        self.report: ReportTable | None = None
        self.loader = LatestWork(clinic, "acquisition-reports")
        self.loader.ready.connect(self._report_loaded)
        self.destroyed.connect(self.loader.close)

        layout = QVBoxLayout(self)
        self.parts = QTabWidget()
        self.parts.setAccessibleName("Enquiries, spend and reports")
        self.parts.addTab(self._build_enquiries(), "&Enquiries")
        self.parts.addTab(self._build_spend(), "&Spend per channel")
        self.parts.addTab(self._build_reports(), "&Where patients come from")
        self.parts.currentChanged.connect(self._part_shown)
        layout.addWidget(self.parts)
        bus.changed.connect(self._bus_changed)
        self.refresh()

    # --- building ---------------------------------------------------------------------

    def _build_enquiries(self) -> QWidget:
        # A splitter: the person can give the list or the form more room (at 200 % the
        # form needs its labels whole, the list can scroll sideways).
        page = QSplitter()
        page.setChildrenCollapsible(False)
        list_side = QWidget()
        left = QVBoxLayout(list_side)
        left.setContentsMargins(0, 0, 0, 0)
        page.addWidget(list_side)

        filters = QHBoxLayout()
        self.status_group = QButtonGroup(self)
        self.status_group.setExclusive(True)
        self.status_buttons: dict[str, QPushButton] = {}
        for status in ("", *LEAD_STATUSES):
            button = QPushButton()
            button.setCheckable(True)
            button.setProperty("status", status)
            self.status_group.addButton(button)
            self.status_buttons[status] = button
            filters.addWidget(button)
        filters.addStretch(1)
        self.status_buttons["new"].setChecked(True)
        self.status_group.buttonToggled.connect(self._status_chosen)
        left.addLayout(filters)

        self.lead_model: RowsModel[Lead] = RowsModel(
            [
                Column("Received", lambda r: local_text(r.created_at, self._zone(), "%d %b %Y")),
                Column("Name", _lead_name),
                Column("Stage", lambda r: STATUS_WORDS.get(r.status, r.status)),
                Column("Channel", lambda r: self._source_words(r.source)),
                Column(
                    "Phone", lambda r: display_phone(r.phone, self._region()) if r.phone else ""
                ),
                Column("Email", lambda r: r.email),
                Column("Note", lambda r: r.note),
            ]
        )
        self.table = RowTable("Enquiries", self.lead_model, stretch_column=6)
        self.table.open_row.connect(self._open_row)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        left.addWidget(self.table, 1)
        self.empty_line = hint_line("")
        self.empty_line.setAccessibleName("Enquiries list note")
        left.addWidget(self.empty_line)

        note_row = QHBoxLayout()
        self.move_note = QLineEdit()
        self.move_note.setPlaceholderText("Needed when marking lost: why")
        self.move_note.setAccessibleName("Note for this step")
        note_caption = QLabel("No&te for this step")
        note_caption.setBuddy(self.move_note)
        note_row.addWidget(note_caption)
        note_row.addWidget(self.move_note, 1)
        left.addLayout(note_row)
        moves = QHBoxLayout()
        moves.addWidget(QLabel("Move to:"))
        self.move_buttons: dict[str, QPushButton] = {}
        for status, words in (
            ("contacted", "&Contacted"),
            ("booked", "&Booked"),
            ("first_visit", "First &visit"),
            ("lost", "&Lost"),
        ):
            button = QPushButton(words)
            button.setAccessibleName(f"Mark as {STATUS_WORDS[status].lower()}")
            button.clicked.connect(lambda _c=False, s=status: self.move_selected(s))
            self.move_buttons[status] = button
            moves.addWidget(button)
        self.reopen_button = QPushButton("Re&open")
        self.reopen_button.setAccessibleName("Reopen as contacted")
        self.reopen_button.clicked.connect(lambda: self.move_selected("contacted"))
        moves.addWidget(self.reopen_button)
        self.convert_button = QPushButton("&Make patient…")
        self.convert_button.setAccessibleName("Make this enquiry a patient")
        self.convert_button.clicked.connect(self.convert_selected)
        moves.addStretch(1)
        moves.addWidget(self.convert_button)
        left.addLayout(moves)
        self.move_error = error_line()
        self.move_error.setAccessibleName("Enquiry step error")
        self.move_error.setWordWrap(True)
        self.move_error.hide()
        left.addWidget(self.move_error)

        form = self._build_add_form()
        page.addWidget(form)
        page.setStretchFactor(0, 3)
        page.setStretchFactor(1, 1)
        # Narrow enough that the pipeline buttons and the form fit 1280 px at 200 %:
        # the form's labels then go above their fields.
        form.setMinimumWidth(form.fontMetrics().horizontalAdvance("M") * 16)
        return page

    def _build_add_form(self) -> QGroupBox:
        box = QGroupBox("New enquiry")
        box.setAccessibleName("New enquiry")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.add_errors: dict[str, QLabel] = {}

        def field(label: str, widget: QWidget, name: str) -> None:
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(widget)
            error = error_line()
            words = label.replace("&", "")
            error.setAccessibleName(f"{words} error")
            error.setWordWrap(True)
            error.hide()
            column.addWidget(error)
            if not widget.accessibleName():
                widget.setAccessibleName(words)
            caption = QLabel(label)
            caption.setBuddy(widget)
            form.addRow(caption, holder)
            self.add_errors[name] = error

        self.family = QLineEdit()
        field("&Family name", self.family, "name")
        self.given = QLineEdit()
        field("&Given names", self.given, "given")
        self.phone = QLineEdit()
        self.phone.setPlaceholderText("(612) 555-0142")
        field("P&hone", self.phone, "phone")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@example.com")
        field("E&mail", self.email, "email")
        self.source = QComboBox()
        self.source.setAccessibleName("How did they hear about us?")
        field("Hea&rd of us", self.source, "source")
        self.note = QLineEdit()
        self.note.setPlaceholderText("What they asked about")
        field("&Note", self.note, "note")
        self.add_button = QPushButton("&Add enquiry")
        self.add_button.setAccessibleName("Add enquiry")
        self.add_button.clicked.connect(self.add_enquiry)
        for edit in (self.family, self.given, self.phone, self.email, self.note):
            edit.returnPressed.connect(self.add_enquiry)
        form.addRow("", self.add_button)
        self.add_done = hint_line("")
        self.add_done.setAccessibleName("New enquiry result")
        form.addRow("", self.add_done)
        return box

    def _build_spend(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        intro = QLabel(
            "What the clinic spent on each channel per month, such as $1,200. Type in a "
            "box and press Enter to save it; leave it empty for nothing spent. The cost "
            "per new patient report divides this by the patients who came that month."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.spend_grid = QTableWidget()
        self.spend_grid.setAccessibleName("Spend per channel and month")
        self.spend_grid.setTabKeyNavigation(False)
        self.spend_grid.setCornerButtonEnabled(False)
        self.spend_grid.setEditTriggers(
            QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
        )
        self.spend_grid.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        rows_high = self.fontMetrics().height() + 10
        self.spend_grid.verticalHeader().setDefaultSectionSize(rows_high)
        self.spend_grid.horizontalHeader().setMinimumSectionSize(
            self.fontMetrics().horizontalAdvance("$10,000  ")
        )
        self.spend_grid.itemChanged.connect(self._spend_typed)
        layout.addWidget(self.spend_grid, 1)
        self.spend_error = error_line()
        self.spend_error.setAccessibleName("Spend error")
        self.spend_error.setWordWrap(True)
        self.spend_error.hide()
        layout.addWidget(self.spend_error)
        self.spend_total = hint_line("")
        self.spend_total.setAccessibleName("Spend total")
        layout.addWidget(self.spend_total)
        return page

    def _build_reports(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        choose = QHBoxLayout()
        self.report_choice = QComboBox()
        self.report_choice.setAccessibleName("Report")
        for key, words in REPORTS:
            self.report_choice.addItem(words, key)
        caption = QLabel("&Report")
        caption.setBuddy(self.report_choice)
        choose.addWidget(caption)
        choose.addWidget(self.report_choice)
        self.first_month = QComboBox()
        self.first_month.setAccessibleName("From month")
        self.last_month = QComboBox()
        self.last_month.setAccessibleName("To month")
        from_caption = QLabel("&From")
        from_caption.setBuddy(self.first_month)
        to_caption = QLabel("&To")
        to_caption.setBuddy(self.last_month)
        choose.addSpacing(self.fontMetrics().horizontalAdvance("MM"))
        choose.addWidget(from_caption)
        choose.addWidget(self.first_month)
        choose.addWidget(to_caption)
        choose.addWidget(self.last_month)
        choose.addStretch(1)
        layout.addLayout(choose)
        self._fill_months()
        for combo in (self.report_choice, self.first_month, self.last_month):
            combo.currentIndexChanged.connect(lambda _i: self.load_report())
        self.report_status = hint_line("")
        self.report_status.setAccessibleName("Report status")
        self.report_status.setWordWrap(True)
        layout.addWidget(self.report_status)
        self.report_error = error_line()
        self.report_error.setAccessibleName("Report error")
        self.report_error.setWordWrap(True)
        self.report_error.hide()
        layout.addWidget(self.report_error)
        self.report_table = QTableWidget()
        self.report_table.setAccessibleName("Report figures")
        self.report_table.setTabKeyNavigation(False)
        self.report_table.setCornerButtonEnabled(False)
        self.report_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.report_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.report_table.verticalHeader().hide()
        self.report_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.report_table.setAlternatingRowColors(True)
        header = self.report_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.report_table, 1)
        self.report_note = hint_line("")
        self.report_note.setAccessibleName("Report note")
        self.report_note.setWordWrap(True)
        layout.addWidget(self.report_note)
        return page

    def _fill_months(self) -> None:
        today = clinic_today(self.clinic)
        for combo in (self.first_month, self.last_month):
            combo.blockSignals(True)
            combo.clear()
            for back in range(RANGE_MONTHS - 1, -1, -1):
                month = month_back(today, back)
                combo.addItem(month_words(month), month)
            combo.blockSignals(False)
        self.first_month.setCurrentIndex(RANGE_MONTHS - SPEND_MONTHS)
        self.last_month.setCurrentIndex(RANGE_MONTHS - 1)

    # --- helpers ----------------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.settings.timezone)

    def _region(self) -> str:
        return self.clinic.settings.region

    def _source_words(self, key: str) -> str:
        return self._labels.get(key, key) if key else "Not asked"

    def selected_lead(self) -> Lead | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.leads):
            return None
        return self.leads[rows[0].row()]

    def select_lead(self, lead_id: str) -> None:
        for index, lead in enumerate(self.leads):
            if lead.id == lead_id:
                self.table.selectRow(index)
                return

    def _publish(self, changes: Changes) -> None:
        if changes.tables:
            self.bus.publish(changes)

    # --- refreshing -------------------------------------------------------------------

    def refresh(self) -> None:
        self._labels = acquisition.labels(self.clinic)
        self._fill_sources()
        self.refresh_leads()
        self.refresh_spend()
        if self.parts.currentIndex() == 2:
            self.load_report()

    def _fill_sources(self) -> None:
        chosen = self.source.currentData()
        self.source.clear()
        self.source.addItem("Not asked", "")
        for item in acquisition.active_sources(self.clinic):
            self.source.addItem(item.label, item.key)
        self.source.setCurrentIndex(max(self.source.findData(chosen), 0) if chosen else 0)

    def refresh_leads(self) -> None:
        counts = acquisition.pipeline_counts(self.clinic)
        for status, button in self.status_buttons.items():
            if status:
                words, count = STATUS_WORDS[status], counts[status]
            else:
                words, count = "All", sum(counts.values())
            button.setText(f"{words} ({count})")
            button.setAccessibleName(f"Show {words.lower()}: {count}")
        kept = self.selected_lead()
        status = self.status_filter()
        self.leads = acquisition.leads(
            self.clinic, statuses=(status,) if status else (), limit=LIST_LIMIT
        )
        self.lead_model.set_rows(self.leads)
        shown = STATUS_WORDS.get(status, "").lower()
        self.empty_line.setText(
            f"No {shown} enquiries."
            if not self.leads and shown
            else "No enquiries yet: add one on the right."
            if not self.leads
            else f"Showing the newest {LIST_LIMIT}."
            if len(self.leads) >= LIST_LIMIT
            else ""
        )
        if kept is not None:
            self.select_lead(kept.id)
        self._selection_changed()

    def status_filter(self) -> str:
        button = self.status_group.checkedButton()
        return str(button.property("status")) if button is not None else ""

    def _status_chosen(self, _button: object, checked: bool) -> None:
        if checked:
            self.move_error.hide()
            self.refresh_leads()

    def _selection_changed(self) -> None:
        lead = self.selected_lead()
        status = lead.status if lead else ""
        closed = status in ("first_visit", "")
        for target, button in self.move_buttons.items():
            allowed = not closed and status != "lost" and target != status
            if allowed and target != "lost":
                pipeline = ("new", "contacted", "booked", "first_visit")
                allowed = pipeline.index(target) > pipeline.index(status)
            button.setEnabled(allowed)
        self.reopen_button.setEnabled(status == "lost")
        self.convert_button.setEnabled(lead is not None and lead.patient_id is None)
        self.convert_button.setText(
            "Open pa&tient" if lead is not None and lead.patient_id else "&Make patient…"
        )
        if lead is not None and lead.patient_id:
            self.convert_button.setEnabled(True)

    def _bus_changed(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.refresh()
        elif changes.touches(*WATCHED):
            self.refresh_leads()
            if changes.touches("channel_spend"):
                self.refresh_spend()

    # --- enquiries --------------------------------------------------------------------

    def _show_add_error(self, name: str, message: str) -> None:
        label = self.add_errors[name]
        label.setText(message)
        label.show()

    def add_enquiry(self) -> bool:
        """Check the form field by field (every problem at once), then add the enquiry."""
        for label in self.add_errors.values():
            label.hide()
        self.add_done.setText("")
        family, given = self.family.text(), self.given.text()
        phone, email = self.phone.text().strip(), self.email.text().strip()
        bad = False
        if not family.strip() and not given.strip():
            self._show_add_error("name", "An enquiry needs at least a name.")
            bad = True
        if phone:
            try:
                normalize_phone(phone, self._region())
            except InvalidInputError as exc:
                self._show_add_error("phone", str(exc))
                bad = True
        if email:
            try:
                normalize_email(email)
            except InvalidInputError as exc:
                self._show_add_error("email", str(exc))
                bad = True
        if not phone and not email:
            self._show_add_error("phone", "A phone number or an email, to call them back.")
            bad = True
        if bad:
            return False
        draft = LeadDraft(
            family_name=family,
            given_names=given,
            phone=phone,
            email=email,
            source=str(self.source.currentData() or ""),
            note=self.note.text(),
        )
        try:
            created = acquisition.add_lead(self.clinic, draft)
        except FrontdeskError as exc:
            self._show_add_error("note", str(exc))
            return False
        for edit in (self.family, self.given, self.phone, self.email, self.note):
            edit.clear()
        self.source.setCurrentIndex(0)
        self.add_done.setText("Enquiry added to New.")
        self.status_buttons["new"].setChecked(True)
        self._publish(created.changes)
        self.refresh_leads()
        self.select_lead(created.id)
        self.family.setFocus()
        return True

    def move_selected(self, status: str) -> bool:
        lead = self.selected_lead()
        self.move_error.hide()
        if lead is None:
            return False
        note = self.move_note.text().strip()
        if status == "lost" and not note:
            self.move_error.setText("Say in the note why the enquiry was lost, then press Lost.")
            self.move_error.show()
            self.move_note.setFocus()
            return False
        try:
            changes = acquisition.move_lead(self.clinic, lead.id, status, note)
        except FrontdeskError as exc:
            self.move_error.setText(str(exc))
            self.move_error.show()
            return False
        self.move_note.clear()
        self._publish(changes)
        self.refresh_leads()
        if not self.leads:
            return True
        self.select_lead(lead.id)
        self.table.setFocus()
        return True

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.leads):
            lead = self.leads[row]
            if lead.patient_id:
                self.open_patient.emit(lead.patient_id)
            else:
                self.table.selectRow(row)
                self.convert_selected()

    def convert_selected(self) -> None:
        """Make the enquiry a patient: the new-patient form, filled in from the enquiry
        (it finds similar patients already on file), then link and open the patient."""
        lead = self.selected_lead()
        if lead is None:
            return
        if lead.patient_id:
            self.open_patient.emit(lead.patient_id)
            return
        dialog = NewPatientDialog(self.clinic, self.bus, self)
        dialog.family.setText(lead.family_name)
        dialog.given.setText(lead.given_names)
        dialog.phone.setText(display_phone(lead.phone, self._region()) if lead.phone else "")
        dialog.email.setText(lead.email)
        index = dialog.source.findData(lead.source)
        if index >= 0:
            dialog.source.setCurrentIndex(index)
        dialog.mark_clean()
        dialog.finished.connect(lambda _r: self._converted(dialog))
        self._converting = lead.id
        self.convert_dialog = dialog
        dialog.open()

    def _converted(self, dialog: NewPatientDialog) -> None:
        lead_id, self._converting = self._converting, None
        self.convert_dialog = None
        patient_id = dialog.created_id or dialog.existing_id
        dialog.deleteLater()
        if lead_id is None or patient_id is None:
            return
        try:
            changes = acquisition.convert_lead(self.clinic, lead_id, patient_id)
        except FrontdeskError as exc:
            self.move_error.setText(str(exc))
            self.move_error.show()
            return
        self._publish(changes)
        self.refresh_leads()
        self.open_patient.emit(patient_id)

    # --- spend ------------------------------------------------------------------------

    def spend_months(self) -> list[str]:
        today = clinic_today(self.clinic)
        return [month_back(today, back) for back in range(SPEND_MONTHS - 1, -1, -1)]

    def refresh_spend(self) -> None:
        months = self.spend_months()
        entered = {
            (s.source, s.month): s.cents
            for s in acquisition.spend(self.clinic, months[0], months[-1])
        }
        used = {source for source, _ in entered}
        channels = [s for s in acquisition.sources(self.clinic) if s.active or s.key in used]
        self._spend_rows = [s.key for s in channels]
        self._spend_months = months
        self._filling_spend = True
        try:
            grid = self.spend_grid
            grid.clear()
            grid.setRowCount(len(channels))
            grid.setColumnCount(len(months))
            grid.setHorizontalHeaderLabels([month_words(m) for m in months])
            grid.setVerticalHeaderLabels([s.label for s in channels])
            for row, channel in enumerate(channels):
                for column, month in enumerate(months):
                    item = QTableWidgetItem(spend_text(entered.get((channel.key, month), 0)))
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                    item.setData(
                        Qt.ItemDataRole.AccessibleTextRole,
                        f"{channel.label}, {month_words(month)}",
                    )
                    grid.setItem(row, column, item)
        finally:
            self._filling_spend = False
        total = sum(entered.values())
        self.spend_total.setText(f"Spent in these 12 months: {money(total)}.")

    def _spend_typed(self, item: QTableWidgetItem) -> None:
        if self._filling_spend:
            return
        self.set_spend_cell(item.row(), item.column(), item.text())

    def set_spend_cell(self, row: int, column: int, text: str) -> bool:
        """Save one cell; a bad amount is said under the grid and the cell goes back."""
        source, month = self._spend_rows[row], self._spend_months[column]
        label = self._labels.get(source, source)
        self.spend_error.hide()
        try:
            cents = spend_cents(text)
            changes = acquisition.set_spend(self.clinic, source, month, cents)
        except FrontdeskError as exc:
            self.spend_error.setText(f"{label}, {month_words(month)}: {exc}")
            self.spend_error.show()
            self.refresh_spend()
            self.spend_grid.setCurrentCell(row, column)
            return False
        self._publish(changes)
        self.refresh_spend()
        self.spend_grid.setCurrentCell(row, column)
        return True

    # --- reports ----------------------------------------------------------------------

    def _part_shown(self, index: int) -> None:
        if index == 2:
            self.load_report()

    def load_report(self) -> None:
        which = str(self.report_choice.currentData())
        first = str(self.first_month.currentData())
        last = str(self.last_month.currentData())
        today = clinic_today(self.clinic)
        self.report_error.hide()
        if last < first:
            self.report_error.setText("The last month comes before the first; choose again.")
            self.report_error.show()
            return
        self.report_status.setText("Counting…")
        self.loader.request(lambda clinic: build_report(clinic, which, first, last, today))

    @property
    def report_loading(self) -> bool:
        return not self.loader.idle

    def _report_loaded(self) -> None:
        outcome = self.loader.take()
        if outcome is None:
            return
        if outcome.error is not None:
            self.report_status.setText("")
            words = (
                str(outcome.error)
                if isinstance(outcome.error, FrontdeskError)
                else "The report could not be read. Try again; if it keeps failing, "
                "tell your support contact."
            )
            self.report_error.setText(words)
            self.report_error.show()
            return
        report: ReportTable = outcome.value
        self.report = report
        table = self.report_table
        table.clear()
        table.setColumnCount(len(report.columns))
        table.setHorizontalHeaderLabels(list(report.columns))
        table.setRowCount(len(report.rows))
        figures = [title not in ("Month", "Channel") for title in report.columns]
        for row, values in enumerate(report.rows):
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if figures[column]:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                table.setItem(row, column, item)
        first, last = self.first_month.currentText(), self.last_month.currentText()
        self.report_status.setText(
            f"{first} to {last}." if report.rows else f"Nothing recorded from {first} to {last}."
        )
        self.report_note.setText(report.note)


def _lead_name(lead: Lead) -> str:
    if lead.family_name and lead.given_names:
        return f"{lead.family_name}, {lead.given_names}"
    return lead.family_name or lead.given_names
