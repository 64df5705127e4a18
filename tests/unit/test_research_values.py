"""The values a research export may show: ages, ZIP3s, states, years, codes, names."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.research.deidentify import (
    birth_facts,
    channel_of,
    condition_code,
    condition_display,
    language_code,
    year_edges,
)
from app.research.states import state_code
from app.research.zip3 import load_zip3_lists

TODAY = date(2026, 11, 29)
HHS_2000 = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
]  # fmt: skip


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        ("1931-05-02", ("90+", "")),  # 95
        ("1936-12-31", ("90+", "")),  # 89 today, 90 this year: top-coded already
        ("1937-01-01", ("85-89", "1937")),
        ("1980", ("45-49", "1980")),  # a year alone counts from 1 July
        ("2026-11", ("0-4", "2026")),
        ("2027-01-01", ("", "")),  # in the future: not an age
        ("", ("", "")),
        (None, ("", "")),
    ],
)
def test_ages_over_89_are_90_plus_with_no_birth_year(
    born: str | None, expected: tuple[str, str]
) -> None:
    assert birth_facts(born, TODAY) == expected


def test_the_shipped_zip3_list_is_the_hhs_2000_census_list() -> None:
    lists = load_zip3_lists()
    assert sorted(lists.restricted) == HHS_2000
    assert lists.sources[0].census_year == 2000
    assert all(lists.zip3(code + "01") == "000" for code in HHS_2000)


@pytest.mark.parametrize(
    ("postal", "country", "expected"),
    [
        ("55401", "US", "554"),
        ("55401-1234", "", "554"),
        ("03601", "US", "000"),  # restricted
        ("09012", "US", "000"),  # overseas military post office
        ("00501", "US", "000"),  # no residents
        ("5540", "US", "000"),  # not a ZIP code
        ("SW1A 1AA", "GB", "000"),  # not in the US
        ("55401", "CA", "000"),
        ("", "", "000"),
    ],
)
def test_zip_codes_become_zip3_or_000(postal: str, country: str, expected: str) -> None:
    assert load_zip3_lists().zip3(postal, country) == expected


def test_a_second_list_adds_to_the_first(tmp_path: Path) -> None:
    shipped = load_zip3_lists()
    for source in shipped.sources:
        (tmp_path / source.file).write_text(
            (Path(__file__).resolve().parents[2] / "app/research/data" / source.file).read_text()
        )
    (tmp_path / "restricted_zip3_2020.json").write_text(
        '{"source": "test", "census_year": 2020, "retrieved": "2026-11-29", "codes": ["554"]}'
    )
    both = load_zip3_lists(tmp_path)
    assert both.zip3("55401") == "000" and both.zip3("03601") == "000"
    assert [s.census_year for s in both.sources] == [2000, 2020]


def test_a_missing_list_is_an_error_not_fewer_restrictions(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_zip3_lists(tmp_path)


@pytest.mark.parametrize(
    ("region", "expected"),
    [("MN", "MN"), (" mn ", "MN"), ("Minnesota", "MN"), ("new  hampshire", "NH"),
     ("Hennepin County", ""), ("Minneapolis", ""), ("", "")],
)  # fmt: skip
def test_only_a_state_is_kept(region: str, expected: str) -> None:
    assert state_code(region) == expected


@pytest.mark.parametrize(
    ("zone", "stamps"),
    [
        ("America/Chicago", {"2025-01-01T05:59:59Z": 2024, "2025-01-01T06:00:00Z": 2025}),
        ("Europe/Berlin", {"2024-12-31T22:59:59Z": 2024, "2024-12-31T23:00:00Z": 2025}),
        ("UTC", {"2024-12-31T23:59:59Z": 2024, "2025-01-01T00:00:00Z": 2025}),
    ],
)
def test_years_are_the_clinics_local_years(zone: str, stamps: dict[str, int]) -> None:
    edges = year_edges(ZoneInfo(zone), 2025)
    with sqlite3.connect(":memory:") as conn:
        for stamp, year in stamps.items():
            found = conn.execute(
                "SELECT " + edges.sql("t.v") + " FROM (SELECT ? AS v) t",
                (stamp,),
            ).fetchone()
            assert found[0] == year, stamp


def test_hand_typed_channels_are_not_exported() -> None:
    names = {"search": "Internet search"}
    assert channel_of("search", names) == ("search", "Internet search")
    assert channel_of("Told by Mrs Smith", names) == ("unlisted", "")
    assert channel_of("", names) == ("", "")


def test_only_recognised_condition_codes_are_kept() -> None:
    assert condition_code("http://snomed.info/sct", "44054006") == ("SNOMED-CT", "44054006")
    assert condition_code("http://hl7.org/fhir/sid/icd-10-cm", "e11.9") == ("ICD-10-CM", "E11.9")
    assert condition_code("http://snomed.info/sct", "44054007") is None  # bad check digit
    assert condition_code("urn:local", "Smith's thing") is None


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("Diabetes mellitus type 2", "Diabetes mellitus type 2"),
        ("  Hypertensive   disorder ", "Hypertensive disorder"),
        ('=HYPERLINK("http://x")', ""),
        ("see www.example.org", ""),
        ("call 6125550187", ""),
        ("jane@example.net", ""),
        ("1931", ""),
    ],
)
def test_condition_names_with_anything_but_words_are_left_blank(
    display: str, expected: str
) -> None:
    assert condition_display(display) == expected


def test_language_is_a_bare_code() -> None:
    assert language_code("es-MX") == "es"
    assert language_code("Spanish please") == ""
