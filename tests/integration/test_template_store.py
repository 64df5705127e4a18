"""Templates a clinic wrote, on a real clinic: checked on save, defaults underneath."""

from __future__ import annotations

import pytest

from app.clinic import Clinic
from app.reminders.template_store import (
    edited_templates,
    reset_template,
    save_template,
    template_for,
)
from app.reminders.templates import TemplateError, default_template


def test_without_an_edit_the_shipped_default_is_used(clinic: Clinic) -> None:
    assert template_for(clinic, "r1", "appointment", "sms", "es-MX") == default_template(
        "appointment", "sms", "es"
    )
    assert template_for(clinic, "r1", "no_show", "letter", "en") is None


def test_the_clinics_own_template_wins_and_reset_brings_back_the_default(clinic: Clinic) -> None:
    own = "Hi {{ patient_first_name }}, see you {{ appointment_date }}. {{ clinic_name }}"
    save_template(clinic, "r1", "appointment", "sms", "en", own)
    assert template_for(clinic, "r1", "appointment", "sms", "en-US") == own
    assert template_for(clinic, "r2", "appointment", "sms", "en") != own
    save_template(clinic, "r1", "appointment", "sms", "en", own + "!")
    assert edited_templates(clinic, "r1") == {("sms", "en"): own + "!"}
    reset_template(clinic, "r1", "sms", "en")
    assert template_for(clinic, "r1", "appointment", "sms", "en") == default_template(
        "appointment", "sms", "en"
    )


def test_a_broken_template_is_refused_with_its_line_and_nothing_is_stored(clinic: Clinic) -> None:
    with pytest.raises(TemplateError, match="Line 2"):
        save_template(clinic, "r1", "appointment", "sms", "en", "Hi\n{{ diagnosis }}")
    assert edited_templates(clinic, "r1") == {}
