"""Reading FHIR files, folders and zips: every sample reads, bad input is reported per item."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.importers.fhir.sources import ReadLimits, SourceItem, discover, read_resources, read_source
from tests.support.emr_samples import samples

SAMPLES = samples("fhir")

PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}]}


def read_all(path: Path, limits: ReadLimits | None = None) -> list[SourceItem]:
    return list(read_resources(path, limits))


def write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    entries = [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


@pytest.mark.parametrize(
    "source", discover(SAMPLES), ids=lambda s: s.name if hasattr(s, "name") else str(s)
)
def test_every_sample_file_reads_without_an_uncaught_error(source: Any) -> None:
    items = list(read_source(source))
    assert items
    for item in items:
        assert (item.resource is None) != (item.problem is None)
        assert item.location.startswith(source.name)


def test_nested_bundles_in_a_collection_yield_their_resources_with_entry_paths() -> None:
    items = read_all(
        SAMPLES / "hl7-r4-examples" / "Bundle-72ac8493-52ac-41bd-8d5d-7258c289b5ea.json"
    )
    nested = [i for i in items if i.resource is not None and i.location.count("entry") == 2]
    assert nested
    assert all(i.resource and i.resource["resourceType"] != "Bundle" for i in items if i.resource)


@pytest.mark.parametrize(
    "kind",
    ["collection", "transaction", "batch", "searchset", "message", "document", "history"],
)
def test_every_bundle_type_yields_its_resources(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / "b.json", bundle(kind, PATIENT, {"resourceType": "Practitioner"}))
    items = read_all(path)
    assert [i.resource["resourceType"] for i in items if i.resource] == ["Patient", "Practitioner"]
    assert items[0].full_url == "urn:uuid:0"
    assert items[1].location == "b.json entry 2"


def test_response_entries_without_resource_are_reported_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    value = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {"response": {"status": "201 Created", "location": "Patient/1/_history/1"}},
            {"resource": PATIENT, "response": {"status": "200 OK"}},
        ],
    }
    items = read_all(write(tmp_path / "r.json", value))
    assert items[0].resource is None
    assert items[0].location == "r.json entry 1"
    assert "server response" in (items[0].problem or "")
    assert items[1].resource == PATIENT


def test_sample_batch_response_bundle_reports_entries_without_resource() -> None:
    items = read_all(SAMPLES / "hl7-r4-examples" / "Bundle-bundle-response.json")
    assert any(i.problem and "server response" in i.problem for i in items)
    assert any(i.resource for i in items)


def test_empty_file_is_reported_by_name(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    [item] = read_all(tmp_path / "empty.json")
    assert item.location == "empty.json"
    assert item.problem == "is empty"


def test_truncated_file_is_reported_as_cut_short(tmp_path: Path) -> None:
    text = json.dumps(bundle("collection", PATIENT, PATIENT))
    (tmp_path / "cut.json").write_text(text[: len(text) // 2], encoding="utf-8")
    [item] = read_all(tmp_path / "cut.json")
    assert "cut short" in (item.problem or "")


def test_file_that_is_not_json_is_reported(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("Patient list\nDoe, John\n", encoding="utf-8")
    [item] = read_all(tmp_path / "notes.json")
    assert item.problem == "is not JSON (it does not start with { or [)"


def test_json_that_is_not_fhir_is_reported(tmp_path: Path) -> None:
    [item] = read_all(write(tmp_path / "config.json", {"name": "x"}))
    assert "no resourceType" in (item.problem or "")


def test_file_that_is_not_a_fhir_kind_is_listed_as_skipped(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    [item] = read_all(tmp_path / "photo.png")
    assert "skipped" in (item.problem or "")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(PATIENT).encode())
    [item] = read_all(tmp_path / "bom.json")
    assert item.resource == PATIENT
    assert item.warning is None


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_read_with_a_warning(tmp_path: Path, encoding: str) -> None:
    with_accent = {**PATIENT, "name": [{"family": "Mejía"}]}
    (tmp_path / "wide.json").write_bytes(
        json.dumps(with_accent, ensure_ascii=False).encode(encoding)
    )
    [item] = read_all(tmp_path / "wide.json")
    assert item.resource == with_accent
    assert "not UTF-8" in (item.warning or "")


def test_utf16_ndjson_is_streamed(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(PATIENT) for _ in range(3))
    (tmp_path / "wide.ndjson").write_bytes(lines.encode("utf-16"))
    items = read_all(tmp_path / "wide.ndjson")
    assert [i.resource for i in items] == [PATIENT] * 3


def test_bytes_that_are_not_utf8_are_reported(tmp_path: Path) -> None:
    (tmp_path / "latin.json").write_bytes(json.dumps(PATIENT).encode()[:-2] + b'\xe9"}')
    [item] = read_all(tmp_path / "latin.json")
    assert "not UTF-8" in (item.problem or "")


def test_duplicate_keys_keep_the_last_value(tmp_path: Path) -> None:
    (tmp_path / "dup.json").write_bytes(
        b'{"resourceType":"Patient","id":"a","gender":"male","gender":"female"}'
    )
    [item] = read_all(tmp_path / "dup.json")
    assert item.resource is not None
    assert item.resource["gender"] == "female"


def test_duplicate_keys_with_a_broken_character_are_read_and_reported(tmp_path: Path) -> None:
    # A lone surrogate escape makes orjson refuse; the standard library path keeps the
    # last duplicate and says what it repaired.
    (tmp_path / "dup.json").write_bytes(
        b'{"resourceType":"Patient","id":"a","gender":"male","gender":"female",'
        b'"name":[{"family":"D\\ud800e"}]}'
    )
    [item] = read_all(tmp_path / "dup.json")
    assert item.resource is not None
    assert item.resource["gender"] == "female"
    assert item.resource["name"][0]["family"] == "D\ufffde"
    assert "appeared twice" in (item.warning or "")
    assert "replaced" in (item.warning or "")


def test_ndjson_reports_bad_lines_by_number_and_reads_the_rest(tmp_path: Path) -> None:
    lines = [json.dumps(PATIENT), "{not json", "", json.dumps({"a": 1}), json.dumps(PATIENT)]
    (tmp_path / "Patient.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = read_all(tmp_path / "Patient.ndjson")
    assert [i.location for i in items] == [f"Patient.ndjson line {n}" for n in (1, 2, 4, 5)]
    assert [i.resource is not None for i in items] == [True, False, False, True]


def test_ndjson_line_longer_than_the_limit_is_skipped_not_read(tmp_path: Path) -> None:
    huge = json.dumps({**PATIENT, "text": {"div": "x" * 5000}})
    (tmp_path / "big.ndjson").write_text(f"{huge}\n{json.dumps(PATIENT)}\n", encoding="utf-8")
    items = read_all(tmp_path / "big.ndjson", ReadLimits(max_line_bytes=1000))
    assert items[0].problem and "longer than" in items[0].problem
    assert items[1].resource == PATIENT


def test_ndjson_first_line_bad_still_reads_later_lines(tmp_path: Path) -> None:
    (tmp_path / "x.ndjson").write_text("oops\n" + json.dumps(PATIENT) + "\n", encoding="utf-8")
    items = read_all(tmp_path / "x.ndjson")
    assert items[0].problem and items[1].resource == PATIENT


def test_pretty_printed_resource_saved_as_ndjson_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "p.ndjson").write_text(json.dumps(PATIENT, indent=2), encoding="utf-8")
    assert [i.resource for i in read_all(tmp_path / "p.ndjson")] == [PATIENT]


def test_ndjson_saved_as_json_is_read_line_by_line(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(f"{json.dumps(PATIENT)}\n{json.dumps(PATIENT)}\n")
    assert [i.resource for i in read_all(tmp_path / "p.json")] == [PATIENT, PATIENT]


def test_json_document_over_the_size_limit_is_refused_suggesting_ndjson(tmp_path: Path) -> None:
    path = write(tmp_path / "huge.json", bundle("collection", *[PATIENT] * 200))
    [item] = read_all(path, ReadLimits(max_json_bytes=1000))
    assert item.location == "huge.json"
    assert "too large" in (item.problem or "") and "NDJSON" in (item.problem or "")


def test_large_json_file_that_is_really_ndjson_is_streamed(tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text("\n".join([json.dumps(PATIENT)] * 50) + "\n")
    items = read_all(tmp_path / "big.json", ReadLimits(max_json_bytes=1000))
    assert len(items) == 50 and all(i.resource == PATIENT for i in items)


def test_folder_is_read_recursively_in_any_mix(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a" / "one.json", PATIENT)
    (tmp_path / "a" / "b" / "two.ndjson").write_text(json.dumps(PATIENT) + "\n")
    write(tmp_path / "a" / ".hidden.json", PATIENT)
    items = read_all(tmp_path / "a")
    assert [i.location for i in items] == ["a/b/two.ndjson line 1", "a/one.json"]


def test_zip_of_any_mix_is_read_without_extracting(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Patient.ndjson", json.dumps(PATIENT) + "\n" + json.dumps(PATIENT))
        archive.writestr("bundles/b.json", json.dumps(bundle("transaction", PATIENT)))
        archive.writestr("readme.txt", "hello")
    before = set(tmp_path.iterdir())
    items = read_all(path)
    assert set(tmp_path.iterdir()) == before
    assert [i.location for i in items] == [
        "export.zip/Patient.ndjson line 1",
        "export.zip/Patient.ndjson line 2",
        "export.zip/bundles/b.json entry 1",
        "export.zip/readme.txt",
    ]
    assert items[3].problem and "skipped" in items[3].problem


def test_zip_bomb_member_is_refused_by_name_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("ok.json", json.dumps(PATIENT))
        archive.writestr("Patient.ndjson", b" " * (20 * 1024 * 1024))
    items = read_all(path)
    assert items[0].resource == PATIENT
    assert items[1].location == "bomb.zip/Patient.ndjson"
    assert "zip bomb" in (items[1].problem or "")


def test_zip_over_the_total_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", json.dumps(PATIENT) * 100)
    [item] = read_all(path, ReadLimits(max_zip_total_bytes=1000))
    assert item.location == "big.zip" and "zip bomb" in (item.problem or "")


def test_damaged_zip_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    [item] = read_all(tmp_path / "bad.zip")
    assert item.problem == "is not a zip file that can be opened"


def test_ndjson_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    line = json.dumps({**PATIENT, "text": {"div": "z" * 900}}) + "\n"
    path = tmp_path / "Patient.ndjson"
    with path.open("w", encoding="utf-8") as out:
        for _ in range(20_000):  # about 19 MB
            out.write(line)
    tracemalloc.start()
    count = sum(1 for item in read_resources(path) if item.resource is not None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert peak < 4 * 1024 * 1024
