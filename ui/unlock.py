"""The unlock screen (passphrase or recovery key) and the passphrase fields with their
strength meter, which the first-run wizard shares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic, open_clinic
from app.errors import FrontdeskError, WeakPassphraseError, WrongPassphraseError
from app.store.emergency_kit import UNLOCK_OPTION_LABEL
from app.store.keys import check_passphrase_strength
from app.store.lifecycle import change_passphrase
from app.store.passphrase_strength import FAIR, STRONG, estimate_strength
from ui.theme import ColorName, ToneLabel, color, error_line, hint_line

STRENGTH_ADVICE = "A few unrelated words make a strong passphrase that is easy to remember."
CAPS_LOCK_HINT = "Check that Caps Lock is off."
RECOVERY_KEY_PATTERN = "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"
_METER_TONES: dict[str, ColorName] = {STRONG: "ok", FAIR: "warning"}
_WEAK_TONE: ColorName = "danger"
# The verdict's word sits on the filled part, so that part is a tint of the verdict's
# colour (its edge in the full colour): the word keeps the text contrast in either theme.
_TINT = 0.35


def meter_style(tone: ColorName, palette: QPalette) -> str:
    """The styled bar for a verdict, in the colours of `palette` (once one part of a bar
    is styled Qt draws all of it from the sheet, and a sheet keeps the colours it got)."""
    role = QPalette.ColorRole
    base, text, mid = (palette.color(r) for r in (role.Base, role.Text, role.Mid))
    edge = color(tone)
    tint = QColor.fromRgbF(
        *(
            _TINT * e + (1 - _TINT) * b
            for e, b in (
                (edge.redF(), base.redF()),
                (edge.greenF(), base.greenF()),
                (edge.blueF(), base.blueF()),
            )
        )
    )
    return (
        f"QProgressBar {{ border: 1px solid {mid.name()}; border-radius: 3px;"
        f" text-align: center; background: {base.name()}; color: {text.name()};"
        " font-weight: 600; }"
        f" QProgressBar::chunk {{ background-color: {tint.name()};"
        f" border: 1px solid {edge.name()}; border-radius: 2px; }}"
    )


def error_label(name: str) -> ToneLabel:
    """A red line for one field's problem; hidden while there is none."""
    label = error_line()
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_error(label: QLabel, message: str) -> None:
    label.setText(message)
    label.setVisible(bool(message))


def hint_label(text: str) -> ToneLabel:
    label = hint_line(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


def _busy() -> None:
    # Argon2 takes about a third of a second on purpose: show that something happens.
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)


def _idle() -> None:
    QGuiApplication.restoreOverrideCursor()


