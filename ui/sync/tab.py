"""Settings ▸ Sync: keep the clinic's workstations the same through an encrypted sync server.

Administrators (sync.manage) turn sync on, add and remove workstations and choose the
one that sends messages; everyone else reads the same page, greyed, with the Settings
page's role note. Managers and administrators decide the changes that need a person
(ui/sync/conflicts.py). Everything that talks to the sync server runs off the GUI
thread with its progress and Cancel on the page itself (the tab's own task line).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.reminders import settings as reminder_settings
from app.security.permissions import allowed
from app.store.changes import Changes
from app.sync import devices, sender_lease, state
from app.sync.enrollment import start_space
from app.sync.relay_api import check_relay
from app.sync.service import SyncStatus, sync_status
from app.today import clinic_zone
from ui.backups.rekey_dialog import RekeyDialog
from ui.bus import DataBus
from ui.ops import Op
from ui.sync.add_dialog import AddWorkstationDialog
from ui.sync.conflicts import ConflictsBox
from ui.sync.words import ago, as_time
from ui.task_tray import TaskTray
from ui.unlock import error_label, hint_label, show_error

INTRO = (
    "Sync keeps the clinic's workstations the same: a patient added or an appointment "
    "moved on one appears on the others within seconds. Everything is encrypted on this "
    "computer before it leaves, with the clinic's own key: the sync server stores only "
    "what it cannot read. When the internet is down each workstation keeps working and "
    "catches up later."
)
JOIN_HINT = (
    "Is this a new computer for a clinic that already syncs? Then do not turn sync on "
    "here: start Frontdesk with an empty data folder and choose This clinic already uses "
    "Frontdesk on another computer — join it."
)
REMOVE_EXPLAIN = (
    "It stops sending and receiving changes at once; the clinic's data already on it "
    "stays readable there with the clinic's key. If the computer was lost or stolen, "
    "or someone who left could still use it, replace the database key afterwards."
)
UNEXPECTED = "Something unexpected stopped it. Try again; if it goes on, ask for help."


def _words(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, FrontdeskError) else UNEXPECTED


class SyncTab(QWidget):
    """The tab (contract: clinic, bus, parent; refresh()). `sync_requested` asks the
    window's runner for a round now; `show_status` takes what the runner learnt."""

    sync_requested = Signal()

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.last_op: Op[Any] | None = None
        self.add_dialog: AddWorkstationDialog | None = None
        self.rekey_dialog: RekeyDialog | None = None
        self.close_frontdesk: Callable[[], None] = QApplication.quit
        self.status: SyncStatus = sync_status(clinic)
        self.device_list: list[devices.Device] = []
        self.setAccessibleName("Sync")

        self.tray = TaskTray()
        self.tray.bar.setMaximumWidth(16_777_215)
        self.tray.cancel_button.setAccessibleName("Cancel talking to the sync server")
        self.error = error_label("Sync problem")

        self.state_box = self._state_section()
        self.setup_box = self._setup_section()
        self.devices_box = self._devices_section()
        self.sender_box = self._sender_section()
        self.conflicts = ConflictsBox(clinic, bus)

        layout = QVBoxLayout(self)
        layout.addWidget(self.state_box)
        layout.addWidget(self.tray)
        layout.addWidget(self.error)
        layout.addWidget(self.conflicts)
        layout.addWidget(self.setup_box)
        layout.addWidget(self.devices_box)
        layout.addWidget(self.sender_box)
        layout.addStretch(1)
        bus.changed.connect(self._on_changes)
        self.refresh()

    def gated(self) -> list[tuple[QWidget, str]]:
        """What only a role may use, for the Settings page's role table and note."""
        return [
            (self.setup_form, "sync.manage"),
            (self.rename_row, "sync.manage"),
            (self.device_buttons, "sync.manage"),
            (self.sender_buttons, "sync.manage"),
        ]

    # --- building ----------------------------------------------------------------------

    def _state_section(self) -> QGroupBox:
        box = QGroupBox("Sync with the clinic's other workstations")
        box.setAccessibleName("Sync with the clinic's other workstations")
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.state_label.setAccessibleName("How sync stands")
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.server_label = hint_label("")
        self.server_label.setAccessibleName("Sync server")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sync_now_button = QPushButton("Sync &now")
        self.sync_now_button.setAccessibleName("Sync now")
        self.sync_now_button.clicked.connect(self.sync_requested)
        row = QHBoxLayout()
        row.addWidget(self.state_label, 1)
        row.addWidget(self.sync_now_button)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.server_label)
        return box

    def _setup_section(self) -> QGroupBox:
        box = QGroupBox("Turn on sync")
        box.setAccessibleName("Turn on sync")
        intro = hint_label(INTRO)
        intro.setAccessibleName("About sync")
        self.address = QLineEdit()
        self.address.setAccessibleName("Sync server address")
        self.address.setPlaceholderText("https://sync.example.org")
        self.address.textChanged.connect(lambda _t: self._address_edited())
        self.registration = QLineEdit()
        self.registration.setAccessibleName("Registration key of the sync server")
        self.registration.setPlaceholderText("Only if the sync server's administrator gave one")
        self.registration.setEchoMode(QLineEdit.EchoMode.Password)
        self.test_button = QPushButton("&Test the connection")
        self.test_button.setAccessibleName("Test the connection to the sync server")
        self.test_button.clicked.connect(self.test_connection)
        self.turn_on_button = QPushButton("Turn &on sync")
        self.turn_on_button.setAccessibleName("Turn on sync")
        self.turn_on_button.clicked.connect(self.turn_on)
        self.test_result = hint_label("")
        self.test_result.setAccessibleName("Connection test result")
        self.test_result.hide()
        join = hint_label(JOIN_HINT)
        join.setAccessibleName("Joining from a new computer")

        self.setup_form = QWidget()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        address_caption = QLabel("Sync server &address:")
        address_caption.setBuddy(self.address)
        form.addRow(address_caption, self.address)
        registration_caption = QLabel("&Registration key:")
        registration_caption.setBuddy(self.registration)
        form.addRow(registration_caption, self.registration)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.turn_on_button)
        buttons.addStretch(1)
        inner = QVBoxLayout(self.setup_form)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(form)
        inner.addLayout(buttons)
        inner.addWidget(self.test_result)

        layout = QVBoxLayout(box)
        layout.addWidget(intro)
        layout.addWidget(self.setup_form)
        layout.addWidget(join)
        return box

    def _devices_section(self) -> QGroupBox:
        box = QGroupBox("Workstations")
        box.setAccessibleName("Workstations")
        # The name the other workstations show for this one (and in "… wants to join").
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("This workstation's name")
        self.name_edit.setMaxLength(devices.NAME_MAX)
        self.name_edit.setPlaceholderText("FRONT-DESK-2, Reception left…")
        self.name_edit.textEdited.connect(lambda _t: self._name_edited())
        self.name_edit.returnPressed.connect(self.rename)
        self.rename_button = QPushButton("Save &name")
        self.rename_button.setAccessibleName("Save this workstation's name")
        self.rename_button.clicked.connect(self.rename)
        name_caption = QLabel("This workstation's na&me:")
        name_caption.setBuddy(self.name_edit)
        self.rename_row = QWidget()
        rename = QHBoxLayout(self.rename_row)
        rename.setContentsMargins(0, 0, 0, 0)
        rename.addWidget(name_caption)
        rename.addWidget(self.name_edit, 1)
        rename.addWidget(self.rename_button)
        self.device_tree = QTreeWidget()
        self.device_tree.setHeaderLabels(["Workstation", "Last seen", "Note"])
        self.device_tree.setRootIsDecorated(False)
        self.device_tree.setAccessibleName("The clinic's workstations")
        # A clinic has a handful of desks: room for eight rows, in lines of text so it
        # grows with the text size.
        lines = self.device_tree.fontMetrics().lineSpacing()
        self.device_tree.setMinimumHeight(lines * 5)
        self.device_tree.setMaximumHeight(lines * 10)
        self.device_tree.currentItemChanged.connect(lambda *_a: self._update_device_buttons())
        self.add_button = QPushButton("&Add a workstation…")
        self.add_button.setAccessibleName("Add a workstation")
        self.add_button.clicked.connect(self.add_workstation)
        self.remove_button = QPushButton("&Remove workstation…")
        self.remove_button.setAccessibleName("Remove the selected workstation")
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh_button = QPushButton("Ask the sync server a&gain")
        self.refresh_button.setAccessibleName("Ask the sync server again when each was last seen")
        self.refresh_button.clicked.connect(self.load_devices)
        self.device_buttons = QWidget()
        buttons = QHBoxLayout(self.device_buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.device_buttons, 1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(box)
        layout.addWidget(self.rename_row)
        layout.addWidget(self.device_tree)
        layout.addLayout(row)
        return box

    def _sender_section(self) -> QGroupBox:
        box = QGroupBox("Sending messages")
        box.setAccessibleName("Sending messages")
        self.sender_label = QLabel()
        self.sender_label.setWordWrap(True)
        self.sender_label.setAccessibleName("Which workstation sends the messages")
        self.sender_hint = hint_label(
            "One workstation sends the clinic's texts and emails, so no patient gets a "
            "message twice. Choose one that is switched on during opening hours."
        )
        self.sender_hint.setAccessibleName("About the sending workstation")
        self.make_sender_button = QPushButton("&Make this workstation the sender")
        self.make_sender_button.setAccessibleName("Make this workstation the sender")
        self.make_sender_button.clicked.connect(self.make_sender)
        self.sender_buttons = QWidget()
        row = QHBoxLayout(self.sender_buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.make_sender_button)
        row.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(self.sender_label)
        layout.addWidget(self.sender_hint)
        layout.addWidget(self.sender_buttons)
        return box

    # --- reading -----------------------------------------------------------------------

    @property
    def on(self) -> bool:
        return self.status.state != "off"

    def refresh(self) -> None:
        """Reload from this desk's own records (no network); the list of workstations
        asks the sync server when the tab is shown."""
        self.show_status(sync_status(self.clinic))
        manage = allowed(self.clinic, "sync.manage")
        self.setup_box.setVisible(not self.on)
        self.devices_box.setVisible(self.on)
        self.sender_box.setVisible(self.on)
        self.sync_now_button.setVisible(self.on)
        self._fill_devices()
        self._fill_sender()
        self.conflicts.refresh()
        self._address_edited()
        self.add_button.setEnabled(manage)
        self._update_device_buttons()

    def show_status(self, status: SyncStatus) -> None:
        was_on = self.on
        self.status = status
        if status.conflicts != len(self.conflicts.items):
            self.conflicts.refresh()  # a round found some, or another desk decided
        self.state_label.setText(status.message)
        setup = state.read_setup(self.clinic.conn)
        self.server_label.setText(f"Sync server: {setup.relay_url}" if setup else "")
        self.server_label.setVisible(setup is not None)
        if was_on != self.on:
            self.refresh()

    def _fill_devices(self) -> None:
        this_id = self.clinic.store.device_id
        known = devices.known_devices(self.clinic.conn)
        # Until the sync server answered, what this desk knows (names, no "last seen").
        listed = self.device_list or [
            devices.Device(
                device_id=k.device_id,
                name=k.name or devices.UNNAMED,
                enrolled_at=k.enrolled_at,
                last_seen_at=None,
                revoked_at=k.revoked_at,
                this_desk=k.device_id == this_id,
            )
            for k in known.values()
        ]
        this = known.get(this_id)
        # Shown in the name field (greyed for those who may not change it).
        if not self.name_edit.isModified():  # never over what someone is typing
            self.name_edit.setText(this.name if this else "")
        self._name_edited()
        selected = self.selected_device()
        self.device_tree.clear()
        now = datetime.now(UTC)
        zone = clinic_zone(self.clinic)
        for device in listed:
            if not device.active:
                continue
            seen = as_time(device.last_seen_at)
            when = "now" if device.this_desk else ("" if seen is None else ago(seen, now, zone))
            # Names as this desk knows them now (a rename here or by sync since the list
            # was asked for); "last seen" only the sync server knows.
            named = known.get(device.device_id)
            name = named.name if named is not None and named.name else device.name
            item = QTreeWidgetItem([name, when, "this workstation" if device.this_desk else ""])
            item.setData(0, Qt.ItemDataRole.UserRole, device.device_id)
            self.device_tree.addTopLevelItem(item)
            if device.device_id == selected:
                self.device_tree.setCurrentItem(item)
        for column in range(self.device_tree.columnCount()):
            self.device_tree.resizeColumnToContents(column)

    def selected_device(self) -> str:
        item = self.device_tree.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _update_device_buttons(self) -> None:
        chosen = self.selected_device()
        self.remove_button.setEnabled(bool(chosen) and chosen != self.clinic.store.device_id)

    def _fill_sender(self) -> None:
        if not self.on:
            return
        settings = reminder_settings.load_settings(self.clinic)
        this = reminder_settings.is_chosen_sender(self.clinic, settings)
        named = devices.known_devices(self.clinic.conn).get(settings.sender_device)
        holder = named.name if named is not None and named.name else ""
        if this:
            self.sender_label.setText(
                "Messages are sent by <b>this workstation</b>." + _turn_words(self.clinic)
            )
        elif holder:
            self.sender_label.setText(f"Messages are sent by <b>{_escape(holder)}</b>.")
        elif settings.sender_device:
            self.sender_label.setText("Messages are sent by another workstation.")
        else:
            self.sender_label.setText("No workstation sends messages yet.")
        self.sender_label.setTextFormat(Qt.TextFormat.RichText)
        self.make_sender_button.setEnabled(not this)

    def _name_edited(self) -> None:
        this = devices.known_devices(self.clinic.conn).get(self.clinic.store.device_id)
        typed = devices.clean_name(self.name_edit.text())
        self.rename_button.setEnabled(
            this is not None and bool(typed) and typed != this.name and self.on
        )

    def rename(self) -> None:
        """Save the name at once (no network): the others learn it with the next round."""
        if not self.rename_button.isEnabled():
            return
        show_error(self.error, "")
        try:
            changes = devices.rename_workstation(self.clinic, self.name_edit.text())
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            return
        self.name_edit.setModified(False)
        self.bus.publish(changes)  # the list here, and a sync round to tell the others
        self.refresh()

    def _address_edited(self) -> None:
        has = bool(self.address.text().strip())
        self.test_button.setEnabled(has)
        self.turn_on_button.setEnabled(has)
        self.test_result.hide()

    def _on_changes(self, changes: Changes) -> None:
        # Workstations joined or removed, the sender moved, or another person signed in
        # (what they may change here).
        if changes.touches("sync_device", "setting", "app_user"):
            self.refresh()
        elif changes.touches("sync_resolution"):
            self.conflicts.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.on and (self.last_op is None or self.last_op.finished):
            self.load_devices()

    # --- work with the sync server -------------------------------------------------------

    def _run(
        self,
        title: str,
        work: Callable[[Clinic, Progress, CancelToken], Any],
        done: Callable[[Any], None],
        *,
        quiet: bool = False,
    ) -> None:
        """`work` gets its own connection; `quiet` failures (a list refresh) go to the
        error line only when they say something the person can act on."""
        clinic = self.clinic
        show_error(self.error, "")

        def run(progress: Progress, cancel: CancelToken) -> Any:
            fork = clinic.fork()
            try:
                return work(fork, progress, cancel)
            finally:
                fork.close()

        def succeeded(result: Any) -> None:
            if not clinic.closed:  # the window closed meanwhile: nothing left to show
                done(result)

        def failed(exc: BaseException) -> None:
            if not clinic.closed:
                self._failed(exc)

        self.last_op = (
            Op(self, title, run).in_tray(self.tray).success(succeeded).failure(failed)
        ).run_in_background()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, OperationCancelledError):
            return
        show_error(self.error, _words(exc))
        self.refresh()

    def test_connection(self) -> None:
        address = self.address.text().strip()
        self.test_result.hide()

        def work(_clinic: Clinic, _p: Progress, _c: CancelToken) -> str:
            return check_relay(address) + " Press Turn on sync to connect."

        self._run("Asking the sync server…", work, self._tested)

    def _tested(self, words: object) -> None:
        self.test_result.setText(str(words))
        self.test_result.show()

    def turn_on(self) -> None:
        address = self.address.text().strip()
        registration = self.registration.text().strip()

        def work(clinic: Clinic, _p: Progress, _c: CancelToken) -> Changes:
            return start_space(clinic, address, registration_key=registration)

        self._run("Turning on sync…", work, self._turned_on)

    def _turned_on(self, changes: object) -> None:
        self.registration.clear()
        if isinstance(changes, Changes):
            self.bus.publish(changes)
        self.refresh()
        self.sync_requested.emit()

    def load_devices(self) -> None:
        """When each workstation was last seen: only the sync server knows."""

        def work(clinic: Clinic, _p: Progress, _c: CancelToken) -> list[devices.Device]:
            return devices.list_devices(clinic)

        self._run("Asking the sync server about the workstations…", work, self._devices_loaded)

    def _devices_loaded(self, found: object) -> None:
        self.device_list = list(found) if isinstance(found, list) else []
        self._fill_devices()
        self._update_device_buttons()

    def add_workstation(self) -> None:
        dialog = AddWorkstationDialog(self.clinic, self)
        dialog.joined.connect(self._workstation_added)
        dialog.turned_away.connect(self._workstation_added)
        self.add_dialog = dialog
        dialog.open()

    def _workstation_added(self, changes: object) -> None:
        if isinstance(changes, Changes):
            self.bus.publish(changes)
        self.sync_requested.emit()
        self.load_devices()

    def remove_selected(self) -> None:
        device_id = self.selected_device()
        if not device_id or device_id == self.clinic.store.device_id:
            return
        item = self.device_tree.currentItem()
        name = item.text(0) if item is not None else "this workstation"
        answer = QMessageBox.question(
            self,
            "Remove workstation?",
            f"Remove {name} from the clinic's sync?\n\n{REMOVE_EXPLAIN}",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def work(clinic: Clinic, _p: Progress, _c: CancelToken) -> Changes:
            return devices.revoke_device(clinic, device_id)

        self._run(f"Removing {name}…", work, lambda changes: self._removed(name, changes))

    def _removed(self, name: str, changes: object) -> None:
        if isinstance(changes, Changes):
            self.bus.publish(changes)
        self.load_devices()
        self.sync_requested.emit()
        box = QMessageBox(self)
        box.setWindowTitle("Frontdesk")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText(f"{name} was removed. Replace the database key now?")
        box.setInformativeText(
            "Do it if the computer was lost or stolen or someone who should not could still "
            "use it: the old key then opens nothing new. Frontdesk makes a backup first and "
            "closes at the end; the other workstations receive the new key by sync."
        )
        box.setAccessibleName("Replace the database key now?")
        now = box.addButton("Replace the database key now…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(now)
        self.removed_box = box
        box.finished.connect(lambda _r: self._after_removed(box.clickedButton() is now))
        box.open()

    def _after_removed(self, rekey: bool) -> None:
        if not rekey:
            return
        self.rekey_dialog = RekeyDialog(self.clinic, self)
        # The new key takes its place at the next start, when nothing holds the file open.
        self.rekey_dialog.quit_requested.connect(lambda: self.close_frontdesk())
        self.rekey_dialog.open()

    def make_sender(self) -> None:
        answer = QMessageBox.question(
            self,
            "Make this workstation the sender?",
            "The workstation that sends now finishes what it has started and stops. This "
            "one starts sending when that is done, at most a few minutes from now. Keep this "
            "computer switched on during opening hours.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def work(clinic: Clinic, _p: Progress, _c: CancelToken) -> sender_lease.SenderTurn:
            return reminder_settings.make_sender(clinic)

        self._run("Asking to become the sender…", work, self._sender_taken)

    def _sender_taken(self, _turn: object) -> None:
        self.bus.publish(Changes(frozenset({"setting"})))
        self.refresh()


def _turn_words(clinic: Clinic) -> str:
    """After "Messages are sent by this workstation.": when it starts, if not yet."""
    turn = sender_lease.sender_turn(clinic)
    if not sender_lease.sync_on(clinic) or turn.holds:
        return ""
    if turn.wait_seconds > 0:
        return (
            f" It starts in about {_minutes(turn.wait_seconds)}, when the other "
            "workstation's turn ends."
        )
    return " It starts at its next sending pass, once it has caught up with the others."


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds) + 1} seconds"
    return f"{round(seconds / 60)} minutes"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
