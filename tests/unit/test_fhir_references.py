"""Resolving each FHIR reference form across one import, in any order and across files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.importers.fhir.references import (
    ReferenceIndex,
    ResourceKey,
    build_index,
    context_for,
)
from app.importers.fhir.sources import read_resources
from tests.support.emr_samples import samples

SAMPLES = samples("fhir")

ENCOUNTER = {"resourceType": "Encounter", "id": "e1"}


def index_of(*entries: tuple[dict[str, Any], str | None]) -> ReferenceIndex:
    index = ReferenceIndex()
    for n, (resource, full_url) in enumerate(entries):
        index.add_resource(resource, full_url, f"f entry {n}")
    return index


def resolve(
    index: ReferenceIndex,
    text: str,
    holder: dict[str, Any] = ENCOUNTER,
    full_url: str | None = None,
) -> ResourceKey | None:
    ref = index.resolve({"reference": text}, context_for(holder, full_url, "here"))
    assert ref is not None
    return ref.key


def test_urn_uuid_resolves_by_full_url_even_when_the_target_comes_later() -> None:
    items = list(read_resources(SAMPLES / "synthea-bundles"))
    index = build_index(items)
    encounter = next(i for i in items if i.resource and i.resource["resourceType"] == "Encounter")
    assert encounter.resource is not None
    ref = index.resolve(
        encounter.resource["subject"], context_for(encounter.resource, encounter.full_url, "x")
    )
    assert ref is not None and ref.key is not None and ref.key.type == "Patient"
    assert encounter.resource["subject"]["reference"].startswith("urn:uuid:")


def test_relative_absolute_and_versioned_references_resolve() -> None:
    patient = {"resourceType": "Patient", "id": "23"}
    index = index_of((patient, "http://example.org/fhir/Patient/23"))
    assert resolve(index, "Patient/23") == ResourceKey("Patient", "23")
    assert resolve(index, "http://example.org/fhir/Patient/23") == ResourceKey("Patient", "23")
    assert resolve(index, "Patient/23/_history/2") == ResourceKey("Patient", "23")
    assert resolve(index, "http://example.org/fhir/Patient/23/_history/1") == ResourceKey(
        "Patient", "23"
    )
    assert resolve(index, "http://other.org/fhir/Patient/23") == ResourceKey("Patient", "23")
    # Not in this import: kept with its key, for a patient an earlier import stored.
    assert resolve(index, "Patient/24") == ResourceKey("Patient", "24")


def test_sample_reference_bundle_resolves_every_form() -> None:
    items = list(read_resources(SAMPLES / "hl7-r4-examples" / "Bundle-bundle-references.json"))
    index = build_index(items)
    keys = {}
    for item in items:
        assert item.resource is not None
        if item.resource["resourceType"] == "Observation":
            ref = index.resolve(
                item.resource["subject"],
                context_for(item.resource, item.full_url, item.location),
                expect=("Patient",),
            )
            assert ref is not None
            keys[item.full_url] = ref.key
    assert keys["http://example.org/fhir/Observation/123"] == ResourceKey("Patient", "23")
    assert keys["http://example.org/fhir/Observation/124"] == ResourceKey("Patient", "23")
    assert keys["http://example.org/fhir/Observation/12"] == ResourceKey(
        "Patient", "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d"
    )
    assert keys["http://example.org/fhir/Observation/47"] == ResourceKey("Patient", "45")
    assert keys["http://example.org/fhir/Observation/48"] == ResourceKey("Patient", "23")


def test_contained_reference_is_scoped_to_its_container() -> None:
    holder = {
        "resourceType": "Encounter",
        "id": "e1",
        "contained": [{"resourceType": "Practitioner", "id": "p1"}],
    }
    other = {"resourceType": "Encounter", "id": "e2"}
    index = index_of((holder, None), (other, None))
    assert resolve(index, "#p1", holder) == ResourceKey("Practitioner", "e1#p1")
    assert resolve(index, "#p1", other) is None


def test_conditional_reference_resolves_across_ndjson_files_in_any_order(tmp_path: Path) -> None:
    npi = "http://hl7.org/fhir/sid/us-npi"
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "participant": [{"individual": {"reference": f"Practitioner?identifier={npi}|999"}}],
        "serviceProvider": {"reference": "Organization?identifier=ORG-1"},
        "location": [{"location": {"reference": "Location?identifier=|L1"}}],
    }
    (tmp_path / "Encounter.ndjson").write_text(json.dumps(encounter) + "\n")
    (tmp_path / "Practitioner.ndjson").write_text(
        json.dumps(
            {
                "resourceType": "Practitioner",
                "id": "d1",
                "identifier": [{"system": npi, "value": "999"}],
            }
        )
        + "\n"
    )
    (tmp_path / "Organization.ndjson").write_text(
        json.dumps(
            {
                "resourceType": "Organization",
                "id": "o1",
                "identifier": [{"system": "x", "value": "ORG-1"}],
            }
        )
        + "\n"
    )
    (tmp_path / "Location.ndjson").write_text(
        json.dumps({"resourceType": "Location", "id": "l1", "identifier": [{"value": "L1"}]}) + "\n"
    )
    index = build_index(read_resources(tmp_path))
    context = context_for(encounter, None, "x")
    doctor = index.resolve(encounter["participant"][0]["individual"], context)
    payer = index.resolve(encounter["serviceProvider"], context)
    place = index.resolve(encounter["location"][0]["location"], context)
    assert doctor is not None and doctor.key == ResourceKey("Practitioner", "d1")
    assert payer is not None and payer.key == ResourceKey("Organization", "o1")
    assert place is not None and place.key == ResourceKey("Location", "l1")


def test_bulk_export_conditional_references_all_resolve() -> None:
    items = list(read_resources(SAMPLES / "bulk-ndjson"))
    index = build_index(items)
    unresolved = 0
    for item in items:
        resource = item.resource
        if resource and resource["resourceType"] == "Encounter":
            context = context_for(resource, None, item.location)
            for participant in resource.get("participant", []):
                ref = index.resolve(participant.get("individual"), context)
                unresolved += ref is None or ref.key is None
    assert unresolved == 0


def test_identifier_shared_by_two_resources_is_ambiguous_not_guessed() -> None:
    one = {"resourceType": "Practitioner", "id": "a", "identifier": [{"system": "s", "value": "1"}]}
    two = {"resourceType": "Practitioner", "id": "b", "identifier": [{"system": "s", "value": "1"}]}
    index = index_of((one, None), (two, None))
    ref = index.resolve(
        {"reference": "Practitioner?identifier=s|1"}, context_for(ENCOUNTER, None, "x")
    )
    assert ref is not None and ref.key is None
    assert "more than one" in (ref.problem or "")


def test_logical_reference_by_identifier_uses_the_expected_type() -> None:
    patient = {"resourceType": "Patient", "id": "p", "identifier": [{"system": "s", "value": "7"}]}
    index = index_of((patient, None))
    ref = index.resolve(
        {"identifier": {"system": "s", "value": "7"}},
        context_for(ENCOUNTER, None, "x"),
        expect=("Patient",),
    )
    assert ref is not None and ref.key == ResourceKey("Patient", "p")


def test_broken_references_come_back_unresolved_with_their_display() -> None:
    index = ReferenceIndex()
    context = context_for(ENCOUNTER, None, "x")
    for text in ["urn:uuid:nope", "Patient/", "::", "Practitioner?name=x", "#missing"]:
        ref = index.resolve({"reference": text, "display": "Dr X"}, context)
        assert ref is not None and ref.key is None and ref.display == "Dr X" and ref.problem
    assert index.resolve("not a dict", context) is None
    assert index.resolve({}, context) is None