class PassphraseFields(QWidget):
    """A new passphrase typed twice, with a live meter that uses the core's own estimate."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context: tuple[str, ...] = ()
        self.meter_tone: ColorName = _WEAK_TONE
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("New passphrase")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName("New passphrase again")
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(True)
        self.meter.setAccessibleName("Passphrase strength")
        self.meter.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.meter_reason = hint_label(STRENGTH_ADVICE)
        self.meter_reason.setAccessibleName("Passphrase strength reason")
        self.passphrase_error = error_label("Passphrase problem")
        self.repeat_error = error_label("Passphrase again problem")
        self.show_text = QPushButton("Show")
        self.show_text.setCheckable(True)
        self.show_text.setAutoDefault(False)
        self.show_text.setAccessibleName("Show the passphrase while typing")
        self.show_text.toggled.connect(self._show_toggled)

        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        typed = QHBoxLayout()
        typed.addWidget(self.passphrase, 1)
        typed.addWidget(self.show_text)
        row = QWidget()
        row.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        row_layout = QVBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(2)
        row_layout.addLayout(typed)
        row_layout.addWidget(self.meter)
        row_layout.addWidget(self.meter_reason)
        row_layout.addWidget(self.passphrase_error)
        label = QLabel("&Passphrase:")
        label.setBuddy(self.passphrase)
        self.form.addRow(label, row)
        again = QLabel("Passphrase &again:")
        again.setBuddy(self.repeat)
        repeat_row = QWidget()
        repeat_row.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        repeat_layout = QVBoxLayout(repeat_row)
        repeat_layout.setContentsMargins(0, 0, 0, 0)
        repeat_layout.setSpacing(2)
        repeat_layout.addWidget(self.repeat)
        repeat_layout.addWidget(self.repeat_error)
        self.form.addRow(again, repeat_row)
        self.passphrase.textChanged.connect(self._update_meter)
        self.repeat.textChanged.connect(lambda _text: show_error(self.repeat_error, ""))
        self._update_meter("")

    def chain_after(self, previous: QWidget) -> None:
        """Tab goes from `previous` through passphrase, Show and again, in reading order.
        Call it once the fields sit in their window: Qt's focus chain is per window."""
        QWidget.setTabOrder(previous, self.passphrase)
        QWidget.setTabOrder(self.passphrase, self.show_text)
        QWidget.setTabOrder(self.show_text, self.repeat)

    def set_context(self, words: Sequence[str]) -> None:
        """Names a guesser would know (the clinic, the person) count against the passphrase."""
        self._context = tuple(w for w in words if w.strip())
        self._update_meter(self.passphrase.text())

    def _show_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.passphrase.setEchoMode(mode)
        self.repeat.setEchoMode(mode)
        self.show_text.setText("Hide" if shown else "Show")

    def _update_meter(self, text: str) -> None:
        show_error(self.passphrase_error, "")
        self.meter_reason.show()
        if not text:
            self.meter.setValue(0)
            self.meter.setFormat("")
            self._style_meter(_WEAK_TONE)
            self.meter_reason.setText(STRENGTH_ADVICE)
            self.meter.setAccessibleDescription("Nothing typed yet")
            return
        strength = estimate_strength(text, self._context)
        self.meter.setValue(round(strength.meter * 100))
        self.meter.setFormat(strength.label)
        self._style_meter(_METER_TONES.get(strength.label, _WEAK_TONE))
        self.meter.setAccessibleDescription(f"{strength.label}. {strength.reason}")
        self.meter_reason.setText(strength.reason)

    def _style_meter(self, tone: ColorName) -> None:
        self.meter_tone = tone
        sheet = meter_style(tone, QGuiApplication.palette())
        if sheet != self.meter.styleSheet():
            self.meter.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style_meter(self.meter_tone)
        super().changeEvent(event)

    @property
    def strength_label(self) -> str:
        return self.meter.format()

    def chosen(self) -> str | None:
        """The passphrase when it is strong enough and typed the same twice; otherwise the
        reason is shown next to its field, the field gets the focus, and None comes back."""
        text = self.passphrase.text()
        try:
            check_passphrase_strength(text, self._context)
        except WeakPassphraseError as exc:
            # The reason moves from the grey line to the red one: said once, as a refusal.
            self.meter_reason.hide()
            show_error(self.passphrase_error, str(exc))
            self.passphrase.setFocus()
            self.passphrase.selectAll()
            return None
        if self.repeat.text() != text:
            show_error(
                self.repeat_error, "The two passphrases are different. Type the same one twice."
            )
            self.repeat.setFocus()
            self.repeat.selectAll()
            return None
        return text


