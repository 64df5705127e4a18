"""The demo clinic (app.demo.generator): reproducible from its seed, and believable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic, create_clinic
from app.demo.generator import generate
from app.ops import CancelToken, OperationCancelledError
from app.patients.search import PatientSearch
from app.today import CONFIRM_KIND, agenda, call_list
from tests.conftest import PASSPHRASE

TODAY = date(2026, 11, 1)  # a Sunday, and the night the clocks went back in Chicago
# The generator's reference moment on a given day: 10:30 at the clinic (CST, UTC-6).
NOW = "2026-11-01T16:30:00Z"
DUMPED = ("patient", "appointment", "contact_point")
CHICAGO = ZoneInfo("America/Chicago")
TUESDAY = date(2026, 11, 3)


def dump(clinic: Clinic, table: str) -> list[tuple[Any, ...]]:
    return clinic.conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def one(clinic: Clinic, sql: str) -> Any:
    return clinic.conn.execute(sql).fetchone()[0]


@pytest.fixture
def second_clinic(tmp_path: Path) -> Iterator[Clinic]:
    created = create_clinic(
        "Second Practice", PASSPHRASE, tmp_path / "b", timezone="America/Chicago", use_keyring=False
    )
    yield created.clinic
    created.clinic.close()


@pytest.fixture
def demo(clinic: Clinic) -> Clinic:
    generate(clinic, 300, seed=5, today=TODAY)
    return clinic


# --- reproducible -----------------------------------------------------------------------


def test_same_seed_and_day_give_identical_rows(clinic: Clinic, second_clinic: Clinic) -> None:
    generate(clinic, 300, seed=5, today=TODAY)
    generate(second_clinic, 300, seed=5, today=TODAY)

    for table in DUMPED:
        first = dump(clinic, table)
        assert first, table
        assert first == dump(second_clinic, table), table


def test_different_seed_gives_a_different_clinic(clinic: Clinic, second_clinic: Clinic) -> None:
    generate(clinic, 300, seed=5, today=TODAY)
    generate(second_clinic, 300, seed=6, today=TODAY)

    for table in DUMPED:
        assert dump(clinic, table) != dump(second_clinic, table), table


def test_summary_counts_what_was_written(clinic: Clinic) -> None:
    summary = generate(clinic, 300, seed=5, today=TODAY)

    assert summary.patients == one(clinic, "SELECT count(*) FROM patient") == 300
    assert summary.appointments == one(clinic, "SELECT count(*) FROM appointment")
    assert summary.interactions == one(clinic, "SELECT count(*) FROM interaction")
    assert {"patient", "appointment", "contact_point", "consent"} <= summary.changes.tables


def test_every_demo_row_is_journalled(demo: Clinic) -> None:
    for table in ("patient", "appointment", "payment", "household"):
        rows = one(demo, f"SELECT count(*) FROM {table}")
        journalled = demo.conn.execute(
            "SELECT count(*) FROM change WHERE tbl = ? AND col = '*'", (table,)
        ).fetchone()[0]
        assert rows == journalled > 0, table


def test_cancelled_generation_leaves_the_clinic_as_it_was(clinic: Clinic) -> None:
    token = CancelToken()
    token.cancel()
    before = one(clinic, "SELECT count(*) FROM change")

    with pytest.raises(OperationCancelledError):
        generate(clinic, 300, seed=5, today=TODAY, cancel=token)

    assert one(clinic, "SELECT count(*) FROM patient") == 0
    assert one(clinic, "SELECT count(*) FROM provider") == 0
    assert one(clinic, "SELECT count(*) FROM change") == before


# --- believable ----------------------------------------------------------------------------


def test_several_providers_and_locations_are_all_used(demo: Clinic) -> None:
    assert one(demo, "SELECT count(*) FROM provider") >= 3
    assert one(demo, "SELECT count(*) FROM location") >= 2
    assert one(demo, "SELECT count(DISTINCT provider_id) FROM appointment") >= 3
    assert one(demo, "SELECT count(DISTINCT location_id) FROM appointment") >= 2


def test_households_have_several_members_under_one_guarantor(demo: Clinic) -> None:
    sizes = demo.conn.execute(
        "SELECT count(*), sum(household_role = 'guarantor') FROM patient "
        "WHERE household_id IS NOT NULL GROUP BY household_id"
    ).fetchall()
    guarantors_match = one(
        demo,
        "SELECT count(*) FROM household h JOIN patient p ON p.id = h.guarantor_patient_id "
        "WHERE p.household_id = h.id AND p.household_role = 'guarantor'",
    )

    assert len(sizes) >= 10
    assert all(members > 1 and guarantors == 1 for members, guarantors in sizes)
    assert guarantors_match == len(sizes)


def test_appointments_lie_in_the_past_and_the_future(demo: Clinic) -> None:
    past = one(demo, f"SELECT count(*) FROM appointment WHERE start_at < '{NOW}'")
    future = one(demo, f"SELECT count(*) FROM appointment WHERE start_at > '{NOW}'")
    future_closed = one(
        demo,
        f"SELECT count(*) FROM appointment WHERE start_at > '{NOW}' "
        "AND status NOT IN ('booked', 'confirmed')",
    )

    assert past > 100
    assert future > 10
    assert future_closed == 0


def test_some_patients_did_not_show_up(demo: Clinic) -> None:
    assert one(demo, "SELECT count(*) FROM appointment WHERE status = 'noshow'") > 0


def test_payments_and_open_balances_both_exist(demo: Clinic) -> None:
    owing = one(
        demo,
        "SELECT count(*) FROM patient p WHERE "
        "(SELECT coalesce(sum(amount_cents), 0) FROM charge WHERE patient_id = p.id) > "
        "(SELECT coalesce(sum(amount_cents), 0) FROM payment WHERE patient_id = p.id)",
    )

    assert one(demo, "SELECT count(*) FROM payment") > 100
    assert owing > 0


def test_consents_record_both_grants_and_refusals(demo: Clinic) -> None:
    granted = one(demo, "SELECT count(*) FROM consent WHERE granted = 1")
    refused = one(demo, "SELECT count(*) FROM consent WHERE granted = 0")

    assert granted > 300
    assert refused > 0


def test_patients_come_from_several_acquisition_sources(demo: Clinic) -> None:
    assert one(demo, "SELECT count(DISTINCT acquisition_source) FROM patient") >= 5
    assert one(demo, "SELECT count(*) FROM patient WHERE acquisition_source = ''") == 0


def test_some_patients_have_conditions(demo: Clinic) -> None:
    patients = one(demo, "SELECT count(DISTINCT patient_id) FROM condition")

    assert 0 < patients < 300


def test_some_patients_are_deceased_with_a_date_and_no_future_visits(demo: Clinic) -> None:
    deceased = one(demo, "SELECT count(*) FROM patient WHERE deceased = 1")
    without_date = one(
        demo, "SELECT count(*) FROM patient WHERE deceased = 1 AND deceased_date IS NULL"
    )
    booked_after_death = one(
        demo,
        "SELECT count(*) FROM appointment a JOIN patient p ON p.id = a.patient_id "
        f"WHERE p.deceased = 1 AND a.start_at > '{NOW}'",
    )

    assert deceased > 0
    assert without_date == 0
    assert booked_after_death == 0


def test_birth_dates_are_in_the_past_and_children_have_no_phone(demo: Clinic) -> None:
    assert one(demo, f"SELECT count(*) FROM patient WHERE birth_date > '{TODAY}'") == 0
    assert one(demo, "SELECT count(*) FROM patient WHERE birth_date IS NULL") == 0
    young_with_phone = one(
        demo,
        "SELECT count(*) FROM patient p JOIN contact_point c ON c.patient_id = p.id "
        "WHERE c.kind = 'phone' AND p.birth_date > '2014-11-01'",
    )
    assert young_with_phone == 0


def test_demo_patients_are_searchable_by_record_number_and_phone(demo: Clinic) -> None:
    patient_id, mrn = demo.conn.execute(
        "SELECT patient_id, value FROM patient_identifier ORDER BY value LIMIT 1"
    ).fetchone()
    phone_owner, phone = demo.conn.execute(
        "SELECT patient_id, value FROM contact_point WHERE kind = 'phone' ORDER BY id LIMIT 1"
    ).fetchone()
    searcher = PatientSearch(demo.conn, region="US")

    by_mrn = [r.patient_id for r in searcher.search(mrn)]
    by_phone = [r.patient_id for r in searcher.search(phone)]

    assert mrn == "MRN0000001"
    assert by_mrn == [patient_id]
    assert phone_owner in by_phone


# --- the desk's week ---------------------------------------------------------------------


@pytest.fixture
def tuesday(clinic: Clinic) -> Clinic:
    generate(clinic, 300, seed=5, today=TUESDAY)
    return clinic


def local_starts(clinic: Clinic) -> list[tuple[datetime, datetime, str]]:
    """(local start, local end, status) of every appointment, on the clinic's clock."""
    return [
        (
            datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(CHICAGO),
            datetime.fromisoformat(end.replace("Z", "+00:00")).astimezone(CHICAGO),
            status,
        )
        for start, end, status in clinic.conn.execute(
            "SELECT start_at, end_at, status FROM appointment"
        )
    ]


