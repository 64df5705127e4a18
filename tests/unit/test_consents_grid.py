"""The consent grid (app.patients.consents): history kept, only changed cells written, who/when."""

from __future__ import annotations

import pytest

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients import model, records
from app.patients.consents import (
    GRANTED,
    UNKNOWN,
    WITHDRAWN,
    consent_grid,
    consent_history,
    set_consents,
)
from app.patients.model import PatientDraft
from app.users import add_user


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id


def cell(clinic: Clinic, patient_id: str, channel: str, purpose: str) -> tuple[str, str, str]:
    (found,) = [
        c for c in consent_grid(clinic, patient_id) if (c.channel, c.purpose) == (channel, purpose)
    ]
    return found.state, found.source, found.recorded_by


def consent_rows(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT count(*) FROM consent").fetchone()[0])


def test_grid_has_every_channel_and_purpose_unknown_at_first(clinic: Clinic, ada: str) -> None:
    grid = consent_grid(clinic, ada)
    assert len(grid) == len(model.CHANNELS) * len(model.PURPOSES)
    assert {c.state for c in grid} == {UNKNOWN}
    assert all(c.recorded_at is None and c.recorded_by == "" for c in grid)


def test_setting_consents_records_who_how_and_when(clinic: Clinic, ada: str, dana: str) -> None:
    set_consents(clinic, ada, [("sms", "appointment", True)], "Signed form")
    (found,) = [c for c in consent_grid(clinic, ada) if c.state != UNKNOWN]
    assert (found.channel, found.purpose, found.state) == ("sms", "appointment", GRANTED)
    assert found.source == "Signed form"
    assert found.recorded_by == "Dana Reyes"
    assert found.recorded_at is not None and found.recorded_at.endswith("Z")
    stored = records.current_consents(clinic, ada)[0]
    assert stored.recorded_by == dana


def test_only_changed_cells_get_a_new_row(clinic: Clinic, ada: str, dana: str) -> None:
    set_consents(
        clinic, ada, [("sms", "appointment", True), ("email", "billing", True)], "Signed form"
    )
    before = consent_rows(clinic)
    changes = set_consents(
        clinic,
        ada,
        [("sms", "appointment", True), ("email", "billing", False), ("letter", "recall", True)],
        "By phone",
    )
    assert consent_rows(clinic) == before + 2
    assert changes.touches("consent") and ada in changes.patient_ids
    assert cell(clinic, ada, "sms", "appointment") == (GRANTED, "Signed form", "Dana Reyes")
    assert cell(clinic, ada, "email", "billing") == (WITHDRAWN, "By phone", "Dana Reyes")


def test_unchanged_decisions_write_nothing_even_without_a_source(clinic: Clinic, ada: str) -> None:
    set_consents(clinic, ada, [("sms", "appointment", True)], "Signed form")
    before = clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0]
    changes = set_consents(clinic, ada, [("sms", "appointment", True)], "")
    assert not changes
    assert clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0] == before


def test_history_keeps_every_decision_newest_first(clinic: Clinic, ada: str, dana: str) -> None:
    set_consents(clinic, ada, [("sms", "marketing", True)], "Signed form")
    other = add_user(clinic, "Sam Ortiz", "manager")
    clinic.acting_user_id = other.id
    set_consents(clinic, ada, [("sms", "marketing", False)], "Told us at the desk")
    history = consent_history(clinic, ada)
    assert [(h.granted, h.source, h.recorded_by) for h in history] == [
        (False, "Told us at the desk", "Sam Ortiz"),
        (True, "Signed form", "Dana Reyes"),
    ]
    assert cell(clinic, ada, "sms", "marketing")[0] == WITHDRAWN


def test_a_change_without_a_source_is_refused_and_nothing_is_written(
    clinic: Clinic, ada: str
) -> None:
    with pytest.raises(InvalidInputError, match="how the patient told us"):
        set_consents(clinic, ada, [("email", "recall", True)], "   ")
    assert consent_rows(clinic) == 0


def test_unknown_channel_is_refused(clinic: Clinic, ada: str) -> None:
    with pytest.raises(InvalidInputError):
        set_consents(clinic, ada, [("fax", "recall", True)], "Signed form")
    assert consent_rows(clinic) == 0


def test_decisions_recorded_before_users_existed_show_no_name(clinic: Clinic, ada: str) -> None:
    records.record_consent(clinic, ada, "letter", "billing", True, "import", recorded_by="")
    assert cell(clinic, ada, "letter", "billing") == (GRANTED, "import", "")