class UnlockDialog(QDialog):
    """Asks for the passphrase, or the recovery key, when the keyring cannot unlock
    silently. Nothing about the clinic shows before it is unlocked: the screen is seen
    by whoever sits at the computer. After a recovery-key unlock it asks for a new
    passphrase, since the old one is forgotten."""

    def __init__(self, home: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unlock Frontdesk")
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 75)
        self.home = home
        self.clinic: Clinic | None = None
        self._recovery = False
        self.pages = QStackedWidget()
        self.pages.addWidget(self._unlock_page())
        self.pages.addWidget(self._new_passphrase_page())
        self.fields.chain_after(self.switch_mode)
        QWidget.setTabOrder(self.fields.repeat, self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._default_for_page()

    def _default_for_page(self) -> None:
        """Enter presses the visible page's main button. Two button boxes live in this
        dialog and Qt would otherwise let the hidden page's claim Enter."""
        on_unlock = self.pages.currentIndex() == 0
        self.save_button.setDefault(not on_unlock)
        self.unlock_button.setDefault(on_unlock)

    # --- unlocking --------------------------------------------------------------------

    def _unlock_page(self) -> QWidget:
        page = QWidget()
        heading = QLabel("Frontdesk is locked")
        heading.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.prompt = QLabel("Enter the clinic passphrase to open the clinic's data.")
        self.prompt.setWordWrap(True)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setAccessibleName("Clinic passphrase")
        self.prompt.setBuddy(self.secret)
        self.error = error_label("Unlock problem")
        # Same words as printed on the Emergency Kit, so the instructions match the screen.
        self.switch_mode = QPushButton(UNLOCK_OPTION_LABEL)
        self.switch_mode.setAccessibleName(UNLOCK_OPTION_LABEL)
        self.switch_mode.setToolTip("The key of 32 letters and digits on the Emergency Kit")
        self.switch_mode.setAutoDefault(False)
        self.switch_mode.clicked.connect(lambda: self.set_recovery_mode(not self._recovery))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.unlock_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.unlock_button.setText("&Unlock")
        self.unlock_button.setAccessibleName("Unlock")
        self.unlock_button.setDefault(True)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Quit")
        buttons.accepted.connect(self.unlock)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(page)
        layout.addWidget(heading)
        layout.addWidget(self.prompt)
        layout.addWidget(self.secret)
        layout.addWidget(self.error)
        layout.addWidget(self.switch_mode, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        layout.addWidget(buttons)
        return page

    def set_recovery_mode(self, recovery: bool) -> None:
        self._recovery = recovery
        self.prompt.setText(
            "Enter the recovery key from the Emergency Kit (8 groups of 4 letters and digits)."
            if recovery
            else "Enter the clinic passphrase to open the clinic's data."
        )
        self.secret.setEchoMode(
            QLineEdit.EchoMode.Normal if recovery else QLineEdit.EchoMode.Password
        )
        self.secret.setAccessibleName("Recovery key" if recovery else "Clinic passphrase")
        self.secret.setPlaceholderText(
            "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" if recovery else ""
        )
        self.switch_mode.setText("Use the passphrase instead" if recovery else UNLOCK_OPTION_LABEL)
        self.switch_mode.setAccessibleName(self.switch_mode.text())
        self.secret.clear()
        show_error(self.error, "")
        self.secret.setFocus()

    def unlock(self) -> None:
        text = self.secret.text()
        if not text.strip():
            show_error(
                self.error,
                "Type the recovery key first." if self._recovery else "Type the passphrase first.",
            )
            self.secret.setFocus()
            return
        _busy()
        try:
            if self._recovery:
                self.clinic = open_clinic(self.home, recovery_key=text)
            else:
                self.clinic = open_clinic(self.home, passphrase=text)
        except FrontdeskError as exc:
            # No lock-out: the key file is slow to try on purpose, so a person may retry.
            wrong = isinstance(exc, WrongPassphraseError) and not self._recovery
            hint = " " + CAPS_LOCK_HINT if wrong else ""
            show_error(self.error, f"{exc}{hint}")
            self.secret.setFocus()
            self.secret.selectAll()
            return
        finally:
            _idle()
        if self._recovery:
            self.pages.setCurrentIndex(1)
            self._default_for_page()
            self.fields.passphrase.setFocus()
            return
        self.accept()

    # --- a new passphrase after the recovery key ----------------------------------------

    def _new_passphrase_page(self) -> QWidget:
        page = QWidget()
        heading = QLabel("Choose a new passphrase")
        heading.setStyleSheet("font-size: 15pt; font-weight: 600;")
        text = QLabel(
            "The recovery key opened the clinic. Now choose a new passphrase for every day, "
            "and tell the staff who need it. The recovery key keeps working as before."
        )
        text.setWordWrap(True)
        self.fields = PassphraseFields()
        self.fields.set_context(["frontdesk"])
        self.new_error = error_label("New passphrase problem")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.save_button.setText("&Save new passphrase")
        self.save_button.setAccessibleName("Save new passphrase")
        self.save_button.setAutoDefault(False)
        buttons.accepted.connect(self.save_new_passphrase)
        layout = QVBoxLayout(page)
        layout.addWidget(heading)
        layout.addWidget(text)
        layout.addWidget(self.fields)
        layout.addWidget(self.new_error)
        layout.addStretch(1)
        layout.addWidget(buttons)
        return page

    def save_new_passphrase(self) -> None:
        assert self.clinic is not None  # the page shows only after the unlock
        self.fields.set_context(["frontdesk", self.clinic.settings.name])
        new = self.fields.chosen()
        if new is None:
            return
        _busy()
        try:
            change_passphrase(self.clinic.opened, new)
        except (FrontdeskError, OSError) as exc:
            show_error(self.new_error, _save_failure(exc))
            return
        finally:
            _idle()
        self.accept()

    def reject(self) -> None:
        # Once the recovery key has opened the clinic, the way out is a new passphrase:
        # leaving now would bring the person back here tomorrow with nothing to type.
        if self.pages.currentIndex() == 1:
            return
        super().reject()


def _save_failure(exc: BaseException) -> str:
    if isinstance(exc, FrontdeskError):
        return str(exc)
    return "The new passphrase could not be saved: the data folder cannot be written to."
