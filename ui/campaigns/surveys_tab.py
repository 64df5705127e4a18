"""The Surveys tab of Campaigns: NPS now and by month, the answers, answers taken at the
desk or by email, and the kiosk the desk hands to the patient of a visit.

The figures are read off the GUI thread (ui.ops.Op on a forked clinic) and the newest
read wins, so a burst of answers arriving while the tab is open never shows an older
figure last. Names appear on this desk screen only: the kiosk gets a visit's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.directory import locations, providers
from app.engagement import surveys
from app.engagement.nps import DETRACTOR, PASSIVE, PROMOTER
from app.engagement.surveys import NpsPoint, SurveyAnswer
from app.errors import FrontdeskError
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog, FormInputError
from ui.kiosk.window import KioskWindow
from ui.ops import Op
from ui.reminder_settings.patient_picker import PatientPicker
from ui.theme import ToneLabel, color, error_line, hint_line
from ui.today_page import Column, RowsModel, RowTable

NOW_DAYS = 90
MONTHS_SHOWN = 12
ANSWERS_SHOWN = 500
GROUPINGS = (("Whole clinic", ""), ("By provider", "provider"), ("By location", "location"))
WATCHED_TABLES = ("survey_response", "provider", "location")
CATEGORY_WORDS = {PROMOTER: "promoter", PASSIVE: "passive", DETRACTOR: "detractor"}
DESK_CHANNELS = (("At the desk", "desk"), ("By email reply", "email"))
SCORE_WORDS = {0: "Not at all likely", 10: "Extremely likely"}


def nps_text(value: float | None) -> str:
    """'+42', '−8', '0'; '—' when nobody answered. Whole points, as NPS is usually told."""
    if value is None:
        return "—"
    whole = int(value + 0.5) if value >= 0 else -int(-value + 0.5)
    return f"+{whole}" if whole > 0 else ("0" if whole == 0 else f"−{-whole}")


def month_text(key: str) -> str:
    """'2026-11' → 'Nov 2026'."""
    year, month = key.split("-")
    return f"{date(int(year), int(month), 1):%b %Y}"


def score_text(answer: SurveyAnswer) -> str:
    """'3 · detractor': the word, not only the colour, says which answers need care."""
    return f"{answer.score} · {CATEGORY_WORDS[answer.category]}"


@dataclass(frozen=True)
class NpsNow:
    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        point = NpsPoint("", "", "", self.promoters, self.passives, self.detractors)
        return point.nps


@dataclass(frozen=True)
class SurveyFigures:
    """Everything the tab shows, read in one go on a worker connection."""

    now: NpsNow
    months: list[NpsPoint]
    answers: list[SurveyAnswer]
    provider_names: dict[str, str]
    location_names: dict[str, str]


def read_figures(clinic: Clinic, today: date, by: str) -> SurveyFigures:
    """NPS of the last NOW_DAYS days, NPS by month for a year, and the newest answers."""
    recent = surveys.nps_by_month(clinic, first=today - timedelta(days=NOW_DAYS - 1), last=today)
    now = NpsNow(
        sum(p.promoters for p in recent),
        sum(p.passives for p in recent),
        sum(p.detractors for p in recent),
    )
    months_back = today.year * 12 + today.month - 1 - (MONTHS_SHOWN - 1)
    first = date(months_back // 12, months_back % 12 + 1, 1)
    months = surveys.nps_by_month(clinic, first=first, last=today, by=by)
    months.sort(key=lambda p: p.month, reverse=True)  # newest month on top
    return SurveyFigures(
        now=now,
        months=months,
        answers=surveys.answers(clinic, limit=ANSWERS_SHOWN),
        provider_names={p.id: p.display_name for p in providers(clinic)},
        location_names={loc.id: loc.name for loc in locations(clinic)},
    )


class SurveysTab(QWidget):
    """Signals: `open_patient(id)` on double-click or Enter on an answer from a known
    patient; `loaded()` each time fresh figures are on screen."""

    open_patient = Signal(str)
    loaded = Signal()

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.zone = ZoneInfo(clinic.settings.timezone)
        self.setAccessibleName("Surveys")
        self.figures: SurveyFigures | None = None
        self.nps_now: float | None = None
        self.kiosk: KioskWindow | None = None
        self.last_load: Op[SurveyFigures] | None = None
        self._seq = 0
        self._stale = True
        self._next_words = ""  # the desk's words for whose answer the kiosk takes next
        self._this_year = datetime.now(self.zone).year  # dates of this year show no year

        title = QLabel("Satisfaction surveys")
        title.setAccessibleName("Satisfaction surveys heading")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        title.setFont(font)
        self.record_button = QPushButton("&Record an answer…")
        self.record_button.setAccessibleName("Record an answer given at the desk or by email")
        self.record_button.clicked.connect(self.record_answer)
        self.kiosk_button = QPushButton("Open the &kiosk…")
        self.kiosk_button.setAccessibleName("Open the kiosk")
        self.kiosk_button.clicked.connect(self.open_kiosk)
        self.close_kiosk_button = QPushButton("Close the kiosk")
        self.close_kiosk_button.setAccessibleName("Close the kiosk")
        self.close_kiosk_button.clicked.connect(self.close_kiosk)
        self.close_kiosk_button.hide()
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(self.record_button)
        top.addWidget(self.kiosk_button)
        top.addWidget(self.close_kiosk_button)

        self.kiosk_status = hint_line()
        self.kiosk_status.setAccessibleName("Kiosk status")
        self.kiosk_status.setWordWrap(True)
        self.kiosk_status.hide()
        self.error = error_line()
        self.error.setAccessibleName("Surveys error")
        self.error.setWordWrap(True)
        self.error.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.kiosk_status)
        layout.addWidget(self.error)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._figures_side())
        splitter.addWidget(self._answers_side())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout.addWidget(splitter, 1)
        bus.changed.connect(self._on_changes)

    # --- building ---------------------------------------------------------------------

    def _figures_side(self) -> QWidget:
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 6, 0)
        caption = QLabel(f"NPS, last {NOW_DAYS} days")
        caption.setAccessibleName(f"NPS, last {NOW_DAYS} days heading")
        self.nps_label = QLabel("—")
        self.nps_label.setAccessibleName("Net Promoter Score now")
        big = self.nps_label.font()
        big.setPointSizeF(big.pointSizeF() * 2.6)
        big.setBold(True)
        self.nps_label.setFont(big)
        self.counts_label = hint_line()
        self.counts_label.setAccessibleName("Answers of the last 90 days")
        self.counts_label.setWordWrap(True)
        explain = hint_line(
            "NPS = percent of promoters (9–10) minus percent of detractors (0–6), "
            "from −100 to +100."
        )
        explain.setAccessibleName("What NPS means")
        explain.setWordWrap(True)

        months_caption = QLabel("NPS by month")
        months_caption.setAccessibleName("NPS by month heading")
        bold = months_caption.font()
        bold.setBold(True)
        months_caption.setFont(bold)
        self.grouping = QComboBox()
        self.grouping.setAccessibleName("Show the NPS by month for")
        for words, key in GROUPINGS:
            self.grouping.addItem(words, key)
        self.grouping.currentIndexChanged.connect(lambda _i: self.refresh())
        months_row = QHBoxLayout()
        months_row.addWidget(months_caption, 1)
        months_row.addWidget(self.grouping)
        self.months_model: RowsModel[NpsPoint] = RowsModel(
            [
                Column("Month", lambda p: month_text(p.month)),
                Column("For", lambda p: p.group_name),
                Column("NPS", lambda p: nps_text(p.nps)),  # first: what is read first
                Column("Answers", lambda p: str(p.answers)),
                Column("Promoters", lambda p: str(p.promoters)),
                Column("Passives", lambda p: str(p.passives)),
                Column("Detractors", lambda p: str(p.detractors)),
            ]
        )
        self.months = RowTable("NPS by month", self.months_model, stretch_column=1)
        self.months.horizontalHeader().setStretchLastSection(True)  # "For" may be hidden
        self.months_empty = hint_line("No answers in the last 12 months.")
        self.months_empty.setAccessibleName("NPS by month: none")
        self.months_empty.hide()

        number_row = QHBoxLayout()
        number_row.addWidget(self.nps_label)
        number_row.addWidget(self.counts_label, 1)
        column.addWidget(caption)
        column.addLayout(number_row)
        column.addWidget(explain)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        column.addWidget(line)
        column.addLayout(months_row)
        column.addWidget(self.months, 1)
        column.addWidget(self.months_empty)
        return side

    def _answers_side(self) -> QWidget:
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(6, 0, 0, 0)
        self.answers_caption = QLabel("Answers")
        self.answers_caption.setAccessibleName("Answers heading")
        bold = self.answers_caption.font()
        bold.setBold(True)
        self.answers_caption.setFont(bold)
        self.answers_model: RowsModel[SurveyAnswer] = RowsModel(
            [
                Column("Date", self._when),
                Column("Score", score_text),
                Column("Comment", lambda a: " ".join(a.comment.split())),
                Column("Provider", self._provider),
                Column("Channel", lambda a: surveys.CHANNEL_LABELS.get(a.channel, a.channel)),
            ],
            style=self._answer_style,
        )
        self.answers = RowTable("Answers", self.answers_model, stretch_column=2)
        self.answers.open_row.connect(self._open_answer)
        self.answers.setToolTip("Double-click or press Enter to open the patient")
        self.answers_empty = hint_line(
            "No answers yet. Answers come from survey texts and emails, the kiosk, "
            "and those recorded here."
        )
        self.answers_empty.setAccessibleName("Answers: none")
        self.answers_empty.setWordWrap(True)
        self.answers_empty.hide()
        column.addWidget(self.answers_caption)
        column.addWidget(self.answers, 1)
        column.addWidget(self.answers_empty)
        return side

    # --- the rows' looks --------------------------------------------------------------

    def _when(self, answer: SurveyAnswer) -> str:
        moment = datetime.fromisoformat(answer.answered_at.replace("Z", "+00:00"))
        local = moment.astimezone(self.zone)
        day = surveys.short_day(local.date(), day_first=self.clinic.settings.day_first)
        year = "" if local.year == self._this_year else f" {local.year}"
        return f"{day}{year}  {local:%H:%M}"

    def _provider(self, answer: SurveyAnswer) -> str:
        if self.figures is None or answer.provider_id is None:
            return ""
        return self.figures.provider_names.get(answer.provider_id, "")

    @staticmethod
    def _answer_style(answer: SurveyAnswer, column: int, role: int) -> object:
        if answer.category != DETRACTOR:
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return color("danger")
        if role == Qt.ItemDataRole.FontRole and column == 1:
            font = QFont()
            font.setBold(True)
            return font
        return None

    # --- loading ----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the figures again off the GUI thread; the newest read is the one shown."""
        self._stale = False
        self._seq += 1
        seq = self._seq
        today = clinic_today(self.clinic)
        by = str(self.grouping.currentData() or "")
        clinic = self.clinic

        def work(_progress: object, _cancel: object) -> SurveyFigures:
            worker = clinic.fork()
            try:
                return read_figures(worker, today, by)
            finally:
                worker.close()

        self.last_load = (
            Op(self, "Reading the survey answers", work)
            .success(lambda figures: self._show(seq, figures))
            .failure(lambda exc: self._failed(seq, exc))
            .run_in_background()
        )

    def _show(self, seq: int, figures: SurveyFigures) -> None:
        if seq != self._seq:
            return  # an older read finishing late
        self.figures = figures
        self._this_year = datetime.now(self.zone).year
        self.error.hide()
        now = figures.now
        self.nps_now = now.nps
        self.nps_label.setText(nps_text(now.nps))
        self.nps_label.setAccessibleDescription(
            f"Net Promoter Score {nps_text(now.nps)} over the last {NOW_DAYS} days"
        )
        if now.answers:
            self.counts_label.setText(
                f"{now.answers} answers: {now.promoters} promoters, {now.passives} passives, "
                f"{now.detractors} detractors"
            )
        else:
            self.counts_label.setText(f"No answers in the last {NOW_DAYS} days.")
        self.months.setColumnHidden(1, not self.grouping.currentData())
        self.months_model.set_rows(figures.months)
        self.months.setVisible(bool(figures.months))
        self.months_empty.setVisible(not figures.months)
        row = self.answers.current_row()
        self.answers_model.set_rows(figures.answers)
        self.answers.keep_row(row)
        shown = len(figures.answers)
        newest = f" (newest {ANSWERS_SHOWN})" if shown >= ANSWERS_SHOWN else f" ({shown})"
        self.answers_caption.setText("Answers" + (newest if shown else ""))
        self.answers.setVisible(bool(shown))
        self.answers_empty.setVisible(not shown)
        self.loaded.emit()

    def _failed(self, seq: int, exc: BaseException) -> None:
        if seq != self._seq:
            return
        reason = str(exc) if isinstance(exc, FrontdeskError) else "Something went wrong."
        self.error.setText(f"The survey answers could not be read. {reason}")
        self.error.show()

    def _on_changes(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _open_answer(self, row: int) -> None:
        answer = self.answers_model.rows[row]
        if answer.patient_id is not None:
            self.open_patient.emit(answer.patient_id)

    # --- actions ----------------------------------------------------------------------

    def record_answer(self) -> RecordAnswerDialog:
        dialog = RecordAnswerDialog(self.clinic, self.bus, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_kiosk(self) -> VisitChoiceDialog:
        """Choose today's visit (or none) on this screen, then show the kiosk for it."""
        dialog = VisitChoiceDialog(self.clinic, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.visit_chosen.connect(self.start_kiosk)
        dialog.open()
        return dialog

    def start_kiosk(self, appointment_id: str | None, words: str) -> None:
        """Show the kiosk (if not yet shown) and give it the visit for the next answer."""
        if self.kiosk is None:
            self.kiosk = KioskWindow(self.clinic, self.bus, self)
            self.kiosk.answered.connect(self._kiosk_answered)
            self.kiosk.answer_failed.connect(self._kiosk_failed)
            self.kiosk.left.connect(self._kiosk_left)
        try:
            self.kiosk.ask_for(appointment_id)
        except FrontdeskError as exc:
            self._kiosk_failed(str(exc))
            return
        if not self.kiosk.isVisible():
            self.kiosk.open()
        self._next_words = words
        self._kiosk_state("")

    def close_kiosk(self) -> None:
        if self.kiosk is not None:
            self.kiosk.leave()

    def _kiosk_state(self, before: str) -> None:
        where = (
            "on the second screen"
            if self.kiosk is not None and self.kiosk.on_own_screen
            else "on this screen (staff leave it with Ctrl+Shift+Q)"
        )
        self.kiosk_status.setText(f"{before}The kiosk is open {where}. {self._next_words}")
        self.kiosk_status.show()
        self.kiosk_button.setText("Next &kiosk visit…")
        self.kiosk_button.setAccessibleName("Choose the visit for the next kiosk answer")
        self.close_kiosk_button.show()

    def _kiosk_answered(self, _created: object) -> None:
        self._next_words = NEXT_ANONYMOUS
        self._kiosk_state(f"Answer saved at {datetime.now(self.zone):%H:%M}. ")

    def _kiosk_failed(self, reason: str) -> None:
        self.error.setText(f"Kiosk: {reason}")
        self.error.show()

    def _kiosk_left(self) -> None:
        self.kiosk_status.setText("The kiosk is closed.")
        self.kiosk_button.setText("Open the &kiosk…")
        self.kiosk_button.setAccessibleName("Open the kiosk")
        self.close_kiosk_button.hide()


NEXT_ANONYMOUS = "The next answer is kept without a patient."


class VisitChoiceDialog(QDialog):
    """Today's seen visits without an answer, and "No particular visit"; names stay here."""

    visit_chosen = Signal(object, str)  # appointment id or None, the words for the desk

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open the kiosk")
        self.setAccessibleName("Open the kiosk")
        intro = QLabel(
            "Whose answer will the kiosk take? Names are shown on this screen only, never "
            "on the kiosk."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About choosing the visit")
        self.visits = QListWidget()
        self.visits.setAccessibleName("Today's visits")
        anonymous = QListWidgetItem("No particular visit (the answer is kept without a patient)")
        anonymous.setData(Qt.ItemDataRole.UserRole, ("", NEXT_ANONYMOUS))
        self.visits.addItem(anonymous)
        for visit in surveys.visits_for_kiosk(clinic, clinic_today(clinic)):
            words = f"{visit.time_text}  {visit.patient_name}"
            if visit.provider_name:
                words += f" · {visit.provider_name}"
            item = QListWidgetItem(words)
            desk = (
                f"The next answer goes with the visit of {visit.time_text} ({visit.patient_name})."
            )
            item.setData(Qt.ItemDataRole.UserRole, (visit.appointment_id, desk))
            self.visits.addItem(item)
        self.visits.setCurrentRow(0)
        self.visits.itemActivated.connect(lambda _item: self.choose())
        self.none_today = hint_line(
            "No visit of today is checked in or seen without an answer yet."
            if self.visits.count() == 1
            else ""
        )
        self.none_today.setAccessibleName("Visits found")
        self.none_today.setVisible(self.visits.count() == 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.show_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.show_button.setText("Show the kiosk")
        self.show_button.setAccessibleName("Show the kiosk for this visit")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        buttons.accepted.connect(self.choose)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.visits, 1)
        layout.addWidget(self.none_today)
        layout.addWidget(buttons)
        metrics = self.fontMetrics()
        self.resize(metrics.averageCharWidth() * 70, metrics.height() * 20)

    def choose_visit(self, appointment_id: str | None) -> None:
        """Pick the row of this visit (None: no particular visit) and accept."""
        for row in range(self.visits.count()):
            key, _words = self.visits.item(row).data(Qt.ItemDataRole.UserRole)
            if (key or None) == appointment_id:
                self.visits.setCurrentRow(row)
                self.choose()
                return
        raise LookupError("that visit is not in the list")

    def choose(self) -> None:
        item: QListWidgetItem | None = self.visits.currentItem()
        if item is None:
            return
        key, words = item.data(Qt.ItemDataRole.UserRole)
        self.accept()
        self.visit_chosen.emit(key or None, str(words))


class RecordAnswerDialog(FormDialog):
    """An answer a patient gave at the desk or in an email reply, typed in by staff."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(clinic, bus, "Record a survey answer", parent)
        self.patient_id: str | None = None
        self.picker: PatientPicker | None = None

        patient_row = QWidget()
        row = QHBoxLayout(patient_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.patient_label = ToneLabel("No patient chosen", tone="muted")
        self.patient_label.setAccessibleName("Patient chosen")
        self.choose_button = QPushButton("C&hoose…")
        self.choose_button.setAccessibleName("Choose the patient")
        self.choose_button.setAutoDefault(False)
        self.choose_button.clicked.connect(self.choose_patient)
        row.addWidget(self.patient_label, 1)
        row.addWidget(self.choose_button)
        patient_row.setAccessibleName("Patient")
        self.add_field("&Patient:", patient_row, "patient")

        self.score = QComboBox()
        self.score.addItem("Choose a score", None)
        for score in range(11):
            words = SCORE_WORDS.get(score)
            self.score.addItem(f"{score} — {words}" if words else str(score), score)
        self.add_field(
            "&Score (0–10):",
            self.score,
            "score",
            hint="6 or less: a follow-up for the manager on Today.",
        )

        self.channel = QComboBox()
        for words, key in DESK_CHANNELS:
            self.channel.addItem(words, key)
        self.add_field("&Given:", self.channel, "channel")

        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText("The patient's own words, if any")
        self.comment.setMaximumHeight(self.fontMetrics().height() * 6)
        self.add_field("&Comment:", self.comment, "comment")
        metrics = self.fontMetrics()
        self.resize(metrics.horizontalAdvance("M") * 48, metrics.height() * 18)
        self.mark_clean()

    def choose_patient(self) -> PatientPicker:
        picker = PatientPicker(self.clinic, self)
        picker.setWindowTitle("Choose the patient")
        picker.setAccessibleName("Choose the patient")
        picker.ok_button.setText("Choose")
        picker.ok_button.setAccessibleName("Choose this patient")
        picker.chosen.connect(self.set_patient)
        picker.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.picker = picker
        picker.open()
        return picker

    def set_patient(self, patient_id: str, name: str) -> None:
        self.patient_id = patient_id
        self.patient_label.setText(name)
        self.patient_label.tone = "text"
        self.patient_label.restyle()
        self._edited("patient")

    def _save(self) -> Changes:
        problems = []
        if self.patient_id is None:
            problems.append(FieldError("patient", "Choose the patient who answered."))
        score = self.score.currentData()
        if score is None:
            problems.append(FieldError("score", "Choose the score the patient gave, 0 to 10."))
        if problems:
            raise FormInputError(problems)
        created = surveys.record_answer(
            self.clinic,
            score=int(score),
            comment=self.comment.toPlainText(),
            channel=str(self.channel.currentData()),
            patient_id=self.patient_id,
        )
        return created.changes
