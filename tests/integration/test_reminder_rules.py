"""Reminder rules and settings stored in a real clinic: checked on save, read back whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.reminders import rules, settings
from app.reminders.rules import Rule, Touch


def test_defaults_are_installed_once_and_read_back_equal(clinic: Clinic) -> None:
    installed = rules.install_default_rules(clinic)
    # The campaigns are set up by the clinic; the survey and review request are ready-made.
    campaigns = {"education", "allergy", "reactivation"}
    assert {r.kind for r in installed} == set(rules.KINDS) - campaigns
    loaded = rules.load_rules(clinic)
    assert sorted(loaded, key=lambda r: r.id) == sorted(installed, key=lambda r: r.id)
    assert rules.install_default_rules(clinic) == []


def test_defaults_are_not_refilled_after_the_clinic_deleted_them(clinic: Clinic) -> None:
    for rule in rules.install_default_rules(clinic):
        with clinic.store.write() as tx:
            tx.delete("reminder_rule", rule.id)
    assert rules.install_default_rules(clinic) == []
    assert rules.load_rules(clinic) == []


def test_saved_rule_keeps_every_term_and_unknown_future_keys(clinic: Clinic) -> None:
    rule = Rule(
        id="",
        kind="appointment",
        name="  Dental reminders ",
        touches=(Touch(-3, time(9, 30), ("sms", "email"), ask_to_confirm=True),),
        appointment_kinds=("cleaning",),
        provider_ids=("p1",),
        window_hours=4,
        quiet_start=time(21, 0),
        quiet_end=time(7, 0),
        extra={"from_a_newer_version": [1, 2]},
    )
    stored = rules.save_rule(clinic, rule)
    assert stored.id and stored.name == "Dental reminders" and stored.purpose == "appointment"
    again = rules.get_rule(clinic, stored.id)
    assert again == stored
    assert again.extra == {"from_a_newer_version": [1, 2]}
    renamed = rules.save_rule(clinic, replace(again, name="Hygiene"))
    assert rules.get_rule(clinic, stored.id).name == "Hygiene"
    assert renamed.created_at == stored.created_at


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": " "}, "name"),
        ({"touches": ()}, "at least one"),
        ({"touches": (Touch(2, time(9, 0)),)}, "before the visit"),
        ({"touches": (Touch(-1, time(9, 0)), Touch(-1, time(15, 0)))}, "same day"),
        ({"touches": (Touch(-1, time(22, 0)),)}, "quiet hours"),
        ({"channels": ()}, "at least one way"),
        ({"channels": ("sms", "sms")}, "only once"),
        ({"touches": (Touch(-1, time(9, 0), ("fax",)),)}, "text, email or letter"),
        ({"window_hours": 0}, "late"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_the_reason(
    clinic: Clinic, changes: dict[str, object], words: str
) -> None:
    rule = replace(rules.default_rules()[0], **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=words):
        rules.save_rule(clinic, rule)
    assert rules.load_rules(clinic) == []


def test_a_letter_only_touch_may_be_set_in_quiet_hours(clinic: Clinic) -> None:
    rule = replace(rules.default_rules()[1], touches=(Touch(30, time(22, 0), ("letter",)),))
    assert rules.save_rule(clinic, rule).touches[0].at == time(22, 0)


def test_pausing_a_rule_leaves_it_out_of_the_active_ones(clinic: Clinic) -> None:
    installed = rules.install_default_rules(clinic)
    rules.set_active(clinic, installed[0].id, False)
    active = {r.id for r in rules.load_rules(clinic, active_only=True)}
    assert installed[0].id not in active and len(active) == len(installed) - 1


@pytest.mark.parametrize(
    ("moment", "start", "end", "quiet"),
    [
        (time(21, 0), time(20, 0), time(8, 0), True),
        (time(7, 59), time(20, 0), time(8, 0), True),
        (time(8, 0), time(20, 0), time(8, 0), False),
        (time(12, 30), time(12, 0), time(13, 0), True),
        (time(13, 0), time(12, 0), time(13, 0), False),
        (time(3, 0), time(0, 0), time(0, 0), False),
    ],
)
def test_quiet_hours_may_span_midnight(moment: time, start: time, end: time, quiet: bool) -> None:
    assert rules.in_quiet_hours(moment, start, end) is quiet


def test_reminder_settings_start_switched_off_and_keep_what_was_saved(clinic: Clinic) -> None:
    first = settings.load_settings(clinic)
    assert not first.enabled and first.consent_rule("marketing") == "opt_in"
    assert first.consent_rule("appointment") == "opt_out"
    settings.update_settings(clinic, enabled=True, daily_limit=3)
    claimed = settings.claim_sender_if_unset(clinic)
    assert claimed.sender_device == clinic.store.device_id
    assert settings.is_sender(clinic)
    loaded = settings.load_settings(clinic)
    assert loaded.enabled and loaded.daily_limit == 3
    with pytest.raises(InvalidInputError, match="1 to 10"):
        settings.update_settings(clinic, daily_limit=0)
