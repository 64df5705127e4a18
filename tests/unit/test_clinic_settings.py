"""Clinic settings keep the same rules whichever screen or command saves them."""

from __future__ import annotations

import pytest

from app.clinic import Clinic, open_clinic
from app.errors import InvalidInputError


def test_phone_is_stored_in_international_form_for_the_clinic_country(clinic: Clinic) -> None:
    clinic.update_settings(phone="(612) 555-0100")
    assert clinic.settings.phone == "+16125550100"


def test_phone_is_read_in_the_country_saved_with_it(clinic: Clinic) -> None:
    clinic.update_settings(region="DE", phone="030 901820")
    assert clinic.settings.phone == "+4930901820"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"name": "   "}, "needs a name"),
        ({"name": "x" * 121}, "at most 120"),
        ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
        ({"timezone": ""}, "time zone"),
        ({"region": "XX"}, "country"),
        ({"phone": "12"}, "phone"),
    ],
)
def test_bad_settings_are_refused_with_the_reason_and_nothing_saved(
    clinic: Clinic, values: dict[str, object], reason: str
) -> None:
    before = clinic.settings
    changes = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    with pytest.raises(InvalidInputError, match=reason):
        clinic.update_settings(**values)
    assert clinic.settings == before
    assert clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0] == changes


def test_settings_survive_reopening(clinic: Clinic) -> None:
    clinic.update_settings(name="  Lakeside   Clinic ", timezone="Europe/Berlin", day_first=1)
    home = clinic.home
    clinic.close()
    with open_clinic(home) as again:
        assert again.settings.name == "Lakeside Clinic"
        assert again.settings.timezone == "Europe/Berlin"
        assert again.settings.day_first is True
