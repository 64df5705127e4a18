"""Acquisition: channels, leads and their pipeline, spend, and the reports by channel.

Report figures are checked against counts made here in plain Python over rows read with
simple SELECTs, never against the module's own SQL.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.errors import (
    InvalidEmailError,
    InvalidInputError,
    InvalidPhoneError,
    RecordNotFoundError,
)
from app.growth import acquisition as acq
from app.growth.acquisition import LeadDraft, Source
from app.patients.model import PatientDraft
from app.patients.records import create_patient, get_patient
from app.scheduling.appointments import book, set_status
from app.store.changes import Changes

CHICAGO = ZoneInfo("America/Chicago")


# --- helpers -------------------------------------------------------------------------


def _patient(clinic: Clinic, name: str, source: str = "") -> str:
    return create_patient(clinic, PatientDraft(name, "Test", acquisition_source=source)).id


def _backdate(clinic: Clinic, table: str, row_id: str, **values: str) -> None:
    """Imported-style history: rows that were created on another day than today."""
    with clinic.store.write() as tx:
        tx.update(table, row_id, values)


def _visit(clinic: Clinic, patient_id: str, start: datetime, status: str = "fulfilled") -> str:
    appointment_id = book(clinic, patient_id, start, start + timedelta(minutes=20)).id
    if status != "booked":
        set_status(clinic, appointment_id, status)
    return appointment_id


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local_month(text: str, zone: ZoneInfo) -> str:
    return _utc(text).astimezone(zone).strftime("%Y-%m")


def _lead(clinic: Clinic, name: str = "Rivera", **fields: str) -> str:
    fields.setdefault("phone", "(312) 555-0142")
    return acq.add_lead(clinic, LeadDraft(family_name=name, **fields)).id


def _history(clinic: Clinic, lead_id: str) -> list[str]:
    rows = clinic.conn.execute(
        "SELECT status FROM lead_status WHERE lead_id = ? ORDER BY changed_at, rowid", (lead_id,)
    ).fetchall()
    return [r[0] for r in rows]


# --- channels ------------------------------------------------------------------------


def test_a_new_clinic_offers_the_default_channels(clinic: Clinic) -> None:
    found = acq.sources(clinic)
    assert [s.key for s in found] == [
        "search",
        "maps",
        "patient_referral",
        "physician_referral",
        "insurance_directory",
        "social",
        "walk_in",
        "website",
        "event",
        "other",
    ]
    assert all(s.active and s.label for s in found)
    assert acq.labels(clinic)[""] == "Not recorded"


def test_saving_channels_adds_renames_and_retires(clinic: Clinic) -> None:
    current = acq.sources(clinic)
    edited = [
        Source(s.key, "Google and Bing" if s.key == "search" else s.label, s.key != "event")
        for s in current
    ]
    changes = acq.save_sources(clinic, [*edited, Source("", "Radio advert")])
    assert changes.touches("setting")
    saved = {s.key: s for s in acq.sources(clinic)}
    assert saved["search"].label == "Google and Bing"
    assert saved["event"].active is False
    assert saved["radio_advert"] == Source("radio_advert", "Radio advert", True)
    assert "event" not in {s.key for s in acq.active_sources(clinic)}
    # A second channel with a similar name gets its own key.
    acq.save_sources(clinic, [*acq.sources(clinic), Source("", "Radio: advert")])
    assert "radio_advert_2" in {s.key for s in acq.sources(clinic)}


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([Source("search", "  ")], "needs a name"),
        ([Source("search", "Web"), Source("maps", "web")], "same name"),
        ([Source("search", "Web"), Source("search", "Maps")], "listed twice"),
        ([Source("search", "Web", active=False)], "at least one"),
        ([Source("search", "x" * 61)], "at most 60"),
    ],
)
def test_a_bad_channel_list_is_refused(clinic: Clinic, items: list[Source], reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        acq.save_sources(clinic, items)
    assert acq.sources(clinic) == list(acq.DEFAULT_SOURCES)


def test_a_channel_in_use_can_only_be_retired_not_removed(clinic: Clinic) -> None:
    _patient(clinic, "Okafor", "social")
    without_social = [s for s in acq.sources(clinic) if s.key != "social"]
    with pytest.raises(InvalidInputError, match="retire it instead"):
        acq.save_sources(clinic, without_social)
    # An unused one may go.
    acq.save_sources(clinic, [s for s in acq.sources(clinic) if s.key != "maps"])
    assert "maps" not in {s.key for s in acq.sources(clinic)}


def test_a_retired_channel_keeps_its_label_in_reports(clinic: Clinic) -> None:
    pid = _patient(clinic, "Okafor", "event")
    _backdate(clinic, "patient", pid, created_at="2025-04-10T15:00:00Z")
    acq.save_sources(
        clinic,
        [
            Source(s.key, "Spring health fair" if s.key == "event" else s.label, s.key != "event")
            for s in acq.sources(clinic)
        ],
    )
    rows = acq.new_patients_by_source(clinic, "2025-04", "2025-04")
    assert [(r.source, r.label, r.count) for r in rows] == [("event", "Spring health fair", 1)]
    # The patient keeps it; nobody new can be given it.
    assert acq.set_patient_source(clinic, pid, "event") == Changes()
    other = _patient(clinic, "Berg")
    with pytest.raises(InvalidInputError, match="from the list"):
        acq.set_patient_source(clinic, other, "event")


def test_setting_a_patients_channel(clinic: Clinic) -> None:
    pid = _patient(clinic, "Berg")
    version = get_patient(clinic, pid).version
    changes = acq.set_patient_source(clinic, pid, "maps")
    assert changes.patient_ids == {pid}
    assert get_patient(clinic, pid).acquisition_source == "maps"
    assert get_patient(clinic, pid).version == version + 1
    acq.set_patient_source(clinic, pid, "")
    assert get_patient(clinic, pid).acquisition_source == ""
    with pytest.raises(InvalidInputError):
        acq.set_patient_source(clinic, pid, "billboard")
    with pytest.raises(RecordNotFoundError):
        acq.set_patient_source(clinic, "no-such-patient", "maps")


# --- leads ---------------------------------------------------------------------------


def test_a_lead_is_saved_with_its_phone_and_email_normalised(clinic: Clinic) -> None:
    created = acq.add_lead(
        clinic,
        LeadDraft(
            family_name=" Rivera ",
            given_names="Ana  Maria",
            phone="(312) 555-0142",
            email=" Ana.Rivera@Example.COM ",
            source="maps",
            note="asked about flu shots",
        ),
    )
    assert created.changes.touches("lead", "lead_status")
    lead = acq.get_lead(clinic, created.id)
    assert (lead.family_name, lead.given_names) == ("Rivera", "Ana Maria")
    assert lead.phone == "+13125550142"
    assert lead.email == "ana.rivera@example.com"
    assert (lead.source, lead.status, lead.patient_id) == ("maps", "new", None)
    assert _history(clinic, created.id) == ["new"]


def test_a_lead_uses_the_clinics_region_for_phone_numbers(clinic: Clinic) -> None:
    clinic.update_settings(region="GB")
    lead_id = _lead(clinic, phone="020 7946 0018")
    assert acq.get_lead(clinic, lead_id).phone == "+442079460018"


@pytest.mark.parametrize(
    ("draft", "error"),
    [
        (LeadDraft(phone="3125550142"), InvalidInputError),
        (LeadDraft(family_name="Rivera"), InvalidInputError),
        (LeadDraft(family_name="Rivera", phone="12"), InvalidPhoneError),
        (LeadDraft(given_names="Ana", email="ana@"), InvalidEmailError),
        (
            LeadDraft(family_name="Rivera", phone="3125550142", source="billboard"),
            InvalidInputError,
        ),
    ],
)
def test_a_lead_without_a_name_or_a_way_to_reach_them_is_refused(
    clinic: Clinic, draft: LeadDraft, error: type[Exception]
) -> None:
    with pytest.raises(error):
        acq.add_lead(clinic, draft)
    assert acq.leads(clinic) == []


def test_a_lead_with_only_an_email_is_enough(clinic: Clinic) -> None:
    lead_id = acq.add_lead(clinic, LeadDraft(given_names="Ana", email="ana@example.com")).id
    assert acq.get_lead(clinic, lead_id).phone == ""


def test_the_pipeline_moves_forward_and_records_every_step(clinic: Clinic) -> None:
    lead_id = _lead(clinic)
    acq.move_lead(clinic, lead_id, "contacted", "left a voicemail")
    assert acq.move_lead(clinic, lead_id, "contacted") == Changes()  # no change, no row
    acq.move_lead(clinic, lead_id, "booked")
    acq.move_lead(clinic, lead_id, "first_visit")
    assert acq.get_lead(clinic, lead_id).status == "first_visit"
    assert _history(clinic, lead_id) == ["new", "contacted", "booked", "first_visit"]
    note = clinic.conn.execute(
        "SELECT note FROM lead_status WHERE lead_id = ? AND status = 'contacted'", (lead_id,)
    ).fetchone()[0]
    assert note == "left a voicemail"


def test_a_lead_may_skip_ahead_when_they_book_on_the_first_call(clinic: Clinic) -> None:
    lead_id = _lead(clinic)
    acq.move_lead(clinic, lead_id, "booked")
    assert _history(clinic, lead_id) == ["new", "booked"]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["contacted"], "new"),
        (["booked"], "contacted"),
        (["first_visit"], "lost"),
        (["first_visit"], "contacted"),
        (["lost"], "booked"),
        (["lost"], "new"),
        ([], "done"),
    ],
)
def test_a_move_that_makes_no_sense_is_refused(clinic: Clinic, path: list[str], bad: str) -> None:
    lead_id = _lead(clinic)
    for status in path:
        acq.move_lead(clinic, lead_id, status)
    with pytest.raises(InvalidInputError):
        acq.move_lead(clinic, lead_id, bad)
    assert acq.get_lead(clinic, lead_id).status == (path[-1] if path else "new")
    assert len(_history(clinic, lead_id)) == len(path) + 1


@pytest.mark.parametrize("open_status", ["new", "contacted", "booked"])
def test_any_open_lead_can_be_lost_and_reopened_as_contacted(
    clinic: Clinic, open_status: str
) -> None:
    lead_id = _lead(clinic)
    acq.move_lead(clinic, lead_id, open_status)
    acq.move_lead(clinic, lead_id, "lost", "chose another clinic")
    acq.move_lead(clinic, lead_id, "contacted", "called back after all")
    assert acq.get_lead(clinic, lead_id).status == "contacted"
    assert _history(clinic, lead_id)[-2:] == ["lost", "contacted"]


def test_moving_an_unknown_lead_says_it_is_gone(clinic: Clinic) -> None:
    with pytest.raises(RecordNotFoundError):
        acq.move_lead(clinic, "no-such-lead", "contacted")


def test_a_lead_time_needs_its_zone(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="time zone"):
        acq.add_lead(
            clinic, LeadDraft(family_name="Rivera", phone="3125550142"), at=datetime(2025, 1, 1)
        )


def test_converting_a_lead_before_the_visit_books_it_and_copies_the_channel(
    clinic: Clinic,
) -> None:
    lead_id = _lead(clinic, source="website")
    pid = _patient(clinic, "Rivera")
    changes = acq.convert_lead(clinic, lead_id, pid)
    assert changes.patient_ids == {pid}
    lead = acq.get_lead(clinic, lead_id)
    assert (lead.patient_id, lead.status) == (pid, "booked")
    assert get_patient(clinic, pid).acquisition_source == "website"
    assert _history(clinic, lead_id) == ["new", "booked"]


def test_converting_a_lead_after_the_visit_marks_the_first_visit(clinic: Clinic) -> None:
    lead_id = _lead(clinic, source="website")
    pid = _patient(clinic, "Rivera", source="maps")
    _visit(clinic, pid, datetime(2025, 3, 3, 15, tzinfo=UTC))
    acq.convert_lead(clinic, lead_id, pid)
    assert acq.get_lead(clinic, lead_id).status == "first_visit"
    # The patient's own answer wins over the enquiry's.
    assert get_patient(clinic, pid).acquisition_source == "maps"


def test_converting_never_moves_a_lead_back_and_reopens_a_lost_one(clinic: Clinic) -> None:
    pid = _patient(clinic, "Rivera")
    ahead = _lead(clinic)
    acq.move_lead(clinic, ahead, "first_visit")
    acq.convert_lead(clinic, ahead, pid)
    assert acq.get_lead(clinic, ahead).status == "first_visit"
    lost = _lead(clinic, "Lost")
    acq.move_lead(clinic, lost, "lost")
    acq.convert_lead(clinic, lost, _patient(clinic, "Lost"))
    assert acq.get_lead(clinic, lost).status == "booked"


def test_a_lead_links_to_one_patient_only(clinic: Clinic) -> None:
    lead_id = _lead(clinic)
    acq.convert_lead(clinic, lead_id, _patient(clinic, "First"))
    with pytest.raises(InvalidInputError, match="another patient"):
        acq.convert_lead(clinic, lead_id, _patient(clinic, "Second"))
    with pytest.raises(RecordNotFoundError):
        acq.convert_lead(clinic, _lead(clinic), "no-such-patient")


def test_leads_list_newest_first_by_status_with_pages(clinic: Clinic) -> None:
    ids = []
    for n in range(5):
        ids.append(
            acq.add_lead(
                clinic,
                LeadDraft(family_name=f"Lead{n}", phone="3125550142"),
                at=datetime(2025, 1, 1 + n, 12, tzinfo=UTC),
            ).id
        )
    acq.move_lead(clinic, ids[1], "contacted")
    acq.move_lead(clinic, ids[3], "lost")
    assert [lead.id for lead in acq.leads(clinic)] == ids[::-1]
    assert [lead.id for lead in acq.leads(clinic, limit=2, offset=1)] == [ids[3], ids[2]]
    assert [lead.id for lead in acq.leads(clinic, statuses=("contacted", "lost"))] == [
        ids[3],
        ids[1],
    ]
    with pytest.raises(InvalidInputError):
        acq.leads(clinic, statuses=("done",))
    assert acq.pipeline_counts(clinic) == {
        "new": 3,
        "contacted": 1,
        "booked": 0,
        "first_visit": 0,
        "lost": 1,
    }


# --- spend ---------------------------------------------------------------------------


def test_spend_is_entered_once_per_channel_and_month(clinic: Clinic) -> None:
    acq.set_spend(clinic, "search", "2025-03", 45_000)
    acq.set_spend(clinic, "search", "2025-03", 50_000)
    acq.set_spend(clinic, "maps", "2025-03", 0)
    acq.set_spend(clinic, "search", "2025-05", 1_000)
    rows = clinic.conn.execute(
        "SELECT source, month, amount_cents FROM channel_spend ORDER BY month, source"
    ).fetchall()
    assert rows == [
        ("maps", "2025-03", 0),
        ("search", "2025-03", 50_000),
        ("search", "2025-05", 1_000),
    ]
    assert acq.spend(clinic, "2025-03", "2025-04") == [
        acq.Spend("maps", "2025-03", 0),
        acq.Spend("search", "2025-03", 50_000),
    ]


@pytest.mark.parametrize(
    ("source", "month", "cents"),
    [
        ("billboard", "2025-03", 100),
        ("search", "2025-13", 100),
        ("search", "March 2025", 100),
        ("search", "2025-03", -1),
        ("search", "2025-03", 100_000_001),
    ],
)
def test_bad_spend_is_refused(clinic: Clinic, source: str, month: str, cents: int) -> None:
    with pytest.raises(InvalidInputError):
        acq.set_spend(clinic, source, month, cents)
    assert clinic.conn.execute("SELECT count(*) FROM channel_spend").fetchone()[0] == 0


def test_a_report_range_must_run_forwards(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="before the first"):
        acq.new_patients_by_source(clinic, "2025-05", "2025-01")


# --- reports on a hand-built clinic --------------------------------------------------


def test_new_patients_count_in_the_month_of_their_first_visit(clinic: Clinic) -> None:
    # Imported: the record is from the import day, the visits from years before.
    imported = _patient(clinic, "Imported", "search")
    _visit(clinic, imported, datetime(2024, 2, 10, 15, tzinfo=UTC))
    _visit(clinic, imported, datetime(2024, 6, 10, 15, tzinfo=UTC))
    _backdate(clinic, "patient", imported, created_at="2025-06-01T14:00:00Z")
    # Registered by phone in March, first came in April (a no-show in March does not count).
    booked_ahead = _patient(clinic, "Ahead", "maps")
    _backdate(clinic, "patient", booked_ahead, created_at="2024-03-05T14:00:00Z")
    _visit(clinic, booked_ahead, datetime(2024, 3, 20, 15, tzinfo=UTC), "noshow")
    _visit(clinic, booked_ahead, datetime(2024, 4, 2, 15, tzinfo=UTC))
    # Never came yet: counted when the record was made.
    waiting = _patient(clinic, "Waiting", "maps")
    _backdate(clinic, "patient", waiting, created_at="2024-04-20T14:00:00Z")
    # 03:00 UTC on 1 March is still 28 February in Chicago.
    late_evening = _patient(clinic, "Evening", "")
    _visit(clinic, late_evening, datetime(2024, 3, 1, 3, tzinfo=UTC))
    # A patient who started before the range is not new in it, however often they come.
    old = _patient(clinic, "Old", "search")
    _visit(clinic, old, datetime(2023, 5, 1, 15, tzinfo=UTC))
    _visit(clinic, old, datetime(2024, 3, 1, 15, tzinfo=UTC))
    # A duplicate merged into another record is not a second new patient.
    duplicate = _patient(clinic, "Duplicate", "search")
    _backdate(clinic, "patient", duplicate, created_at="2024-04-21T14:00:00Z")
    with clinic.store.write() as tx:
        tx.update("patient", duplicate, {"merged_into": waiting})

    rows = acq.new_patients_by_source(clinic, "2024-01", "2024-12")
    assert [(r.month, r.source, r.label, r.count) for r in rows] == [
        ("2024-02", "", "Not recorded", 1),
        ("2024-02", "search", "Internet search", 1),
        ("2024-04", "maps", "Maps (Google, Apple)", 2),
    ]
    assert acq.new_patients_by_source(clinic, "2025-06", "2025-06") == []


def test_cost_per_new_patient_lists_spend_with_nobody_new(clinic: Clinic) -> None:
    for n in range(3):
        pid = _patient(clinic, f"Maps{n}", "maps")
        _visit(clinic, pid, datetime(2024, 4, 2 + n, 15, tzinfo=UTC))
    acq.set_spend(clinic, "maps", "2024-04", 10_000)
    acq.set_spend(clinic, "search", "2024-04", 5_000)
    rows = acq.cost_per_new_patient(clinic, "2024-04", "2024-05")
    assert [(r.month, r.source, r.spend_cents, r.new_patients, r.cost_cents) for r in rows] == [
        ("2024-04", "maps", 10_000, 3, 3_333),
        ("2024-04", "search", 5_000, 0, None),
    ]


def test_lead_conversion_on_a_hand_built_clinic(clinic: Clinic) -> None:
    at = datetime(2024, 5, 10, 15, tzinfo=UTC)
    came = acq.add_lead(clinic, LeadDraft("A", phone="3125550142", source="maps"), at=at).id
    booked_then_lost = acq.add_lead(
        clinic, LeadDraft("B", phone="3125550142", source="maps"), at=at
    ).id
    waiting = acq.add_lead(clinic, LeadDraft("C", phone="3125550142", source="maps"), at=at).id
    acq.add_lead(clinic, LeadDraft("D", phone="3125550142", source="search"), at=at)
    acq.add_lead(  # received in June: outside the range
        clinic, LeadDraft("E", phone="3125550142", source="search"), at=at + timedelta(days=30)
    )
    acq.move_lead(clinic, booked_then_lost, "booked")
    acq.move_lead(clinic, booked_then_lost, "lost")
    # Converted while booked, and the patient came since: counts as a first visit.
    pid = _patient(clinic, "A")
    acq.convert_lead(clinic, came, pid)
    _visit(clinic, pid, datetime(2024, 5, 20, 15, tzinfo=UTC))
    acq.move_lead(clinic, waiting, "contacted")
    rows = {r.source: r for r in acq.lead_conversion(clinic, "2024-05", "2024-05")}
    maps = rows["maps"]
    assert (maps.leads, maps.booked, maps.first_visit, maps.lost) == (3, 2, 1, 1)
    assert maps.rate == pytest.approx(1 / 3)
    assert (rows["search"].leads, rows["search"].rate) == (1, 0.0)
    assert acq.lead_conversion(clinic, "2023-01", "2023-12") == []


def test_first_year_revenue_counts_payments_from_the_start_day_for_twelve_months(
    clinic: Clinic,
) -> None:
    from app.billing.ledger import record_payment

    pid = _patient(clinic, "Payer", "maps")
    _visit(clinic, pid, datetime(2024, 2, 29, 15, tzinfo=UTC))
    for received, cents in [
        ("2024-02-29T09:00:00Z", 1_000),  # earlier that day, at check-in: counts
        ("2024-02-28T20:00:00Z", 7_000),  # before the start: not
        ("2025-02-28T20:00:00Z", 2_000),  # the last day of the year
        ("2025-03-01T10:00:00Z", 9_000),  # 29 Feb + 12 months is 1 March: not
    ]:
        record_payment(clinic, pid, cents, "card", received_at=received)
    other = _patient(clinic, "Other", "maps")
    _visit(clinic, other, datetime(2024, 12, 1, 15, tzinfo=UTC))
    rows = acq.revenue_in_first_year(clinic, "2024-01", "2024-12", today="2025-03-05")
    assert len(rows) == 1
    row = rows[0]
    assert (row.source, row.patients, row.payments_cents, row.still_in_first_year) == (
        "maps",
        2,
        3_000,
        1,
    )
    assert row.average_cents == 1_500


# --- reports on the demo clinic, against independent counts ---------------------------


def _starts(clinic: Clinic) -> dict[str, tuple[str, str]]:
    """Patient id → (source, start moment), from plain rows, by the documented rule."""
    patients = clinic.conn.execute(
        "SELECT id, acquisition_source, created_at, merged_into FROM patient"
    ).fetchall()
    visits = clinic.conn.execute("SELECT patient_id, start_at, status FROM appointment").fetchall()
    first: dict[str, str] = {}
    for patient_id, start_at, status in visits:
        earlier = patient_id not in first or (start_at or "") < first[patient_id]
        if status == "fulfilled" and start_at is not None and earlier:
            first[patient_id] = start_at
    return {
        pid: (source, first.get(pid, created))
        for pid, source, created, merged in patients
        if merged is None
    }


def _month_range(first: str, last: str) -> list[str]:
    months = []
    year, month = int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _demo_range() -> tuple[str, str]:
    today = date.today()
    first = date(today.year - 2, today.month, 1)
    return first.strftime("%Y-%m"), today.strftime("%Y-%m")


@pytest.fixture
def grown(demo_clinic: Clinic) -> Clinic:
    """The demo clinic with channel keys on some patients, leads at every stage, spend."""
    rng = random.Random(9)
    keys = [s.key for s in acq.sources(demo_clinic)]
    pids = [r[0] for r in demo_clinic.conn.execute("SELECT id FROM patient ORDER BY id")]
    for pid in rng.sample(pids, 60):
        acq.set_patient_source(demo_clinic, pid, rng.choice(keys))
    first, last = _demo_range()
    months = _month_range(first, last)
    for month in rng.sample(months, 10):
        for key in rng.sample(keys, 3):
            acq.set_spend(demo_clinic, key, month, rng.randrange(0, 200_000))
    now = datetime.now(UTC)
    unlinked = list(pids)
    rng.shuffle(unlinked)
    for n in range(80):
        lead_id = acq.add_lead(
            demo_clinic,
            LeadDraft(f"Lead{n}", phone="3125550142", source=rng.choice(["", *keys])),
            at=now - timedelta(days=rng.uniform(0, 900)),
        ).id
        for status in rng.choice(
            [
                [],
                ["contacted"],
                ["contacted", "booked"],
                ["booked", "first_visit"],
                ["lost"],
                ["booked", "lost"],
                ["lost", "contacted"],
            ]
        ):
            acq.move_lead(demo_clinic, lead_id, status)
        if rng.random() < 0.3 and acq.get_lead(demo_clinic, lead_id).status != "lost":
            acq.convert_lead(demo_clinic, lead_id, unlinked.pop())
    return demo_clinic


def test_demo_new_patients_by_source_match_an_independent_count(grown: Clinic) -> None:
    first, last = _demo_range()
    zone = ZoneInfo(grown.settings.timezone)
    expected: Counter[tuple[str, str]] = Counter()
    for source, start in _starts(grown).values():
        month = _local_month(start, zone)
        if first <= month <= last:
            expected[(month, source)] += 1
    rows = acq.new_patients_by_source(grown, first, last)
    assert {(r.month, r.source): r.count for r in rows} == dict(expected)
    assert sum(expected.values()) > 20  # the demo clinic really has new patients in range
    names = acq.labels(grown)
    assert all(r.label == names.get(r.source, r.source) for r in rows)


def test_demo_imported_style_patients_count_in_their_first_visit_month(grown: Clinic) -> None:
    first, last = _demo_range()

    def counts() -> dict[tuple[str, str], int]:
        return {
            (r.month, r.source): r.count for r in acq.new_patients_by_source(grown, first, last)
        }

    before = counts()
    # Created today, as an import would; their first visit was 400 days ago.
    pid = _patient(grown, "Imported", "website")
    visit = datetime.now(CHICAGO).replace(day=15, hour=10) - timedelta(days=400)
    _visit(grown, pid, visit + timedelta(days=30))
    _visit(grown, pid, visit)
    after = counts()
    month = visit.strftime("%Y-%m")
    this_month = datetime.now(CHICAGO).strftime("%Y-%m")
    assert after.pop((month, "website")) == before.pop((month, "website"), 0) + 1
    assert after == before
    assert this_month != month


def test_demo_lead_conversion_matches_an_independent_count(grown: Clinic) -> None:
    first, last = _demo_range()
    zone = ZoneInfo(grown.settings.timezone)
    leads = grown.conn.execute("SELECT id, source, status, patient_id, created_at FROM lead")
    history = defaultdict(set)
    for lead_id, status in grown.conn.execute("SELECT lead_id, status FROM lead_status"):
        history[lead_id].add(status)
    came_patients = {
        r[0]
        for r in grown.conn.execute("SELECT patient_id FROM appointment WHERE status = 'fulfilled'")
    }
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for lead_id, source, status, patient_id, created in leads.fetchall():
        if not first <= _local_month(created, zone) <= last:
            continue
        counts = expected[source]
        counts[0] += 1
        counts[1] += bool(history[lead_id] & {"booked", "first_visit"})
        counts[2] += status == "first_visit" or patient_id in came_patients
        counts[3] += status == "lost"
    rows = acq.lead_conversion(grown, first, last)
    assert {r.source: [r.leads, r.booked, r.first_visit, r.lost] for r in rows} == dict(expected)
    assert sum(c[0] for c in expected.values()) > 40
    for r in rows:
        assert r.rate == pytest.approx(r.first_visit / r.leads)


def test_demo_cost_per_new_patient_matches_an_independent_count(grown: Clinic) -> None:
    first, last = _demo_range()
    zone = ZoneInfo(grown.settings.timezone)
    new: Counter[tuple[str, str]] = Counter()
    for source, start in _starts(grown).values():
        month = _local_month(start, zone)
        if first <= month <= last:
            new[(month, source)] += 1
    spent = {
        (month, source): cents
        for source, month, cents in grown.conn.execute(
            "SELECT source, month, amount_cents FROM channel_spend"
        )
        if first <= month <= last
    }
    rows = acq.cost_per_new_patient(grown, first, last)
    got = {(r.month, r.source): (r.spend_cents, r.new_patients, r.cost_cents) for r in rows}
    expected = {}
    for key in set(new) | set(spent):
        cents, count = spent.get(key, 0), new.get(key, 0)
        # Rounded to the nearest cent, half a cent up.
        expected[key] = (cents, count, int(cents / count + 0.5) if count else None)
    assert got == expected
    assert any(cost is not None and cents for cents, _, cost in expected.values())


def _plus_twelve_months(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: SQLite and we both roll to 1 March
        return date(day.year + 1, 3, 1)


def test_demo_first_year_revenue_matches_an_independent_sum(grown: Clinic) -> None:
    first, last = _demo_range()
    zone = ZoneInfo(grown.settings.timezone)
    today = date.today().isoformat()
    payments = defaultdict(list)
    for patient_id, cents, received in grown.conn.execute(
        "SELECT patient_id, amount_cents, received_at FROM payment"
    ):
        payments[patient_id].append((received, cents))
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for pid, (source, start) in _starts(grown).items():
        if not first <= _local_month(start, zone) <= last:
            continue
        begin = _utc(start).date()
        end = _plus_twelve_months(begin)
        row = expected[source]
        row[0] += 1
        row[1] += sum(
            c
            for received, c in payments[pid]
            if begin.isoformat() <= received[:10] < end.isoformat()
        )
        row[2] += end.isoformat() > today
    rows = acq.revenue_in_first_year(grown, first, last, today=today)
    assert {r.source: [r.patients, r.payments_cents, r.still_in_first_year] for r in rows} == dict(
        expected
    )
    assert sum(r.payments_cents for r in rows) > 0
    for r in rows:
        assert r.average_cents is not None
        assert abs(r.average_cents - r.payments_cents / r.patients) <= 0.5
