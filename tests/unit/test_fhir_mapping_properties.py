"""Property test: mutated valid resources never crash the mapper; bad ones are reported."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.importers.fhir.mapping import map_resource
from app.importers.fhir.references import ReferenceIndex, ResourceKey
from tests.support.emr_samples import MISSING_REASON, PRESENT, samples

SAMPLES = samples("fhir")


def _load(name: str) -> dict[str, Any]:
    value = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def _first_line(name: str) -> dict[str, Any]:
    with (SAMPLES / name).open(encoding="utf-8") as lines:
        value = json.loads(next(lines))
    assert isinstance(value, dict)
    return value


# Real resources from the shared samples are the seeds; without them the module skips.
pytestmark = pytest.mark.skipif(not PRESENT, reason=MISSING_REASON)
BASES = (
    [
        _load("hl7-r4-examples/Patient-example.json"),
        _load("hl7-r4-examples/Practitioner-f001.json"),
        _load("hl7-r4-examples/Organization-1.json"),
        _load("hl7-r4-examples/Location-1.json"),
        _load("hl7-r4-examples/Appointment-example.json"),
        _load("hl7-r4-examples/Encounter-f001.json"),
        _load("hl7-r4-examples/Condition-example.json"),
        _first_line("bulk-ndjson/AllergyIntolerance.000.ndjson"),
        _first_line("bulk-ndjson/PractitionerRole.000.ndjson"),
        _first_line("bulk-ndjson/Encounter.000.ndjson"),
    ]
    if PRESENT
    else []
)

# Fields the mapper reads, by the shape FHIR gives them: a wrong type there must be reported.
CHECKED = {
    "Patient": {
        "name": "list",
        "telecom": "list",
        "birthDate": "date",
        "gender": "code",
        "managingOrganization": "ref",
        "active": "bool",
        "address": "list",
    },
    "Practitioner": {"name": "list", "identifier": "list", "telecom": "list"},
    "Organization": {"name": "text", "identifier": "list"},
    "Location": {"name": "text", "managingOrganization": "ref"},
    "Appointment": {"start": "date", "participant": "list", "status": "code"},
    "Encounter": {"period": "ref", "subject": "ref", "participant": "list"},
    "Condition": {"subject": "ref", "code": "ref", "recordedDate": "date"},
    "AllergyIntolerance": {"patient": "ref", "recordedDate": "date"},
    "PractitionerRole": {"practitioner": "ref", "organization": "ref"},
}
WRONG = {
    "list": st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
    "text": st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.booleans()),
    "code": st.one_of(st.integers(), st.lists(st.integers(), max_size=2)),
    "date": st.one_of(
        st.integers(),
        st.lists(st.text(max_size=3), max_size=2),
        st.sampled_from(
            [
                "1974-13-01",
                "385-01-01",
                "0385-01-01",
                "yesterday",
                "2020-02-30",
                "2020-01-01T25:00:00Z",
            ]
        ),
    ),
    "ref": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
    "bool": st.one_of(st.integers(min_value=2), st.text(max_size=3)),
}
JUNK = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _index() -> ReferenceIndex:
    index = ReferenceIndex()
    for n, base in enumerate(BASES):
        index.add_resource(base, None, f"base {n}")
    return index


INDEX = _index()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key != "resourceType":
                found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.extend(_paths(inner, (*prefix, i)))
    return found


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


def _drop(value: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        value = value[step]
    del value[path[-1]]


def _map(resource: dict[str, Any]) -> Any:
    return map_resource(resource, INDEX, location="mutated.json")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_mutations_never_raise_and_the_good_resources_still_map(data: Any) -> None:
    base = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(base)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["drop", "junk", "huge", "bad-ref"]))
        if action == "drop":
            _drop(base, path)
        elif action == "junk":
            _set(base, path, data.draw(JUNK))
        elif action == "huge":
            _set(base, path, "x" * 200_000)
        else:
            _set(
                base,
                path,
                {
                    "reference": data.draw(
                        st.sampled_from(
                            [
                                "Patient/",
                                "urn:uuid:none",
                                "Practitioner?identifier=|",
                                "#",
                                "#x",
                                "::",
                                "",
                            ]
                        )
                    )
                },
            )
    mapped = _map(base)
    assert mapped.records or any(p.dropped for p in mapped.problems)
    for problem in mapped.problems:
        assert "x" * 50 not in problem.reason
    for good in BASES:
        clean = _map(good)
        assert clean.records and not clean.problems


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_wrong_type_in_a_read_field_is_reported(data: Any) -> None:
    base = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    fields = CHECKED[base["resourceType"]]
    field = data.draw(st.sampled_from(sorted(fields)))
    bad = data.draw(WRONG[fields[field]])
    base[field] = bad
    mapped = _map(base)
    assert mapped.problems, (base["resourceType"], field)
    for problem in mapped.problems:
        assert problem.location == "mutated.json"
        if isinstance(bad, str) and len(bad) > 3:
            assert bad not in problem.reason


@settings(max_examples=50, deadline=None)
@given(field=st.sampled_from(["family", "text"]), size=st.integers(1001, 300_000))
def test_huge_name_is_reported_and_the_patient_kept(field: str, size: int) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{field: "y" * size}]}
    mapped = _map(patient)
    assert len(mapped.records) == 1
    assert any("longer than" in p.reason for p in mapped.problems)


def test_reference_outside_the_import_keeps_the_record_and_its_key() -> None:
    # The key is kept: an earlier import may have stored that patient (the writer looks).
    encounter = copy.deepcopy(BASES[5])
    encounter["subject"] = {"reference": "Patient/not-here", "display": "Someone"}
    [record] = _map(encounter).records
    assert record.patient is not None
    assert record.patient.key == ResourceKey("Patient", "not-here")
    assert record.patient.problem and record.patient.display == "Someone"


def test_unfollowable_reference_keeps_the_record_with_an_unresolved_ref() -> None:
    encounter = copy.deepcopy(BASES[5])
    encounter["subject"] = {"reference": "urn:uuid:0000-not-here", "display": "Someone"}
    [record] = _map(encounter).records
    assert record.patient is not None and record.patient.key is None
    assert record.patient.problem and record.patient.display == "Someone"
