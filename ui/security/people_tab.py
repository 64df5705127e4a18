"""Settings ▸ People and sign-in: who works here, their roles, and their passwords.

Administrators add people (with a temporary password they hand over), change roles,
give a new temporary password and disable or enable accounts; nobody is deleted, since
the audit log and the records keep naming them. Everyone else sees the list read-only.
More sign-in settings (the automatic lock) join the tab through `add_section`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.security import accounts, passwords
from app.security.permissions import ROLES, allowed
from app.store.changes import Changes
from app.users import User, users
from ui.bus import DataBus
from ui.unlock import error_label, hint_label, show_error

COLUMNS = ("Name", "Role", "Account", "Password", "Last sign-in")


def _password_words(user: User) -> str:
    if not user.has_password:
        return "None yet"
    return "Temporary" if user.must_change_password else "Set"


class TemporaryPasswordDialog(QDialog):
    """Add a person (name, role, temporary password), or give `person` a new temporary one."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        person: User | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.person = person
        self.setWindowTitle("Add a person" if person is None else f"New password for {person.name}")
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 64)
        self.name = QLineEdit()
        self.name.setAccessibleName("Name")
        self.role = QComboBox()
        self.role.setAccessibleName("Role")
        for role in ROLES:
            self.role.addItem(role.capitalize(), role)
        self.password = QLineEdit()
        self.password.setAccessibleName("Temporary password")
        self.suggest = QPushButton("Suggest &one")
        self.suggest.setAccessibleName("Suggest a temporary password")
        self.suggest.setAutoDefault(False)
        self.suggest.clicked.connect(lambda: self.password.setText(passwords.temporary_password()))
        self.error = error_label("Problem")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        if person is None:
            form.addRow(self._label("&Name:", self.name), self.name)
            form.addRow(self._label("&Role:", self.role), self.role)
        typed = QHBoxLayout()
        typed.addWidget(self.password, 1)
        typed.addWidget(self.suggest)
        form.addRow(self._label("&Temporary password:", self.password), typed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        save = buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setText("&Add" if person is None else "&Save")
        save.setAccessibleName("Add the person" if person is None else "Save the new password")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            hint_label(
                "Tell the person this password yourself (not by email). At their next sign-in "
                "they choose their own, which nobody else knows."
            )
        )
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.password.setText(passwords.temporary_password())

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        return label

    def save(self) -> None:
        try:
            if self.person is None:
                created = accounts.add_person(
                    self.clinic,
                    self.name.text(),
                    str(self.role.currentData()),
                    self.password.text(),
                )
                changes = created.changes
            else:
                changes = accounts.reset_password(self.clinic, self.person.id, self.password.text())
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            return
        self.bus.publish(changes)
        self.accept()