def test_a_small_demo_has_a_day_of_visits_today_and_tomorrow(tuesday: Clinic) -> None:
    today = agenda(tuesday, TUESDAY)
    tomorrow = agenda(tuesday, TUESDAY + timedelta(days=1))

    assert 8 <= len(today) <= 20
    assert 8 <= len(tomorrow) <= 20
    assert len({r.provider for r in today}) >= 2


def test_todays_earlier_visits_were_seen_or_missed_and_later_ones_are_still_to_come(
    tuesday: Clinic,
) -> None:
    moment = datetime.combine(TUESDAY, time(10, 30), tzinfo=CHICAGO)
    today = agenda(tuesday, TUESDAY)
    over = {r.status for r in today if r.ends_at is not None and r.ends_at <= moment}
    ahead = {r.status for r in today if r.starts_at > moment}

    assert "fulfilled" in over
    assert "noshow" in over
    assert over <= {"fulfilled", "noshow", "cancelled"}
    assert "confirmed" in ahead
    assert ahead <= {"booked", "confirmed", "cancelled"}


def test_some_of_tomorrows_visits_are_unconfirmed_and_on_the_call_list(tuesday: Clinic) -> None:
    tomorrow = agenda(tuesday, TUESDAY + timedelta(days=1))
    unconfirmed = {r.appointment_id for r in tomorrow if r.status == "booked"}
    confirm_calls = {
        r.appointment_id for r in call_list(tuesday, TUESDAY) if r.kind == CONFIRM_KIND
    }

    assert any(r.status == "confirmed" for r in tomorrow)
    assert unconfirmed
    assert confirm_calls and confirm_calls <= unconfirmed


