"""The patients list: filters, every sort order, and pages that neither repeat nor skip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients.listing import (
    SNAPSHOT_LIMIT,
    PatientList,
    PatientListQuery,
    count,
    fts_expression,
    page,
)
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import add_tag, create_patient, mark_deceased
from app.scheduling.appointments import book, set_status

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Cast:
    ids: dict[str, str]  # family name -> patient id


def _patient(clinic: Clinic, family: str, given: str, born: str, **extra: object) -> str:
    draft = PatientDraft(family_name=family, given_names=given, birth_date=born, **extra)  # type: ignore[arg-type]
    return create_patient(clinic, draft).id


def _visit(clinic: Clinic, pid: str, days_from_now: float, status: str) -> None:
    start = NOW + timedelta(days=days_from_now)
    appt = book(clinic, pid, start, start + timedelta(minutes=20)).id
    if status != "booked":
        set_status(clinic, appt, status)


@pytest.fixture
def cast(clinic: Clinic) -> Cast:
    """Five living patients with distinct birth dates, visits and sources, and one who died."""
    ids = {
        "Baker": _patient(
            clinic,
            "Baker",
            "Ann",
            "1950-02-01",
            acquisition_source="walk-in",
            phones=(PhoneDraft("(612) 555-0101"),),
            emails=("ann.baker@example.com",),
        ),
        "adams": _patient(clinic, "adams", "Zoe", "1990-06-15", acquisition_source="Google search"),
        "Cruz": _patient(clinic, "Cruz", "Bea", "1975-03-14", preferred_name="Bee"),
        "Diaz": _patient(clinic, "Diaz", "Carl", "2001-12-30", acquisition_source="walk-in"),
        "Evans": _patient(clinic, "Evans", "Dan", "1962-09-09", acquisition_source="referral"),
        "Gone": _patient(clinic, "Gone", "Gus", "1930-01-01"),
    }
    mark_deceased(clinic, ids["Gone"])
    _visit(clinic, ids["Baker"], -10, "fulfilled")
    _visit(clinic, ids["Baker"], -2, "cancelled")  # a cancelled one is no visit
    _visit(clinic, ids["adams"], -300, "fulfilled")
    _visit(clinic, ids["Cruz"], -40, "fulfilled")
    _visit(clinic, ids["Cruz"], 3, "booked")
    _visit(clinic, ids["Diaz"], 20, "confirmed")
    _visit(clinic, ids["Evans"], 5, "cancelled")  # a cancelled one is not upcoming
    add_tag(clinic, ids["Cruz"], "interpreter")
    add_tag(clinic, ids["Evans"], "interpreter")
    return Cast(ids)


def _families(clinic: Clinic, query: PatientListQuery) -> list[str]:
    return [row.display_name.split(",")[0] for row in page(clinic, query, 0, 100)]


def test_deceased_patients_are_left_out_unless_asked_for(clinic: Clinic, cast: Cast) -> None:
    assert "Gone" not in _families(clinic, PatientListQuery())
    assert count(clinic, PatientListQuery()) == 5
    assert "Gone" in _families(clinic, PatientListQuery(include_deceased=True))
    assert count(clinic, PatientListQuery(include_deceased=True)) == 6


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["adams", "Baker", "Cruz", "Diaz", "Evans"]),  # case does not matter
        ("birth_date", ["Baker", "Evans", "Cruz", "adams", "Diaz"]),
        ("age", ["Diaz", "adams", "Cruz", "Evans", "Baker"]),
        # Latest visit order; patients never seen come last, in file order.
        ("last_visit", ["adams", "Cruz", "Baker", "Diaz", "Evans"]),
        ("next_appointment", ["Cruz", "Diaz", "Baker", "adams", "Evans"]),
        ("source", ["Google search", "referral", "walk-in", "walk-in", ""]),
        ("created", ["Baker", "adams", "Cruz", "Diaz", "Evans"]),
    ],
)
def test_each_sort_orders_the_patients(
    clinic: Clinic, cast: Cast, sort: str, expected: list[str]
) -> None:
    rows = page(clinic, PatientListQuery(sort=sort), 0, 100)
    if sort == "source":
        assert [r.source for r in rows] == expected
    else:
        assert [r.display_name.split(",")[0] for r in rows] == expected


@pytest.mark.parametrize("sort", ["name", "birth_date", "last_visit", "next_appointment"])
def test_descending_reverses_the_order_but_keeps_blanks_last(
    clinic: Clinic, cast: Cast, sort: str
) -> None:
    up = _families(clinic, PatientListQuery(sort=sort))
    down = _families(clinic, PatientListQuery(sort=sort, descending=True))
    if sort == "last_visit":  # Diaz and Evans never came: last both ways
        assert down == ["Baker", "Cruz", "adams", "Diaz", "Evans"]
    elif sort == "next_appointment":
        assert down == ["Diaz", "Cruz", "Baker", "adams", "Evans"]
    else:
        assert down == list(reversed(up))


def test_row_shows_what_the_desk_needs(clinic: Clinic, cast: Cast) -> None:
    listing = PatientList(clinic, PatientListQuery(text="Baker"))
    (row,) = listing.page(0, 10)
    assert row.id == cast.ids["Baker"]
    assert row.display_name == "Baker, Ann"
    assert row.phone == "(612) 555-0101"  # national display form, no leading +
    assert row.email == "ann.baker@example.com"
    assert row.birth_date == "1950-02-01"
    assert row.age is not None and row.age >= 74
    assert row.last_visit is not None and row.next_appointment is None
    assert (date.today() - row.last_visit).days in range(8, 13)
    cruz = page(clinic, PatientListQuery(text="Cruz"), 0, 10)[0]
    assert cruz.display_name == "Cruz, Bea (Bee)"
    assert cruz.tags == "interpreter"
    assert cruz.next_appointment is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bak", ["Baker"]),
        ("ann baker", ["Baker"]),
        ("612 555 0101", ["Baker"]),
        ("0101", ["Baker"]),
        ("3/14/1975", ["Cruz"]),
        ("1975-03-14", ["Cruz"]),
        ("bee", ["Cruz"]),
        ("ann.baker@", ["Baker"]),
        ("d", ["Diaz"]),  # one letter: family names starting with it
        ("zz", []),
        ("12", []),  # too few digits to mean anything
    ],
)
def test_text_filter_finds_by_name_phone_birth_date_and_email(
    clinic: Clinic, cast: Cast, text: str, expected: list[str]
) -> None:
    assert _families(clinic, PatientListQuery(text=text)) == expected
    assert count(clinic, PatientListQuery(text=text)) == len(expected)


def test_tag_source_and_upcoming_filters_narrow_the_list(clinic: Clinic, cast: Cast) -> None:
    assert _families(clinic, PatientListQuery(tag="interpreter")) == ["Cruz", "Evans"]
    assert _families(clinic, PatientListQuery(source="walk-in")) == ["Baker", "Diaz"]
    assert _families(clinic, PatientListQuery(upcoming_only=True)) == ["Cruz", "Diaz"]
    both = PatientListQuery(upcoming_only=True, tag="interpreter", sort="next_appointment")
    assert _families(clinic, both) == ["Cruz"]


def test_unknown_sort_is_refused(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError):
        PatientListQuery(sort="balance")


def test_fts_expression_never_passes_typed_quotes_through_raw() -> None:
    expression = fts_expression('o"brien')
    assert expression is not None and '"o""brien"' not in expression
    assert fts_expression("   ") is None


@pytest.fixture
def crowd(clinic: Clinic) -> list[str]:
    """37 patients sharing few family names and birth dates, so sort keys tie often."""
    families = ["Kim", "Lee", "kim", "Park"]
    ids = []
    for i in range(37):
        born = f"19{60 + i % 5}-0{1 + i % 3}-1{i % 4}" if i % 6 else ""
        pid = _patient(clinic, families[i % 4], f"P{i % 3}", born)
        ids.append(pid)
        if i % 3 == 0:
            _visit(clinic, pid, -(i % 4) - 1, "fulfilled")
        if i % 4 == 1:
            _visit(clinic, pid, (i % 2) + 1, "booked")
    return ids


@pytest.mark.parametrize("sort", ["name", "birth_date", "age", "last_visit", "next_appointment"])
@pytest.mark.parametrize("descending", [False, True])
def test_pages_cover_every_patient_once_in_the_same_order(
    clinic: Clinic, crowd: list[str], sort: str, descending: bool
) -> None:
    query = PatientListQuery(sort=sort, descending=descending)
    whole = [r.id for r in PatientList(clinic, query).page(0, 100)]
    listing = PatientList(clinic, query)
    paged = [r.id for offset in range(0, 40, 7) for r in listing.page(offset, 7)]
    streamed = [r.id for batch in PatientList(clinic, query).batches(5) for r in batch]
    jumped = PatientList(clinic, query).page(21, 7)  # no earlier page seen: walks there
    assert sorted(whole) == sorted(crowd)
    assert paged == whole
    assert streamed == whole
    assert [r.id for r in jumped] == whole[21:28]


def test_small_filtered_set_sorts_whole_and_large_set_walks_appointments_alike(
    clinic: Clinic, crowd: list[str]
) -> None:
    # "kim" filters through the text index (snapshot strategy), "Kim" as an exact
    # source cannot; both must list the same Kims in the same order as an unfiltered
    # walk restricted to them.
    assert len(crowd) < SNAPSHOT_LIMIT
    query = PatientListQuery(sort="last_visit", text="kim")
    filtered = [r.id for r in page(clinic, query, 0, 100)]
    everyone = [r.id for r in page(clinic, PatientListQuery(sort="last_visit"), 0, 100)]
    assert filtered == [pid for pid in everyone if pid in set(filtered)]
    assert len(filtered) == 19
