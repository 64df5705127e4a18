"""The Patients list narrowed to a saved group: exactly the group's patients, in the
list's order, the same in its count and its CSV export."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.errors import RecordNotFoundError
from app.exports.csv_export import export_patient_list
from app.growth import segments
from app.growth.segments import Segment, SegmentTerms
from app.patients import listing as listing_module
from app.patients.listing import (
    GROUP_LOOKUP_LIMIT,
    PatientList,
    PatientListQuery,
    group_members,
    local_today,
)
from tests.support.acting import administrator_acting  # noqa: F401

NOW = datetime.now(UTC)


def _save(clinic: Clinic, name: str, terms: SegmentTerms) -> Segment:
    return segments.save_segment(clinic, Segment("", name, terms))


def _age(birth: str, today: date) -> int:
    # A year alone counts from 1 July, a year and month from the 1st (the segment's rule).
    year = int(birth[:4])
    month = int(birth[5:7]) if len(birth) >= 7 else 7
    day = int(birth[8:10]) if len(birth) >= 10 else 1
    return today.year - year - (0 if (today.month, today.day) >= (month, day) else 1)


def _aged_by_hand(clinic: Clinic, low: int, high: int, today: date) -> set[str]:
    rows = clinic.conn.execute(
        "SELECT id, birth_date FROM patient WHERE deceased = 0 AND do_not_contact = 0 "
        "AND merged_into IS NULL AND birth_date IS NOT NULL AND birth_date != ''"
    ).fetchall()
    return {str(pid) for pid, birth in rows if low <= _age(str(birth), today) <= high}


def _all_rows(listing: PatientList) -> list[str]:
    return [row.id for batch in listing.batches(100) for row in batch]


@pytest.mark.parametrize("lookup_limit", [GROUP_LOOKUP_LIMIT, 0], ids=["by-id", "by-index"])
@pytest.mark.parametrize(
    ("sort", "descending"), [("name", False), ("age", True), ("source", False)]
)
def test_a_group_lists_exactly_its_patients_in_the_chosen_order(
    demo_clinic: Clinic,
    monkeypatch: pytest.MonkeyPatch,
    sort: str,
    descending: bool,
    lookup_limit: int,
) -> None:
    # Both ways of reading a group (few members: by id; many: along the order's index).
    monkeypatch.setattr(listing_module, "GROUP_LOOKUP_LIMIT", lookup_limit)
    today = local_today(demo_clinic, NOW)
    group = _save(demo_clinic, "Adults 40 to 60", SegmentTerms(age_min=40, age_max=60))
    members = segments.patient_ids(demo_clinic, group.terms, today=today)
    assert set(members) == _aged_by_hand(demo_clinic, 40, 60, today)
    assert 0 < len(members) < 300  # a real narrowing of the demo clinic

    everyone = PatientListQuery(sort=sort, descending=descending)
    grouped = replace(everyone, segment_id=group.id)
    listing = PatientList(demo_clinic, grouped, now=NOW)

    shown = _all_rows(listing)
    in_order = _all_rows(PatientList(demo_clinic, everyone, now=NOW))
    assert shown == [pid for pid in in_order if pid in set(members)]
    assert listing.count() == len(members)
    assert [r.id for r in listing.page(10, 5)] == shown[10:15]


def test_a_group_sorted_by_last_visit_keeps_its_members_and_the_order(
    demo_clinic: Clinic,
) -> None:
    today = local_today(demo_clinic, NOW)
    group = _save(demo_clinic, "Adults", SegmentTerms(age_min=18))
    query = PatientListQuery(segment_id=group.id, sort="last_visit", descending=True)
    rows = [r for batch in PatientList(demo_clinic, query, now=NOW).batches() for r in batch]
    assert {r.id for r in rows} == set(segments.patient_ids(demo_clinic, group.terms, today=today))
    visits = [r.last_visit for r in rows if r.last_visit is not None]
    assert visits == sorted(visits, reverse=True)
    assert all(r.last_visit is None for r in rows[len(visits) :])  # never visited: last


def test_a_group_combines_with_the_other_filters(demo_clinic: Clinic) -> None:
    today = local_today(demo_clinic, NOW)
    group = _save(demo_clinic, "Adults", SegmentTerms(age_min=18))
    members = set(segments.patient_ids(demo_clinic, group.terms, today=today))
    upcoming = PatientListQuery(upcoming_only=True)
    both = replace(upcoming, segment_id=group.id)
    expected = [p for p in _all_rows(PatientList(demo_clinic, upcoming, now=NOW)) if p in members]
    assert _all_rows(PatientList(demo_clinic, both, now=NOW)) == expected
    assert 0 < len(expected) < len(members)


def test_members_handed_in_give_the_same_list_as_members_computed(demo_clinic: Clinic) -> None:
    group = _save(demo_clinic, "Children", SegmentTerms(age_max=17))
    query = PatientListQuery(segment_id=group.id)
    members = group_members(demo_clinic, group.id, local_today(demo_clinic, NOW))
    given = PatientList(demo_clinic, query, now=NOW, members=members)
    assert _all_rows(given) == _all_rows(PatientList(demo_clinic, query, now=NOW))


def test_the_export_of_a_group_holds_exactly_its_rows(demo_clinic: Clinic, tmp_path: Path) -> None:
    group = _save(demo_clinic, "Adults 40 to 60", SegmentTerms(age_min=40, age_max=60))
    query = PatientListQuery(segment_id=group.id, sort="birth_date")
    target = tmp_path / "group.csv"
    written = export_patient_list(demo_clinic, query, target)
    with target.open(encoding="utf-8-sig", newline="") as f:
        names = [row[0] for row in list(csv.reader(f))[1:]]
    listing = PatientList(demo_clinic, query)
    assert written == len(names) == listing.count()
    assert names == [r.display_name for batch in listing.batches() for r in batch]


def test_an_empty_group_lists_and_exports_nobody(demo_clinic: Clinic, tmp_path: Path) -> None:
    group = _save(demo_clinic, "Nobody", SegmentTerms(age_min=120))
    query = PatientListQuery(segment_id=group.id)
    listing = PatientList(demo_clinic, query)
    assert listing.count() == 0
    assert listing.page(0, 50) == []
    target = tmp_path / "nobody.csv"
    assert export_patient_list(demo_clinic, query, target) == 0
    with target.open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == 1  # the header alone


def test_a_removed_group_says_so_in_plain_words(demo_clinic: Clinic) -> None:
    group = _save(demo_clinic, "Soon gone", SegmentTerms(age_min=18))
    segments.delete_segment(demo_clinic, group.id)
    with pytest.raises(RecordNotFoundError, match="no longer exists"):
        PatientList(demo_clinic, PatientListQuery(segment_id=group.id))