def test_visits_start_on_the_quarter_hour_within_opening_hours_on_the_clinics_clock(
    tuesday: Clinic,
) -> None:
    visits = local_starts(tuesday)
    outside = [
        (start, end)
        for start, end, _ in visits
        if start.minute % 15
        or start.second
        or start.weekday() == 6
        or start.time() < time(8)
        or end.time() > (time(12) if start.weekday() == 5 else time(17, 30))
        or start.date() != end.date()
    ]

    assert len(visits) > 500
    assert outside == []


def test_the_week_ahead_books_no_provider_twice_at_once(tuesday: Clinic) -> None:
    clashes = one(
        tuesday,
        "SELECT count(*) FROM appointment a JOIN appointment b ON a.provider_id = b.provider_id "
        "AND a.id < b.id AND a.start_at < b.end_at AND b.start_at < a.end_at "
        "WHERE a.start_at >= '2026-11-03' AND a.start_at < '2026-11-10' "
        "AND b.start_at >= '2026-11-03' AND b.start_at < '2026-11-10'",
    )

    assert one(tuesday, "SELECT count(*) FROM appointment WHERE start_at >= '2026-11-03'") > 40
    assert clashes == 0


def test_deceased_patients_are_never_booked(tuesday: Clinic) -> None:
    assert one(tuesday, "SELECT count(*) FROM patient WHERE deceased = 1") > 0
    assert (
        one(
            tuesday,
            "SELECT count(*) FROM appointment a JOIN patient p ON p.id = a.patient_id "
            "WHERE p.deceased = 1 AND a.start_at >= '2026-11-03'",
        )
        == 0
    )


def test_every_visit_has_its_booking_and_its_present_status_in_the_history(
    tuesday: Clinic,
) -> None:
    missing = one(
        tuesday,
        "SELECT count(*) FROM appointment a WHERE NOT EXISTS (SELECT 1 FROM appointment_status s "
        "WHERE s.appointment_id = a.id AND s.status = 'booked' AND s.changed_at = a.created_at) "
        "OR NOT EXISTS (SELECT 1 FROM appointment_status s "
        "WHERE s.appointment_id = a.id AND s.status = a.status)",
    )
    after_now = one(
        tuesday,
        "SELECT count(*) FROM appointment_status WHERE changed_at > '2026-11-03T16:30:00Z'",
    )

    assert missing == 0
    assert after_now == 0


def test_the_demo_keeps_to_the_wall_clock_of_the_clinics_time_zone(
    tuesday: Clinic, second_clinic: Clinic
) -> None:
    second_clinic.update_settings(timezone="Australia/Sydney")
    generate(second_clinic, 300, seed=5, today=TUESDAY)
    sydney = ZoneInfo("Australia/Sydney")

    def wall_clock(clinic: Clinic, zone: ZoneInfo) -> list[str]:
        return sorted(
            datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(zone).isoformat()[:16]
            for (start,) in clinic.conn.execute("SELECT start_at FROM appointment")
        )

    assert wall_clock(tuesday, CHICAGO) == wall_clock(second_clinic, sydney)
    assert dump(tuesday, "appointment") != dump(second_clinic, "appointment")


def test_a_large_demo_books_full_days_not_one_visit_per_patient(clinic: Clinic) -> None:
    generate(clinic, 3000, seed=5, today=TUESDAY)

    per_provider = clinic.conn.execute(
        "SELECT count(*) FROM appointment WHERE start_at >= '2026-11-03T06:00:00Z' "
        "AND start_at < '2026-11-04T06:00:00Z' GROUP BY provider_id"
    ).fetchall()

    assert len(per_provider) == 6
    assert all(10 <= n <= 20 for (n,) in per_provider)
