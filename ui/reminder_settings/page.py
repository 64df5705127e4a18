"""Settings ▸ Reminders: sending on or off, which computer sends, limits, consent, and the rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QSystemTrayIcon,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.reminders import settings as reminder_settings
from app.reminders.accounts import email_settings, sms_account
from app.reminders.rules import (
    DEFAULT_PURPOSE,
    ENGAGEMENT_KINDS,
    KIND_LABELS,
    KINDS,
    Rule,
    Touch,
    default_rules,
    delete_rule,
    install_default_rules,
    load_rules,
    set_active,
)
from app.reminders.service import keep_running_in_tray, set_keep_running_in_tray
from app.reminders.settings import DEFAULT_CONSENT, ReminderSettings
from app.store.changes import Changes
from app.sync import sender_lease
from ui.bus import DataBus
from ui.forms.base import PendingQuestion
from ui.reminder_settings.rule_dialog import RuleDialog
from ui.reminder_settings.template_editor import TemplateEditor
from ui.reminder_settings.words import (
    CONSENT_LABELS,
    PURPOSE_LABELS,
    language_name,
    touches_summary,
)
from ui.theme import error_line, hint_line

ACTIVE, NAME, KIND, MESSAGES = range(4)
RULE_TABLES = ("reminder_rule", "setting", "message_template")
REMINDER_KINDS = tuple(k for k in KINDS if k not in ENGAGEMENT_KINDS)
"""The kinds listed here; surveys, reviews, health tips, allergy alerts and reactivation
are campaigns, listed and edited in the Campaigns area (ui/campaigns)."""
KEEP_SENDING_HINT = (
    "Frontdesk stays in the system tray so reminders still go; Quit from the tray icon to stop it."
)
NO_TRAY_HINT = "This computer shows no system tray, so closing the window stops sending."


def _starter_rule(kind: str) -> Rule:
    """A new rule of `kind` starts from the ready-made one of that kind, renamed."""
    for rule in default_rules():
        if rule.kind == kind:
            return replace(rule, name=f"New {KIND_LABELS[kind].lower()}")
    return Rule(id="", kind=kind, name="", touches=(Touch(days=0, at=time(10, 0)),))


class RemindersTab(QWidget):
    """The Reminders tab of Settings (clinic, bus; refresh())."""

    set_up_accounts = Signal()  # the person chose to set up an email or SMS account first

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Reminders")
        self.question = PendingQuestion()
        self.rules: list[Rule] = []
        self.dialog: RuleDialog | None = None
        self.editor: TemplateEditor | None = None
        self._loading = False
        self._defaults_offered = False
        self._letters_only = False

        top = QHBoxLayout()
        top.addWidget(self._sending_section(), 1)
        top.addWidget(self._consent_section())
        column = QVBoxLayout(self)
        column.addLayout(top)
        column.addWidget(self._rules_section(), 1)
        bus.changed.connect(self._on_changes)
        self.refresh()

    # --- building ---------------------------------------------------------------------

    def _sending_section(self) -> QGroupBox:
        box = QGroupBox("Sending")
        box.setAccessibleName("Sending reminders")
        self.enabled_check = QCheckBox("Send reminders automatically")
        self.enabled_check.setAccessibleName("Send reminders automatically")
        self.enabled_hint = hint_line()
        self.enabled_hint.setWordWrap(True)
        self.enabled_hint.setAccessibleName("About sending")

        self.sender_label = QLabel()
        self.sender_label.setWordWrap(True)
        self.sender_label.setAccessibleName("Which computer sends the messages")
        self.claim_button = QPushButton("Send from this computer")
        self.claim_button.setAccessibleName("Send from this computer")
        self.claim_button.setToolTip(
            "Only one computer of the clinic sends, so no patient gets a message twice."
        )
        sender_row = QHBoxLayout()
        sender_row.addWidget(self.sender_label, 1)
        sender_row.addWidget(self.claim_button)

        # Per computer, like the tray menu's tick of the same words (ui/reminder_runner.py).
        self.keep_check = QCheckBox("Keep sending when the window is closed")
        self.keep_check.setAccessibleName("Keep sending when the window is closed")
        self.keep_check.setToolTip("A choice for this computer only")
        self.keep_hint = hint_line(KEEP_SENDING_HINT)
        self.keep_hint.setWordWrap(True)
        self.keep_hint.setAccessibleName("About keeping sending")

        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(1, 10)
        self.limit_spin.setAccessibleName("At most this many messages a day per patient")
        limit_row = QHBoxLayout()
        limit_row.addWidget(QLabel("At most"))
        limit_row.addWidget(self.limit_spin)
        limit_row.addWidget(QLabel("messages a day per patient, all rules together"))
        limit_row.addStretch(1)

        self.language_combo = QComboBox()
        self.language_combo.setAccessibleName("Language for patients with none on record")
        for code in ("en", "es"):
            self.language_combo.addItem(language_name(code), code)
        language_row = QHBoxLayout()
        language_caption = QLabel("Patients with no language on record get messages in")
        language_caption.setBuddy(self.language_combo)
        language_row.addWidget(language_caption)
        language_row.addWidget(self.language_combo)
        language_row.addStretch(1)

        self.settings_status = QLabel()
        self.settings_status.setAccessibleName("Sending settings status")
        self.settings_error = error_line()
        self.settings_error.setAccessibleName("Sending settings problem")
        self.settings_error.setWordWrap(True)
        self.settings_error.hide()

        layout = QVBoxLayout(box)
        layout.addWidget(self.enabled_check)
        layout.addWidget(self.enabled_hint)
        layout.addLayout(sender_row)
        layout.addWidget(self.keep_check)
        layout.addWidget(self.keep_hint)
        layout.addLayout(limit_row)
        layout.addLayout(language_row)
        layout.addStretch(1)
        layout.addWidget(self.settings_error)
        layout.addWidget(self.settings_status)

        self.enabled_check.toggled.connect(self._enabled_toggled)
        self.claim_button.clicked.connect(self.claim_sender)
        self.keep_check.toggled.connect(self._keep_toggled)
        self.limit_spin.valueChanged.connect(lambda _v: self._settings_edited())
        self.language_combo.currentIndexChanged.connect(lambda _i: self._settings_edited())
        return box

    def _consent_section(self) -> QGroupBox:
        self.consent_combos: dict[str, QComboBox] = {}
        consent = QFormLayout()
        consent.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for purpose in DEFAULT_CONSENT:
            combo = QComboBox()
            combo.setAccessibleName(f"Consent for {PURPOSE_LABELS[purpose]}")
            for key, label in CONSENT_LABELS.items():
                combo.addItem(label, key)
            combo.currentIndexChanged.connect(lambda _i: self._settings_edited())
            self.consent_combos[purpose] = combo
            caption = QLabel(PURPOSE_LABELS[purpose] + ":")
            caption.setBuddy(combo)
            consent.addRow(caption, combo)
        consent_box = QGroupBox("Who may get messages, by reason")
        consent_box.setAccessibleName("Consent choices")
        consent_box.setLayout(consent)
        return consent_box

    def _rules_section(self) -> QGroupBox:
        box = QGroupBox("Rules")
        box.setAccessibleName("Reminder rules")
        self.table = QTableWidget(0, 4)
        self.table.setAccessibleName("Reminder rules")
        self.table.setHorizontalHeaderLabels(["On", "Name", "Kind", "Messages"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        self.table.setTabKeyNavigation(False)
        self.table.setMinimumHeight(self.fontMetrics().lineSpacing() * 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(ACTIVE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(KIND, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MESSAGES, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit_rule())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.activated.connect(lambda _index: self.edit_rule())

        self.new_button = QPushButton("New rule…")
        self.new_button.setAccessibleName("New rule")
        menu = QMenu(self.new_button)
        for kind in REMINDER_KINDS:
            action = menu.addAction(KIND_LABELS[kind])
            action.triggered.connect(lambda _checked=False, k=kind: self.new_rule(k))
        self.new_button.setMenu(menu)
        self.edit_button = QPushButton("Edit rule…")
        self.edit_button.setAccessibleName("Edit the chosen rule")
        self.edit_button.clicked.connect(self.edit_rule)
        self.texts_button = QPushButton("Edit the messages' words…")
        self.texts_button.setAccessibleName("Edit the words of the chosen rule's messages")
        self.texts_button.clicked.connect(self.edit_texts)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setAccessibleName("Pause the chosen rule")
        self.pause_button.clicked.connect(self.toggle_active)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setAccessibleName("Remove the chosen rule")
        self.remove_button.clicked.connect(self.remove_rule)
        self.rules_error = error_line()
        self.rules_error.setAccessibleName("Rules problem")
        self.rules_error.setWordWrap(True)
        self.rules_error.hide()

        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.edit_button,
            self.texts_button,
            self.pause_button,
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.rules_error)
        layout.addLayout(buttons)
        return box

    # --- filling ------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        # The ready-made rules are written the first time someone looks at them, not when
        # the Settings page is merely built (that happens at every start).
        if not self._defaults_offered:
            self._defaults_offered = True
            self.offer_default_rules()
        super().showEvent(event)

    def offer_default_rules(self) -> None:
        try:
            installed = install_default_rules(self.clinic)
        except FrontdeskError as exc:
            self._show_rules_error(str(exc))
            return
        if installed:
            self.bus.publish(Changes(frozenset({"reminder_rule", "setting"})))
            self.refresh()

    def refresh(self) -> None:
        self._loading = True
        try:
            settings = reminder_settings.load_settings(self.clinic)
            self._fill_settings(settings)
            rules = load_rules(self.clinic)
            self._fill_rules([r for r in rules if r.kind in REMINDER_KINDS])
        finally:
            self._loading = False
        self._update_buttons()

    def _fill_settings(self, settings: ReminderSettings) -> None:
        self.settings = settings
        self.enabled_check.setChecked(settings.enabled)
        self.limit_spin.setValue(settings.daily_limit)
        if self.language_combo.findData(settings.language) < 0:
            self.language_combo.addItem(language_name(settings.language), settings.language)
        self.language_combo.setCurrentIndex(self.language_combo.findData(settings.language))
        for purpose, combo in self.consent_combos.items():
            combo.setCurrentIndex(max(0, combo.findData(settings.consent_rule(purpose))))
        if not settings.enabled:
            self.enabled_hint.setText(
                "Off: messages are planned and shown in Messages, but none is sent."
            )
        else:
            self.enabled_hint.setText(
                "On: messages go out at their time from the sending computer."
            )
        this = reminder_settings.is_chosen_sender(self.clinic, settings)
        if this:
            words = "This computer sends the messages."
            if sender_lease.sync_on(self.clinic):
                turn = sender_lease.sender_turn(self.clinic)
                if not turn.holds:  # the sync server's turn decides when it starts
                    words += "\n" + turn.message
            self.sender_label.setText(words)
        elif settings.sender_device:
            self.sender_label.setText(
                "Another computer of the clinic sends the messages. This one only plans "
                "them and shows them in Messages."
            )
        else:
            self.sender_label.setText(
                "No computer has been chosen to send yet: the first one that sends takes it on."
            )
        self.claim_button.setEnabled(not this)
        self.keep_check.setChecked(keep_running_in_tray(self.clinic))
        hint = KEEP_SENDING_HINT
        if not QSystemTrayIcon.isSystemTrayAvailable():
            hint += " " + NO_TRAY_HINT
        self.keep_hint.setText(hint)

    def _fill_rules(self, rules: list[Rule]) -> None:
        selected = self.selected_rule()
        self.rules = rules
        self.table.setRowCount(len(rules))
        for row, rule in enumerate(rules):
            active = QTableWidgetItem()
            active.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
            )
            active.setCheckState(Qt.CheckState.Checked if rule.active else Qt.CheckState.Unchecked)
            active.setData(Qt.ItemDataRole.AccessibleTextRole, "On" if rule.active else "Paused")
            active.setToolTip("Untick to pause this rule")
            self.table.setItem(row, ACTIVE, active)
            name = rule.name if rule.active else f"{rule.name} (paused)"
            self.table.setItem(row, NAME, QTableWidgetItem(name))
            kind = KIND_LABELS[rule.kind]
            if rule.effective_purpose != DEFAULT_PURPOSE[rule.kind]:
                kind += f"\nReason: {PURPOSE_LABELS[rule.effective_purpose]}"
            self.table.setItem(row, KIND, QTableWidgetItem(kind))
            messages = QTableWidgetItem(touches_summary(rule))
            messages.setData(Qt.ItemDataRole.AccessibleTextRole, touches_summary(rule, "; "))
            self.table.setItem(row, MESSAGES, messages)
        self.table.resizeRowsToContents()
        if selected is not None:
            self.select_rule(selected.id)
        elif rules and self.table.currentRow() < 0:
            self.table.selectRow(0)

    # --- the sending settings -----------------------------------------------------------

    def _enabled_toggled(self, on: bool) -> None:
        if self._loading:
            return
        if on and email_settings(self.clinic) is None and sms_account(self.clinic) is None:
            self._loading = True
            self.enabled_check.setChecked(False)
            self._loading = False
            self.question.ask(
                self,
                "No email or text message account is set up yet.",
                "Without one, reminders can only be printed as letters. Set up an account "
                "first, or send letters only for now?",
                yes="Letters only for now",
                no="Set up an account first",
                then=self._turn_on_for_letters,
            )
            box = self.question.box
            if box is not None:
                box.finished.connect(lambda _r: self._maybe_go_to_accounts())
            return
        self._settings_edited()

    def _turn_on_for_letters(self) -> None:
        self._letters_only = True
        self._loading = True
        self.enabled_check.setChecked(True)
        self._loading = False
        self._settings_edited()

    def _maybe_go_to_accounts(self) -> None:
        if not self._letters_only:
            self.set_up_accounts.emit()
        self._letters_only = False

    def form_settings(self) -> ReminderSettings:
        return replace(
            self.settings,
            enabled=self.enabled_check.isChecked(),
            daily_limit=self.limit_spin.value(),
            language=str(self.language_combo.currentData()),
            consent={p: str(c.currentData()) for p, c in self.consent_combos.items()},
        )

    def _settings_edited(self) -> None:
        """Sending settings take effect when chosen, like a switch on the wall."""
        if self._loading:
            return
        settings = self.form_settings()
        try:
            changes = reminder_settings.save_settings(self.clinic, settings)
        except FrontdeskError as exc:
            self.settings_error.setText(str(exc))
            self.settings_error.show()
            return
        self.settings_error.hide()
        self.settings_status.setText("Saved.")
        self.bus.publish(changes)

    def _keep_toggled(self, keep: bool) -> None:
        """Saved at once for this computer; the tray menu reads it when it opens."""
        if self._loading:
            return
        try:
            changes = set_keep_running_in_tray(self.clinic, keep)
        except FrontdeskError as exc:
            self.settings_error.setText(str(exc))
            self.settings_error.show()
            return
        self.settings_error.hide()
        self.settings_status.setText("Saved.")
        self.bus.publish(changes)

    def claim_sender(self) -> None:
        try:
            reminder_settings.claim_sender(self.clinic)
        except FrontdeskError as exc:
            self.settings_error.setText(str(exc))
            self.settings_error.show()
            return
        self.bus.publish(Changes(frozenset({"setting"})))
        self.refresh()

    # --- the rules ----------------------------------------------------------------------

    def selected_rule(self) -> Rule | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.rules) and self.table.selectionModel().hasSelection():
            return self.rules[row]
        return None

    def select_rule(self, rule_id: str) -> None:
        for row, rule in enumerate(self.rules):
            if rule.id == rule_id:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        rule = self.selected_rule()
        for button in (self.edit_button, self.texts_button, self.pause_button, self.remove_button):
            button.setEnabled(rule is not None)
        paused = rule is not None and not rule.active
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setAccessibleName(
            "Resume the chosen rule" if paused else "Pause the chosen rule"
        )

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._loading or item.column() != ACTIVE:
            return
        rule = self.rules[item.row()]
        self._set_active(rule, item.checkState() == Qt.CheckState.Checked)

    def toggle_active(self) -> None:
        rule = self.selected_rule()
        if rule is not None:
            self._set_active(rule, not rule.active)

    def _set_active(self, rule: Rule, active: bool) -> None:
        try:
            changes = set_active(self.clinic, rule.id, active)
        except FrontdeskError as exc:
            self._show_rules_error(str(exc))
            return
        self.rules_error.hide()
        self.bus.publish(changes)
        self.refresh()
        self.select_rule(rule.id)

    def remove_rule(self) -> None:
        """Ask first: removing cannot be undone (pausing can)."""
        rule = self.selected_rule()
        if rule is None:
            return
        self.question.ask(
            self,
            f"Remove “{rule.name}”?",
            "Its messages not sent yet are cancelled; those already sent stay in Messages. "
            "To stop it for a while instead, use Pause.",
            yes="Remove",
            no="Keep it",
            then=lambda: self._remove(rule.id),
        )

    def _remove(self, rule_id: str) -> None:
        try:
            changes = delete_rule(self.clinic, rule_id)
        except FrontdeskError as exc:
            self._show_rules_error(str(exc))
            return
        self.rules_error.hide()
        self.bus.publish(changes)
        self.refresh()

    def _show_rules_error(self, message: str) -> None:
        self.rules_error.setText(message)
        self.rules_error.show()

    def new_rule(self, kind: str) -> RuleDialog:
        return self._open_dialog(_starter_rule(kind))

    def edit_rule(self) -> RuleDialog | None:
        rule = self.selected_rule()
        return None if rule is None else self._open_dialog(rule)

    def _open_dialog(self, rule: Rule) -> RuleDialog:
        dialog = RuleDialog(self.clinic, self.bus, rule, self)
        dialog.saved.connect(lambda _changes: self._rule_saved(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _rule_saved(self, dialog: RuleDialog) -> None:
        self.refresh()
        if dialog.saved_rule is not None:
            self.select_rule(dialog.saved_rule.id)

    def edit_texts(self) -> TemplateEditor | None:
        rule = self.selected_rule()
        if rule is None:
            return None
        editor = TemplateEditor(self.clinic, self.bus, rule, self)
        self.editor = editor
        editor.open()
        return editor

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches("reminder_rule", "setting"):
            self.refresh()
