"""Campaigns (health education, allergy alerts, reactivation): who they pick, checked
against independent SQL; consent and opt-out winning; never the same item twice; one alert
a day within the season's limit; the call-list step; the reactivation rate."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.engagement import campaign_rules, pollen_days
from app.engagement.audience import audience
from app.engagement.library import library, library_entries, revert_item, save_item, set_item_active
from app.engagement.pollen import OpenMeteoPollen
from app.growth.reactivation import lapsed_count, lapsed_patients, reactivation_rates
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient, record_consent
from app.reminders import planner
from app.reminders.planning_base import Span
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.sender import Channels, send_due
from app.reminders.settings import claim_sender, update_settings
from app.scheduling.appointments import book, set_status
from app.tasks import open_tasks
from tests.integration.test_pollen import FakeOpenMeteo, open_meteo  # noqa: F401

CHICAGO = ZoneInfo("America/Chicago")


def _patient(
    clinic: Clinic,
    name: str,
    *,
    born: str = "1980-05-01",
    language: str = "",
    email: bool = True,
    phone: bool = True,
) -> str:
    draft = PatientDraft(
        family_name=name,
        given_names="Pat",
        birth_date=born,
        language=language,
        phones=(PhoneDraft("312-555-01" + str(10 + len(name) % 80)),) if phone else (),
        emails=(f"{name.lower()}@example.com",) if email else (),
    )
    return create_patient(clinic, draft).id


def _set(clinic: Clinic, pid: str, **values: object) -> None:
    with clinic.store.write() as tx:
        tx.update("patient", pid, dict(values))


def _condition(clinic: Clinic, pid: str, system: str, code: str, table: str = "condition") -> None:
    with clinic.store.write() as tx:
        tx.insert(table, {"patient_id": pid, "system": system, "code": code, "display": ""})


def _span(moment: datetime, horizon: timedelta = timedelta(days=1)) -> Span:
    start = moment.astimezone(UTC)
    return Span(start, start + horizon, CHICAGO)


def _rule(kind: str, **terms: object) -> Rule:
    touches = terms.pop("touches", (Touch(0, time(10, 0)),))
    return Rule(
        id=f"test-{kind}",
        kind=kind,
        name=f"{kind} campaign",
        touches=touches,  # type: ignore[arg-type]
        channels=("sms", "email"),
        **terms,  # type: ignore[arg-type]
    )


def _consent_all(clinic: Clinic, pid: str, purpose: str = "education") -> None:
    for channel in ("sms", "email"):
        record_consent(clinic, pid, channel, purpose, True, "form", recorded_by="")


# --- education ------------------------------------------------------------------------------


def test_education_chooses_by_age_child_age_and_condition(clinic: Clinic) -> None:
    anchor = date(2027, 3, 1)
    adult = _patient(clinic, "Adult", born="1985-02-10")  # 42: diabetes prevention 35-70
    parent = _patient(clinic, "Parent", born="1995-06-01")  # 31, child of 4 months
    baby = _patient(clinic, "Baby", born="2026-11-01")
    allergic = _patient(clinic, "Allergic", born="2000-01-01")  # 27, J30.1 in March
    nobody = _patient(clinic, "Nobody", born="2000-01-01")  # 27, nothing fits in March
    with clinic.store.write() as tx:
        household = tx.insert(
            "household", {"name": "Parent household", "created_at": "2026-01-01T00:00:00Z"}
        )
    _set(clinic, parent, household_id=household, household_role="guarantor")
    _set(clinic, baby, household_id=household, household_role="child")
    _condition(clinic, allergic, "http://hl7.org/fhir/sid/icd-10-cm", "J30.1")
    blocked = _patient(clinic, "Blocked", born="1985-02-10")
    _set(clinic, blocked, do_not_contact=1)
    moved = _patient(clinic, "Moved", born="1985-02-10")
    _set(clinic, moved, moved_on="2026-12-01")

    chosen = campaign_rules.education_choices(
        clinic.conn, _rule("education"), anchor, CHICAGO, reach=False
    )

    assert {pid: item.stem for pid, item in chosen.items()} == {
        adult: "diabetes-prevention-adults",
        parent: "well-child-2-6-months",
        baby: "well-child-2-6-months",
        allergic: "seasonal-allergies",
    }
    assert nobody not in chosen and blocked not in chosen and moved not in chosen


def test_education_reaches_only_consented_patients_and_stop_wins(clinic: Clinic) -> None:
    anchor = date(2027, 3, 1)
    yes = _patient(clinic, "Yes", born="1985-02-10")
    _consent_all(clinic, yes)
    no = _patient(clinic, "Never", born="1985-02-10")  # education is opt-in: no Yes, no send
    stop = _patient(clinic, "Stop", born="1985-02-10", email=False)
    record_consent(clinic, stop, "sms", "education", True, "form", recorded_by="")
    record_consent(clinic, stop, "sms", "appointment", False, "sms-stop", recorded_by="")

    rule = _rule("education", send_day=1)
    chosen = campaign_rules.education_choices(clinic.conn, rule, anchor, CHICAGO)
    assert set(chosen) == {yes}

    seen = audience(clinic, rule, today=anchor)
    assert (seen.matched, seen.reachable, seen.patient_ids) == (3, 1, (yes,))
    assert seen.blocked == {"No consent for health information": 1, "Replied STOP to our texts": 1}
    assert no not in seen.patient_ids


def test_a_campaign_nobody_consented_to_has_no_audience_and_says_why(clinic: Clinic) -> None:
    for name in ("Ann", "Bob", "Cy"):
        _patient(clinic, name, born="1985-02-10")
    gone = _patient(clinic, "Gone", born="1985-02-10")
    _set(clinic, gone, moved_on="2027-01-02")

    seen = audience(clinic, _rule("education"), today=date(2027, 3, 1))

    assert seen.reachable == 0 and seen.patient_ids == ()
    assert seen.blocked == {"No consent for health information": 3, "Moved away": 1}
    assert seen.nobody_text().startswith("Nobody in this group can be sent this:")


def _pass(clinic: Clinic, moment: datetime) -> None:
    planner.plan(clinic, now=moment)


def _education_rows(clinic: Clinic) -> list[tuple[str, str, str]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in clinic.conn.execute(
            "SELECT patient_id, subject_id, rule_id FROM outbox WHERE subject_kind = 'education'"
        )
    ]


def test_a_patient_never_gets_the_same_item_twice_across_months_rules_and_languages(
    clinic: Clinic,
) -> None:
    parent = _patient(clinic, "Parent", born="1980-06-01")
    baby = _patient(clinic, "Baby", born="2026-06-15")
    with clinic.store.write() as tx:
        household = tx.insert("household", {"name": "H", "created_at": "2026-01-01T00:00:00Z"})
    _set(clinic, parent, household_id=household, household_role="guarantor")
    _set(clinic, baby, household_id=household, household_role="child")
    for pid in (parent, baby):
        _consent_all(clinic, pid)
    first = save_rule(clinic, replace_id(_rule("education", send_day=1)))
    second = save_rule(clinic, replace_id(_rule("education", send_day=15)))
    moment = datetime(2027, 1, 1, 9, 0, tzinfo=CHICAGO)
    for month in range(14):
        if month == 6:
            _set(clinic, parent, language="es")  # the Spanish twin is the same advice
        for day in (1, 15):
            when = moment.replace(year=2027 + (month // 12), month=month % 12 + 1, day=day)
            _pass(clinic, when)
            _pass(clinic, when + timedelta(hours=2))  # a second desk's pass: nothing new
            with clinic.store.write() as tx:  # what was due went out (as the sender would)
                tx.conn.execute("UPDATE outbox SET state = 'sent' WHERE state = 'due'")
    rows = _education_rows(clinic)
    assert rows, "the campaigns sent nothing"
    for pid in (parent, baby):
        stems = [stem for who, stem, _rule_id in rows if who == pid]
        assert len(stems) == len(set(stems)), stems
    per_day = [
        (str(r[0]), str(r[1])[:10], str(r[2]))
        for r in clinic.conn.execute(
            "SELECT patient_id, occurrence, rule_id FROM outbox WHERE subject_kind = 'education'"
        )
    ]
    assert len(per_day) == len(set(per_day))  # one item per patient per send day
    assert {rule for _p, _s, rule in rows} == {first.id, second.id}


def replace_id(rule: Rule) -> Rule:
    from dataclasses import replace

    return replace(rule, id="")


# --- library -------------------------------------------------------------------------------


def test_the_clinic_changes_hides_and_reverts_library_items(clinic: Clinic) -> None:
    shipped = next(i for i in library(clinic) if i.id == "flu-adults.en")
    raw = {
        "id": "flu-adults.en",
        "language": "en",
        "title": "Our flu clinic is open",
        "body": "Walk in any weekday morning.",
        "sms": "Our flu clinic is open weekday mornings.",
        "age": {"min_years": 18, "max_years": 65},
        "months": [9, 10, 11],
    }
    save_item(clinic, raw)
    changed = next(e for e in library_entries(clinic) if e.item.id == "flu-adults.en")
    assert (changed.origin, changed.item.title, changed.active) == (
        "changed",
        "Our flu clinic is open",
        True,
    )
    set_item_active(clinic, "flu-adults.en", False)
    assert "flu-adults.en" not in {i.id for i in library(clinic)}
    revert_item(clinic, "flu-adults.en")
    assert next(i for i in library(clinic) if i.id == "flu-adults.en") == shipped
    save_item(clinic, {**raw, "id": "walk-in-flu.en"})
    assert next(e for e in library_entries(clinic) if e.item.id == "walk-in-flu.en").origin == (
        "clinic"
    )
    revert_item(clinic, "walk-in-flu.en")
    assert "walk-in-flu.en" not in {e.item.id for e in library_entries(clinic)}


# --- allergy alerts ------------------------------------------------------------------------


def test_allergy_targets_are_exactly_the_pollen_allergy_codes(demo_clinic: Clinic) -> None:
    clinic = demo_clinic
    some = [str(r[0]) for r in clinic.conn.execute("SELECT id FROM patient LIMIT 6")]
    _condition(clinic, some[0], "http://hl7.org/fhir/sid/icd-10-cm", "J30.2")
    _condition(clinic, some[1], "http://hl7.org/fhir/sid/icd-10-cm", "J30.0")  # vasomotor
    _condition(clinic, some[2], "http://snomed.info/sct", "256277009", table="allergy")
    with clinic.store.write() as tx:
        tx.insert(
            "allergy",
            {"patient_id": some[3], "system": "", "code": "X1", "display": "Birch Pollen"},
        )
        tx.insert(
            "allergy",
            {"patient_id": some[4], "system": "http://snomed.info/sct", "code": "84489001"},
        )  # mold: an environment allergy, not pollen
    expected = {
        str(r[0])
        for r in clinic.conn.execute(
            "SELECT p.id FROM patient p WHERE p.deceased = 0 AND p.do_not_contact = 0 "
            "AND p.merged_into IS NULL AND p.moved_on IS NULL AND p.id IN ("
            "SELECT patient_id FROM condition WHERE clinical_status NOT IN "
            "('inactive','remission','resolved') AND ((system = 'http://snomed.info/sct' AND "
            "code IN ('61582004','21719001','367498001','232353008','300910009','444908001')) "
            "OR (system LIKE '%icd-10%' AND code LIKE 'J30%' AND code NOT IN ('J30.0','J300')))"
            " UNION SELECT patient_id FROM allergy WHERE clinical_status NOT IN "
            "('inactive','remission','resolved') AND (code IN ('256259004','256277009',"
            "'782576004','418689008') OR lower(display) LIKE '%pollen%'))"
        )
    }
    found = campaign_rules.allergy_targets(
        clinic.conn, _rule("allergy"), date(2027, 5, 4), CHICAGO, reach=False
    )
    assert found == expected
    assert {some[0], some[2], some[3]} <= found and some[1] not in found


def _allergic(clinic: Clinic, name: str) -> str:
    pid = _patient(clinic, name)
    _condition(clinic, pid, "http://snomed.info/sct", "367498001")
    _consent_all(clinic, pid)
    return pid


def test_allergy_alerts_one_a_day_within_the_season_limit_and_none_when_unknown(
    clinic: Clinic,
) -> None:
    pid = _allergic(clinic, "Sneezy")
    no_consent = _patient(clinic, "Quiet")
    _condition(clinic, no_consent, "http://snomed.info/sct", "367498001")
    save_rule(clinic, replace_id(_rule("allergy", season_limit=2, season_months=(4, 5))))
    day = date(2027, 5, 3)
    for offset in range(5):
        today = day + timedelta(days=offset)
        if offset == 1:
            pollen_days.decide_day(clinic, today, provider=_Fixed("unknown"))
        else:
            pollen_days.set_manual_high(clinic, today, True)
        for hour in (7, 9):
            _pass(clinic, datetime.combine(today, time(hour, 0), CHICAGO))
        with clinic.store.write() as tx:  # the day's alerts went out (as the sender would)
            tx.conn.execute("UPDATE outbox SET state = 'sent' WHERE state IN ('planned', 'due')")
    alerts = [
        str(r[0])
        for r in clinic.conn.execute(
            "SELECT occurrence FROM outbox WHERE subject_kind = 'pollen' AND patient_id = ? "
            "ORDER BY occurrence",
            (pid,),
        )
    ]
    assert alerts == ["2027-05-03", "2027-05-05"]  # not the unknown day; the limit is 2
    assert not clinic.conn.execute(
        "SELECT 1 FROM outbox WHERE patient_id = ?", (no_consent,)
    ).fetchone()


class _Fixed:
    def __init__(self, level: str) -> None:
        self.level = level

    def reading(self, day: date) -> object:
        from app.engagement.pollen import PollenReading

        return PollenReading(day, self.level, "Test", "A fixed level for the test.")


def test_open_meteo_through_a_loopback_server_decides_the_day(
    clinic: Clinic,
    open_meteo: FakeOpenMeteo,  # noqa: F811
) -> None:
    open_meteo.start = date(2027, 5, 4)
    open_meteo.set_hour("grass", date(2027, 5, 4), 14, 60.0)
    pollen_days.save_clinic_location(clinic, 52.52, 13.41)
    where = pollen_days.clinic_location(clinic)
    assert where is not None
    provider = OpenMeteoPollen(
        where.latitude, where.longitude, timezone="America/Chicago", base_url=open_meteo.url
    )
    decided = pollen_days.decide_day(clinic, date(2027, 5, 4), provider=provider)
    assert (decided.level, decided.source) == ("high", "Open-Meteo")
    assert pollen_days.pollen_for(clinic, date(2027, 5, 4)) == decided

    open_meteo.script.append("garbage")
    later = OpenMeteoPollen(52.52, 13.41, timezone="America/Chicago", base_url=open_meteo.url)
    down = pollen_days.decide_day(clinic, date(2027, 5, 5), provider=later)
    assert down.level == "unknown" and "makes no sense" in down.status


def test_a_pollen_file_is_stored_and_the_desk_switch_wins(clinic: Clinic, tmp_path: Path) -> None:
    path = tmp_path / "pollen.csv"
    path.write_text("date,level\n2027-05-04,very high\n2027-05-05,low\nnot a date,high\n")
    imported = pollen_days.import_levels(clinic, path)
    assert imported.days == 2 and imported.problems[0].startswith("Line 4:")
    assert pollen_days.decide_day(clinic, date(2027, 5, 5)).level == "low"
    pollen_days.set_manual_high(clinic, date(2027, 5, 5), True)
    assert pollen_days.decide_day(clinic, date(2027, 5, 5)).level == "high"
    with pytest.raises(pollen_days.InvalidInputError):
        pollen_days.save_clinic_location(clinic, 95.0, 0.0)


# --- reactivation --------------------------------------------------------------------------


def _visit(clinic: Clinic, pid: str, start: datetime, status: str, kind: str = "checkup") -> str:
    visit = book(clinic, pid, start, start + timedelta(minutes=20), kind=kind).id
    if status != "booked":
        set_status(clinic, visit, status)
    return visit


def test_lapsed_patients_match_an_independent_query(demo_clinic: Clinic) -> None:
    clinic = demo_clinic
    today = datetime.now(CHICAGO).date()
    for months, kinds in ((6, ()), (12, ()), (18, ("checkup",))):
        cutoff = (
            datetime.combine(_months_back(today, months), time(0), CHICAGO)
            .astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        start = datetime.combine(today, time(0), CHICAGO).astimezone(UTC)
        kind_test = " AND a.kind IN ('checkup')" if kinds else ""
        expected = {
            str(r[0])
            for r in clinic.conn.execute(
                "SELECT p.id FROM patient p WHERE p.deceased = 0 AND p.do_not_contact = 0 "
                "AND p.merged_into IS NULL AND p.moved_on IS NULL "
                f"AND (SELECT max(a.start_at) FROM appointment a WHERE a.patient_id = p.id "
                f"AND a.status = 'fulfilled'{kind_test}) < ? "
                "AND NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = p.id "
                "AND b.status IN ('booked','confirmed') AND b.start_at >= ?)",
                (cutoff, start.strftime("%Y-%m-%dT%H:%M:%SZ")),
            )
        }
        listed = lapsed_patients(
            clinic, months=months, visit_kinds=kinds, today=today, limit=10_000
        )
        assert {p.patient_id for p in listed} == expected
        assert lapsed_count(clinic, months=months, visit_kinds=kinds, today=today) == len(expected)
        assert all(p.step == "Not contacted yet" and p.months_away >= months for p in listed)


def _months_back(day: date, months: int) -> date:
    from app.reminders.planning_times import add_months

    return add_months(day, -months)


def _sending(clinic: Clinic) -> None:
    update_settings(clinic, enabled=True)
    claim_sender(clinic)


def test_reactivation_message_then_call_list_once_and_a_booking_cancels_the_rest(
    clinic: Clinic,
) -> None:
    pid = _patient(clinic, "Away")
    other = _patient(clinic, "Other")
    for who in (pid, other):
        _visit(clinic, who, datetime(2025, 2, 3, 9, 0, tzinfo=CHICAGO), "fulfilled")
    rule = save_rule(
        clinic,
        replace_id(
            _rule(
                "reactivation",
                recall_months=12,
                start_on="2027-03-01",
                touches=(
                    Touch(0, time(10, 0), ("sms",)),
                    Touch(14, time(10, 0), ("call",)),
                    Touch(28, time(10, 0), ("letter",)),
                ),
            )
        ),
    )
    _sending(clinic)
    channels = Channels(sms=None, email=None)
    first = datetime(2027, 3, 1, 10, 30, tzinfo=CHICAGO)
    _pass(clinic, first)
    assert {
        str(r[0]) for r in clinic.conn.execute("SELECT patient_id FROM outbox WHERE touch = 0")
    } == {pid, other}
    # The other patient books: their open messages are cancelled.
    _visit(clinic, other, datetime(2027, 3, 20, 9, 0, tzinfo=CHICAGO), "booked")
    call_day = datetime(2027, 3, 15, 10, 30, tzinfo=CHICAGO)
    _pass(clinic, call_day)
    send_due(clinic, channels, now=call_day)
    send_due(clinic, channels, now=call_day + timedelta(minutes=5))  # the sender runs twice
    tasks = open_tasks(clinic, date(2027, 3, 15))
    assert [(t.patient_id, t.note, t.due_on) for t in tasks] == [
        (pid, "Reactivation: ask if they would like to book", "2027-03-15")
    ]
    row = clinic.conn.execute(
        "SELECT state, reason FROM outbox WHERE patient_id = ? AND touch = 1", (pid,)
    ).fetchone()
    assert tuple(row) == ("sent", "Put on the call list")
    assert not clinic.conn.execute(
        "SELECT 1 FROM outbox WHERE patient_id = ? AND touch = 1 AND state != 'cancelled'",
        (other,),
    ).fetchone()
    listed = {
        p.patient_id: p.step for p in lapsed_patients(clinic, months=12, today=call_day.date())
    }
    assert listed == {pid: "Call due"}
    assert rule.id


def test_a_call_needs_phone_consent_and_respects_an_opt_out(clinic: Clinic) -> None:
    pid = _patient(clinic, "Nocall")
    _visit(clinic, pid, datetime(2025, 2, 3, 9, 0, tzinfo=CHICAGO), "fulfilled")
    record_consent(clinic, pid, "phone", "recall", False, "form", recorded_by="")
    save_rule(
        clinic,
        replace_id(
            _rule(
                "reactivation",
                start_on="2027-03-01",
                touches=(Touch(0, time(10, 0), ("call",)),),
            )
        ),
    )
    _sending(clinic)
    moment = datetime(2027, 3, 1, 10, 30, tzinfo=CHICAGO)
    _pass(clinic, moment)
    send_due(clinic, Channels(sms=None, email=None), now=moment)
    assert open_tasks(clinic, date(2027, 3, 1)) == []


def test_the_reactivation_rate_equals_an_independent_count(clinic: Clinic) -> None:
    pids = [_patient(clinic, f"P{n}") for n in range(4)]
    for pid in pids:
        _visit(clinic, pid, datetime(2025, 2, 3, 9, 0, tzinfo=CHICAGO), "fulfilled")
    rule = save_rule(
        clinic,
        replace_id(
            _rule(
                "reactivation",
                start_on="2027-03-01",
                touches=(Touch(0, time(10, 0), ("call",)),),
            )
        ),
    )
    _sending(clinic)
    moment = datetime(2027, 3, 1, 10, 30, tzinfo=CHICAGO)
    _pass(clinic, moment)
    send_due(clinic, Channels(sms=None, email=None), now=moment)
    # Two book after the call (one of them too late to count: after 60 days).
    for pid, created in ((pids[0], "2027-03-10T15:00:00Z"), (pids[1], "2027-06-01T15:00:00Z")):
        visit = _visit(clinic, pid, datetime(2027, 7, 1, 9, 0, tzinfo=CHICAGO), "booked")
        with clinic.store.write() as tx:
            tx.update("appointment", visit, {"created_at": created})
    expected = clinic.conn.execute(
        "SELECT count(*), sum(EXISTS (SELECT 1 FROM appointment a WHERE a.patient_id = f.p "
        "AND a.created_at > f.s AND a.created_at <= strftime('%Y-%m-%dT%H:%M:%SZ', f.s, "
        "'+60 days'))) FROM (SELECT patient_id p, min(sent_at) s FROM outbox WHERE "
        "subject_kind = 'reactivation' AND state = 'sent' AND rule_id = ? GROUP BY patient_id) f",
        (rule.id,),
    ).fetchone()
    rates = reactivation_rates(clinic, first=date(2027, 3, 1), last=date(2027, 3, 31))
    assert [(r.rule_id, r.reached, r.reactivated) for r in rates] == [
        (rule.id, int(expected[0]), int(expected[1]))
    ]
    assert (expected[0], expected[1]) == (4, 1) and rates[0].rate == 0.25


def _reactivation_sent(clinic: Clinic, rule_id: str, pid: str, sent_at: str, state: str) -> None:
    with clinic.store.write() as tx:
        tx.insert(
            "outbox",
            {
                "idem_key": f"{rule_id}/{pid}/{sent_at}",
                "rule_id": rule_id,
                "touch": 0,
                "purpose": "recall",
                "patient_id": pid,
                "subject_kind": "reactivation",
                "occurrence": sent_at[:10],
                "due_at": sent_at,
                "stale_at": sent_at,
                "state": state,
                "channel": "sms",
                "sent_at": sent_at if state == "sent" else None,
                "created_at": sent_at,
                "updated_at": sent_at,
            },
        )


def test_the_reactivation_rate_counts_first_messages_by_local_day_and_names_a_deleted_rule(
    clinic: Clinic,
) -> None:
    from dataclasses import replace

    from app.reminders.rules import delete_rule

    made = [
        save_rule(clinic, replace(_rule("reactivation"), id="", name=name))
        for name in ("Come back", "Second try", "Old campaign")
    ]
    rule, idle, gone = (r.id for r in made)
    delete_rule(clinic, gone)
    early, first_day, last_day, late, twice = (_patient(clinic, f"R{n}") for n in range(5))
    # March 2027 in Chicago is 06:00Z on the 1st (CST) to 05:00Z on 1 April (CDT).
    for pid, sent_at, state in (
        (early, "2027-03-01T05:30:00Z", "sent"),  # 28 Feb locally: first message before March
        (early, "2027-03-15T15:00:00Z", "sent"),  # so this one is not a first
        (first_day, "2027-02-20T15:00:00Z", "failed"),  # a failed message reached nobody
        (first_day, "2027-03-01T06:30:00Z", "sent"),
        (first_day, "2027-03-09T15:00:00Z", "sent"),
        (last_day, "2027-04-01T04:30:00Z", "sent"),  # 31 March 23:30 locally
        (late, "2027-04-01T05:30:00Z", "sent"),  # 1 April locally
        (twice, "2027-03-31T23:00:00Z", "sent"),
        (twice, "2027-03-05T15:00:00Z", "skipped"),
    ):
        _reactivation_sent(clinic, rule, pid, sent_at, state)
    _reactivation_sent(clinic, gone, first_day, "2027-03-05T15:00:00Z", "sent")
    for pid, created in (
        (first_day, "2027-04-30T06:30:00Z"),  # exactly 60 days after its first message
        (twice, "2027-03-20T15:00:00Z"),  # before the message: not brought back by it
        (twice, "2027-05-30T23:00:01Z"),  # a second too late
        (early, "2027-03-16T15:00:00Z"),  # booked, but first reached in February
    ):
        visit = _visit(clinic, pid, datetime(2027, 7, 1, 9, 0, tzinfo=CHICAGO), "booked")
        with clinic.store.write() as tx:
            tx.update("appointment", visit, {"created_at": created})
    lo, hi = (
        datetime(2027, month, 1, tzinfo=CHICAGO).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for month in (3, 4)
    )
    expected = {
        str(r[0]): (int(r[1]), int(r[2]))
        for r in clinic.conn.execute(
            "SELECT f.rule_id, count(*), sum(EXISTS (SELECT 1 FROM appointment a "
            "WHERE a.patient_id = f.p AND a.created_at > f.s AND a.created_at <= "
            "strftime('%Y-%m-%dT%H:%M:%SZ', f.s, '+60 days'))) FROM (SELECT rule_id, "
            "patient_id p, min(sent_at) s FROM outbox WHERE subject_kind = 'reactivation' "
            "AND state = 'sent' GROUP BY rule_id, patient_id) f WHERE f.s >= ? AND f.s < ? "
            "GROUP BY f.rule_id",
            (lo, hi),
        )
    }
    rates = reactivation_rates(clinic, first=date(2027, 3, 1), last=date(2027, 3, 31))
    assert [(r.name, r.reached, r.reactivated) for r in rates] == [
        ("A deleted campaign", 1, 1),
        ("Come back", 3, 1),
        ("Second try", 0, 0),
    ]
    assert {r.rule_id: (r.reached, r.reactivated) for r in rates if r.reached} == expected
    assert [r.rule_id for r in rates] == [gone, rule, idle] and rates[2].rate is None


def test_campaign_rules_refuse_a_call_outside_reactivation_and_bad_terms(clinic: Clinic) -> None:
    from app.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="text, email or letter"):
        save_rule(clinic, replace_id(_rule("education", touches=(Touch(0, time(10), ("call",)),))))
    with pytest.raises(InvalidInputError, match="1 to 28"):
        save_rule(clinic, replace_id(_rule("education", send_day=31)))
    with pytest.raises(InvalidInputError, match="season"):
        save_rule(clinic, replace_id(_rule("allergy", season_months=())))
    assert json.dumps(["ok"])
