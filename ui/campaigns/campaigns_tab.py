"""Campaigns: health tips, allergy alerts, reactivation, satisfaction surveys and review requests.

A campaign is a reminder rule of an engagement kind (rules.ENGAGEMENT_KINDS), so it goes
through the same outbox, consent, quiet hours and templates. What is new here is the check
before one is turned on: who it would reach is worked out off the GUI thread, a campaign
nobody can be sent is not turned on (and the screen says why), and a very large one asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, time
from typing import Final

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.engagement.audience import Audience, audience, needs_confirmation
from app.errors import FrontdeskError
from app.growth.segments import load_segments
from app.ops import CancelToken, Progress
from app.reminders.outbox import list_messages
from app.reminders.rules import (
    CALL_CHANNEL,
    ENGAGEMENT_KINDS,
    KIND_LABELS,
    Rule,
    Touch,
    check_rule,
    delete_rule,
    load_rules,
    satisfaction_rules,
    set_active,
)
from app.store.changes import Changes
from ui.bus import DataBus
from ui.campaigns.background import LatestWork
from ui.forms.base import DATE_FORMAT, PendingQuestion, from_qdate, to_qdate
from ui.ops import Op
from ui.reminder_settings.rule_dialog import RuleDialog
from ui.reminder_settings.template_editor import TemplateEditor
from ui.reminder_settings.widgets import TickList
from ui.theme import error_line, hint_line
from ui.today_page import Column, RowsModel, RowTable

CAMPAIGN_KINDS: Final = ("education", "allergy", "reactivation", "survey", "review")
AUDIENCE_KINDS: Final = ("education", "allergy", "reactivation")
"""Kinds with an audience to work out before they start; surveys and review requests
follow each visit as it happens, so there is nobody to count in advance."""
EVERYONE: Final = ""
MONTH_NAMES: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SENT_COUNT_LIMIT: Final = 10_000
WATCHED: Final = ("reminder_rule", "segment", "outbox", "consent", "patient", "appointment")
TEN_AM: Final = time(10, 0)

STARTERS: Final = {
    "education": Rule(
        id="",
        kind="education",
        name="Health tips",
        touches=(Touch(days=0, at=TEN_AM),),
        channels=("email", "sms"),
        window_hours=72,
        send_day=1,
    ),
    "allergy": Rule(
        id="",
        kind="allergy",
        name="Allergy alerts",
        touches=(Touch(days=0, at=time(8, 0)),),
        channels=("sms",),
        window_hours=6,
    ),
    "reactivation": Rule(
        id="",
        kind="reactivation",
        name="We miss you",
        touches=(
            Touch(days=0, at=TEN_AM, channels=("sms", "email")),
            Touch(days=21, at=TEN_AM, channels=(CALL_CHANNEL,)),
            Touch(days=45, at=TEN_AM, channels=("letter",)),
        ),
        channels=("sms", "email", "letter"),
        recall_months=18,
        window_hours=72,
    ),
    # The same ready-made survey and review request a new clinic is given, so a clinic
    # that predates them adds exactly those (admin guide).
    **{rule.kind: rule for rule in satisfaction_rules()},
}
"""What a new campaign of each kind starts from; the person changes what they like."""


# --- words about an audience ------------------------------------------------------------


def _reasons(blocked: dict[str, int]) -> str:
    """'no consent for health tips (120), no mobile number or email (3)', most first."""
    ordered = sorted(((n, why) for why, n in blocked.items() if n > 0), key=lambda p: -p[0])
    return ", ".join(f"{why[:1].lower()}{why[1:]} ({n:,})" for n, why in ordered)


def reach_text(found: Audience) -> str:
    """'This will reach 1,234 patients.' and who cannot be sent it, and why."""
    if found.reachable <= 0:
        return nobody_text(found)
    noun = "patient" if found.reachable == 1 else "patients"
    text = f"This will reach {found.reachable:,} {noun}."
    reasons = _reasons(found.blocked)
    if reasons:
        text += f" Left out: {reasons}."
    return text


def nobody_text(found: Audience) -> str:
    reasons = _reasons(found.blocked)
    if found.matched <= 0 or not reasons:
        return "Nobody is in this group now, so this campaign would send nothing."
    return f"Nobody in this group can be sent this: {reasons}."


def targeting(rule: Rule) -> tuple[object, ...]:
    """What decides who a campaign reaches: a change here checks the audience again."""
    return (
        rule.kind,
        rule.purpose or rule.effective_purpose,
        rule.channels,
        tuple(t.channels for t in rule.touches),
        rule.segment_id,
        rule.every_months,
        rule.season_months,
        rule.recall_months,
        rule.recall_visit_kinds,
    )


@dataclass(frozen=True)
class Verdict:
    """The audience of a rule and, when it is large, the question to ask first."""

    audience: Audience
    question: str | None


def audience_work(clinic: Clinic, rule: Rule) -> Callable[[Progress, CancelToken], Verdict]:
    """The Op work: on a connection of its own, so the GUI's stays free."""

    def work(_progress: Progress, _cancel: CancelToken) -> Verdict:
        worker = clinic.fork()
        try:
            found = audience(worker, rule)
            return Verdict(found, needs_confirmation(worker, found))
        finally:
            worker.close()

    return work


