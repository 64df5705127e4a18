"""People's accounts on a real encrypted clinic: passwords, roles, sign-in and its waits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app.audit import actions
from app.clinic import Clinic, open_clinic
from app.errors import InvalidInputError, PermissionDeniedError, SignInError
from app.security import accounts, passwords, signin_throttle
from app.users import add_user, get_user

ADMIN_PASSWORD = "orchard ladders in april"
DANA_TEMPORARY = "KQ7M-R2XD-P9TA"
DANA_OWN = "blue heron over the weir"
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def entries(clinic: Clinic, action: str) -> list[dict[str, object]]:
    rows = clinic.conn.execute(
        "SELECT body FROM audit_event WHERE action = ? ORDER BY seq", (action,)
    ).fetchall()
    return [json.loads(bytes(r[0])) for r in rows]


def with_admin(clinic: Clinic) -> str:
    """The clinic's first administrator, with a password, signed in."""
    return accounts.set_first_password(clinic, ADMIN_PASSWORD, name="Maria Lopez").id


def with_dana(clinic: Clinic) -> str:
    return accounts.add_person(clinic, "Dana Reyes", "receptionist", DANA_TEMPORARY).id


def test_stored_hash_is_argon2id_with_the_rfc_9106_low_memory_parameters(clinic: Clinic) -> None:
    admin = with_admin(clinic)
    stored = clinic.conn.execute(
        "SELECT password_hash FROM app_user WHERE id = ?", (admin,)
    ).fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert ADMIN_PASSWORD not in stored
    assert passwords.verify_password(stored, ADMIN_PASSWORD)
    assert not passwords.needs_rehash(stored)


