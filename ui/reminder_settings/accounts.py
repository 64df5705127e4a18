"""Settings ▸ Email and text messages: the clinic's mail server and SMS account, with a test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, InvalidInputError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.patients.validation import normalize_email, normalize_phone
from app.reminders import accounts
from app.reminders.email_channel import OutgoingEmail, SmtpSettings, send_email
from app.reminders.sender import ChannelProblem, channel_problems
from app.reminders.sms_channel import SmsAccount, SmsClient
from app.store.changes import Changes
from ui.bus import DataBus
from ui.ops import Op, report_unexpected
from ui.theme import ToneLabel, css, error_line, hint_line

log = logging.getLogger(__name__)

TWILIO_URL: Final = "https://api.twilio.com"
SECURITY_LABELS: Final = {
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS from the start (usually port 465)",
    "none": "None: only for a server inside the clinic",
}
USUAL_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
TestWork = Callable[[Progress, CancelToken], str]

# Words of the channels' setting checks → the field they are about.
_EMAIL_FIELDS: Final = (
    ("address for replies", "reply_to"),
    ("server name", "host"),
    ("port", "port"),
    ("unencrypted", "security"),
    ("how to connect", "security"),
    ("sender address", "sender_address"),
)
_SMS_FIELDS: Final = (
    ("SID and token", "account_sid"),
    ("sender", "sender"),
    ("service address", "base_url"),
)


def last_problem(clinic: Clinic, channel: str) -> ChannelProblem | None:
    """The last whole-channel problem the sender recorded; gone after its next success."""
    problem = channel_problems(clinic).get(channel)
    return problem if problem is not None and problem.reason else None


def problem_text(problem: ChannelProblem, zone: ZoneInfo) -> str:
    try:
        when = datetime.fromisoformat(problem.at.replace("Z", "+00:00")).astimezone(zone)
    except ValueError:
        return f"Last problem: {problem.reason}"
    return f"Last problem: {problem.reason} ({when:%d %b %Y %H:%M})"


class _AccountForm(QGroupBox):
    """A form with an error line under each field, Save, a status, and a test send."""

    def __init__(self, title: str, tab: AccountsTab) -> None:
        super().__init__(title)
        self.setAccessibleName(title)
        self.tab = tab
        self.clinic = tab.clinic
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.errors: dict[str, QLabel] = {}
        self.widgets: dict[str, QWidget] = {}
        self.save_button = QPushButton("Save")
        self.status = ToneLabel(tone="ok")
        self.status.setWordWrap(True)
        self.problem_label = ToneLabel(tone="warning", bold=True)
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        self.test_edit = QLineEdit()
        self.test_button = QPushButton("Send a test message")
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.op: Op[str] | None = None
        self._saved: object = None

    def add(self, label: str, name: str, widget: QWidget, hint: str = "") -> None:
        words = label.replace("&", "").rstrip(":")
        if not widget.accessibleName():
            widget.setAccessibleName(words)
        caption = QLabel(label)
        caption.setBuddy(widget)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if hint:
            note = hint_line(hint)
            note.setWordWrap(True)
            note.setAccessibleName(f"{words} hint")
            column.addWidget(note)
        error = error_line()
        error.setWordWrap(True)
        error.setAccessibleName(f"{words} problem")
        error.hide()
        column.addWidget(error)
        self.form.addRow(caption, holder)
        self.errors[name] = error
        self.widgets[name] = widget

    def finish(self, test_label: str) -> None:
        self.general_error = error_line()
        self.general_error.setWordWrap(True)
        self.general_error.setAccessibleName(f"{self.title()} problem")
        self.general_error.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.status, 1)
        test_row = QHBoxLayout()
        caption = QLabel(test_label)
        caption.setBuddy(self.test_edit)
        test_row.addWidget(caption)
        test_row.addWidget(self.test_edit, 1)
        test_row.addWidget(self.test_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.problem_label)
        layout.addLayout(self.form)
        layout.addWidget(self.general_error)
        layout.addLayout(buttons)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.send_test)
        self.test_edit.returnPressed.connect(self.send_test)
        for widget in self.widgets.values():
            if isinstance(widget, QLineEdit):
                widget.textChanged.connect(lambda _t: self._edited())
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(lambda _i: self._edited())
            elif isinstance(widget, QSpinBox):
                widget.valueChanged.connect(lambda _v: self._edited())

    # subclasses
    def values(self) -> object:
        raise NotImplementedError

    def _store(self, values: object) -> Changes:
        raise NotImplementedError

    def _field_words(self) -> tuple[tuple[str, str], ...]:
        raise NotImplementedError

    def _test(self) -> tuple[str, TestWork] | None:
        """(title, work) of the test send, or None when the address typed is refused."""
        raise NotImplementedError

    # shared
    def has_unsaved_changes(self) -> bool:
        return self.values() != self._saved

    def _edited(self) -> None:
        self.status.clear()
        self.clear_errors()
        self.save_button.setEnabled(self.has_unsaved_changes())

    def clear_errors(self) -> None:
        for name, error in self.errors.items():
            error.hide()
            self.widgets[name].setAccessibleDescription("")
        self.general_error.hide()

    def show_error(self, message: str) -> None:
        for words, name in self._field_words():
            if words in message:
                self.errors[name].setText(message)
                self.errors[name].show()
                self.widgets[name].setAccessibleDescription(message)
                self.widgets[name].setFocus(Qt.FocusReason.OtherFocusReason)
                return
        self.general_error.setText(message)
        self.general_error.show()

    def save(self) -> bool:
        self.clear_errors()
        values = self.values()
        try:
            changes = self._store(values)
        except FrontdeskError as exc:
            self.show_error(str(exc))
            self.status.clear()
            return False
        self._saved = values
        self.tab.bus.publish(changes)
        self.status.setText("Saved.")
        self.save_button.setEnabled(False)
        return True

    def set_test_result(self, message: str, *, ok: bool) -> None:
        sheet = f"color: {css('ok')};" if ok else f"color: {css('danger')}; font-weight: 600;"
        self.test_result.setStyleSheet(sheet)
        self.test_result.setText(message)

    def send_test(self) -> Op[str] | None:
        """Send one test message in the background; the window stays usable."""
        if self.op is not None:
            return self.op
        self.clear_errors()
        try:
            prepared = self._test()
        except FrontdeskError as exc:
            self.set_test_result(str(exc), ok=False)
            return None
        if prepared is None:
            return None
        title, work = prepared
        self.set_test_result("Sending…", ok=True)
        self.test_button.setEnabled(False)
        op: Op[str] = Op(self, title, work)
        op.success(self._test_sent).failure(self._test_failed)
        self.op = op
        op.run_in_background()
        return op

    def _test_sent(self, result: str) -> None:
        self.op = None
        self.test_button.setEnabled(True)
        self.set_test_result(result, ok=True)

    def _test_failed(self, exc: BaseException) -> None:
        self.op = None
        self.test_button.setEnabled(True)
        if isinstance(exc, OperationCancelledError):
            self.set_test_result("Test cancelled.", ok=False)
        elif isinstance(exc, FrontdeskError):
            self.set_test_result(f"The test did not go: {exc}", ok=False)
        else:
            self.set_test_result("The test did not go: something unexpected happened.", ok=False)
            report_unexpected(self, exc)

    def show_problem(self, problem: ChannelProblem | None) -> None:
        zone = ZoneInfo(self.clinic.settings.timezone)
        self.problem_label.setText(problem_text(problem, zone) if problem else "")
        self.problem_label.setVisible(problem is not None)


class EmailForm(_AccountForm):
    def __init__(self, tab: AccountsTab) -> None:
        super().__init__("Email", tab)
        self.host = QLineEdit()
        self.host.setPlaceholderText("smtp.example.com")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(587)
        self.security = QComboBox()
        for key, label in SECURITY_LABELS.items():
            self.security.addItem(label, key)
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.sender_address = QLineEdit()
        self.sender_address.setPlaceholderText("reception@your-clinic.example")
        self.sender_name = QLineEdit()
        self.reply_to = QLineEdit()
        self.reply_to.setPlaceholderText("Leave empty for the sender address")
        self.add("Mail &server:", "host", self.host)
        self.add("&Port:", "port", self.port)
        self.add("&Encryption:", "security", self.security)
        self.add("&User name:", "username", self.username, "Leave empty if the server needs none.")
        self.add("Pass&word:", "password", self.password)
        self.add("Sender a&ddress:", "sender_address", self.sender_address)
        self.add(
            "Sender &name:", "sender_name", self.sender_name, "Shown to patients as the sender."
        )
        self.add(
            "Rep&lies go to:",
            "reply_to",
            self.reply_to,
            "When a patient answers an email, the answer goes to this address. Leave it "
            "empty to get answers at the sender address.",
        )
        self.save_button.setText("Save email settings")
        self.save_button.setAccessibleName("Save email settings")
        self.test_edit.setAccessibleName("Send a test email to")
        self.test_button.setText("Send a test email")
        self.test_button.setAccessibleName("Send a test email")
        self.test_result.setAccessibleName("Test email result")
        self.problem_label.setAccessibleName("Last email problem")
        self.finish("Test to:")
        self._timeout = SmtpSettings(host="", port=587, security="starttls").timeout_s
        self.security.currentIndexChanged.connect(self._security_changed)

    def _security_changed(self, _index: int) -> None:
        # The usual port follows the encryption, unless someone typed another one.
        if self.port.value() in USUAL_PORTS.values():
            self.port.setValue(USUAL_PORTS[str(self.security.currentData())])

    def fill(self, settings: SmtpSettings | None) -> None:
        current = settings or SmtpSettings(host="", port=587, security="starttls")
        self.security.blockSignals(True)
        self.security.setCurrentIndex(max(0, self.security.findData(current.security)))
        self.security.blockSignals(False)
        self.host.setText(current.host)
        self.port.setValue(current.port)
        self.username.setText(current.username)
        self.password.setText(current.password)
        self.sender_address.setText(current.sender_address)
        self.sender_name.setText(current.sender_name or self.clinic.settings.name)
        self.reply_to.setText(current.reply_to)
        self._timeout = current.timeout_s
        self._saved = self.values() if settings is not None else None
        if not self.test_edit.text():
            self.test_edit.setText(current.sender_address)
        self._edited()

    def values(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.host.text().strip(),
            port=self.port.value(),
            security=str(self.security.currentData()),
            username=self.username.text().strip(),
            password=self.password.text(),
            sender_address=self.sender_address.text().strip(),
            sender_name=self.sender_name.text().strip(),
            timeout_s=self._timeout,
            reply_to=self.reply_to.text().strip(),
        )

    def has_unsaved_changes(self) -> bool:
        values = self.values()
        if self._saved is None:  # nothing saved yet: only typing counts
            return bool(values.host or values.sender_address or values.username)
        return values != self._saved

    def _store(self, values: object) -> Changes:
        assert isinstance(values, SmtpSettings)
        return accounts.save_email_settings(self.clinic, values)

    def _field_words(self) -> tuple[tuple[str, str], ...]:
        return _EMAIL_FIELDS

    def _test(self) -> tuple[str, TestWork] | None:
        try:
            to = normalize_email(self.test_edit.text())
        except InvalidInputError as exc:
            self.set_test_result(str(exc), ok=False)
            return None
        settings = self.values()
        clinic_name = self.clinic.settings.name
        email = OutgoingEmail(
            to=to,
            subject=f"Test message from {clinic_name}",
            text=(
                f"This is a test message from Frontdesk for {clinic_name}.\n\n"
                "It arrived, so email reminders can be sent with these settings.\n"
            ),
        )

        def work(_progress: Progress, cancel: CancelToken) -> str:
            cancel.raise_if_cancelled()
            send_email(settings, email)
            return f"The test email was handed to the mail server for {to}. Check that it arrived."

        return "Sending a test email", work


class SmsForm(_AccountForm):
    def __init__(self, tab: AccountsTab) -> None:
        super().__init__("Text messages (SMS)", tab)
        self.account_sid = QLineEdit()
        self.account_sid.setPlaceholderText("AC…")
        self.auth_token = QLineEdit()
        self.auth_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.sender_edit = QLineEdit()
        self.sender_edit.setPlaceholderText("+15555550123 or MG…")
        self.base_url = QLineEdit()
        self.add("Account S&ID:", "account_sid", self.account_sid)
        self.add("Auth to&ken:", "auth_token", self.auth_token)
        self.add(
            "Sende&r:",
            "sender",
            self.sender_edit,
            "The clinic's SMS number (+1…) or a messaging service (MG…).",
        )
        self.add(
            "Servi&ce address:",
            "base_url",
            self.base_url,
            f"{TWILIO_URL} for Twilio; another address for a service that works the same way.",
        )
        self.save_button.setText("Save text message settings")
        self.save_button.setAccessibleName("Save text message settings")
        self.test_edit.setAccessibleName("Send a test text to")
        self.test_edit.setPlaceholderText("A mobile number")
        self.test_button.setText("Send a test text")
        self.test_button.setAccessibleName("Send a test text")
        self.test_result.setAccessibleName("Test text result")
        self.problem_label.setAccessibleName("Last text message problem")
        self.finish("Test to:")
        self._kept = SmsAccount(account_sid="", auth_token="", sender="")

    def fill(self, account: SmsAccount | None) -> None:
        current = account or SmsAccount(account_sid="", auth_token="", sender="")
        self._kept = current
        self.account_sid.setText(current.account_sid)
        self.auth_token.setText(current.auth_token)
        self.sender_edit.setText(current.sender)
        self.base_url.setText(current.base_url or TWILIO_URL)
        self._saved = self.values() if account is not None else None
        self._edited()

    def values(self) -> SmsAccount:
        return SmsAccount(
            account_sid=self.account_sid.text().strip(),
            auth_token=self.auth_token.text().strip(),
            sender=self.sender_edit.text().strip(),
            base_url=self.base_url.text().strip() or TWILIO_URL,
            timeout_s=self._kept.timeout_s,
            max_attempts=self._kept.max_attempts,
        )

    def has_unsaved_changes(self) -> bool:
        values = self.values()
        if self._saved is None:  # nothing saved yet: only typing counts
            return bool(values.account_sid or values.auth_token or values.sender)
        return values != self._saved

    def _store(self, values: object) -> Changes:
        assert isinstance(values, SmsAccount)
        return accounts.save_sms_account(self.clinic, values)

    def _field_words(self) -> tuple[tuple[str, str], ...]:
        return _SMS_FIELDS

    def _test(self) -> tuple[str, TestWork] | None:
        try:
            to = normalize_phone(self.test_edit.text(), self.clinic.settings.region)
        except InvalidInputError as exc:
            self.set_test_result(str(exc), ok=False)
            return None
        account = self.values()
        client = SmsClient(account)  # refuses an account that can never work, at once
        body = f"Test message from {self.clinic.settings.name} (Frontdesk). No need to reply."
        key = f"frontdesk-test-{uuid.uuid4().hex}"

        def work(_progress: Progress, cancel: CancelToken) -> str:
            with client:
                cancel.raise_if_cancelled()
                client.send(to, body, key=key)
            return "The SMS service took the test text. Check that it arrived on the phone."

        return "Sending a test text", work


class AccountsTab(QWidget):
    """The "Email and text messages" tab of Settings (clinic, bus; refresh())."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Email and text messages")
        intro = hint_line(
            "The accounts the clinic's reminders are sent with. The password and token are "
            "kept only in the clinic's encrypted data."
        )
        intro.setWordWrap(True)
        self.email = EmailForm(self)
        self.sms = SmsForm(self)
        columns = QHBoxLayout()
        columns.addWidget(self.email, 1)
        columns.addWidget(self.sms, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(columns)
        layout.addStretch(1)
        self.email.fill(accounts.email_settings(clinic))
        self.sms.fill(accounts.sms_account(clinic))
        self.show_problems()
        bus.changed.connect(self._on_changes)

    def has_unsaved_changes(self) -> bool:
        return self.email.has_unsaved_changes() or self.sms.has_unsaved_changes()

    def save(self) -> bool:
        ok = True
        for form in (self.email, self.sms):
            if form.has_unsaved_changes():
                ok = form.save() and ok
        return ok

    def discard(self) -> None:
        self.email.fill(accounts.email_settings(self.clinic))
        self.sms.fill(accounts.sms_account(self.clinic))

    def show_problems(self) -> None:
        self.email.show_problem(last_problem(self.clinic, "email"))
        self.sms.show_problem(last_problem(self.clinic, "sms"))

    def refresh(self) -> None:
        """Saved elsewhere: shown unless the person is editing that form."""
        if not self.email.has_unsaved_changes():
            self.email.fill(accounts.email_settings(self.clinic))
        if not self.sms.has_unsaved_changes():
            self.sms.fill(accounts.sms_account(self.clinic))
        self.show_problems()

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.show_problems()