class TurnOn:
    """Decides, off the GUI thread, whether a campaign may be turned on; `then` runs when
    it may (after a Yes for a large one); `refuse` gets the reason when it may not."""

    def __init__(
        self,
        parent: QWidget,
        clinic: Clinic,
        question: PendingQuestion,
        rule: Rule,
        *,
        then: Callable[[Audience], None],
        refuse: Callable[[str], None],
    ) -> None:
        self.parent = parent
        self.question = question
        self.then = then
        self.refuse = refuse
        self.verdict: Verdict | None = None
        self.op: Op[Verdict] = (
            Op(parent, "Working out who this campaign reaches", audience_work(clinic, rule))
            .success(self._decide)
            .failure(self._failed)
            .run_in_background()
        )

    def _decide(self, verdict: Verdict) -> None:
        self.verdict = verdict
        found = verdict.audience
        if found.reachable <= 0:
            self.refuse(nobody_text(found))
            return
        if verdict.question:
            self.question.ask(
                self.parent,
                verdict.question,
                reach_text(found),
                yes="Turn it on",
                no="Not now",
                then=lambda: self.then(found),
            )
            return
        self.then(found)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, FrontdeskError):
            self.refuse(str(exc))
        else:
            self.refuse("Frontdesk could not work out who this campaign reaches; try again.")


# --- the campaign editor ----------------------------------------------------------------


