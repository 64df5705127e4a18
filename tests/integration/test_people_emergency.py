"""Emergency access: the Emergency Kit's recovery key gives an administrator a new password."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.audit import actions
from app.clinic import Clinic
from app.errors import InvalidInputError, SignInError, WrongPassphraseError
from app.security import accounts, emergency
from app.store.keys import new_recovery_key
from tests.conftest import Template

NEW_PASSWORD = "lanterns along the canal"


def test_the_recovery_key_sets_a_new_administrator_password_and_is_audited(
    clinic: Clinic, clinic_template: Template
) -> None:
    admin = accounts.set_first_password(clinic, "orchard ladders in april", name="Maria Lopez")
    accounts.sign_out(clinic)
    for _ in range(6):  # the desk is made to wait: emergency access still works
        with pytest.raises(SignInError):
            accounts.sign_in(clinic, admin.id, "forgotten forgotten")
    typed = clinic_template.recovery_key.lower().replace("-", " ")
    user = emergency.emergency_sign_in(clinic, typed, admin.id, NEW_PASSWORD)
    assert user.id == admin.id == clinic.acting_user_id
    assert accounts.sign_in(clinic, admin.id, NEW_PASSWORD).id == admin.id
    row = clinic.conn.execute(
        "SELECT body FROM audit_event WHERE action = ? ORDER BY seq DESC LIMIT 1",
        (actions.EMERGENCY_ACCESS,),
    ).fetchone()
    entry = json.loads(bytes(row[0]))
    assert entry["user_id"] == admin.id and entry["detail"]["how"] == "recovery key"
    assert clinic_template.recovery_key not in json.dumps(entry)
    notice = emergency.recent_emergency_access(clinic)
    assert notice is not None and notice.user_id == admin.id
    assert emergency.recent_emergency_access(clinic, now=datetime(2030, 1, 1, tzinfo=UTC)) is None


def test_a_wrong_recovery_key_is_refused_audited_and_changes_nothing(clinic: Clinic) -> None:
    admin = accounts.set_first_password(clinic, "orchard ladders in april", name="Maria Lopez")
    accounts.sign_out(clinic)
    with pytest.raises(WrongPassphraseError, match="does not unlock"):
        emergency.emergency_sign_in(clinic, new_recovery_key(), admin.id, NEW_PASSWORD)
    with pytest.raises(WrongPassphraseError, match="not a recovery key"):
        emergency.emergency_sign_in(clinic, "ABCD", admin.id, NEW_PASSWORD)
    assert clinic.acting_user_id == ""
    assert accounts.sign_in(clinic, admin.id, "orchard ladders in april").id == admin.id
    failed = clinic.conn.execute(
        "SELECT COUNT(*) FROM audit_event WHERE action = ? AND user_id = ?",
        (actions.SIGN_IN_FAILED, admin.id),
    ).fetchone()[0]
    assert failed == 2
    assert emergency.recent_emergency_access(clinic) is None


def test_emergency_access_is_only_for_administrator_accounts(
    clinic: Clinic, clinic_template: Template
) -> None:
    accounts.set_first_password(clinic, "orchard ladders in april", name="Maria Lopez")
    dana = accounts.add_person(clinic, "Dana Reyes", "receptionist", "KQ7M-R2XD-P9TA").id
    with pytest.raises(InvalidInputError, match="administrators"):
        emergency.emergency_sign_in(clinic, clinic_template.recovery_key, dana, NEW_PASSWORD)
    assert [u.name for u in emergency.administrators(clinic)] == ["Maria Lopez"]