class PeopleTab(QWidget):
    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.dialog: QDialog | None = None
        self.notice = hint_label(
            "Only an administrator can add people, change roles and give new passwords. "
            "To change your own password: File ▸ Change my password."
        )
        self.notice.setAccessibleName("About this list")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("People who use Frontdesk")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.add_button = self._button("&Add a person…", "Add a person", self.add_person)
        self.role = QComboBox()
        self.role.setAccessibleName("New role for the chosen person")
        for role in ROLES:
            self.role.addItem(role.capitalize(), role)
        self.role_button = self._button("Set &role", "Set the chosen person's role", self.set_role)
        self.reset_button = self._button(
            "New &password…", "Give the chosen person a new temporary password", self.reset
        )
        self.active_button = self._button("&Disable", "Disable the chosen person", self.toggle)
        self.error = error_label("People problem")
        self.done = hint_label("")
        self.done.setAccessibleName("Last change")
        self.done.hide()
        self.manage_row = QWidget()
        row = QHBoxLayout(self.manage_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.add_button)
        row.addSpacing(12)
        row.addWidget(self.role)
        row.addWidget(self.role_button)
        row.addWidget(self.reset_button)
        row.addWidget(self.active_button)
        row.addStretch(1)
        self.sections = QVBoxLayout()
        self._people: list[User] = []
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.manage_row)
        layout.addWidget(self.error)
        layout.addWidget(self.done)
        layout.addLayout(self.sections)
        bus.changed.connect(self._changed)
        self.refresh()

    def _button(self, text: str, name: str, handler: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.clicked.connect(handler)
        return button

    def _changed(self, changes: Changes) -> None:
        if changes.touches("app_user"):
            self.refresh()

    def add_section(self, widget: QWidget) -> None:
        """More about signing in, below the list (the automatic lock's box, say)."""
        self.sections.addWidget(widget)

    def refresh(self) -> None:
        chosen = self.chosen()
        manage = allowed(self.clinic, "users.manage")
        self.notice.setVisible(not manage)
        self.manage_row.setVisible(manage)
        last = accounts.last_sign_ins(self.clinic)
        zone = ZoneInfo(self.clinic.settings.timezone)
        everyone = users(self.clinic)
        self._people = everyone
        self.table.setRowCount(len(everyone))
        for row, person in enumerate(everyone):
            signed = last.get(person.id, "")
            moment = datetime.fromisoformat(signed.replace("Z", "+00:00")) if signed else None
            when = f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if moment else "Never here"
            values = (
                person.name,
                person.role.capitalize(),
                "Active" if person.active else "Disabled",
                _password_words(person),
                when,
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, person.id)
                self.table.setItem(row, column, item)
            if person.id == (chosen.id if chosen else ""):
                self.table.selectRow(row)
        self._selection_changed()

    def chosen(self) -> User | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        return next((p for p in self._people if p.id == self._id_at(rows[0].row())), None)

    def _id_at(self, row: int) -> str:
        item = self.table.item(row, 0)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def choose(self, user_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self._id_at(row) == user_id:
                self.table.selectRow(row)

    def _selection_changed(self) -> None:
        person = self.chosen()
        for button in (self.role_button, self.reset_button, self.active_button, self.role):
            button.setEnabled(person is not None)
        if person is not None:
            self.role.setCurrentIndex(max(0, self.role.findData(person.role)))
            self.active_button.setText("&Enable" if not person.active else "&Disable")
            self.active_button.setAccessibleName(
                "Enable the chosen person" if not person.active else "Disable the chosen person"
            )
        show_error(self.error, "")

    def _said(self, words: str) -> None:
        self.done.setText(words)
        self.done.setVisible(bool(words))

    def add_person(self) -> None:
        self._open(TemporaryPasswordDialog(self.clinic, self.bus, None, self))

    def reset(self) -> None:
        person = self.chosen()
        if person is not None:
            self._open(TemporaryPasswordDialog(self.clinic, self.bus, person, self))

    def _open(self, dialog: TemporaryPasswordDialog) -> None:
        # Not WA_DeleteOnClose: the accepted handler still reads the dialog. The one
        # before goes now (the dialogs are modal, so it is closed).
        if self.dialog is not None:
            self.dialog.deleteLater()
        dialog.accepted.connect(lambda: self._said(self._after(dialog)))
        self.dialog = dialog
        dialog.open()

    @staticmethod
    def _after(dialog: TemporaryPasswordDialog) -> str:
        who = dialog.person.name if dialog.person else " ".join(dialog.name.text().split())
        return f"{who} has a temporary password. They choose their own at their next sign-in."

    def set_role(self) -> None:
        person = self.chosen()
        if person is None:
            return
        self._apply(
            lambda: accounts.change_role(self.clinic, person.id, str(self.role.currentData()))
        )

    def toggle(self) -> None:
        person = self.chosen()
        if person is None:
            return
        self._apply(lambda: accounts.set_active(self.clinic, person.id, not person.active))

    def _apply(self, change: Callable[[], Changes]) -> None:
        try:
            changes = change()
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            return
        self._said("")
        if changes:
            self.bus.publish(changes)