class CampaignDialog(RuleDialog):
    """The rule dialog with a campaign's own terms: who (a saved group), when, how often.

    Saving it switched on first works out who it reaches (see TurnOn)."""

    def __init__(
        self, clinic: Clinic, bus: DataBus, rule: Rule, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, rule, parent)
        label = KIND_LABELS[rule.kind]
        title = f"Edit campaign “{rule.name}”" if rule.id else f"New campaign: {label.lower()}"
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.question = PendingQuestion()
        self.turn_on: TurnOn | None = None
        self.approved: Rule | None = None
        self.reach: Audience | None = None

        self.on_check = QCheckBox("Send this campaign (on)")
        self.on_check.setAccessibleName("Campaign is on")
        self.add_field(
            "&State:",
            self.on_check,
            "active",
            hint="Before it is turned on, Frontdesk works out who it would reach.",
        )
        # In a scroll area: with large text the reactivation terms are taller than a laptop.
        inner = QWidget()
        inner.setAccessibleName("Who and when")
        who = QFormLayout(inner)
        who.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        who.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(inner)
        self.tabs.insertTab(0, scroll, "Who and when")
        self.tabs.setCurrentIndex(0)
        self.segment_combo = QComboBox()
        self.add_field(
            "&Group of patients:",
            self.segment_combo,
            "segment",
            hint="Make groups on the Groups of patients tab.",
            form=who,
        )
        self.every_months = QSpinBox()
        self.every_months.setRange(1, 60)
        self.every_months.setSuffix(" months")
        self.send_day = QSpinBox()
        self.send_day.setRange(1, 28)
        self.season = TickList("Months of the allergy season")
        self.season_limit = QSpinBox()
        self.season_limit.setRange(1, 100)
        self.season_limit.setSuffix(" alerts")
        self.start_on = QDateEdit()
        self.start_on.setDisplayFormat(DATE_FORMAT)
        self.start_on.setCalendarPopup(True)
        kind = rule.kind
        if kind in ("survey", "review"):
            self.add_field(
                "At most once &every:",
                self.every_months,
                "every_months",
                "A patient is asked again only after this long.",
                who,
            )
        elif kind == "education":
            self.add_field(
                "Goes out on &day:",
                self.send_day,
                "send_day",
                "of each month; a patient never gets the same tip twice.",
                who,
            )
        elif kind == "allergy":
            self.add_field(
                "Season &months:",
                self.season,
                "season_months",
                "Alerts go on high-pollen days.",
                who,
            )
            self.add_field(
                "At most:",
                self.season_limit,
                "season_limit",
                "per patient in a season, and never more than one a day.",
                who,
            )
        elif kind == "reactivation":
            self.add_field(
                "&No visit for:",
                self.recall_months,
                "recall_months",
                "Patients with nothing booked and no visit this long.",
                who,
            )
            self.add_field(
                "&Visits that count:",
                self.recall_kinds,
                "recall_kinds",
                "Tick none to count every completed visit.",
                who,
            )
            self.add_field(
                "S&tarts on:",
                self.start_on,
                "start_on",
                "The messages, then the calls, then the letters follow the days on the "
                "Messages tab; a patient who books stops getting them.",
                who,
            )
        self.reach_label = hint_line()
        self.reach_label.setAccessibleName("Who this campaign reaches")
        self.reach_label.setWordWrap(True)
        self.reach_button = QPushButton("Check who it &reaches")
        self.reach_button.setAccessibleName("Check who this campaign reaches")
        self.reach_button.clicked.connect(self.check_reach)
        if kind in AUDIENCE_KINDS:
            reach_row = QHBoxLayout()
            reach_row.addWidget(self.reach_button)
            reach_row.addWidget(self.reach_label, 1)
            who.addRow(reach_row)
        else:
            self.reach_button.hide()
            self.reach_label.setText(
                "Sent after each visit as it happens, so nobody is counted in advance."
                if kind == "survey"
                else "Sent to patients who gave a high score, after their answer."
            )
            who.addRow(self.reach_label)
        self.save_button.setText("Save campaign")
        self._fill_campaign(rule)
        self.mark_clean()
        # The rule dialog sized itself before this tab was added: make room for it.
        self._grown = False

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._grown:
            # The rule dialog sized itself before the campaign's tab was added (and before
            # its fonts were known): grow to fit it, within the screen.
            self._grown = True
            tall = self.sizeHint().height()
            screen = self.screen()
            if screen is not None:
                tall = min(tall, screen.availableGeometry().height() - 40)
            self.resize(self.width(), max(self.height(), tall))

    def _fill_campaign(self, rule: Rule) -> None:
        self.on_check.setChecked(rule.active)
        self.segment_combo.clear()
        self.segment_combo.addItem("Everyone the campaign can reach", EVERYONE)
        for segment in load_segments(self.clinic):
            self.segment_combo.addItem(segment.name, segment.id)
        found = self.segment_combo.findData(rule.segment_id)
        if found < 0:
            self.segment_combo.addItem("(a group that was removed)", rule.segment_id)
            found = self.segment_combo.count() - 1
        self.segment_combo.setCurrentIndex(found)
        self.every_months.setValue(rule.every_months)
        self.send_day.setValue(rule.send_day)
        self.season.fill(
            ((str(m), name) for m, name in enumerate(MONTH_NAMES, start=1)),
            [str(m) for m in rule.season_months],
        )
        self.season.edited.connect(self.mark_dirty)
        self.season_limit.setValue(rule.season_limit)
        start = date.fromisoformat(rule.start_on) if rule.start_on else self.today()
        self.start_on.setDate(to_qdate(start))

    def edited_rule(self) -> Rule:
        rule = super().edited_rule()
        start = from_qdate(self.start_on.date()).isoformat() if rule.kind == "reactivation" else ""
        return replace(
            rule,
            active=self.on_check.isChecked(),
            segment_id=str(self.segment_combo.currentData()),
            every_months=self.every_months.value(),
            send_day=self.send_day.value(),
            season_months=tuple(int(m) for m in self.season.ticked()) or rule.season_months,
            season_limit=self.season_limit.value(),
            start_on=start or rule.start_on,
        )

    def check_reach(self) -> None:
        """Show who the campaign as edited would reach, without saving."""
        self.clear_errors()
        try:
            rule = self.edited_rule()
            check_rule(rule)
        except Exception as exc:  # noqa: BLE001 - shown where it belongs by report()
            self.report(exc)
            return
        self.reach_label.setText("Working out who it reaches…")
        op: Op[Verdict] = Op(
            self, "Working out who this campaign reaches", audience_work(self.clinic, rule)
        )
        self.reach_op = (
            op.success(self._reach_known)
            .failure(
                lambda _exc: self.reach_label.setText("Frontdesk could not work it out; try again.")
            )
            .run_in_background()
        )

    def _reach_known(self, verdict: Verdict) -> None:
        self.reach = verdict.audience
        self.reach_label.setText(reach_text(verdict.audience))

    def save(self) -> bool:
        """Save; a campaign being turned on (or re-aimed while on) is checked first."""
        if not self.save_button.isEnabled() or self.discard_box is not None:
            return False
        if self.turn_on is not None and not self.turn_on.op.finished:
            return False
        self.clear_errors()
        try:
            rule = self.edited_rule()
            check_rule(rule)
        except Exception as exc:  # noqa: BLE001 - shown where it belongs by report()
            self.report(exc)
            return False
        was_on = bool(self.rule.id) and self.rule.active
        if not rule.active or rule == self.approved or rule.kind not in AUDIENCE_KINDS:
            return super().save()
        if was_on and targeting(rule) == targeting(self.rule):
            return super().save()
        self.reach_label.setText("Working out who it reaches…")
        self.turn_on = TurnOn(
            self,
            self.clinic,
            self.question,
            rule,
            then=lambda found: self._approved(rule, found),
            refuse=self._refused,
        )
        return False

    def _approved(self, rule: Rule, found: Audience) -> None:
        self.reach = found
        self.reach_label.setText(reach_text(found))
        self.approved = rule
        super().save()

    def _refused(self, reason: str) -> None:
        self.reach_label.setText(reason)
        self.show_field_error("active", reason + " It stays off.")
        self.tabs.setCurrentIndex(0)


