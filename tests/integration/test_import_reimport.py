"""Identity, re-import, undo, merge review, dry run and cancel, through the real database.

Each test writes a small export to a temp folder, imports it with the session exactly
as the wizard does, and checks what the clinic's database (and its search, timeline and
change journal) holds afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.clinic import Clinic
from app.errors import UndoBlockedError
from app.importers.batches import list_batches, undo_batch, undo_blockers
from app.importers.merge_review import merge, open_reviews, undo_decision
from app.importers.session import ImportResult, plan_import, run_import
from app.interactions.log import log_interaction
from app.ops import CancelToken, OperationCancelledError
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.patients.search import PatientSearch
from app.patients.timeline import timeline

SYNTHEA = "https://github.com/synthetichealth/synthea"
MRN = "http://emr.example.org/mrn"
UPDATED_NOTE = "Details updated by an import"
# Tables that record the import itself rather than the clinic's data.
# audit_event: every import, undo and change adds entries by design (never removed).
BATCH_TABLES = {"import_batch", "import_file", "import_undo", "audit_event"}
# The search index's own storage: its pages do not shrink back row for row; what it
# finds is checked through PatientSearch instead.
FTS_SHADOWS = ("_data", "_idx", "_docsize", "_config", "_content")


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """The folder an EMR export is saved to (tmp_path itself holds the clinic)."""
    folder = tmp_path / "export"
    folder.mkdir()
    return folder


def _import(clinic: Clinic, *paths: Path, **options: Any) -> ImportResult:
    return run_import(clinic, plan_import(clinic, list(paths)), **options)


def _patient(
    family: str = "Lindqvist",
    *,
    pid: str = "p1",
    phones: tuple[str, ...] = ("(312) 555-0142",),
    birth: str = "1961-04-09",
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {"system": MRN, "value": f"MRN-{pid}", "type": {"coding": [{"code": "MR"}]}}
        ],
        "name": [{"family": family, "given": ["Maren"]}],
        "birthDate": birth,
        "telecom": [{"system": "phone", "value": p} for p in phones],
    }


def _encounter(eid: str, day: str, pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": f"{day}T09:30:00-05:00", "end": f"{day}T10:00:00-05:00"},
    }


def _export(folder: Path, *resources: dict[str, Any], name: str = "export.json") -> Path:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    path = folder / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _first_export(folder: Path) -> Path:
    return _export(
        folder,
        _patient(),
        _encounter("e1", "2023-03-14"),
        _encounter("e2", "2024-01-09"),
    )


def _newer_export(folder: Path) -> Path:
    return _export(
        folder,
        _patient("Lindqvist-Berg", phones=("(312) 555-0142", "(773) 555-0199")),
        _encounter("e1", "2023-03-14"),
        _encounter("e2", "2024-01-09"),
        _encounter("e3", "2025-02-20"),
    )


def _tables(clinic: Clinic) -> dict[str, int]:
    names = [
        r[0]
        for r in clinic.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        n: clinic.conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
        for n in names
        if n not in BATCH_TABLES and not n.endswith(FTS_SHADOWS)
    }


def _imported_id(clinic: Clinic, pid: str = "p1") -> str:
    row = clinic.conn.execute(
        "SELECT row_id FROM source_record WHERE tbl = 'patient' AND system = 'fhir:Patient' "
        "AND value = ?",
        (pid,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _count(clinic: Clinic, sql: str, *params: Any) -> int:
    return int(clinic.conn.execute(sql, params).fetchone()[0])


def _search(clinic: Clinic, text: str) -> list[str]:
    """Who a receptionist can pick: merged-away records are listed flagged, and last."""
    return [r.patient_id for r in PatientSearch(clinic.conn).search(text) if not r.merged]


def _merged_in_search(clinic: Clinic, text: str) -> list[str]:
    return [r.patient_id for r in PatientSearch(clinic.conn).search(text) if r.merged]


# --- identity and re-import -------------------------------------------------------------


def test_the_same_file_twice_changes_nothing(clinic: Clinic, export: Path) -> None:
    path = _first_export(export)
    first = _import(clinic, path)
    assert (first.counts["patients"].created, first.counts["visits"].created) == (1, 2)
    before = _tables(clinic)

    again = _import(clinic, path)

    assert again.counts["patients"].as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "skipped": 0,
        "failed": 0,
    }
    assert again.counts["visits"].unchanged == 2
    assert again.totals().created == again.totals().updated == 0
    assert _tables(clinic) == before  # includes the change journal
    assert len(list_batches(clinic)) == 2


def test_a_renamed_copy_of_the_file_is_the_same_patient(clinic: Clinic, export: Path) -> None:
    path = _first_export(export)
    _import(clinic, path)
    copy = export / "copy of export.json"
    copy.write_bytes(path.read_bytes())
    again = _import(clinic, copy)
    assert again.totals().created == 0
    assert _count(clinic, "SELECT count(*) FROM patient") == 1


def test_the_record_number_finds_a_patient_whose_resource_id_changed(
    clinic: Clinic, export: Path
) -> None:
    _import(clinic, _first_export(export))
    moved = _patient(pid="p1")
    moved["id"] = "new-server-id"
    moved["identifier"][0]["value"] = "MRN-p1"
    result = _import(clinic, _export(export, moved, name="moved.json"))
    assert result.counts["patients"].created == 0
    assert _count(clinic, "SELECT count(*) FROM patient") == 1


def test_a_newer_export_updates_the_patient_adds_the_visit_and_notes_it(
    clinic: Clinic, export: Path
) -> None:
    _import(clinic, _first_export(export))
    patient_id = _imported_id(clinic)

    newer = _import(clinic, _newer_export(export))

    assert newer.counts["patients"].updated == 1
    assert newer.counts["visits"].created == 1
    assert newer.counts["visits"].unchanged == 2
    family = clinic.conn.execute(
        "SELECT family_name FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()[0]
    assert family == "Lindqvist-Berg"
    phones = {
        r[0]
        for r in clinic.conn.execute(
            "SELECT value FROM contact_point WHERE patient_id = ? AND kind = 'phone'",
            (patient_id,),
        )
    }
    assert phones == {"+13125550142", "+17735550199"}
    notes = [e for e in timeline(clinic, patient_id, kinds={"note"}) if e.detail == UPDATED_NOTE]
    assert len(notes) == 1
    body = clinic.conn.execute(
        "SELECT body FROM interaction WHERE id = ?", (notes[0].record_id,)
    ).fetchone()[0]
    assert "family name" in body and "phone" in body
    assert "Lindqvist" not in body and "555" not in body  # field names, never values


def test_undo_of_the_newer_export_restores_the_name_and_removes_its_visit_and_note(
    clinic: Clinic, export: Path
) -> None:
    _import(clinic, _first_export(export))
    patient_id = _imported_id(clinic)
    before = _tables(clinic)
    second = _import(clinic, _newer_export(export))
    assert second.batch_id is not None

    undo_batch(clinic, second.batch_id)

    row = clinic.conn.execute(
        "SELECT family_name FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    assert row[0] == "Lindqvist"
    assert _count(clinic, "SELECT count(*) FROM appointment") == 2
    assert _count(clinic, "SELECT count(*) FROM interaction WHERE subject = ?", UPDATED_NOTE) == 0
    assert {k: v for k, v in _tables(clinic).items() if k != "change"} == {
        k: v for k, v in before.items() if k != "change"
    }
    # And the same newer export imports again as an update, not as "unchanged".
    again = _import(clinic, _newer_export(export))
    assert again.counts["patients"].updated == 1


def test_undo_of_the_first_import_removes_everything_it_created(
    clinic: Clinic, export: Path
) -> None:
    empty = _tables(clinic)
    result = _import(clinic, _first_export(export))
    assert result.batch_id is not None
    assert _search(clinic, "Lindqvist") == [_imported_id(clinic)]
    assert undo_blockers(clinic, result.batch_id) == []

    undo_batch(clinic, result.batch_id)

    for table in ("patient", "appointment", "source_record", "contact_point", "patient_identifier"):
        assert _count(clinic, f"SELECT count(*) FROM {table}") == 0, table
    assert {k: v for k, v in _tables(clinic).items() if k != "change"} == {
        k: v for k, v in empty.items() if k != "change"
    }
    assert _search(clinic, "Lindqvist") == []
    assert _search(clinic, "Maren") == []
    assert _search(clinic, "312 555 0142") == []
    (batch,) = list_batches(clinic)
    assert (batch.id, batch.status) == (result.batch_id, "undone")
    assert undo_blockers(clinic, result.batch_id) == ["This import has already been undone."]


def test_the_same_file_imports_again_after_its_undo(clinic: Clinic, export: Path) -> None:
    path = _first_export(export)
    first = _import(clinic, path)
    assert first.batch_id is not None
    undo_batch(clinic, first.batch_id)
    again = _import(clinic, path)
    assert again.counts["patients"].created == 1
    assert again.counts["visits"].created == 2
    assert _search(clinic, "Lindqvist") == [_imported_id(clinic)]


def test_undo_is_refused_when_a_call_was_logged_on_an_imported_patient(
    clinic: Clinic, export: Path
) -> None:
    result = _import(clinic, _first_export(export))
    assert result.batch_id is not None
    patient_id = _imported_id(clinic)
    log_interaction(clinic, patient_id, "call", direction="in", subject="Asked about a refill")
    before = _tables(clinic)

    with pytest.raises(UndoBlockedError) as refused:
        undo_batch(clinic, result.batch_id)

    reasons = refused.value.reasons
    assert reasons == undo_blockers(clinic, result.batch_id)
    assert any("call" in r and "Lindqvist" in r for r in reasons), reasons
    assert _tables(clinic) == before
    assert list_batches(clinic)[0].status == "done"


def test_undo_of_an_import_a_later_import_updated_is_refused_in_plain_words(
    clinic: Clinic, export: Path
) -> None:
    first = _import(clinic, _first_export(export))
    _import(clinic, _newer_export(export))
    assert first.batch_id is not None

    reasons = undo_blockers(clinic, first.batch_id)

    assert any(
        r.startswith("A later import updated a record this import brought in") for r in reasons
    )
    assert any("patient from this import was changed since" in r for r in reasons)
    with pytest.raises(UndoBlockedError):
        undo_batch(clinic, first.batch_id)


def test_undo_is_refused_when_an_imported_patient_was_edited_since(
    clinic: Clinic, export: Path
) -> None:
    from app.patients.records import update_patient

    result = _import(clinic, _first_export(export))
    assert result.batch_id is not None
    update_patient(clinic, _imported_id(clinic), {"preferred_name": "Mare"})
    reasons = undo_blockers(clinic, result.batch_id)
    assert reasons and any("changed since" in r for r in reasons), reasons
    with pytest.raises(UndoBlockedError):
        undo_batch(clinic, result.batch_id)
    assert _count(clinic, "SELECT count(*) FROM patient") == 1


# --- merge review ---------------------------------------------------------------------------


def _hand_entered(clinic: Clinic) -> str:
    draft = PatientDraft(
        family_name="Lindqvist",
        given_names="Maren",
        birth_date="1961-04-09",
        phones=(PhoneDraft("(312) 555-0100"),),
    )
    return create_patient(clinic, draft).id


def test_a_look_alike_of_a_hand_entered_patient_goes_to_review(
    clinic: Clinic, export: Path
) -> None:
    existing = _hand_entered(clinic)
    result = _import(clinic, _first_export(export))
    imported = _imported_id(clinic)
    assert imported != existing
    assert result.reviews == 1
    (review,) = open_reviews(clinic)
    assert (review.imported.patient_id, review.existing.patient_id) == (imported, existing)
    assert review.imported.visits == 2 and review.existing.visits == 0
    assert sorted(_search(clinic, "Lindqvist")) == sorted([existing, imported])


def test_merge_moves_the_visits_hides_the_duplicate_and_undo_restores_both(
    clinic: Clinic, export: Path
) -> None:
    existing = _hand_entered(clinic)
    path = _first_export(export)
    _import(clinic, path)
    imported = _imported_id(clinic)
    (review,) = open_reviews(clinic)

    merge(clinic, review.id)

    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", existing) == 2
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", imported) == 0
    assert _search(clinic, "Lindqvist") == [existing]
    assert _merged_in_search(clinic, "Lindqvist") == [imported]
    found = PatientSearch(clinic.conn).search("Lindqvist")
    assert [r.patient_id for r in found] == [existing, imported]  # the merged one last
    assert open_reviews(clinic) == []
    # Re-importing the same export now finds the kept patient: nothing new.
    again = _import(clinic, path)
    assert again.totals().created == 0
    assert _count(clinic, "SELECT count(*) FROM patient WHERE merged_into IS NULL") == 1

    undo_decision(clinic, review.id)

    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", imported) == 2
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", existing) == 0
    assert sorted(_search(clinic, "Lindqvist")) == sorted([existing, imported])
    assert _merged_in_search(clinic, "Lindqvist") == []
    assert [r.id for r in open_reviews(clinic)] == [review.id]
    merged = clinic.conn.execute(
        "SELECT merged_into FROM patient WHERE id = ?", (imported,)
    ).fetchone()[0]
    assert merged is None


def test_a_newer_export_after_a_merge_updates_the_kept_patient(
    clinic: Clinic, export: Path
) -> None:
    existing = _hand_entered(clinic)
    _import(clinic, _first_export(export))
    imported = _imported_id(clinic)
    (review,) = open_reviews(clinic)
    merge(clinic, review.id)

    newer = _import(clinic, _newer_export(export))

    assert newer.counts["patients"].created == 0
    assert newer.counts["visits"].created == 1
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", existing) == 3
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", imported) == 0
    assert (
        _count(
            clinic,
            "SELECT count(*) FROM contact_point WHERE patient_id = ? AND value = ?",
            existing,
            "+17735550199",
        )
        == 1
    )


# --- dry run and cancel ---------------------------------------------------------------------


def test_a_dry_run_counts_like_the_real_run_and_writes_nothing(
    clinic: Clinic, export: Path
) -> None:
    _hand_entered(clinic)
    path = _first_export(export)
    before = _tables(clinic)

    trial = _import(clinic, path, dry_run=True)

    assert trial.batch_id is None and trial.dry_run
    assert _tables(clinic) == before
    assert list_batches(clinic) == []
    real = _import(clinic, path)
    assert {k: c.as_dict() for k, c in trial.counts.items()} == {
        k: c.as_dict() for k, c in real.counts.items()
    }
    assert (trial.reviews, len(trial.problems)) == (real.reviews, len(real.problems)) == (1, 0)


def test_a_dry_run_of_a_newer_export_counts_the_update(clinic: Clinic, export: Path) -> None:
    _import(clinic, _first_export(export))
    before = _tables(clinic)
    trial = _import(clinic, _newer_export(export), dry_run=True)
    assert trial.counts["patients"].updated == 1
    assert trial.counts["visits"].created == 1
    assert _tables(clinic) == before


def test_cancel_from_the_progress_report_leaves_nothing(clinic: Clinic, export: Path) -> None:
    for number in range(3):
        _export(
            export,
            _patient(f"Family{number}", pid=f"p{number}"),
            _encounter(f"e{number}", "2023-03-14", pid=f"p{number}"),
            name=f"part{number}.json",
        )
    before = _tables(clinic)
    token = CancelToken()
    reports: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, what: str) -> None:
        reports.append((done, total, what))
        token.cancel()

    with pytest.raises(OperationCancelledError):
        _import(clinic, export, progress=progress, cancel=token)

    assert len(reports) == 1
    assert _tables(clinic) == before
    assert list_batches(clinic) == []
    assert _search(clinic, "Family0") == []


# --- CSV and FHIR of one Synthea patient -------------------------------------------------

CSV_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,"
    "RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
)
SYNTHEA_ID = "3edac2e3-d223-6fae-d515-daf96ef6bc76"


def test_synthea_csv_and_fhir_of_the_same_patient_are_one_patient(
    clinic: Clinic, export: Path
) -> None:
    (export / "patients.csv").write_text(
        f"{CSV_HEADER}\n{SYNTHEA_ID},2014-10-06,,999-17-5017,,,,Maynard46,Mosciski958,,,,"
        "white,nonhispanic,M,Boston  Massachusetts  US,784 Stamm Lock Unit 46,Somerville,"
        "Massachusetts,Middlesex County,02155,42.36,-71.15,227761.06,2546.04\n",
        encoding="utf-8",
    )
    fhir = {
        "resourceType": "Patient",
        "id": SYNTHEA_ID,
        "identifier": [
            {"system": SYNTHEA, "value": SYNTHEA_ID},
            {
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": "999-17-5017",
                "type": {"coding": [{"code": "SS"}]},
            },
        ],
        "name": [{"use": "official", "family": "Mosciski958", "given": ["Maynard46"]}],
        "gender": "male",
        "birthDate": "2014-10-06",
    }
    _export(
        export,
        fhir,
        _encounter("e1", "2023-01-27", pid=SYNTHEA_ID),
        name="Maynard46_Mosciski958.json",
    )

    result = _import(clinic, export)

    assert _count(clinic, "SELECT count(*) FROM patient") == 1
    assert result.counts["patients"].created == 1
    assert result.reviews == 0
    patient_id = clinic.conn.execute("SELECT id FROM patient").fetchone()[0]
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", patient_id) == 1
    # Importing the FHIR file alone later still finds that one patient.
    _import(clinic, export / "Maynard46_Mosciski958.json")
    assert _count(clinic, "SELECT count(*) FROM patient") == 1


# --- conflicting identities --------------------------------------------------------


def _practitioner(rid: str, family: str, npi: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": rid,
        "name": [{"family": family, "given": ["Ife"]}],
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
    }


def test_identifiers_naming_two_stored_records_match_the_first_and_save(
    clinic: Clinic, export: Path
) -> None:
    # Two practitioners already in Frontdesk; then a record whose resource id is the
    # first's and whose NPI is the second's (an EMR merged them, say). The import
    # must neither crash on the unique identity nor move the NPI between them.
    (export / "a.json").write_text(json.dumps(_practitioner("dr-a", "Okoye", "1234567893")))
    (export / "b.json").write_text(json.dumps(_practitioner("dr-b", "Adeyemi", "1245319599")))
    _import(clinic, export)
    for old in export.iterdir():
        old.unlink()
    (export / "c.json").write_text(json.dumps(_practitioner("dr-a", "Okoye-Bello", "1245319599")))

    result = _import(clinic, export)

    assert result.counts["practitioners"].updated == 1
    [problem] = result.problems
    assert "two different records" in problem.reason and not problem.dropped
    families = sorted(r[0] for r in clinic.conn.execute("SELECT family_name FROM provider"))
    assert families == ["Adeyemi", "Okoye-Bello"]
    # The NPI still finds the practitioner it named first, and only that one.
    owner = clinic.conn.execute(
        "SELECT p.family_name FROM source_record s JOIN provider p ON p.id = s.row_id "
        "WHERE s.value = '1245319599'"
    ).fetchall()
    assert owner == [("Adeyemi",)]


# --- preview ----------------------------------------------------------------------------


def test_preview_shows_the_first_records_as_stored_and_writes_nothing(
    clinic: Clinic, export: Path
) -> None:
    from app.importers.session import preview

    _first_export(export)
    changes_before = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]

    rows = preview(clinic, plan_import(clinic, [export]), limit=5)

    assert rows and len(rows) <= 5
    patient = next(r for r in rows if r.kind == "patients")
    fields = dict(patient.fields)
    assert fields["Family name"] == "Lindqvist"
    assert fields["Birth date"] == "1961-04-09"
    assert fields["Identifiers"] == "MR MRN-p1"  # as people read it, not the system's URI
    assert fields["Phones"] == "(312) 555-0142"  # as the desk writes it, not E.164
    assert all(label != "Counted as" for r in rows for label, _ in r.fields)
    after = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    assert after == changes_before


def _person(pid: str, family: str, given: str, birth: str, mrn: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": MRN, "value": mrn, "type": {"coding": [{"code": "MR"}]}}],
        "name": [{"family": family, "given": [given]}],
        "birthDate": birth,
    }


def test_two_people_given_one_mrn_in_one_import_are_kept_apart_for_review(
    clinic: Clinic, export: Path
) -> None:
    _export(
        export,
        _person("a", "Alpha", "Ann", "1950-01-01", "1001"),
        _person("b", "Bravo", "Bob", "1955-05-05", "1001"),
        _encounter("ea", "2024-01-09", pid="a"),
        _encounter("eb", "2024-02-09", pid="b"),
    )
    result = _import(clinic, export)

    assert result.counts["patients"].created == 2
    visits = dict(
        clinic.conn.execute(
            "SELECT p.family_name, count(a.id) FROM patient p "
            "LEFT JOIN appointment a ON a.patient_id = p.id GROUP BY p.id"
        ).fetchall()
    )
    assert visits == {"Alpha": 1, "Bravo": 1}  # nobody's visit on the other's chart
    [review] = open_reviews(clinic)
    assert review.reason == "same identifier"
    assert {review.imported.display_name, review.existing.display_name} == {
        "Alpha, Ann",
        "Bravo, Bob",
    }
    assert any("shares an identifier" in p.reason for p in result.problems)
    again = _import(clinic, export)
    assert again.counts["patients"].created == 0 and again.counts["patients"].updated == 0


def test_a_second_person_with_a_stored_mrn_never_overwrites_the_first(
    clinic: Clinic, export: Path
) -> None:
    first = _export(export, _person("a", "Alpha", "Ann", "1950-01-01", "1001"), name="a.json")
    _import(clinic, first)
    first.unlink()
    _export(
        export,
        _person("b", "Bravo", "Bob", "1955-05-05", "1001"),
        _encounter("eb", "2024-02-09", pid="b"),
        name="b.json",
    )

    result = _import(clinic, export)

    assert result.counts["patients"].created == 1
    rows = clinic.conn.execute(
        "SELECT family_name, given_names, birth_date FROM patient ORDER BY family_name"
    ).fetchall()
    assert rows == [("Alpha", "Ann", "1950-01-01"), ("Bravo", "Bob", "1955-05-05")]
    bravo = clinic.conn.execute("SELECT id FROM patient WHERE family_name = 'Bravo'").fetchone()
    assert _count(clinic, "SELECT count(*) FROM appointment WHERE patient_id = ?", bravo[0]) == 1
    assert [r.reason for r in open_reviews(clinic)] == ["same identifier"]


def test_csv_and_fhir_of_stored_patients_reimport_across_chunk_boundaries(
    clinic: Clinic, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same patient seen in one chunk through one key and in a later chunk through
    # more keys must stay one row with one set of keys (this aborted the import once).
    from app.importers import writer

    monkeypatch.setattr(writer, "CHUNK", 2)
    fhir = {
        "resourceType": "Patient",
        "id": SYNTHEA_ID,
        "identifier": [
            {"system": SYNTHEA, "value": SYNTHEA_ID},
            {"system": MRN, "value": "MRN-9", "type": {"coding": [{"code": "MR"}]}},
        ],
        "name": [{"family": "Mosciski958", "given": ["Maynard46"]}],
        "birthDate": "2014-10-06",
    }
    _export(export, fhir, name="z-fhir.json")
    _import(clinic, export)
    header = "Id,BIRTHDATE,DEATHDATE,PREFIX,FIRST,LAST,GENDER"
    rows = [f"{SYNTHEA_ID},2014-10-06,,,Maynard46,Mosciski958,M"]
    rows += [f"other-{n},1990-01-0{n},,,Given{n},Family{n},F" for n in range(1, 4)]
    (export / "patients.csv").write_text(header + "\n" + "\n".join(rows) + "\n", "utf-8")

    result = _import(clinic, export)  # no StoreWriteError

    assert _count(clinic, "SELECT count(*) FROM patient") == 4
    assert result.counts["patients"].created == 3
    again = _import(clinic, export)
    assert again.counts["patients"].created == 0 and again.counts["patients"].updated == 0


# --- from the review: undo and merge chains, records without ids, national numbers ---


def test_undo_is_refused_while_a_later_import_names_its_records(
    clinic: Clinic, export: Path
) -> None:
    first = _import(clinic, _export(export, _practitioner("p", "Okoye", "1234567893")))
    # No specialty: the role changes nothing of the practitioner, it only names them.
    role = {
        "resourceType": "PractitionerRole",
        "id": "r",
        "practitioner": {"reference": "Practitioner/p"},
    }
    _import(clinic, _export(export, _practitioner("p", "Okoye", "1234567893"), role))
    assert first.batch_id is not None

    reasons = undo_blockers(clinic, first.batch_id)

    assert reasons == ["A later import linked to a record this import brought in."]
    with pytest.raises(UndoBlockedError):
        undo_batch(clinic, first.batch_id)


def test_a_merge_that_was_merged_on_cannot_be_undone_out_of_order(
    clinic: Clinic, export: Path
) -> None:
    from app.errors import MergeError

    _hand_entered(clinic)
    _import(clinic, _export(export, _patient(pid="e"), name="e.json"))
    _import(clinic, _export(export, _patient(pid="i"), name="i.json"))
    by_pair = {(r.imported.patient_id, r.existing.patient_id): r.id for r in open_reviews(clinic)}
    e, i = _imported_id(clinic, "e"), _imported_id(clinic, "i")
    merge(clinic, by_pair[(i, e)])
    [e_into_desk] = [rid for (a, _), rid in by_pair.items() if a == e]
    merge(clinic, e_into_desk)

    with pytest.raises(MergeError):
        undo_decision(clinic, by_pair[(i, e)])
    undo_decision(clinic, e_into_desk)  # in order it works
    undo_decision(clinic, by_pair[(i, e)])
    assert _count(clinic, "SELECT count(*) FROM patient WHERE merged_into IS NULL") == 3


def test_resources_without_an_id_are_recognised_when_imported_again(
    clinic: Clinic, export: Path
) -> None:
    visit = _encounter("x", "2024-05-06")
    del visit["id"]
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
    }
    lines = [json.dumps(r) for r in (_patient(), visit, condition)]
    (export / "bulk.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _import(clinic, export)

    again = _import(clinic, export)

    assert again.counts["visits"].created == 0 and again.counts["visits"].unchanged == 1
    assert again.counts["conditions"].created == 0
    assert _count(clinic, "SELECT count(*) FROM appointment") == 1


def test_national_numbers_without_a_type_are_neither_stored_nor_keys(
    clinic: Clinic, export: Path
) -> None:
    person = _patient(pid="nl")
    person["identifier"].append({"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "1234"})
    person["identifier"].append({"type": {"text": "BSN"}, "system": "urn:x:y", "value": "5678"})
    _import(clinic, _export(export, person))
    stored = {r[0] for r in clinic.conn.execute("SELECT value FROM patient_identifier")}
    keys = {r[0] for r in clinic.conn.execute("SELECT value FROM source_record")}
    assert stored == {"MRN-nl"}
    assert not {"1234", "5678"} & keys


def test_a_newer_export_keeps_what_the_desk_corrected_in_between(
    clinic: Clinic, export: Path
) -> None:
    from app.patients.records import update_patient

    _import(clinic, _first_export(export))
    patient_id = _imported_id(clinic)
    # At the desk: the name spelt as the patient spells it, and a preferred name.
    update_patient(clinic, patient_id, {"family_name": "Lindkvist", "preferred_name": "Mia"})
    # The EMR's next export changes only the phone numbers.
    newer = _patient(phones=("(312) 555-0142", "(773) 555-0199"))
    _import(clinic, _export(export, newer, _encounter("e1", "2023-03-14")))

    family, preferred = clinic.conn.execute(
        "SELECT family_name, preferred_name FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    assert (family, preferred) == ("Lindkvist", "Mia")  # the desk's corrections stay
    phones = _count(clinic, "SELECT count(*) FROM contact_point WHERE patient_id = ?", patient_id)
    assert phones == 2
    notes = [e for e in timeline(clinic, patient_id, kinds={"note"}) if e.detail == UPDATED_NOTE]
    body = clinic.conn.execute(
        "SELECT body FROM interaction WHERE id = ?", (notes[0].record_id,)
    ).fetchone()[0]
    assert body == "Changed: phone."
    # When the EMR itself changes the name, the EMR's new spelling is taken.
    renamed = _patient("Lindqvist-Berg", phones=("(312) 555-0142", "(773) 555-0199"))
    _import(clinic, _export(export, renamed, _encounter("e1", "2023-03-14")))
    family = clinic.conn.execute(
        "SELECT family_name FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()[0]
    assert family == "Lindqvist-Berg"


def test_a_no_show_marked_at_the_desk_survives_a_changed_encounter(
    clinic: Clinic, export: Path
) -> None:
    from app.scheduling.appointments import set_status

    visit = _encounter("e1", "2023-03-14")
    visit["status"] = "planned"
    _import(clinic, _export(export, _patient(), visit))
    appointment = clinic.conn.execute("SELECT id FROM appointment").fetchone()[0]
    set_status(clinic, appointment, "noshow")
    visit["reasonCode"] = [{"text": "Knee pain"}]  # the EMR adds a reason, status unchanged
    result = _import(clinic, _export(export, _patient(), visit))

    assert result.counts["visits"].updated == 1
    status, reason = clinic.conn.execute(
        "SELECT status, reason FROM appointment WHERE id = ?", (appointment,)
    ).fetchone()
    assert (status, reason) == ("noshow", "Knee pain")


def test_planning_reports_progress_per_file_and_stops_on_cancel(
    clinic: Clinic, export: Path
) -> None:
    _export(export, _patient(pid="a"), name="a.json")
    _export(export, _patient(pid="b"), name="b.json")
    seen: list[tuple[int, int, str]] = []
    plan_import(clinic, [export], progress=lambda d, t, w: seen.append((d, t, w)))
    assert seen == [(0, 2, "Looking at file 1 of 2"), (1, 2, "Looking at file 2 of 2")]
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelledError):
        plan_import(clinic, [export], cancel=token)


def test_big_exports_read_twice_import_the_same_as_small_ones_parsed_once(
    clinic: Clinic, export: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    from app.clinic import create_clinic
    from app.importers import session

    _first_export(export)
    _export(export, _encounter("e9", "2022-02-02"), name="a-visit-first.json")
    once = _import(clinic, export)
    monkeypatch.setattr(session, "PARSED_ONCE_BYTES", 0)  # as for a 500 MB export
    other = create_clinic(
        "Twice", "correct horse battery staple 9", tmp_path / "twice", use_keyring=False
    ).clinic
    with other:
        twice = _import(other, export)
        assert _tables(other) == _tables(clinic)
    assert {k: c.as_dict() for k, c in twice.counts.items()} == {
        k: c.as_dict() for k, c in once.counts.items()
    }
    assert gc.isenabled()  # the collector's pause ended with the import


def test_the_collector_is_back_on_after_a_cancelled_import(clinic: Clinic, export: Path) -> None:
    import gc

    _first_export(export)
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelledError):
        _import(clinic, export, cancel=token)
    assert gc.isenabled()
