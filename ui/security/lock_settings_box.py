"""Settings ▸ People: "Automatic lock", the idle minutes and the screen-lock choice.

Administrators change it (it is the clinic's security policy, the same at every desk);
everyone else sees it read-only, so a receptionist knows why the window locked.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import InvalidInputError, PermissionDeniedError
from app.security import lock_settings
from app.security.permissions import allowed
from app.store.changes import Changes
from ui.bus import DataBus
from ui.security import screen_lock
from ui.security.screen_guard import ScreenGuard
from ui.unlock import error_label, hint_label, show_error

NOT_SUPPORTED = (
    "This computer does not tell Frontdesk when its screen locks; the idle lock still applies."
)
READ_ONLY = "Only an administrator can change the automatic lock."


class LockSettingsBox(QGroupBox):
    """The "Automatic lock" group; `refresh()` reloads it (after sync or a change of user)."""

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Automatic lock", parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Automatic lock")

        self.minutes = QSpinBox()
        self.minutes.setRange(lock_settings.MIN_IDLE_MINUTES, lock_settings.MAX_IDLE_MINUTES)
        self.minutes.setSuffix(" minutes")
        self.minutes.setAccessibleName("Lock after this many minutes without use")
        self.with_screen = QCheckBox("Lock when this computer's screen locks")
        self.with_screen.setAccessibleName("Lock when this computer's screen locks")
        self.explain = hint_label(
            "Frontdesk hides patient details behind the sign-in screen when nobody has used "
            "it for this long. Work in progress is kept. Anything copied from Frontdesk is "
            "cleared from the clipboard after 30 seconds and when it locks."
        )
        self.explain.setAccessibleName("About the automatic lock")
        self.unsupported = hint_label(NOT_SUPPORTED)
        self.unsupported.setAccessibleName("Screen lock note")
        self.unsupported.setVisible(not screen_lock.supported())
        self.read_only = hint_label(READ_ONLY)
        self.read_only.setAccessibleName("Who can change this")
        self.error = error_label("Automatic lock problem")
        self.saved = hint_label("")
        self.saved.setAccessibleName("Automatic lock saved")
        self.saved.hide()
        self.save_button = QPushButton("Save")
        self.save_button.setAccessibleName("Save the automatic lock")
        self.save_button.clicked.connect(self.save)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Lock after", self.minutes)
        form.addRow("", self.with_screen)
        buttons = QHBoxLayout()
        buttons.addWidget(self.saved)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(form)
        layout.addWidget(self.unsupported)
        layout.addWidget(self.read_only)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.setTabOrder(self.minutes, self.with_screen)
        self.setTabOrder(self.with_screen, self.save_button)
        self.minutes.valueChanged.connect(self._edited)
        self.with_screen.toggled.connect(self._edited)
        if bus is not None:
            bus.changed.connect(self._changed)
        self.refresh()

    def _changed(self, changes: Changes) -> None:
        if changes.touches("setting"):
            self.refresh()

    def refresh(self) -> None:
        may_change = allowed(self.clinic, "settings.clinic")
        for widget in (self.minutes, self.with_screen, self.save_button):
            widget.setEnabled(may_change)
        self.read_only.setVisible(not may_change)
        self.minutes.blockSignals(True)
        self.with_screen.blockSignals(True)
        self.minutes.setValue(lock_settings.idle_lock_minutes(self.clinic))
        self.with_screen.setChecked(lock_settings.lock_on_screen_lock(self.clinic))
        self.minutes.blockSignals(False)
        self.with_screen.blockSignals(False)

    def save(self) -> None:
        show_error(self.error, "")
        try:
            changes = lock_settings.set_idle_lock_minutes(self.clinic, self.minutes.value())
            more = lock_settings.set_lock_on_screen_lock(self.clinic, self.with_screen.isChecked())
        except (InvalidInputError, PermissionDeniedError) as exc:
            show_error(self.error, str(exc))
            return
        self.saved.setText("Saved. Every desk uses these from now on.")
        self.saved.show()
        # This desk's guard takes the new limit now, not at its next minute's reading.
        guard = self.window().findChild(ScreenGuard) if self.window() is not self else None
        if guard is not None:
            guard.reload_settings()
        if self.bus is not None:
            self.bus.publish(changes | more)

    def _edited(self) -> None:
        self.saved.hide()
