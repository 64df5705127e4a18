"""The education library: the shipped items are sound, bad items are refused, choosing fits."""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import tomllib
from datetime import date
from pathlib import Path

import pytest

from app.engagement.education import (
    ICD10CM_SYSTEM,
    SNOMED_SYSTEM,
    EducationItem,
    EducationItemError,
    age_in_years,
    check_item,
    choose_items,
    education_dir,
    is_icd10cm_code,
    is_snomed_concept_id,
    load_library,
    read_library,
    verhoeff_check_digit,
    verhoeff_is_valid,
)
from app.errors import InvalidInputError
from app.reminders.sms_text import count_segments

ICD10CM_PATTERN = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")
PREDIABETES_ICD = (ICD10CM_SYSTEM, "R73.03")
HAY_FEVER_SNOMED = (SNOMED_SYSTEM, "367498001")


@pytest.fixture(scope="module")
def library() -> list[EducationItem]:
    return load_library()


def by_id(items: list[EducationItem]) -> dict[str, EducationItem]:
    return {item.id: item for item in items}


def choose(items: list[EducationItem], **given: object) -> list[str]:
    args: dict[str, object] = {
        "age_years": None,
        "child_ages": [],
        "conditions": set(),
        "month": 6,
        "language": "en",
        "already_sent": set(),
    }
    args.update(given)
    return [item.id for item in choose_items(items, **args)]  # type: ignore[arg-type]


def minimal_raw(**fields: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": "test-item.en",
        "language": "en",
        "title": "A test item",
        "body": "Some advice.\n\nCall us to book.",
        "sms": "Some advice. Call us to book.",
    }
    raw.update(fields)
    return raw


# --- the shipped library -------------------------------------------------------------------


def test_whole_starter_library_loads_without_problems() -> None:
    reading = read_library()

    assert reading.problems == []
    assert len(reading.items) == len(list(education_dir().glob("*.toml"))) == 26
    topics = {item.topic for item in reading.items}
    assert topics == {"well-child", "flu", "diabetes-prevention", "seasonal-allergies"}


def test_every_item_has_its_twin_in_the_other_language(library: list[EducationItem]) -> None:
    stems: dict[str, dict[str, EducationItem]] = {}
    for item in library:
        stems.setdefault(item.stem, {})[item.language] = item

    for stem, versions in stems.items():
        assert set(versions) == {"en", "es"}, stem
        en, es = versions["en"], versions["es"]
        # Twins are the same advice: they must go to the same people at the same time.
        assert (en.topic, en.audience, en.min_age_months, en.max_age_months) == (
            es.topic,
            es.audience,
            es.min_age_months,
            es.max_age_months,
        ), stem
        assert (en.months, en.conditions, en.sources) == (es.months, es.conditions, es.sources)
        assert len(en.clinic_links) == len(es.clinic_links), stem


def test_well_child_bands_cover_birth_to_eighteen_without_gaps(
    library: list[EducationItem],
) -> None:
    bands = sorted(
        (item.min_age_months, item.max_age_months)
        for item in library
        if item.topic == "well-child" and item.language == "en"
    )

    assert bands[0][0] == 0 and bands[-1][1] == 18 * 12
    for (_, high), (low, _) in itertools.pairwise(bands):
        assert high == low


def test_sms_texts_fit_two_parts_even_with_the_clinic_name_in_front(
    library: list[EducationItem],
) -> None:
    for item in library:
        assert count_segments(item.sms).segments <= 2, item.id
        assert count_segments(f"Lakeside Clinic: {item.sms}").segments <= 2, item.id


def test_every_address_is_https_and_clinic_links_are_left_for_the_clinic(
    library: list[EducationItem],
) -> None:
    for item in library:
        assert item.sources, item.id
        for link in (*item.links, *item.sources):
            assert link.url.startswith("https://") and link.label, item.id
        # Frontdesk ships no made-up address: the clinic fills these in.
        assert all(link.url == "" for link in item.clinic_links), item.id
        assert item.sendable_links == item.links


def test_every_item_ends_with_a_nudge_to_call_or_book(library: list[EducationItem]) -> None:
    nudge = {"en": ("call us", "book"), "es": ("llámenos", "cita")}
    for item in library:
        last_paragraph = item.body.split("\n\n")[-1].lower()
        assert any(word in last_paragraph for word in nudge[item.language]), item.id
        assert any(word in item.sms.lower() for word in nudge[item.language]), item.id


