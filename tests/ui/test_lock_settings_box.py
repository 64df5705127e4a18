"""Settings ▸ Automatic lock: administrators change it, everyone else reads it."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.security import lock_settings
from app.store.changes import Changes
from app.users import add_user
from ui.bus import DataBus
from ui.security import screen_lock
from ui.security.lock_settings_box import NOT_SUPPORTED, LockSettingsBox


def make_box(qtbot: QtBot, clinic: Clinic, role: str) -> tuple[LockSettingsBox, list[Changes]]:
    clinic.acting_user_id = add_user(clinic, f"Test {role.title()}", role).id
    bus = DataBus()
    published: list[Changes] = []
    bus.changed.connect(published.append)
    box = LockSettingsBox(clinic, bus)
    qtbot.addWidget(box)
    box.show()
    return box, published


def test_an_administrator_saves_the_minutes_and_the_screen_lock_choice(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box, published = make_box(qtbot, clinic, "administrator")
    assert box.minutes.value() == 5 and box.with_screen.isChecked()
    assert box.minutes.minimum() == 1 and box.minutes.maximum() == 60
    box.minutes.setValue(15)
    box.with_screen.setChecked(False)
    box.save_button.click()
    assert lock_settings.idle_lock_minutes(clinic) == 15
    assert lock_settings.lock_on_screen_lock(clinic) is False
    assert box.saved.isVisible() and not box.error.isVisible()
    assert published and published[-1].touches("setting")


def test_a_receptionist_sees_the_lock_but_cannot_change_it(qtbot: QtBot, clinic: Clinic) -> None:
    box, _published = make_box(qtbot, clinic, "receptionist")
    assert not box.minutes.isEnabled()
    assert not box.with_screen.isEnabled()
    assert not box.save_button.isEnabled()
    assert box.read_only.isVisible()
    box.save()  # even if reached some other way, the core refuses
    assert box.error.isVisible() and "administrator" in box.error.text()
    assert lock_settings.idle_lock_minutes(clinic) == 5


def test_the_box_says_when_this_computer_cannot_tell_of_its_screen_lock(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box, _published = make_box(qtbot, clinic, "manager")
    assert box.unsupported.isVisible() == (not screen_lock.supported())
    assert box.unsupported.text() == NOT_SUPPORTED


def test_every_control_has_an_accessible_name(qtbot: QtBot, clinic: Clinic) -> None:
    box, _published = make_box(qtbot, clinic, "administrator")
    for widget in (box.minutes, box.with_screen, box.save_button, box.error, box.unsupported):
        assert widget.accessibleName()