# --- the tab ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow:
    rule: Rule
    reaches: int | None = None  # None: not worked out yet (or could not be)
    sent: int | None = None
    waiting: int | None = None


def _number(value: int | None, cap: int | None = None) -> str:
    if value is None:
        return "…"
    if cap is not None and value >= cap:
        return f"{cap:,}+"
    return f"{value:,}"


def _reaches(row: CampaignRow) -> str:
    if row.rule.kind not in AUDIENCE_KINDS:
        return "after each visit" if row.rule.kind == "survey" else "after each good score"
    return _number(row.reaches)


COLUMNS: Final[list[Column[CampaignRow]]] = [
    Column("State", lambda r: "On" if r.rule.active else "Paused"),
    Column("Name", lambda r: r.rule.name),
    Column("Kind", lambda r: KIND_LABELS[r.rule.kind]),
    Column("Reaches now", lambda r: _reaches(r)),
    Column("Sent so far", lambda r: _number(r.sent, SENT_COUNT_LIMIT)),
    Column("Waiting to go", lambda r: _number(r.waiting, SENT_COUNT_LIMIT)),
]


def _figures(clinic: Clinic, rules: list[Rule]) -> dict[str, tuple[int | None, int, int]]:
    """Per campaign: who it reaches now, messages sent, messages planned (worker thread)."""
    figures: dict[str, tuple[int | None, int, int]] = {}
    for rule in rules:
        reaches: int | None = None
        if rule.kind in AUDIENCE_KINDS:
            try:
                reaches = audience(clinic, rule).reachable
            except FrontdeskError:
                reaches = None
        sent = list_messages(clinic, rule_id=rule.id, states=("sent",), limit=SENT_COUNT_LIMIT)
        waiting = list_messages(
            clinic, rule_id=rule.id, states=("planned", "due"), limit=SENT_COUNT_LIMIT
        )
        figures[rule.id] = (reaches, len(sent), len(waiting))
    return figures


