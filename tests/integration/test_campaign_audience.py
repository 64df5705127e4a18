"""The audience before a campaign's send and the planner's narrowing are worked out
set-based (campaign_rules.reach_facts, audience.why_not_from, campaign_rules.reachable_among);
they must give, for every matched patient, exactly the answer the sender's per-patient
reading gives (audience.why_not through app/reminders/reach.py): every kind,
many channel orders and purposes, the clinic's consent policy, and random mixes of
consent, STOP, missing contacts, preferred channels, do-not-contact and moving away."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.clinic import Clinic
from app.engagement import audience as aud
from app.engagement import campaign_rules
from app.patients.model import CHANNELS, PURPOSES
from app.patients.records import get_patient, record_consent
from app.reminders.reach import SMS_STOP_SOURCE
from app.reminders.rules import Rule, Touch
from app.reminders.settings import DEFAULT_CONSENT, load_settings, update_settings

TEN = time(10, 0)
PREFERRED = ("", "sms", "email", "letter", "phone")


def _rule(kind: str, channels: tuple[str, ...], purpose: str = "", **terms: Any) -> Rule:
    return Rule(
        id=f"eq-{kind}-{'-'.join(channels)}-{purpose}",
        kind=kind,
        name="Equal readings",
        touches=(Touch(0, TEN, channels),),
        channels=("sms", "email", "letter"),
        purpose=purpose,
        **terms,
    )


RULES: tuple[Rule, ...] = (
    _rule("education", ("sms", "email")),
    _rule("education", ("letter",), "marketing"),
    _rule("education", ("email", "letter", "sms"), "appointment"),
    _rule("allergy", ("sms",), season_months=tuple(range(1, 13))),
    _rule("allergy", ("sms", "letter"), "recall", season_months=tuple(range(1, 13))),
    _rule("reactivation", ("sms", "email"), recall_months=6),
    _rule("reactivation", ("call",), recall_months=6),
    _rule("reactivation", ("letter", "email"), "survey", recall_months=6),
)


def _today(clinic: Clinic) -> date:
    row = clinic.conn.execute("SELECT max(substr(start_at, 1, 10)) FROM appointment").fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else date(2025, 1, 15)


def _patients(clinic: Clinic) -> list[str]:
    return [str(r[0]) for r in clinic.conn.execute("SELECT id FROM patient ORDER BY rowid")]


def assert_readings_agree(clinic: Clinic, today: date) -> int:
    """Both readings, patient by patient and as the audience's counts, with the consent
    table sought per patient (a small campaign) and read whole (a large one); returns how
    many matched patients were compared."""
    saved = campaign_rules._SCAN_FROM
    try:
        compared = 0
        for scan_from in (10**9, 0):
            campaign_rules._SCAN_FROM = scan_from  # type: ignore[misc]
            compared = _assert_readings_agree(clinic, today)
        return compared
    finally:
        campaign_rules._SCAN_FROM = saved  # type: ignore[misc]


def _assert_readings_agree(clinic: Clinic, today: date) -> int:
    settings = load_settings(clinic)
    zone = ZoneInfo(clinic.settings.timezone)
    records: dict[str, Any] = {}
    compared = 0
    for rule in RULES:
        matched = aud._matched(clinic, rule, today)
        facts = aud.reach_facts(clinic.conn, rule, matched)
        expected: Counter[str] = Counter()
        reachable: list[str] = []
        for pid in matched:
            patient = records.get(pid) or records.setdefault(pid, get_patient(clinic, pid))
            truth = aud.why_not(clinic, rule, patient, settings)
            assert aud.why_not_from(rule, facts[pid], settings) == truth, (rule.id, pid)
            if truth is None:
                reachable.append(pid)
            else:
                expected[truth] += 1
        found = aud.audience(clinic, rule, today=today)
        assert found.patient_ids == tuple(reachable), rule.id
        # The planner narrows with the same facts: exactly the patients the sender can reach.
        planned = campaign_rules.reachable_among(
            clinic.conn,
            matched,
            rule.channels_for(rule.touches[0]),
            rule.effective_purpose,
            today,
            zone,
        )
        assert planned == set(reachable), rule.id
        assert found.blocked == dict(expected), rule.id
        assert found.matched == len(matched)
        compared += len(matched)
    return compared


@dataclass(frozen=True)
class Change:
    patient: int  # an index into the clinic's patients
    what: str
    channel: str = "sms"
    purpose: str = "education"
    granted: bool = True
    stop: bool = False


def _changes() -> st.SearchStrategy[list[Change]]:
    consent = st.builds(
        Change,
        patient=st.integers(0, 10_000),
        what=st.just("consent"),
        channel=st.sampled_from(CHANNELS),
        purpose=st.sampled_from(PURPOSES),
        granted=st.booleans(),
        stop=st.booleans(),
    )
    other = st.builds(
        Change,
        patient=st.integers(0, 10_000),
        what=st.sampled_from(
            (
                "no-phone",
                "no-email",
                "blank-address",
                "do-not-contact",
                "moved",
                *(f"prefers-{p}" for p in PREFERRED),
            )
        ),
    )
    return st.lists(st.one_of(consent, consent, other), min_size=1, max_size=40)


def _apply(clinic: Clinic, patients: list[str], change: Change) -> None:
    pid = patients[change.patient % len(patients)]
    if change.what == "consent":
        stop = change.stop and change.channel == "sms" and not change.granted
        source = SMS_STOP_SOURCE if stop else "form"
        record_consent(
            clinic, pid, change.channel, change.purpose, change.granted, source, recorded_by=""
        )
        return
    with clinic.store.write() as tx:
        if change.what in ("no-phone", "no-email"):
            kind = change.what[3:]
            for (row_id,) in tx.conn.execute(
                "SELECT id FROM contact_point WHERE patient_id = ? AND kind = ?", (pid, kind)
            ).fetchall():
                tx.delete("contact_point", row_id)
        elif change.what == "blank-address":
            for (row_id,) in tx.conn.execute(
                "SELECT id FROM address WHERE patient_id = ?", (pid,)
            ).fetchall():
                tx.update("address", row_id, {"line1": " \t "})
        elif change.what == "do-not-contact":
            tx.update("patient", pid, {"do_not_contact": 1})
        elif change.what == "moved":
            tx.update("patient", pid, {"moved_on": "2024-06-01"})
        else:
            tx.update("patient", pid, {"preferred_channel": change.what.split("-", 1)[1]})


POLICIES = (
    {},
    {"education": "opt_out", "recall": "opt_in"},
    {"appointment": "opt_in", "marketing": "opt_out", "survey": "opt_out"},
)


def test_the_demo_clinic_as_generated_reads_the_same_both_ways(demo_clinic: Clinic) -> None:
    today = _today(demo_clinic)
    for policy in POLICIES:
        update_settings(demo_clinic, consent={**DEFAULT_CONSENT, **policy})
        assert assert_readings_agree(demo_clinic, today) > 100


@pytest.fixture
def demo_with_today(demo_clinic: Clinic) -> tuple[Clinic, date, list[str]]:
    return demo_clinic, _today(demo_clinic), _patients(demo_clinic)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=_changes(), policy=st.sampled_from(POLICIES))
@example(
    changes=[Change(p, "consent", "sms", "education", False, True) for p in range(0, 300, 3)],
    policy={},
)
@example(
    changes=[Change(p, "no-phone") for p in range(0, 300, 2)]
    + [Change(p, "prefers-letter") for p in range(0, 300, 5)],
    policy=POLICIES[1],
)
@example(
    # Nothing to send to and everything allowed: the reason names the contacts in the
    # patient's order (the preferred channel first).
    changes=[
        Change(p, what)
        for p in range(0, 300, 2)
        for what in ("no-phone", "no-email", "blank-address", "prefers-sms")
    ],
    policy=POLICIES[2],
)
def test_random_consent_and_contact_mixes_read_the_same_both_ways(
    demo_with_today: tuple[Clinic, date, list[str]], changes: list[Change], policy: dict[str, str]
) -> None:
    # The clinic is shared by the examples: each adds to what the ones before changed, and
    # both readings read the record as it stands.
    clinic, today, patients = demo_with_today
    update_settings(clinic, consent={**DEFAULT_CONSENT, **policy})
    for change in changes:
        _apply(clinic, patients, change)
    assert_readings_agree(clinic, today)


def test_a_campaign_with_a_stopped_number_says_stop_by_both_readings(demo_clinic: Clinic) -> None:
    today = _today(demo_clinic)
    rule = RULES[3]  # allergy alerts by text
    matched = aud._matched(demo_clinic, rule, today)
    assert matched, "the demo clinic has patients with a pollen allergy"
    for pid in matched:
        record_consent(demo_clinic, pid, "sms", "billing", False, SMS_STOP_SOURCE, recorded_by="")
    found = aud.audience(demo_clinic, rule, today=today)
    assert found.reachable == 0
    assert found.blocked.get("Replied STOP to our texts", 0) > 0
    assert_readings_agree(demo_clinic, today)


def test_two_decisions_in_the_same_second_the_later_row_wins_both_ways(
    demo_clinic: Clinic,
) -> None:
    today = _today(demo_clinic)
    rule = RULES[0]  # education by text or email: consent needs a Yes
    matched = aud._matched(demo_clinic, rule, today)
    assert len(matched) >= 20
    said_no, said_yes = matched[:10], matched[10:20]
    with demo_clinic.store.write() as tx:
        for pid in matched[:20]:
            last = pid in said_yes
            for channel in ("sms", "email"):
                for granted in (not last, last):  # the same second: the later row decides
                    tx.insert(
                        "consent",
                        {
                            "patient_id": pid,
                            "channel": channel,
                            "purpose": "education",
                            "granted": int(granted),
                            "source": "form",
                            "recorded_at": "2099-01-01T00:00:00Z",
                        },
                    )
    found = aud.audience(demo_clinic, rule, today=today)
    assert not set(said_no) & set(found.patient_ids)
    assert_readings_agree(demo_clinic, today)


@pytest.mark.parametrize("include_blocked", [False, True])
@pytest.mark.parametrize("months", [3, 6, 18])
def test_the_planner_reads_the_same_lapsed_patients_as_the_worklist(
    demo_clinic: Clinic, months: int, include_blocked: bool
) -> None:
    today = _today(demo_clinic)
    zone = ZoneInfo(demo_clinic.settings.timezone)
    worklist = campaign_rules.lapsed(
        demo_clinic.conn,
        months=months,
        visit_kinds=(),
        today=today,
        zone=zone,
        include_blocked=include_blocked,
    )
    found = campaign_rules.lapsed_since(
        demo_clinic.conn,
        months=months,
        visit_kinds=(),
        today=today,
        zone=zone,
        include_blocked=include_blocked,
    )
    assert worklist, "the demo clinic has patients away that long"
    assert list(found.items()) == [(e.patient_id, e.last_visit) for e in worklist]
