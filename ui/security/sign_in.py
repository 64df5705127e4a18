"""The sign-in screen: who is working, their password, and the ways back in when it is lost.

It fills the main window while the window is locked, so it shows no patient data: only
the clinic's name and the names of the people who work there. Each person picks their
own name (arrow keys or typing the first letters) and types their password; Enter signs
in. After wrong passwords the desk makes the next try wait and counts down here. A
temporary password (set by an administrator) is replaced by the person's own at once.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, KeyFileError, SignInError, WrongPassphraseError
from app.security import accounts, emergency
from app.users import User, get_user, users
from ui.security.password_dialog import PasswordFields
from ui.theme import ToneLabel
from ui.unlock import RECOVERY_KEY_PATTERN, error_label, hint_label, show_error

SIGN_IN_PAGE, FORGOT_PAGE, EMERGENCY_PAGE, CHANGE_PAGE, FIRST_PAGE = range(5)
_CARD_CHARS = 72  # the card's width in characters: as roomy at 200 % as at 100 %


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("font-size: 15pt; font-weight: 600;")
    return label


def _text(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _button(text: str, name: str, *, flat: bool = False) -> QPushButton:
    button = QPushButton(text)
    button.setAccessibleName(name)
    button.setAutoDefault(False)
    button.setFlat(flat)
    return button


def _busy() -> None:
    # Checking a password takes a tenth of a second on purpose.
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)


def _idle() -> None:
    QGuiApplication.restoreOverrideCursor()


class SignInScreen(QWidget):
    """Emits `signed_in(user_id)` once a person is signed in (and has their own password)."""

    signed_in = Signal(str)

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.setAccessibleName("Sign in")
        self._temporary = ""  # the temporary password just used, until the person's own is set
        self._ready_at = 0.0  # time.monotonic() when the next try may go
        self._first_admin: User | None = None
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._sign_in_page())
        self.pages.addWidget(self._forgot_page())
        self.pages.addWidget(self._emergency_page())
        self.pages.addWidget(self._change_page())
        self.pages.addWidget(self._first_page())
        card = QFrame()
        card.setObjectName("signInCard")
        card.setFrameShape(QFrame.Shape.StyledPanel)
        card.setMaximumWidth(self.fontMetrics().averageCharWidth() * _CARD_CHARS + 48)
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(24, 20, 24, 20)
        self.clinic_name = QLabel(clinic.settings.name)
        self.clinic_name.setAccessibleName("Clinic")
        self.clinic_name.setStyleSheet("font-weight: 600;")
        card_layout.addWidget(self.clinic_name)
        card_layout.addWidget(self.pages)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 4)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    # --- the usual page: name and password ------------------------------------------

    def _sign_in_page(self) -> QWidget:
        page = QWidget()
        self.error = error_label("Sign-in problem")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")

        self.message = _text("")
        self.message.setAccessibleName("Why Frontdesk is locked")
        self.kept = hint_label("")
        self.kept.setAccessibleName("Work kept for others")
        self.notice = ToneLabel("", tone="warning", bold=True)
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Emergency access notice")
        self.people = QListWidget()
        self.people.setAccessibleName("People")
        # Room for about eight names; more scroll (and typing a name's first letters finds it).
        self.people.setMaximumHeight(self.fontMetrics().lineSpacing() * 9 + 8)
        self.people.setAccessibleDescription("Choose your name; type its first letters to find it")
        self.people.currentItemChanged.connect(lambda *_: self._person_changed())
        self.people.itemActivated.connect(lambda _item: self.password.setFocus())
        self.password.returnPressed.connect(self.sign_in)
        self.password.textChanged.connect(lambda _t: show_error(self.error, ""))
        self.person_hint = hint_label("")
        self.person_hint.setAccessibleName("About this person")
        self.wait = ToneLabel("", tone="warning")
        self.wait.setWordWrap(True)
        self.wait.setAccessibleName("Wait before trying again")
        self.sign_in_button = QPushButton("&Sign in")
        self.sign_in_button.setAccessibleName("Sign in")
        self.sign_in_button.clicked.connect(self.sign_in)
        self.forgot_button = _button("Forgot your password?", "Forgot your password?", flat=True)
        self.forgot_button.clicked.connect(lambda: self._go(FORGOT_PAGE))
        who = QLabel("&Who are you?")
        who.setBuddy(self.people)
        secret = QLabel("&Password:")
        secret.setBuddy(self.password)
        buttons = QHBoxLayout()
        buttons.addWidget(self.forgot_button)
        buttons.addStretch(1)
        buttons.addWidget(self.sign_in_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Sign in"))
        layout.addWidget(self.message)
        layout.addWidget(self.notice)
        layout.addWidget(self.kept)
        layout.addWidget(who)
        layout.addWidget(self.people, 1)
        layout.addWidget(self.person_hint)
        layout.addWidget(secret)
        layout.addWidget(self.password)
        layout.addWidget(self.error)
        layout.addWidget(self.wait)
        layout.addLayout(buttons)
        QWidget.setTabOrder(self.people, self.password)
        QWidget.setTabOrder(self.password, self.sign_in_button)
        QWidget.setTabOrder(self.sign_in_button, self.forgot_button)
        return page

    def prepare(self, message: str = "", kept: str = "", choose: str = "") -> None:
        """Show the screen afresh: the people of today, `choose` (a user id) selected,
        `message` saying why it shows, `kept` naming whose work waits hidden."""
        self.clinic_name.setText(self.clinic.settings.name)
        self.password.clear()
        show_error(self.error, "")
        self._temporary = ""
        if not accounts.anyone_can_sign_in(self.clinic):
            self._prepare_first_password()
            return
        self.message.setText(message or "Choose your name and type your password.")
        self.kept.setText(kept)
        self.kept.setVisible(bool(kept))
        self._show_notice()
        self.people.blockSignals(True)
        self.people.clear()
        for person in users(self.clinic):
            if person.active:
                item = QListWidgetItem(person.name)
                item.setData(Qt.ItemDataRole.UserRole, person.id)
                self.people.addItem(item)
                if person.id == choose:
                    self.people.setCurrentItem(item)
        self.people.blockSignals(False)
        if self.people.currentItem() is None and self.people.count() == 1:
            self.people.setCurrentRow(0)
        self._go(SIGN_IN_PAGE)
        self._person_changed()

    def _show_notice(self) -> None:
        used = emergency.recent_emergency_access(self.clinic)
        if used is None:
            self.notice.hide()
            return
        person = get_user(self.clinic, used.user_id)
        moment = datetime.fromisoformat(used.at.replace("Z", "+00:00"))
        local = moment.astimezone(ZoneInfo(self.clinic.settings.timezone))
        when = f"{local:%d %b %Y at %H:%M}"
        self.notice.setText(
            f"Emergency access was used on {when} to give "
            f"{person.name if person else 'an administrator'} a new password with the "
            "recovery key. If nobody here expected that, tell the clinic's administrator."
        )
        self.notice.show()

    def selected_id(self) -> str:
        item = self.people.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def select_person(self, user_id: str) -> None:
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == user_id:
                self.people.setCurrentItem(item)
                return

    def focus_first_field(self) -> None:
        """Where typing should start: the password once a name is chosen."""
        if self.pages.currentIndex() == SIGN_IN_PAGE:
            (self.password if self.selected_id() else self.people).setFocus()
        elif self.pages.currentIndex() == FIRST_PAGE:
            (
                self.first_name if self.first_name.isVisible() else self.first_fields.password
            ).setFocus()

    def _person_changed(self) -> None:
        show_error(self.error, "")
        user_id = self.selected_id()
        person = get_user(self.clinic, user_id) if user_id else None
        if person is not None and not person.has_password:
            self.person_hint.setText(
                f"{person.name} has no password yet. An administrator gives one in "
                "Settings ▸ People and sign-in."
            )
            self.person_hint.show()
        else:
            self.person_hint.hide()
        self._start_wait(accounts.wait_before_sign_in(self.clinic, user_id) if user_id else 0)

    def _start_wait(self, seconds: float) -> None:
        self._ready_at = time.monotonic() + seconds
        self._tick()
        if seconds > 0:
            self._countdown.start()

    def _tick(self) -> None:
        left = math.ceil(self._ready_at - time.monotonic())
        if left <= 0:
            self._countdown.stop()
            self.wait.hide()
            self.sign_in_button.setEnabled(True)
            return
        unit = "second" if left == 1 else "seconds"
        self.wait.setText(f"Too many wrong passwords. You can try again in {left} {unit}.")
        self.wait.show()
        self.sign_in_button.setEnabled(False)

    @property
    def waiting(self) -> bool:
        return not self.sign_in_button.isEnabled()

    def sign_in(self) -> None:
        user_id = self.selected_id()
        if not user_id:
            show_error(self.error, "Choose your name in the list first.")
            self.people.setFocus()
            return
        if self.waiting:
            return
        typed = self.password.text()
        if not typed:
            show_error(self.error, "Type your password.")
            self.password.setFocus()
            return
        _busy()
        try:
            user = accounts.sign_in(self.clinic, user_id, typed)
        except SignInError as exc:
            show_error(self.error, f"{exc} Check that Caps Lock is off.")
            self._start_wait(exc.wait_seconds)
            self.password.selectAll()
            self.password.setFocus()
            return
        finally:
            _idle()
        self.password.clear()
        if user.must_change_password:
            self._temporary = typed
            self._ask_own_password(user)
            return
        self._done(user.id)

    def _done(self, user_id: str) -> None:
        self._temporary = ""
        self.password.clear()
        self.change_fields.clear()
        self.emergency_fields.clear()
        self.recovery_key.clear()
        self.first_fields.clear()
        self.signed_in.emit(user_id)

    def _go(self, page: int) -> None:
        self.pages.setCurrentIndex(page)
        if page == SIGN_IN_PAGE:
            self.focus_first_field()

    # --- forgotten password ----------------------------------------------------------

    def _forgot_page(self) -> QWidget:
        page = QWidget()
        use_key = _button("Use the &recovery key…", "Use the recovery key")
        use_key.clicked.connect(self._open_emergency)
        back = _button("&Back to sign in", "Back to sign in")
        back.clicked.connect(lambda: self._go(SIGN_IN_PAGE))
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Forgot your password?"))
        layout.addWidget(
            _text(
                "Ask one of the clinic's administrators. They can give you a new temporary "
                "password in Settings ▸ People and sign-in; you then choose your own when "
                "you sign in."
            )
        )
        layout.addSpacing(8)
        layout.addWidget(
            _text(
                "<b>Administrators only:</b> if no administrator can sign in, the recovery key "
                "printed on the clinic's Emergency Kit lets you set a new password. This is "
                "recorded in the audit log and shown to everyone at this desk."
            )
        )
        buttons = QHBoxLayout()
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(use_key)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.forgot_back = back
        return page

    def _emergency_page(self) -> QWidget:
        page = QWidget()
        self.admin_choice = QComboBox()
        self.admin_choice.setAccessibleName("Administrator")
        self.admin_choice.currentIndexChanged.connect(lambda _i: self._context_for_admin())
        self.recovery_key = QLineEdit()
        self.recovery_key.setAccessibleName("Recovery key")
        self.recovery_key.setPlaceholderText(RECOVERY_KEY_PATTERN)
        self.key_error = error_label("Recovery key problem")
        self.recovery_key.textChanged.connect(lambda _t: show_error(self.key_error, ""))
        self.emergency_fields = PasswordFields("New password")
        self.emergency_error = error_label("Emergency access problem")
        save = _button("Set &password and sign in", "Set password and sign in")
        save.clicked.connect(self.use_recovery_key)
        self.recovery_key.returnPressed.connect(self.emergency_fields.password.setFocus)
        self.emergency_fields.repeat.returnPressed.connect(self.use_recovery_key)
        back = _button("&Back", "Back to sign in")
        back.clicked.connect(lambda: self._go(SIGN_IN_PAGE))
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        admin_label = QLabel("&Administrator:")
        admin_label.setBuddy(self.admin_choice)
        form.addRow(admin_label, self.admin_choice)
        key_label = QLabel("Recovery &key:")
        key_label.setBuddy(self.recovery_key)
        key_box = QVBoxLayout()
        key_box.setSpacing(2)
        key_box.addWidget(self.recovery_key)
        key_box.addWidget(hint_label("32 letters and digits, as printed on the Emergency Kit."))
        key_box.addWidget(self.key_error)
        form.addRow(key_label, key_box)
        buttons = QHBoxLayout()
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(save)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Emergency access"))
        layout.addWidget(
            _text(
                "For an administrator who cannot sign in. The recovery key proves you may "
                "open this clinic's data; choose a new password for the administrator."
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.emergency_fields)
        layout.addWidget(self.emergency_error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.emergency_save = save
        return page

    def _open_emergency(self) -> None:
        self.admin_choice.clear()
        for admin in emergency.administrators(self.clinic):
            self.admin_choice.addItem(admin.name, admin.id)
        chosen = self.admin_choice.findData(self.selected_id())
        if chosen >= 0:
            self.admin_choice.setCurrentIndex(chosen)
        self._go(EMERGENCY_PAGE)
        self._context_for_admin()
        self.recovery_key.setFocus()

    def _context_for_admin(self) -> None:
        self.emergency_fields.set_context(
            ["frontdesk", self.admin_choice.currentText(), self.clinic.settings.name]
        )

    def use_recovery_key(self) -> None:
        show_error(self.emergency_error, "")
        admin_id = str(self.admin_choice.currentData() or "")
        if not self.recovery_key.text().strip():
            show_error(self.key_error, "Type the recovery key from the Emergency Kit.")
            self.recovery_key.setFocus()
            return
        new = self.emergency_fields.chosen()
        if new is None:
            return
        _busy()
        try:
            user = emergency.emergency_sign_in(self.clinic, self.recovery_key.text(), admin_id, new)
        except (WrongPassphraseError, KeyFileError) as exc:
            show_error(self.key_error, str(exc))
            self.recovery_key.setFocus()
            self.recovery_key.selectAll()
            return
        except FrontdeskError as exc:
            show_error(self.emergency_error, str(exc))
            return
        finally:
            _idle()
        self._done(user.id)

    # --- a temporary password is replaced at once -----------------------------------

    def _change_page(self) -> QWidget:
        page = QWidget()
        self.change_text = _text("")
        self.change_fields = PasswordFields("Your new password")
        self.change_error = error_label("New password problem")
        save = _button("&Save and continue", "Save new password and continue")
        save.clicked.connect(self.save_own_password)
        self.change_fields.repeat.returnPressed.connect(self.save_own_password)
        cancel = _button("Sign &out", "Sign out without changing the password")
        cancel.clicked.connect(self._cancel_change)
        buttons = QHBoxLayout()
        buttons.addWidget(cancel)
        buttons.addStretch(1)
        buttons.addWidget(save)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Choose your own password"))
        layout.addWidget(self.change_text)
        layout.addWidget(self.change_fields)
        layout.addWidget(self.change_error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.change_save = save
        return page

    def _ask_own_password(self, user: User) -> None:
        self.change_text.setText(
            f"{user.name}, the password you used was given to you by an administrator. "
            "Choose your own now: only you will know it."
        )
        self.change_fields.set_context(["frontdesk", user.name, self.clinic.settings.name])
        self.change_fields.clear()
        show_error(self.change_error, "")
        self._go(CHANGE_PAGE)
        self.change_fields.password.setFocus()

    def save_own_password(self) -> None:
        new = self.change_fields.chosen()
        if new is None:
            return
        _busy()
        try:
            accounts.change_own_password(self.clinic, self._temporary, new)
        except FrontdeskError as exc:
            show_error(self.change_error, str(exc))
            return
        finally:
            _idle()
        self._done(self.clinic.acting_user_id)

    def _cancel_change(self) -> None:
        chosen = self.clinic.acting_user_id
        accounts.sign_out(self.clinic, "temporary password not changed")
        self.prepare(choose=chosen)

    # --- the first password of a clinic where nobody has one --------------------------

    def _first_page(self) -> QWidget:
        page = QWidget()
        self.first_heading = _heading("")
        self.first_text = _text("")
        self.first_name = QLineEdit()
        self.first_name.setAccessibleName("Your name")
        self.first_name_label = QLabel("Your &name:")
        self.first_name_label.setBuddy(self.first_name)
        self.first_fields = PasswordFields("Password")
        self.first_error = error_label("First password problem")
        save = _button("&Save and sign in", "Save the password and sign in")
        save.clicked.connect(self.save_first_password)
        self.first_fields.repeat.returnPressed.connect(self.save_first_password)
        self.first_name.textChanged.connect(lambda _t: self._first_context())
        name_row = QHBoxLayout()
        name_row.addWidget(self.first_name_label)
        name_row.addWidget(self.first_name, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(save)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.first_heading)
        layout.addWidget(self.first_text)
        layout.addLayout(name_row)
        layout.addWidget(self.first_fields)
        layout.addWidget(self.first_error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.first_save = save
        return page

    def _prepare_first_password(self) -> None:
        admin = accounts.first_password_for(self.clinic)
        self._first_admin = admin
        if admin is not None:
            self.first_heading.setText(f"Set a password for {admin.name}")
            self.first_text.setText(
                "From now on everyone signs in to Frontdesk with their own name and password. "
                f"{admin.name} looks after Frontdesk here (the administrator): choose their "
                "password first, then give the others theirs in Settings ▸ People and sign-in."
            )
        else:
            self.first_heading.setText("Who looks after Frontdesk here?")
            self.first_text.setText(
                "Everyone signs in to Frontdesk with their own name and password. Type the name "
                "of the person who looks after it here (the administrator) and their password; "
                "they then add the others in Settings ▸ People and sign-in."
            )
        self.first_name.setVisible(admin is None)
        self.first_name_label.setVisible(admin is None)
        self._first_context()
        self._go(FIRST_PAGE)

    def _first_context(self) -> None:
        name = self._first_admin.name if self._first_admin else self.first_name.text()
        self.first_fields.set_context(["frontdesk", name, self.clinic.settings.name])

    def save_first_password(self) -> None:
        show_error(self.first_error, "")
        new = self.first_fields.chosen()
        if new is None:
            return
        _busy()
        try:
            user = accounts.set_first_password(self.clinic, new, name=self.first_name.text())
        except FrontdeskError as exc:
            show_error(self.first_error, str(exc))
            return
        finally:
            _idle()
        self._done(user.id)