class CampaignsTab(QWidget):
    """The Campaigns tab (clinic, bus; refresh())."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Campaigns")
        self.rows: list[CampaignRow] = []
        self.dialog: CampaignDialog | None = None
        self.editor: TemplateEditor | None = None
        self.turn_on: TurnOn | None = None
        self.question = PendingQuestion()
        self.figures = LatestWork(clinic, "campaign-figures")
        self.figures.ready.connect(self._figures_ready)
        self.destroyed.connect(self.figures.close)

        self.model: RowsModel[CampaignRow] = RowsModel(COLUMNS)
        self.table = RowTable("Campaigns", self.model, stretch_column=1)
        self.table.open_row.connect(lambda _row: self.edit_campaign())
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.empty = hint_line(
            "No campaigns yet. Choose New campaign to send health tips, allergy alerts, "
            "satisfaction surveys, review requests or to bring back patients not seen for a while."
        )
        self.empty.setWordWrap(True)
        self.empty.setAccessibleName("No campaigns yet")

        self.new_button = QPushButton("&New campaign…")
        self.new_button.setAccessibleName("New campaign")
        menu = QMenu(self.new_button)
        for kind in CAMPAIGN_KINDS:
            action = menu.addAction(KIND_LABELS[kind])
            action.triggered.connect(lambda _checked=False, k=kind: self.new_campaign(k))
        self.new_button.setMenu(menu)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setAccessibleName("Edit the chosen campaign")
        self.edit_button.clicked.connect(self.edit_campaign)
        self.words_button = QPushButton("The messages' &words…")
        self.words_button.setAccessibleName("Edit the words of the chosen campaign's messages")
        self.words_button.clicked.connect(self.edit_words)
        self.pause_button = QPushButton("&Pause")
        self.pause_button.setAccessibleName("Pause the chosen campaign")
        self.pause_button.clicked.connect(self.toggle_active)
        self.remove_button = QPushButton("Re&move…")
        self.remove_button.setAccessibleName("Remove the chosen campaign")
        self.remove_button.clicked.connect(self.remove_campaign)
        self.error = error_line()
        self.error.setAccessibleName("Campaigns problem")
        self.error.setWordWrap(True)
        self.error.hide()
        self.status = hint_line()
        self.status.setAccessibleName("Campaigns status")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.edit_button,
            self.words_button,
            self.pause_button,
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addStretch(0)
        bus.changed.connect(self._on_changes)
        self.refresh()

    # --- the list ------------------------------------------------------------------------

    def refresh(self) -> None:
        keep = self.selected_rule()
        try:
            rules = [r for r in load_rules(self.clinic) if r.kind in ENGAGEMENT_KINDS]
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return
        # The figures shown stay until the new ones come, so the list does not flicker.
        old = {row.rule.id: row for row in self.rows}
        self.rows = [replace(old[r.id], rule=r) if r.id in old else CampaignRow(r) for r in rules]
        self.model.set_rows(self.rows)
        self.table.setVisible(bool(rules))
        self.empty.setVisible(not rules)
        if keep is not None:
            self.select(keep.id)
        elif rules:
            self.table.selectRow(0)
        self._update_buttons()
        self.figures.request(lambda clinic: _figures(clinic, rules))

    def _figures_ready(self) -> None:
        outcome = self.figures.take()
        if outcome is None:
            return
        if outcome.error is not None:
            self.status.setText("Frontdesk could not count who the campaigns reach.")
            return
        figures: dict[str, tuple[int | None, int, int]] = outcome.value
        keep = self.table.current_row()
        self.rows = [
            replace(row, reaches=f[0], sent=f[1], waiting=f[2])
            if (f := figures.get(row.rule.id)) is not None
            else row
            for row in self.rows
        ]
        self.model.set_rows(self.rows)
        self.table.keep_row(keep)

    def selected_rule(self) -> Rule | None:
        row = self.table.current_row()
        if row is not None and 0 <= row < len(self.rows):
            return self.rows[row].rule
        return None

    def select(self, rule_id: str) -> None:
        for index, row in enumerate(self.rows):
            if row.rule.id == rule_id:
                self.table.selectRow(index)
                return

    def _update_buttons(self) -> None:
        rule = self.selected_rule()
        for button in (self.edit_button, self.words_button, self.pause_button, self.remove_button):
            button.setEnabled(rule is not None)
        paused = rule is not None and not rule.active
        self.pause_button.setText("&Resume" if paused else "&Pause")
        self.pause_button.setAccessibleName(
            "Resume the chosen campaign" if paused else "Pause the chosen campaign"
        )

    # --- acting on a campaign ------------------------------------------------------------

    def new_campaign(self, kind: str) -> CampaignDialog:
        return self._open(STARTERS[kind])

    def new_reactivation(self, months: int, visit_kinds: tuple[str, ...]) -> CampaignDialog:
        """From the Reactivation tab: a campaign for the patients listed there."""
        rule = replace(
            STARTERS["reactivation"],
            name=f"We miss you ({months} months)",
            recall_months=months,
            recall_visit_kinds=tuple(visit_kinds),
        )
        return self._open(rule)

    def edit_campaign(self) -> CampaignDialog | None:
        rule = self.selected_rule()
        return None if rule is None else self._open(rule)

    def _open(self, rule: Rule) -> CampaignDialog:
        dialog = CampaignDialog(self.clinic, self.bus, rule, self)
        dialog.saved.connect(lambda _changes: self._saved(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _saved(self, dialog: CampaignDialog) -> None:
        self.refresh()
        saved = dialog.saved_rule
        if saved is not None:
            self.select(saved.id)
            state = "on" if saved.active else "saved, paused"
            reach = f" {reach_text(dialog.reach)}" if dialog.reach and saved.active else ""
            self.status.setText(f"“{saved.name}” is {state}.{reach}")

    def edit_words(self) -> TemplateEditor | None:
        rule = self.selected_rule()
        if rule is None:
            return None
        editor = TemplateEditor(self.clinic, self.bus, rule, self)
        self.editor = editor
        editor.open()
        return editor

    def toggle_active(self) -> None:
        """Pause at once; resume only after the same check as turning a new one on."""
        rule = self.selected_rule()
        if rule is None:
            return
        if rule.active or rule.kind not in AUDIENCE_KINDS:
            self._set_active(rule, not rule.active)
            return
        self.status.setText("Working out who it reaches…")
        self.turn_on = TurnOn(
            self,
            self.clinic,
            self.question,
            rule,
            then=lambda found: self._resumed(rule, found),
            refuse=lambda reason: self._show_error(f"“{rule.name}” stays paused. {reason}"),
        )

    def _resumed(self, rule: Rule, found: Audience) -> None:
        if self._set_active(rule, True):
            self.status.setText(f"“{rule.name}” is on. {reach_text(found)}")

    def _set_active(self, rule: Rule, active: bool) -> bool:
        try:
            changes = set_active(self.clinic, rule.id, active)
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return False
        self.error.hide()
        self.status.setText(f"“{rule.name}” is {'on' if active else 'paused'}.")
        self.bus.publish(changes)
        self.select(rule.id)
        return True

    def remove_campaign(self) -> None:
        rule = self.selected_rule()
        if rule is None:
            return
        self.question.ask(
            self,
            f"Remove the campaign “{rule.name}”?",
            "Its messages not sent yet are cancelled; those already sent stay in Messages. "
            "To stop it for a while instead, use Pause.",
            yes="Remove",
            no="Keep it",
            then=lambda: self._remove(rule),
        )

    def _remove(self, rule: Rule) -> None:
        try:
            changes = delete_rule(self.clinic, rule.id)
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return
        self.error.hide()
        self.status.setText(f"“{rule.name}” was removed.")
        self.bus.publish(changes)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches(*WATCHED):
            self.refresh()