def test_condition_codes_are_well_formed(library: list[EducationItem]) -> None:
    coded = [condition for item in library for condition in item.conditions]

    assert {c.system for c in coded} == {SNOMED_SYSTEM, ICD10CM_SYSTEM}
    for condition in coded:
        if condition.system == ICD10CM_SYSTEM:
            assert ICD10CM_PATTERN.fullmatch(condition.code), condition
        else:
            assert condition.code.isdecimal() and verhoeff_is_valid(condition.code), condition
    codes = {(c.system, c.code) for c in coded}
    assert {PREDIABETES_ICD, (SNOMED_SYSTEM, "714628002"), HAY_FEVER_SNOMED} <= codes


def test_shipped_files_carry_no_field_the_loader_ignores() -> None:
    for path in education_dir().glob("*.toml"):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        check_item(raw, source=path.name)
        assert path.name == f"{raw['id']}.toml"


# --- Verhoeff and code shapes -------------------------------------------------------------


def test_verhoeff_matches_the_published_example() -> None:
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_is_valid("2363")
    assert not verhoeff_is_valid("2364")


@pytest.mark.parametrize("concept", ["714628002", "44054006", "21719001", "195967001"])
def test_verhoeff_catches_every_single_typo_and_neighbour_swap(concept: str) -> None:
    assert verhoeff_is_valid(concept)
    assert verhoeff_check_digit(concept[:-1]) == concept[-1]
    for position, digit in enumerate(concept):
        for other in "0123456789":
            if other != digit:
                typo = concept[:position] + other + concept[position + 1 :]
                assert not verhoeff_is_valid(typo), typo
    for position in range(len(concept) - 1):
        a, b = concept[position], concept[position + 1]
        if a != b:
            swapped = concept[:position] + b + a + concept[position + 2 :]
            assert not verhoeff_is_valid(swapped), swapped


def test_snomed_ids_must_be_concepts_with_a_valid_check_digit() -> None:
    assert is_snomed_concept_id("714628002")
    assert not is_snomed_concept_id("714628003")  # wrong check digit
    assert not is_snomed_concept_id("0714628002")  # leading zero
    assert not is_snomed_concept_id("12345")  # too short
    # A valid Verhoeff number in partition 01 is a description id, not a concept.
    description = "1234501" + verhoeff_check_digit("1234501")
    assert verhoeff_is_valid(description) and not is_snomed_concept_id(description)


def test_icd10cm_codes_need_the_dotted_shape() -> None:
    assert all(is_icd10cm_code(code) for code in ("R73.03", "J30.1", "Z86.32", "I10", "J30"))
    assert not any(is_icd10cm_code(code) for code in ("R7303", "r73.03", "R73.", "73.03"))


# --- checking one item -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"conditions": [{"system": SNOMED_SYSTEM, "code": "714628003"}]}, "check digit"),
        ({"conditions": [{"system": ICD10CM_SYSTEM, "code": "R7303"}]}, "ICD-10-CM"),
        ({"conditions": [{"system": "http://loinc.org", "code": "4548-4"}]}, "system"),
        ({"links": [{"label": "Flu", "url": "http://www.cdc.gov/flu/"}]}, "https://"),
        ({"sources": [{"label": "Flu", "url": "www.cdc.gov"}]}, "https://"),
        ({"sms": "word " * 70}, "3 parts"),
        ({"id": "test-item.es"}, "must end in .en"),
        ({"id": "Test Item"}, "lowercase"),
        ({"age": {"min_years": 6, "max_years": 2}}, "above the min"),
        ({"age": {"min_years": 1, "min_months": 12}}, "not both"),
        ({"months": [0, 13]}, "1 to 12"),
        ({"month": [1]}, "unknown field 'month'"),
        ({"audience": "family"}, "self or parent"),
        ({"body": "x" * 2001}, "2001 characters"),
        ({"title": ""}, "cannot be empty"),
    ],
)
def test_a_bad_item_is_refused_with_its_name_and_the_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(EducationItemError) as caught:
        check_item(minimal_raw(**fields), source="broken.en.toml")

    assert caught.value.source == "broken.en.toml"
    assert reason in caught.value.reason
    assert str(caught.value).startswith("broken.en.toml: ")
    assert isinstance(caught.value, InvalidInputError)