def test_a_hash_made_with_older_parameters_is_remade_at_the_next_good_sign_in(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(ADMIN_PASSWORD)
    with clinic.store.write() as tx:
        tx.update("app_user", admin, {"password_hash": weaker})
    accounts.sign_in(clinic, admin, ADMIN_PASSWORD, now=T0)
    stored = clinic.conn.execute(
        "SELECT password_hash FROM app_user WHERE id = ?", (admin,)
    ).fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_wrong_password_and_unknown_name_get_the_same_words_and_are_audited(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    with pytest.raises(SignInError) as wrong:
        accounts.sign_in(clinic, admin, "not the password at all", now=T0)
    with pytest.raises(SignInError) as unknown:
        accounts.sign_in(clinic, "no-such-person", ADMIN_PASSWORD, now=T0)
    assert str(wrong.value) == str(unknown.value) == "That name and password do not match."
    assert "password" not in str(wrong.value).split("and")[0]  # names neither part alone
    failed = entries(clinic, actions.SIGN_IN_FAILED)
    assert [e["user_id"] for e in failed] == [admin, ""]
    assert ADMIN_PASSWORD not in json.dumps(failed)


def test_sign_in_makes_the_person_the_one_working_and_switching_signs_the_other_out(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    dana = with_dana(clinic)
    user = accounts.sign_in(clinic, dana, DANA_TEMPORARY, now=T0)
    assert user.id == dana == clinic.acting_user_id
    outs = entries(clinic, actions.SIGN_OUT)
    assert outs[-1]["user_id"] == admin and outs[-1]["detail"] == {"reason": "switch"}
    assert entries(clinic, actions.SIGN_IN)[-1]["user_id"] == dana
    accounts.sign_out(clinic, "quit")
    assert clinic.acting_user_id == ""
    assert entries(clinic, actions.SIGN_OUT)[-1]["user_id"] == dana


def test_waits_grow_after_three_failures_are_capped_and_end_with_a_good_sign_in(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    waits: list[float] = []
    moment = T0
    for _ in range(6):
        moment += timedelta(seconds=waits[-1] if waits else 0)
        with pytest.raises(SignInError) as refused:
            accounts.sign_in(clinic, admin, "wrong wrong wrong", now=moment)
        waits.append(refused.value.wait_seconds)
    assert waits == [0, 0, 0, 2, 4, 8]
    # While the desk says wait, even the right password is not checked.
    with pytest.raises(SignInError) as early:
        accounts.sign_in(clinic, admin, ADMIN_PASSWORD, now=moment)
    assert early.value.wait_seconds == pytest.approx(8)
    assert accounts.sign_in(clinic, admin, ADMIN_PASSWORD, now=moment + timedelta(seconds=8))
    assert accounts.wait_before_sign_in(clinic, admin, now=moment) == 0
    assert signin_throttle.failures(clinic.conn, signin_throttle.DESK) == 0
    assert signin_throttle.delay_after(40) == 300  # never longer than five minutes


def test_the_wait_survives_closing_and_reopening_the_clinic(clinic_home: Path) -> None:
    with open_clinic(clinic_home) as clinic:
        admin = with_admin(clinic)
        for _ in range(4):
            with pytest.raises(SignInError):
                accounts.sign_in(clinic, admin, "wrong wrong wrong", now=T0)
    with open_clinic(clinic_home) as again:
        assert accounts.wait_before_sign_in(again, admin, now=T0) == pytest.approx(2)
        with pytest.raises(SignInError) as refused:
            accounts.sign_in(again, admin, ADMIN_PASSWORD, now=T0)
        assert refused.value.wait_seconds > 0


def test_a_disabled_person_cannot_sign_in_and_is_kept_not_deleted(clinic: Clinic) -> None:
    with_admin(clinic)
    dana = with_dana(clinic)
    accounts.set_active(clinic, dana, False)
    with pytest.raises(SignInError, match="do not match"):
        accounts.sign_in(clinic, dana, DANA_TEMPORARY, now=T0)
    person = get_user(clinic, dana)
    assert person is not None and not person.active
    accounts.set_active(clinic, dana, True)
    assert accounts.sign_in(clinic, dana, DANA_TEMPORARY, now=T0).id == dana


def test_the_last_active_administrator_can_be_neither_disabled_nor_demoted(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    other = add_user(clinic, "Sam Ortiz", "receptionist").id
    with pytest.raises(InvalidInputError, match="only administrator"):
        accounts.change_role(clinic, admin, "manager")
    with pytest.raises(InvalidInputError):
        accounts.set_active(clinic, admin, False)
    accounts.change_role(clinic, other, "administrator")
    accounts.change_role(clinic, admin, "manager")  # Sam is an administrator now
    assert get_user(clinic, admin).role == "manager"  # type: ignore[union-attr]
    changes = [e["detail"] for e in entries(clinic, actions.USER_CHANGE)]
    assert {"change": "role", "from": "administrator", "to": "manager"} in changes


def test_a_temporary_password_asks_for_the_persons_own_one(clinic: Clinic) -> None:
    with_admin(clinic)
    dana = with_dana(clinic)
    accounts.sign_in(clinic, dana, DANA_TEMPORARY, now=T0)
    assert accounts.must_change_password(clinic)
    with pytest.raises(InvalidInputError, match="current password"):
        accounts.change_own_password(clinic, "not it at all", DANA_OWN)
    with pytest.raises(InvalidInputError, match=r"guessed|characters"):
        accounts.change_own_password(clinic, DANA_TEMPORARY, "Dana Reyes 1")
    accounts.change_own_password(clinic, DANA_TEMPORARY, DANA_OWN)
    assert not accounts.must_change_password(clinic)
    assert accounts.sign_in(clinic, dana, DANA_OWN, now=T0).id == dana


def test_an_administrator_reset_gives_a_temporary_password_and_ends_the_wait(
    clinic: Clinic,
) -> None:
    admin = with_admin(clinic)
    dana = with_dana(clinic)
    for _ in range(5):
        with pytest.raises(SignInError):
            accounts.sign_in(clinic, dana, "wrong wrong wrong", now=T0)
    accounts.sign_in(clinic, admin, ADMIN_PASSWORD, now=T0 + timedelta(minutes=10))
    accounts.reset_password(clinic, dana, "ZX9P-4KMW-TT3Q")
    assert signin_throttle.failures(clinic.conn, signin_throttle.user_key(dana)) == 0
    assert accounts.sign_in(clinic, dana, "ZX9P-4KMW-TT3Q", now=T0).must_change_password
    assert entries(clinic, actions.PASSWORD_RESET)[-1]["target"] == dana


def test_short_or_guessable_passwords_are_refused_in_plain_words(clinic: Clinic) -> None:
    with_admin(clinic)
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        accounts.add_person(clinic, "Dana Reyes", "receptionist", "harbour1")
    with pytest.raises(InvalidInputError, match="guessed"):
        accounts.add_person(clinic, "Dana Reyes", "receptionist", "Dana Reyes 2026")
    with pytest.raises(InvalidInputError, match="guessed"):
        accounts.add_person(clinic, "Dana Reyes", "receptionist", "Lakeside Family Practice 1")


def test_a_receptionist_may_not_manage_people(clinic: Clinic) -> None:
    with_admin(clinic)
    dana = with_dana(clinic)
    accounts.sign_in(clinic, dana, DANA_TEMPORARY, now=T0)
    with pytest.raises(PermissionDeniedError, match="administrator"):
        accounts.add_person(clinic, "Sam Ortiz", "receptionist", "ZX9P-4KMW-TT3Q")
    with pytest.raises(PermissionDeniedError):
        accounts.reset_password(clinic, dana, "ZX9P-4KMW-TT3Q")
    with pytest.raises(PermissionDeniedError):
        accounts.change_role(clinic, dana, "administrator")
    with pytest.raises(PermissionDeniedError):
        accounts.set_active(clinic, dana, False)


def test_a_clinic_without_passwords_asks_once_for_its_first_administrators(
    clinic: Clinic,
) -> None:
    maria = add_user(clinic, "Maria Lopez", "administrator").id
    add_user(clinic, "Dana Reyes", "receptionist")
    assert not accounts.anyone_can_sign_in(clinic)
    first = accounts.first_password_for(clinic)
    assert first is not None and first.id == maria
    with pytest.raises(InvalidInputError):
        accounts.set_first_password(clinic, "Maria Lopez 99")
    accounts.set_first_password(clinic, ADMIN_PASSWORD)
    assert clinic.acting_user_id == maria
    assert accounts.first_password_for(clinic) is None
    with pytest.raises(PermissionDeniedError):
        accounts.set_first_password(clinic, "another long passphrase here")
    reset = entries(clinic, actions.PASSWORD_RESET)[-1]
    assert reset["user_id"] == maria and reset["detail"]["by"] == "first password"  # type: ignore[index]


def test_a_clinic_with_nobody_names_its_first_administrator_with_the_password(
    clinic: Clinic,
) -> None:
    assert accounts.first_password_for(clinic) is None
    user = accounts.set_first_password(clinic, ADMIN_PASSWORD, name="  Maria   Lopez ")
    assert (user.name, user.role, user.has_password) == ("Maria Lopez", "administrator", True)
