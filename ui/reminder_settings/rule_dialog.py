"""The rule dialog: what one reminder rule sends, when, how, and to which patients."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Final

from PySide6.QtCore import QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.billing.ledger import parse_amount
from app.clinic import Clinic
from app.directory import locations, providers
from app.errors import InvalidInputError
from app.reminders.rules import (
    CALL_CHANNEL,
    KIND_LABELS,
    MAX_OFFSET_DAYS,
    MAX_TOUCHES,
    PRINT_FORMATS,
    PURPOSES,
    Rule,
    Touch,
    save_rule,
)
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog
from ui.reminder_settings.widgets import ChannelOrder, TickList
from ui.reminder_settings.words import (
    AFTER,
    ANCHORS,
    BEFORE,
    DIRECTION_LABELS,
    DIRECTIONS,
    ON_THE_DAY,
    PURPOSE_LABELS,
    channel_chain,
)

SAME_AS_RULE: Final = ""
TOUCH_CHANNEL_CHOICES: Final[tuple[tuple[str, ...], ...]] = (
    ("sms",),
    ("email",),
    ("letter",),
    ("sms", "email"),
    ("email", "sms"),
    ("email", "letter"),
    ("sms", "letter"),
    ("sms", "email", "letter"),
)
TIME_FORMAT: Final = "HH:mm"
CALL_LIST_WORDS: Final = "A call (on Today's call list)"
PRINT_FORMAT_LABELS: Final = {"letter": "Letter", "postcard": "Postcard"}
PRINT_FORMAT_HINTS: Final = {
    "letter": "A letter in a window envelope, as long as the message needs.",
    "postcard": "A postcard (4 × 6 in, or A6 outside the US envelope setting) holds a short "
    "message; the words' preview says when a message is too long for one.",
}
NO_LETTERS_HINT: Final = "This rule sends no letters. Choose Letter as a way of sending to pick."
BILLING_PRINT_HINT: Final = (
    "Billing notices print as statements: the open charges and payments, the balance and "
    "how to pay."
)

# Words of the rule checks (app/reminders/rules.check_rule) → the part of the form they
# are about, so the reason shows under that part.
_FIELD_WORDS: Final = (
    ("Message ", "touches"),
    ("A rule needs at least one message", "touches"),
    ("A rule can have at most", "touches"),
    ("falls in the quiet hours", "touches"),
    ("name", "name"),
    ("reason for this message", "purpose"),
    ("way of sending", "channels"),
    ("Ways of sending", "channels"),
    ("sent late", "window"),
    ("recall comes", "recall_months"),
    ("smallest balance", "min_balance"),
    ("print as letters or postcards", "print_format"),
)


def _qtime(moment: time) -> QTime:
    return QTime(moment.hour, moment.minute)


def _time(moment: QTime) -> time:
    return time(moment.hour(), moment.minute())


def appointment_kinds(clinic: Clinic) -> list[str]:
    """The kinds of visit the clinic books (checkup, cleaning…), for the rule filters."""
    rows = clinic.conn.execute(
        "SELECT DISTINCT kind FROM appointment WHERE kind != '' ORDER BY kind"
    ).fetchall()
    return [str(r[0]) for r in rows]


class TouchRow(QWidget):
    """One message of the rule: how many days from the anchor, at what time, by what."""

    edited = Signal()
    remove_requested = Signal(object)

    def __init__(self, kind: str, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.days = QSpinBox()
        self.days.setRange(1, MAX_OFFSET_DAYS)
        self.direction = QComboBox()
        for direction in DIRECTIONS[kind]:
            self.direction.addItem(DIRECTION_LABELS[direction], direction)
        anchor = QLabel(ANCHORS[kind] + ",")
        self.at = QTimeEdit()
        self.at.setDisplayFormat(TIME_FORMAT)
        self.channels = QComboBox()
        self.channels.addItem("the rule's ways", SAME_AS_RULE)
        for choice in TOUCH_CHANNEL_CHOICES:
            self.channels.addItem(channel_chain(choice).capitalize(), ",".join(choice))
        if kind == "reactivation":  # this step puts the patient on Today's call list
            self.channels.addItem(CALL_LIST_WORDS, CALL_CHANNEL)
        self.confirm = QCheckBox("Ask to reply C to confirm")
        self.confirm.setVisible(kind == "appointment")
        self.remove = QPushButton("Remove")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        at_label = QLabel("at")
        by_label = QLabel("by")
        for widget in (
            self.days,
            self.direction,
            anchor,
            at_label,
            self.at,
            by_label,
            self.channels,
            self.confirm,
            self.remove,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.renumber(number)

        self.days.valueChanged.connect(lambda _v: self.edited.emit())
        self.direction.currentIndexChanged.connect(self._direction_changed)
        self.at.timeChanged.connect(lambda _t: self.edited.emit())
        self.channels.currentIndexChanged.connect(lambda _i: self.edited.emit())
        self.confirm.toggled.connect(lambda _on: self.edited.emit())
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))

    def renumber(self, number: int) -> None:
        self.number = number
        words = f"Message {number}"
        self.setAccessibleName(words)
        self.days.setAccessibleName(f"{words}: number of days")
        self.direction.setAccessibleName(f"{words}: before, on or after {ANCHORS[self.kind]}")
        self.at.setAccessibleName(f"{words}: time of day")
        self.channels.setAccessibleName(f"{words}: how to send")
        self.confirm.setAccessibleName(f"{words}: ask to reply C to confirm")
        self.remove.setAccessibleName(f"Remove message {number}")

    def _direction_changed(self, _index: int) -> None:
        self.days.setEnabled(self.direction.currentData() != ON_THE_DAY)
        self.edited.emit()

    def set_touch(self, touch: Touch) -> None:
        direction = ON_THE_DAY if touch.days == 0 else BEFORE if touch.days < 0 else AFTER
        index = self.direction.findData(direction)
        if index < 0:  # a stored touch this kind does not offer: keep it visible as-is
            self.direction.addItem(DIRECTION_LABELS[direction], direction)
            index = self.direction.count() - 1
        self.direction.setCurrentIndex(index)
        self.days.setValue(max(1, abs(touch.days)))
        self.days.setEnabled(direction != ON_THE_DAY)
        self.at.setTime(_qtime(touch.at))
        key = ",".join(touch.channels)
        found = self.channels.findData(key)
        if found < 0:
            self.channels.addItem(channel_chain(touch.channels).capitalize(), key)
            found = self.channels.count() - 1
        self.channels.setCurrentIndex(found)
        self.confirm.setChecked(touch.ask_to_confirm)

    def touch(self) -> Touch:
        direction = self.direction.currentData()
        days = 0 if direction == ON_THE_DAY else self.days.value()
        if direction == BEFORE:
            days = -days
        key = str(self.channels.currentData())
        return Touch(
            days=days,
            at=_time(self.at.time()),
            channels=tuple(key.split(",")) if key else (),
            ask_to_confirm=self.confirm.isChecked() and self.kind == "appointment",
        )


class TouchList(QWidget):
    """The rule's messages, one row each, with a button to add another."""

    edited = Signal()

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setAccessibleName("Messages of this rule")
        self.rows: list[TouchRow] = []
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self.add_button = QPushButton("Add a message")
        self.add_button.setAccessibleName("Add a message")
        self.add_button.clicked.connect(self.add_new)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        self._column.addLayout(buttons)

    def set_touches(self, touches: tuple[Touch, ...]) -> None:
        for row in list(self.rows):
            self._drop(row)
        for touch in sorted(touches, key=lambda t: t.days):
            self._add(touch)
        self._update()

    def add_new(self) -> None:
        """A new message a day after the last one (or before, for appointments)."""
        days = [row.touch().days for row in self.rows]
        last = min(days, default=1) - 1 if self.kind == "appointment" else None
        new = last if last is not None else max(days, default=0) + 1
        row = self._add(Touch(days=new, at=time(10, 0)))
        self._update()
        row.days.setFocus()
        self.edited.emit()

    def _add(self, touch: Touch) -> TouchRow:
        row = TouchRow(self.kind, len(self.rows) + 1)
        row.set_touch(touch)
        row.edited.connect(self.edited.emit)
        row.remove_requested.connect(self._remove)
        self._column.insertWidget(len(self.rows), row)
        self.rows.append(row)
        return row

    def _remove(self, row: TouchRow) -> None:
        self._drop(row)
        self._update()
        self.add_button.setFocus()
        self.edited.emit()

    def _drop(self, row: TouchRow) -> None:
        self.rows.remove(row)
        self._column.removeWidget(row)
        row.hide()
        row.deleteLater()

    def _update(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            row.renumber(number)
            row.remove.setEnabled(len(self.rows) > 1)
        self.add_button.setEnabled(len(self.rows) < MAX_TOUCHES)
        # Tab goes along each row, then down to the next, then to "Add a message".
        previous: QWidget | None = None
        for row in self.rows:
            for widget in (row.days, row.direction, row.at, row.channels, row.confirm, row.remove):
                if previous is not None:
                    QWidget.setTabOrder(previous, widget)
                previous = widget
        if previous is not None:
            QWidget.setTabOrder(previous, self.add_button)

    def touches(self) -> tuple[Touch, ...]:
        return tuple(row.touch() for row in self.rows)


class RuleDialog(FormDialog):
    """Create or edit one rule; a new rule's kind is chosen before, and never changes."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        rule: Rule,
        parent: QWidget | None = None,
    ) -> None:
        title = f"Edit “{rule.name}”" if rule.id else f"New {KIND_LABELS[rule.kind].lower()} rule"
        super().__init__(clinic, bus, title, parent)
        self.rule = rule
        self.saved_rule: Rule | None = None
        kind = rule.kind

        self.name_edit = QLineEdit()
        self.add_field("&Name:", self.name_edit, "name")
        kind_label = QLabel(KIND_LABELS[kind])
        kind_label.setAccessibleName(f"Kind of rule: {KIND_LABELS[kind]}")
        self.form.addRow("Kind:", kind_label)
        self.purpose_combo = QComboBox()
        for purpose in PURPOSES:
            self.purpose_combo.addItem(PURPOSE_LABELS[purpose], purpose)
        self.add_field(
            "&Reason (for consent):",
            self.purpose_combo,
            "purpose",
            hint="Patients say yes or no to messages for each reason; see the consent choices.",
        )

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Parts of the rule")
        self.content.addWidget(self.tabs)
        messages_form = self._tab("Messages")
        self.channel_order = ChannelOrder()
        self.add_field(
            "Ways of sending:",
            self.channel_order,
            "channels",
            hint="Frontdesk uses the first way the patient can get and has agreed to.",
            form=messages_form,
        )
        self.touch_list = TouchList(kind)
        self.add_field("Messages:", self.touch_list, "touches", form=messages_form)
        # Billing notices always print as statements, so they get words, not a choice.
        self.print_format_combo = QComboBox()
        for print_format in PRINT_FORMATS:
            self.print_format_combo.addItem(PRINT_FORMAT_LABELS[print_format], print_format)
        if kind == "billing":
            statements = QLabel("Statements")
            statements.setAccessibleName("Letters print as statements")
            self.add_field(
                "Letters print as:", statements, "print_format", BILLING_PRINT_HINT, messages_form
            )
        else:
            self.add_field(
                "Letters print &as:", self.print_format_combo, "print_format", form=messages_form
            )

        timing_form = self._tab("Timing")
        self.window_spin = QSpinBox()
        self.window_spin.setRange(1, 24 * 14)
        self.window_spin.setSuffix(" hours")
        self.add_field(
            "Send &late by up to:",
            self.window_spin,
            "window",
            hint="When the computer was off at the time, a message is sent this much later "
            "at most; older ones are skipped, with the reason shown in Messages.",
            form=timing_form,
        )
        quiet = QWidget()
        quiet.setAccessibleName("Quiet hours")
        quiet_row = QHBoxLayout(quiet)
        quiet_row.setContentsMargins(0, 0, 0, 0)
        self.quiet_start = QTimeEdit()
        self.quiet_start.setDisplayFormat(TIME_FORMAT)
        self.quiet_start.setAccessibleName("Quiet hours start")
        self.quiet_end = QTimeEdit()
        self.quiet_end.setDisplayFormat(TIME_FORMAT)
        self.quiet_end.setAccessibleName("Quiet hours end")
        quiet_row.addWidget(QLabel("from"))
        quiet_row.addWidget(self.quiet_start)
        quiet_row.addWidget(QLabel("to"))
        quiet_row.addWidget(self.quiet_end)
        quiet_row.addStretch(1)
        self.add_field(
            "No texts or emails:",
            quiet,
            "quiet",
            hint="A message due in these hours waits until they end. The same time twice "
            "means no quiet hours. Letters are not affected.",
            form=timing_form,
        )

        self.kinds_list = TickList("Kinds of visit")
        self.providers_list = TickList("Providers")
        self.locations_list = TickList("Locations")
        self.recall_months = QSpinBox()
        self.recall_months.setRange(1, 120)
        self.recall_months.setSuffix(" months")
        self.recall_kinds = TickList("Visits that count for the recall")
        self.min_balance = QLineEdit()
        if kind in ("appointment", "no_show", "recall", "billing"):
            who_form = self._tab("Which patients")
            if kind in ("appointment", "no_show"):
                filters = QWidget()
                filters.setAccessibleName("Which visits")
                columns = QHBoxLayout(filters)
                columns.setContentsMargins(0, 0, 0, 0)
                for caption_text, ticks in (
                    ("&Kinds of visit", self.kinds_list),
                    ("&Providers", self.providers_list),
                    ("L&ocations", self.locations_list),
                ):
                    column = QVBoxLayout()
                    caption = QLabel(caption_text)
                    caption.setBuddy(ticks)
                    column.addWidget(caption)
                    column.addWidget(ticks)
                    columns.addLayout(column, 1)
                self.add_field(
                    "Only visits with:",
                    filters,
                    "filters",
                    "Tick none in a list to include all of that list.",
                    who_form,
                )
            elif kind == "recall":
                self.add_field(
                    "Due again after:",
                    self.recall_months,
                    "recall_months",
                    "Counted from the patient's last completed visit.",
                    who_form,
                )
                self.add_field(
                    "Visits that count:",
                    self.recall_kinds,
                    "recall_kinds",
                    "Tick none to count every completed visit.",
                    who_form,
                )
            else:
                self.add_field(
                    "Smallest balance:",
                    self.min_balance,
                    "min_balance",
                    "Patients who owe less get no notice.",
                    who_form,
                )

        self.touch_list.edited.connect(lambda: self._edited("touches"))
        self.channel_order.edited.connect(lambda: self._edited("channels"))
        self.touch_list.edited.connect(self._update_print_format)
        self.channel_order.edited.connect(self._update_print_format)
        self.print_format_combo.currentIndexChanged.connect(lambda _i: self._update_print_format())
        for ticks in (self.kinds_list, self.providers_list, self.locations_list, self.recall_kinds):
            ticks.edited.connect(self.mark_dirty)
        self.save_button.setText("Save rule")
        self._fill(rule)
        self.mark_clean()
        wide = max(self.sizeHint().width(), self.fontMetrics().averageCharWidth() * 140)
        self.resize(wide, self.sizeHint().height())

    def _tab(self, title: str) -> QFormLayout:
        page = QWidget()
        page.setAccessibleName(title)
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.tabs.addTab(page, title)
        return form

    def _fill(self, rule: Rule) -> None:
        self.name_edit.setText(rule.name)
        self.purpose_combo.setCurrentIndex(
            max(0, self.purpose_combo.findData(rule.effective_purpose))
        )
        self.channel_order.set_channels(rule.channels)
        self.touch_list.set_touches(rule.touches)
        self.window_spin.setValue(rule.window_hours)
        self.quiet_start.setTime(_qtime(rule.quiet_start))
        self.quiet_end.setTime(_qtime(rule.quiet_end))
        kinds = appointment_kinds(self.clinic)
        self.kinds_list.fill(((k, k) for k in kinds), rule.appointment_kinds)
        self.providers_list.fill(
            ((p.id, p.display_name) for p in providers(self.clinic)), rule.provider_ids
        )
        self.locations_list.fill(
            ((loc.id, loc.name) for loc in locations(self.clinic)), rule.location_ids
        )
        self.recall_months.setValue(rule.recall_months)
        self.recall_kinds.fill(((k, k) for k in kinds), rule.recall_visit_kinds)
        self.min_balance.setText(f"{rule.min_balance_cents / 100:.2f}")
        self.print_format_combo.setCurrentIndex(
            max(0, self.print_format_combo.findData(rule.print_format))
        )
        self._update_print_format()

    def can_send_letters(self) -> bool:
        """Whether the rule as shown now could send a letter: by its ways or a message's."""
        rule_ways = self.channel_order.channels()
        return any(
            "letter" in (touch.channels or rule_ways) for touch in self.touch_list.touches()
        ) or ("letter" in rule_ways and not self.touch_list.rows)

    def _update_print_format(self) -> None:
        """The choice only matters when the rule can send a letter; say why it is off."""
        if self.rule.kind == "billing":
            return
        letters = self.can_send_letters()
        self.print_format_combo.setEnabled(letters)
        chosen = str(self.print_format_combo.currentData())
        self.set_hint("print_format", PRINT_FORMAT_HINTS[chosen] if letters else NO_LETTERS_HINT)

    def edited_rule(self) -> Rule:
        """The rule as the form shows it now (not checked yet)."""
        rule = self.rule
        min_balance = rule.min_balance_cents
        if rule.kind == "billing":
            try:
                min_balance = parse_amount(self.min_balance.text())
            except InvalidInputError as exc:
                raise FieldError("min_balance", str(exc)) from None
        return replace(
            rule,
            name=self.name_edit.text(),
            purpose=str(self.purpose_combo.currentData()),
            channels=self.channel_order.channels(),
            touches=self.touch_list.touches(),
            window_hours=self.window_spin.value(),
            quiet_start=_time(self.quiet_start.time()),
            quiet_end=_time(self.quiet_end.time()),
            appointment_kinds=self.kinds_list.ticked(),
            provider_ids=self.providers_list.ticked(),
            location_ids=self.locations_list.ticked(),
            recall_months=self.recall_months.value(),
            recall_visit_kinds=self.recall_kinds.ticked(),
            min_balance_cents=min_balance,
            print_format=self._print_format(),
        )

    def _print_format(self) -> str:
        """The choice; a rule that sends no letters (or bills) keeps what it had."""
        if self.rule.kind == "billing" or not self.print_format_combo.isEnabled():
            return self.rule.print_format
        return str(self.print_format_combo.currentData())

    def _save(self) -> Changes:
        self.saved_rule = save_rule(self.clinic, self.edited_rule())
        return Changes(frozenset({"reminder_rule"}))

    def _field_for(self, error: InvalidInputError) -> str | None:
        text = str(error)
        for words, field in _FIELD_WORDS:
            if words in text:
                return field
        return None

    def report(self, exc: BaseException) -> None:
        super().report(exc)
        # A reason on a tab not shown would go unseen: show the first tab with one.
        for index in range(self.tabs.count()):
            page = self.tabs.widget(index)
            if page is not None and any(page.isAncestorOf(w) for w in self.error_widgets()):
                self.tabs.setCurrentIndex(index)
                self._focus_first_error()
                break