def test_a_filled_clinic_link_is_sent_and_an_empty_one_is_not() -> None:
    item = check_item(
        minimal_raw(
            clinic_links=[
                {"label": "Our video", "url": "https://video.example.org/ours"},
                {"label": "Our class", "url": ""},
            ]
        )
    )

    assert [link.label for link in item.sendable_links] == ["Our video"]


# --- reading a folder --------------------------------------------------------------------


def test_a_broken_file_is_reported_by_name_and_the_rest_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(education_dir(), tmp_path, dirs_exist_ok=True)
    (tmp_path / "not-toml.en.toml").write_text('id = "unclosed\n', encoding="utf-8")
    bad_code = (tmp_path / "flu-adults.en.toml").read_text(encoding="utf-8")
    bad_code = bad_code.replace('id = "flu-adults.en"', 'id = "flu-adults-copy.en"')
    bad_code += '\n[[conditions]]\nsystem = "http://snomed.info/sct"\ncode = "714628003"\n'
    (tmp_path / "flu-adults-copy.en.toml").write_text(bad_code, encoding="utf-8")
    misnamed = (tmp_path / "flu-adults.es.toml").read_text(encoding="utf-8")
    (tmp_path / "gripe.es.toml").write_text(misnamed, encoding="utf-8")

    reading = read_library(tmp_path)
    with caplog.at_level(logging.WARNING, logger="app.engagement.education"):
        items = load_library(tmp_path)

    assert sorted(problem.source for problem in reading.problems) == [
        "flu-adults-copy.en.toml",
        "gripe.es.toml",
        "not-toml.en.toml",
    ]
    reasons = {problem.source: problem.reason for problem in reading.problems}
    assert "714628003" in reasons["flu-adults-copy.en.toml"]
    assert "flu-adults.es.toml" in reasons["gripe.es.toml"]
    assert "not valid TOML" in reasons["not-toml.en.toml"]
    assert len(items) == len(reading.items) == 26
    assert "flu-adults-copy.en.toml" in caplog.text and "not-toml.en.toml" in caplog.text


# --- choosing for a patient --------------------------------------------------------------


def test_a_baby_gets_the_tips_for_their_age_band(library: list[EducationItem]) -> None:
    assert choose(library, age_years=1 / 12) == ["well-child-0-2-months.en"]
    assert choose(library, age_years=3 / 12) == ["well-child-2-6-months.en"]
    assert choose(library, age_years=9 / 12) == ["well-child-6-12-months.en"]
    assert choose(library, age_years=5.9) == ["well-child-2-5-years.en"]
    assert choose(library, age_years=6.0) == ["well-child-6-12-years.en"]
    assert choose(library, age_years=17.5) == ["well-child-13-17-years.en"]


def test_a_parent_gets_the_tips_for_their_childrens_ages(library: list[EducationItem]) -> None:
    chosen = choose(library, age_years=34, child_ages=[0.5, 4])

    # The narrower band first: the baby's advice changes faster than the preschooler's.
    assert chosen == ["well-child-6-12-months.en", "well-child-2-5-years.en"]


def test_a_childs_age_never_picks_advice_meant_for_adults(library: list[EducationItem]) -> None:
    # A 70-year-old whose "child" is 40: the flu item for adults under 65 is not theirs.
    chosen = choose(library, age_years=70, child_ages=[40], month=10)

    assert chosen == ["flu-65-plus.en", "diabetes-prevention-adults.en"]


def test_seasonal_items_come_only_in_their_months(library: list[EducationItem]) -> None:
    assert "flu-adults.en" in choose(library, age_years=40, month=10)
    assert "flu-adults.en" in choose(library, age_years=40, month=1)
    assert "flu-adults.en" not in choose(library, age_years=40, month=6)
    assert "seasonal-allergies.en" in choose(
        library, age_years=40, conditions={HAY_FEVER_SNOMED}, month=4
    )
    assert "seasonal-allergies.en" not in choose(
        library, age_years=40, conditions={HAY_FEVER_SNOMED}, month=12
    )


