"""The automatic lock's settings: defaults, range, who may change them, synced rows."""

from __future__ import annotations

import json

import pytest

from app.clinic import Clinic
from app.errors import InvalidInputError, PermissionDeniedError
from app.security import lock_settings
from app.users import add_user


def act_as(clinic: Clinic, role: str) -> None:
    clinic.acting_user_id = add_user(clinic, f"Test {role.title()}", role).id


def test_a_new_clinic_locks_after_five_minutes_and_with_the_screen(clinic: Clinic) -> None:
    assert lock_settings.idle_lock_minutes(clinic) == 5
    assert lock_settings.lock_on_screen_lock(clinic) is True


def test_an_administrator_sets_the_minutes_as_a_synced_setting_row(clinic: Clinic) -> None:
    act_as(clinic, "administrator")
    changes = lock_settings.set_idle_lock_minutes(clinic, 12)
    assert "setting" in changes.tables
    assert lock_settings.idle_lock_minutes(clinic) == 12
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = 'security.idle_lock_minutes'"
    ).fetchone()
    assert json.loads(row[0]) == 12
    journalled = clinic.conn.execute(
        "SELECT count(*) FROM change WHERE tbl = 'setting' "
        "AND row_id = 'security.idle_lock_minutes'"
    ).fetchone()[0]
    assert journalled >= 1


@pytest.mark.parametrize("minutes", [0, 61, -5])
def test_minutes_outside_one_to_sixty_are_refused(clinic: Clinic, minutes: int) -> None:
    act_as(clinic, "administrator")
    with pytest.raises(InvalidInputError, match="between 1 and 60"):
        lock_settings.set_idle_lock_minutes(clinic, minutes)
    assert lock_settings.idle_lock_minutes(clinic) == 5


@pytest.mark.parametrize("role", ["receptionist", "manager"])
def test_only_an_administrator_changes_the_lock(clinic: Clinic, role: str) -> None:
    act_as(clinic, role)
    with pytest.raises(PermissionDeniedError):
        lock_settings.set_idle_lock_minutes(clinic, 30)
    with pytest.raises(PermissionDeniedError):
        lock_settings.set_lock_on_screen_lock(clinic, False)
    assert lock_settings.idle_lock_minutes(clinic) == 5
    assert lock_settings.lock_on_screen_lock(clinic) is True


def test_the_screen_lock_choice_is_kept(clinic: Clinic) -> None:
    act_as(clinic, "administrator")
    lock_settings.set_lock_on_screen_lock(clinic, False)
    assert lock_settings.lock_on_screen_lock(clinic) is False


def test_a_stored_value_out_of_range_falls_back_to_five_not_to_never(clinic: Clinic) -> None:
    with clinic.store.write() as tx:
        tx.insert("setting", {"id": "security.idle_lock_minutes", "value": "100000"})
    assert lock_settings.idle_lock_minutes(clinic) == 5
