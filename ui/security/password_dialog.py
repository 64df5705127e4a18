"""A new sign-in password typed twice with its strength meter, and the dialog in which
the person signed in changes their own password."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.security import accounts
from app.security.passwords import MIN_PASSWORD_LENGTH, password_strength
from app.store.passphrase_strength import FAIR, STRONG
from app.users import get_user
from ui.theme import ColorName
from ui.unlock import error_label, hint_label, meter_style, show_error

ADVICE = (
    f"At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words are strong and easy "
    "to remember; no need for symbols."
)
_TONES: dict[str, ColorName] = {STRONG: "ok", FAIR: "warning"}


class PasswordFields(QWidget):
    """A new password and the same again, judged live by the core's own check."""

    def __init__(self, what: str = "New password", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context: tuple[str, ...] = ()
        self._tone: ColorName = "danger"
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(what)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName(f"{what} again")
        self.show_text = QPushButton("Show")
        self.show_text.setCheckable(True)
        self.show_text.setAutoDefault(False)
        self.show_text.setAccessibleName("Show the password while typing")
        self.show_text.toggled.connect(self._show_toggled)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setAccessibleName("Password strength")
        self.reason = hint_label(ADVICE)
        self.reason.setAccessibleName("Password strength reason")
        self.password_error = error_label("Password problem")
        self.repeat_error = error_label("Password again problem")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        typed = QHBoxLayout()
        typed.addWidget(self.password, 1)
        typed.addWidget(self.show_text)
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addLayout(typed)
        column.addWidget(self.meter)
        column.addWidget(self.reason)
        column.addWidget(self.password_error)
        label = QLabel(f"{what}:")
        label.setBuddy(self.password)
        form.addRow(label, column)
        again = QLabel("Again:")
        again.setBuddy(self.repeat)
        column_again = QVBoxLayout()
        column_again.setSpacing(2)
        column_again.addWidget(self.repeat)
        column_again.addWidget(self.repeat_error)
        form.addRow(again, column_again)
        QWidget.setTabOrder(self.password, self.repeat)
        QWidget.setTabOrder(self.repeat, self.show_text)
        self.password.textChanged.connect(self._judge)
        self.repeat.textChanged.connect(lambda _t: show_error(self.repeat_error, ""))
        self._judge("")

    def set_context(self, words: Sequence[str]) -> None:
        self._context = tuple(w for w in words if w.strip())
        self._judge(self.password.text())

    def clear(self) -> None:
        self.password.clear()
        self.repeat.clear()
        show_error(self.repeat_error, "")

    def _show_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.password.setEchoMode(mode)
        self.repeat.setEchoMode(mode)
        self.show_text.setText("Hide" if shown else "Show")

    def _judge(self, text: str) -> None:
        show_error(self.password_error, "")
        self.reason.show()
        # Empty, the bar would look like one more field to fill: it shows once typing starts.
        self.meter.setVisible(bool(text))
        if not text:
            self.meter.setValue(0)
            self.meter.setFormat("")
            self.reason.setText(ADVICE)
            self._style("danger")
            return
        verdict = password_strength(text, self._context)
        self.meter.setValue(round(verdict.meter * 100))
        self.meter.setFormat(verdict.label)
        self.meter.setAccessibleDescription(f"{verdict.label}. {verdict.reason}")
        self.reason.setText(verdict.reason)
        self._style(_TONES.get(verdict.label, "danger"))

    def _style(self, tone: ColorName) -> None:
        self._tone = tone
        self.meter.setStyleSheet(meter_style(tone, QGuiApplication.palette()))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style(self._tone)
        super().changeEvent(event)

    def chosen(self) -> str | None:
        """The password when strong enough and typed the same twice; else the reason shows
        next to its field, which gets the focus, and None comes back."""
        text = self.password.text()
        verdict = password_strength(text, self._context)
        if not verdict.accepted:
            self.reason.hide()
            show_error(self.password_error, verdict.reason)
            self.password.setFocus()
            self.password.selectAll()
            return None
        if self.repeat.text() != text:
            show_error(self.repeat_error, "The two passwords are different. Type the same twice.")
            self.repeat.setFocus()
            self.repeat.selectAll()
            return None
        return text


class ChangePasswordDialog(QDialog):
    """The person signed in chooses a new password; the current one proves it is them."""

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.setWindowTitle("Change my password")
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 70)
        self.current = QLineEdit()
        self.current.setEchoMode(QLineEdit.EchoMode.Password)
        self.current.setAccessibleName("Current password")
        self.current_error = error_label("Current password problem")
        self.fields = PasswordFields()
        person = get_user(clinic, clinic.acting_user_id)
        self.fields.set_context(["frontdesk", person.name if person else "", clinic.settings.name])
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("&Save new password")
        self.save_button.setAccessibleName("Save new password")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        label = QLabel("&Current password:")
        label.setBuddy(self.current)
        box = QVBoxLayout()
        box.addWidget(self.current)
        box.addWidget(self.current_error)
        form.addRow(label, box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fields)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.current.textChanged.connect(lambda _t: show_error(self.current_error, ""))

    def save(self) -> None:
        new = self.fields.chosen()
        if new is None:
            return
        try:
            accounts.change_own_password(self.clinic, self.current.text(), new)
        except FrontdeskError as exc:
            show_error(self.current_error, str(exc))
            self.current.setFocus()
            self.current.selectAll()
            return
        self.accept()