def test_condition_items_need_the_condition_and_come_first(library: list[EducationItem]) -> None:
    without = choose(library, age_years=50, month=6)
    with_it = choose(library, age_years=50, conditions={PREDIABETES_ICD}, month=6)

    assert without == ["diabetes-prevention-adults.en"]
    assert with_it == ["diabetes-prevention-prediabetes.en", "diabetes-prevention-adults.en"]


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (ICD10CM_SYSTEM, "r7303", "diabetes-prevention-prediabetes.en"),
        ("urn:oid:2.16.840.1.113883.6.90", "R73.03", "diabetes-prevention-prediabetes.en"),
        ("http://hl7.org/fhir/sid/icd-10", "J30.1", "seasonal-allergies.en"),
        (SNOMED_SYSTEM, "15777000", "diabetes-prevention-prediabetes.en"),
        # Other allergic rhinitis (J30.89, animal dander) is not what the item is for.
        (ICD10CM_SYSTEM, "J30.89", None),
    ],
)
def test_imported_codes_match_however_icd10_is_written(
    library: list[EducationItem], system: str, code: str, expected: str | None
) -> None:
    chosen = choose(library, age_years=30, conditions={(system, code)}, month=5)

    assert (chosen[0] if chosen and chosen[0] != "diabetes-prevention-adults.en" else None) == (
        expected
    )


def test_an_icd10_category_target_covers_its_detailed_codes() -> None:
    item = check_item(
        minimal_raw(conditions=[{"system": ICD10CM_SYSTEM, "code": "J30", "display": "AR"}])
    )

    assert choose([item], conditions={(ICD10CM_SYSTEM, "J30.2")}) == [item.id]
    assert choose([item], conditions={(ICD10CM_SYSTEM, "J45.909")}) == []
    assert choose([item], conditions={(SNOMED_SYSTEM, "J30.2")}) == []


def test_items_come_in_the_patients_language(library: list[EducationItem]) -> None:
    assert choose(library, age_years=0.1, language="es") == ["well-child-0-2-months.es"]
    assert choose(library, age_years=0.1, language="es-MX") == ["well-child-0-2-months.es"]


def test_english_stands_in_where_no_translation_exists(library: list[EducationItem]) -> None:
    vietnamese = check_item(
        minimal_raw(
            id="flu-adults.vi",
            language="vi",
            months=[9, 10, 11, 12, 1],
            age={"min_years": 18, "max_years": 65},
        )
    )

    chosen = choose([*library, vietnamese], age_years=40, month=10, language="vi")

    assert chosen == ["flu-adults.vi", "diabetes-prevention-adults.en"]


def test_an_item_already_sent_in_any_language_is_never_offered_again(
    library: list[EducationItem],
) -> None:
    first = choose(library, age_years=40, month=10)
    after = choose(library, age_years=40, month=10, already_sent={"flu-adults.es"})
    in_spanish = choose(library, age_years=40, month=10, language="es", already_sent=set(first))

    assert first == ["flu-adults.en", "diabetes-prevention-adults.en"]
    assert after == ["diabetes-prevention-adults.en"]
    assert in_spanish == []


def test_items_for_everybody_come_after_targeted_ones() -> None:
    general = check_item(minimal_raw(id="general-tip.en"))
    for_age = check_item(minimal_raw(id="age-tip.en", age={"min_years": 30, "max_years": 60}))
    for_condition = check_item(
        minimal_raw(
            id="condition-tip.en",
            conditions=[{"system": ICD10CM_SYSTEM, "code": "R73.03", "display": "Prediabetes"}],
        )
    )

    chosen = choose([general, for_age, for_condition], age_years=45, conditions={PREDIABETES_ICD})

    assert chosen == ["condition-tip.en", "age-tip.en", "general-tip.en"]


def test_an_unknown_age_gets_only_items_for_every_age(library: list[EducationItem]) -> None:
    assert choose(library, age_years=None, conditions={HAY_FEVER_SNOMED}, month=5) == [
        "seasonal-allergies.en"
    ]


def test_a_month_outside_the_year_is_refused(library: list[EducationItem]) -> None:
    with pytest.raises(InvalidInputError):
        choose(library, age_years=40, month=13)


def test_age_counts_calendar_months_for_babies() -> None:
    assert age_in_years(date(2025, 1, 31), date(2025, 3, 31)) * 12 == pytest.approx(2.0)
    assert age_in_years(date(2025, 1, 31), date(2025, 3, 30)) * 12 < 2
    assert age_in_years(date(2024, 2, 29), date(2025, 2, 28)) == pytest.approx(1.0)
    assert age_in_years(date(2020, 6, 15), date(2026, 6, 15)) == pytest.approx(6.0)
    with pytest.raises(InvalidInputError):
        age_in_years(date(2026, 1, 1), date(2025, 1, 1))
