"""The research export leaves out all 18 Safe Harbor identifiers (45 CFR 164.514(b)(2)(i)).

A demo clinic is seeded with every kind, for a patient and for the people around her
(a guarantor with his own name and phone, a household, an emergency contact, an
employer), in every place Frontdesk keeps them: the patient row, contact points,
addresses, identifiers, insurance, payments, notes, message bodies, replies, survey
comments, campaign names. Then every output file's text is scanned for each value.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.audit.actions import RESEARCH_EXPORT
from app.clinic import Clinic, open_clinic
from app.errors import PermissionDeniedError
from app.growth.acquisition import Source, save_sources, sources
from app.reminders.replies import CONFIRM_NOTE
from app.research.deidentify import ResearchRequest, export_research
from app.research.fields import CATALOGUE
from app.store.writer import new_id, utc_now
from app.users import add_user
from tests.conftest import PASSPHRASE, Template
from tests.support.outbox_rows import make_message, make_rule

ALL_FIELDS = tuple(f.key for f in CATALOGUE)
NOW = datetime(2026, 11, 29, 14, 12, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
PSEUDONYM_RE = re.compile(r"\b[0-9a-f]{16}\b")
FULL_DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


@dataclass
class World:
    """The seeded values, by Safe Harbor letter, and what the exports wrote."""

    identifiers: dict[str, list[str]]
    old_id: str  # the 95-year-old
    restricted_id: str
    normal_id: str
    patient_ids: list[str]
    folders: dict[str, Path] = field(default_factory=dict)
    audit_bodies: list[str] = field(default_factory=list)


def _texts(folder: Path) -> dict[str, str]:
    """Each file's text with the pseudonyms blanked: a random hex code may contain any
    digits (a seeded "778899" by chance), which would make the scans below flaky."""
    return {
        p.name: PSEUDONYM_RE.sub("<pseudonym>", p.read_text("utf-8-sig"))
        for p in sorted(folder.iterdir())
    }


def _csv(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _seed(clinic: Clinic) -> World:
    conn = clinic.conn
    ids = [str(r[0]) for r in conn.execute("SELECT id FROM patient ORDER BY rowid LIMIT 3")]
    old, restricted, normal = ids
    guarantor = new_id()
    household = new_id()
    rule_id = make_rule(clinic, "Spring recall for the Quillfeather family", kind="recall")
    keep = list(sources(clinic))
    save_sources(clinic, [*keep, Source("formula_channel", '=HYPERLINK("x")')])
    with clinic.store.write() as tx:
        now = utc_now()
        tx.insert(
            "household",
            {
                "id": household,
                "name": "Fairweather household",
                "guarantor_patient_id": guarantor,
                "created_at": now,
            },
        )
        tx.insert(
            "patient",
            {
                "id": guarantor,
                "family_name": "Thistlewood",
                "given_names": "Orlando",
                "birth_date": "1960-08-17",
                "sex": "male",
                "household_id": household,
                "household_role": "guarantor",
                "created_at": now,
                "updated_at": now,
            },
        )
        tx.insert(
            "contact_point", {"patient_id": guarantor, "kind": "phone", "value": "+16125550142"}
        )
        tx.update(
            "patient",
            old,
            {
                "family_name": "Fairweather",
                "given_names": "Jane",
                "preferred_name": "Janie",
                "birth_date": "1931-05-02",
                "deceased_date": "2026-10-03",
                "household_id": household,
                "household_role": "spouse",
                "acquisition_source": "formula_channel",
            },
        )
        for (address,) in conn.execute(
            "SELECT id FROM address WHERE patient_id IN (?, ?, ?)", ids
        ).fetchall():
            tx.delete("address", address)
        tx.insert(
            "address",
            {
                "patient_id": old,
                "line1": "1187 Larkspur Lane",
                "line2": "Apt 4B",
                "city": "Pinecrest Hollow",
                "region": "NH",
                "postal_code": "03601",
                "country": "US",
            },
        )
        tx.insert(
            "address",
            {
                "patient_id": restricted,
                "line1": "9 Juniper Row",
                "city": "Alstead",
                "region": "New Hampshire",
                "postal_code": "03602-1234",
                "country": "US",
            },
        )
        tx.insert(
            "address",
            {
                "patient_id": normal,
                "line1": "400 Nicollet Mall",
                "city": "Minneapolis",
                "region": "MN",
                "postal_code": "55401",
                "country": "US",
            },
        )
        tx.update("patient", restricted, {"acquisition_source": "Told by Mrs Quillfeather"})
        for kind, value in (
            ("phone", "+16125550187"),
            ("phone", "+16125550199"),
            ("email", "jane.fairweather@example.net"),
        ):
            tx.insert(
                "contact_point",
                {
                    "patient_id": old,
                    "kind": kind,
                    "value": value,
                    "use": "other" if value.endswith("199") else "home",
                },
            )
        for system, value, kind in (
            ("http://hl7.org/fhir/sid/us-ssn", "123-45-6789", "SS"),
            ("urn:clinic:mrn", "MRN-778899", "MR"),
            ("urn:us:mn:dl", "DL-X1234567", "DL"),
            ("urn:passport", "P99887766", "PPN"),
            ("urn:vehicle-plate", "PLT-7QX-442", ""),
            ("urn:device-serial", "DEV-SN-55AA77", ""),
        ):
            tx.insert(
                "patient_identifier",
                {"patient_id": old, "system": system, "value": value, "kind": kind},
            )
        tx.insert(
            "coverage",
            {
                "patient_id": old,
                "payer_name": "Lakes Health Plan",
                "member_id": "MEMB-445566",
                "plan": "PLAN-GOLD-8812",
                "relationship": "spouse",
                "start_on": "2019-04-11",
            },
        )
        tx.insert(
            "payment",
            {
                "patient_id": old,
                "amount_cents": 4550,
                "method": "card",
                "reference": "ACCT-99812",
                "received_at": "2025-03-14T16:00:00Z",
            },
        )
        notes = (
            "Emergency contact Orlando Thistlewood +16125550142; employer Acme Widgets "
            "Incorporated; car plate PLT-7QX-442; hearing aid DEV-SN-55AA77; photo "
            "https://photos.example.org/p/jf-face.jpg from 203.0.113.77; fingerprint "
            "template FP-TEMPLATE-A1B2C3; born 05/02/1931; fax 612-555-0199"
        )
        tx.insert(
            "interaction",
            {
                "patient_id": old,
                "kind": "note",
                "subject": "Family",
                "body": notes,
                "occurred_at": "2025-03-14T15:00:00Z",
            },
        )
        visit = tx.insert(
            "appointment",
            {
                "patient_id": old,
                "start_at": "2025-03-14T15:00:00Z",
                "end_at": "2025-03-14T15:30:00Z",
                "kind": "checkup",
                "reason": "Knee pain after fall at Acme Widgets",
                "status": "fulfilled",
                "created_at": now,
            },
        )
        tx.insert(
            "appointment_status",
            {
                "appointment_id": visit,
                "status": "confirmed",
                "changed_at": "2025-03-13T15:00:00Z",
                "note": CONFIRM_NOTE,
            },
        )
        tx.insert(
            "condition",
            {
                "patient_id": old,
                "system": SNOMED,
                "code": "44054006",
                "display": '=HYPERLINK("http://evil")',
                "onset": "1999-07-23",
                "clinical_status": "active",
            },
        )
        tx.insert(
            "condition",
            {
                "patient_id": old,
                "system": SNOMED,
                "code": "38341003",
                "display": "-Hypertension (imported)",
                "onset": "2003-02-11",
                "clinical_status": "active",
            },
        )
        tx.insert(
            "condition",
            {
                "patient_id": old,
                "system": "urn:free-text",
                "code": "Quillfeather syndrome",
                "display": "typed",
                "onset": "2001-01-05",
            },
        )
        tx.insert(
            "survey_response",
            {
                "patient_id": old,
                "appointment_id": visit,
                "score": 9,
                "comment": "Dr was kind; call me at 612-555-0187",
                "channel": "sms",
                "answered_at": "2025-03-15T18:00:00Z",
                "created_at": now,
            },
        )
        tx.insert(
            "inbound_message",
            {
                "provider_ref": "SM0123456789abcdef0123456789abcdef",
                "sender": "+16125550187",
                "body": "see https://photos.example.org/p/jf-face.jpg",
                "received_at": "2025-03-13T15:00:00Z",
                "patient_id": old,
                "meaning": "confirm",
            },
        )
    message = make_message(
        clinic,
        old,
        rule_id,
        "sent",
        due_at="2025-03-12T15:00:00Z",
        sent_at="2025-03-12T15:00:00Z",
        recipient="+16125550187",
        subject_kind="recall",
        body="Hi Jane Fairweather, visit https://photos.example.org/p/jf-face.jpg",
    )
    reminder = make_message(
        clinic,
        old,
        make_rule(clinic),
        "sent",
        due_at="2025-03-12T16:00:00Z",
        sent_at="2025-03-12T16:00:00Z",
        recipient="+16125550187",
        subject_id=visit,
        body="Jane, reply YES to confirm your visit on 03/14/2025",
    )
    all_ids = [str(r[0]) for r in conn.execute("SELECT id FROM patient")]
    identifiers = {
        "A": ["Fairweather", "Janie", "Thistlewood", "Orlando", "Quillfeather", "Acme Widgets"],
        "B": [
            "Larkspur",
            "Apt 4B",
            "Pinecrest Hollow",
            "Alstead",
            "Juniper",
            "Nicollet",
            "Minneapolis",
            "03601",
            "03602",
            "55401",
            "New Hampshire",
        ],
        "C": [
            "1931-05-02",
            "05/02/1931",
            "5/2/1931",
            "02/05/1931",
            "2026-10-03",
            "2025-03-14",
            "1999-07-23",
            "2019-04-11",
            "1960-08-17",
        ],
        "D": ["+16125550187", "6125550187", "555-0187", "+16125550142", "555-0142"],
        "E": ["+16125550199", "6125550199", "555-0199"],
        "F": ["jane.fairweather@example.net", "example.net"],
        "G": ["123-45-6789", "123456789"],
        "H": ["MRN-778899", "778899"],
        "I": ["MEMB-445566", "PLAN-GOLD-8812", "Lakes Health Plan"],
        "J": ["ACCT-99812"],
        "K": ["DL-X1234567", "P99887766"],
        "L": ["PLT-7QX-442"],
        "M": ["DEV-SN-55AA77"],
        "N": ["https://photos.example.org", "photos.example.org", "http://evil"],
        "O": ["203.0.113.77"],
        "P": ["FP-TEMPLATE-A1B2C3", "fingerprint"],
        "Q": ["jf-face.jpg"],
        "R": [
            *all_ids,
            reminder,
            household,
            rule_id,
            message,
            visit,
            "SM0123456789abcdef0123456789abcdef",
            "Spring recall",
            "Told by Mrs",
            "Knee pain",
            "Dr was kind",
        ],
    }
    return World(identifiers, old, restricted, normal, ids)


@pytest.fixture(scope="module")
def world(demo_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The seeded clinic exported three ways: everything, suppressed at k=11, and again."""
    keyring.set_keyring(fail.Keyring())
    base = tmp_path_factory.mktemp("research")
    home = base / "clinic"
    shutil.copytree(demo_template.home, home)
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as clinic:
        manager = add_user(clinic, "Morgan Manager", "manager")
        clinic.acting_user_id = manager.id
        seeded = _seed(clinic)
        for label, suppress in (("plain", False), ("suppressed", True), ("again", False)):
            out = base / ("plain" if label == "again" else label)  # the same folder twice
            out.mkdir(exist_ok=True)
            result = export_research(
                clinic, ResearchRequest(ALL_FIELDS, suppress=suppress), out, now=NOW
            )
            seeded.folders[label] = result.folder
        seeded.audit_bodies = [
            bytes(r[0]).decode("utf-8")
            for r in clinic.conn.execute(
                "SELECT body FROM audit_event WHERE action = ? ORDER BY seq", (RESEARCH_EXPORT,)
            )
        ]
    yield seeded


@pytest.mark.parametrize("letter", list("ABCDEFGHIJKLMNOPQR"))
def test_no_identifier_of_this_kind_appears_in_any_output_file(world: World, letter: str) -> None:
    for label, folder in world.folders.items():
        for name, text in _texts(folder).items():
            for value in world.identifiers[letter]:
                assert value.casefold() not in text.casefold(), (letter, label, name, value)


def test_no_full_date_or_uuid_in_any_file(world: World) -> None:
    for folder in world.folders.values():
        for name, text in _texts(folder).items():
            assert not UUID_RE.search(text), name
            found = set(FULL_DATE_RE.findall(text))
            if name.startswith("dictionary"):
                # The export's own date and the ZIP3 list's retrieval date: not a patient's.
                found -= {NOW.date().isoformat(), "2026-11-29"}
            assert not found, (name, found)


def test_the_folder_name_holds_only_the_export_time(world: World) -> None:
    assert world.folders["plain"].name == "Frontdesk research export 2026-11-29 0812"
    assert world.folders["again"].name == "Frontdesk research export 2026-11-29 0812 (2)"


def _patient_row(folder: Path, zip3: str, band: str) -> dict[str, str]:
    rows = [r for r in _csv(folder, "patients.csv") if r["zip3"] == zip3 and r["age_band"] == band]
    assert len(rows) == 1
    return rows[0]


def test_over_89_is_90_plus_without_a_birth_year(world: World) -> None:
    rows = _csv(world.folders["plain"], "patients.csv")
    old = [r for r in rows if r["age_band"] == "90+"]
    assert old, "the 95-year-old is in the export"
    assert all(r["birth_year"] == "" for r in old)
    assert all(r["birth_year"] == "" or 2026 - int(r["birth_year"]) < 90 for r in rows)
    assert "95" not in {r["age_band"] for r in rows}


def test_restricted_zip3_becomes_000_and_a_populated_one_is_kept(world: World) -> None:
    rows = _csv(world.folders["plain"], "patients.csv")
    by_state = {(r["state"], r["zip3"]) for r in rows}
    assert ("NH", "000") in by_state  # 036xx: under 20,000 people in the 2000 Census
    assert ("MN", "554") in by_state
    assert not any(r["zip3"] == "036" for r in rows)


def test_pseudonyms_are_random_per_export_and_cover_the_same_people(world: World) -> None:
    first = {r["pseudonym"] for r in _csv(world.folders["plain"], "patients.csv")}
    again = {r["pseudonym"] for r in _csv(world.folders["again"], "patients.csv")}
    assert len(first) == len(again) > 300
    assert not first & again
    assert all(re.fullmatch(r"[0-9a-f]{16}", p) for p in first)
    ids = set(world.identifiers["R"])
    assert not any(p in i or i in p for p in first for i in ids)


def test_rows_are_in_pseudonym_order(world: World) -> None:
    for name in ("patients.csv", "visits_by_year.csv", "conditions.csv", "nps.csv"):
        column = [r["pseudonym"] for r in _csv(world.folders["plain"], name)]
        assert column == sorted(column), name


def test_the_dictionary_names_every_column_written(world: World) -> None:
    folder = world.folders["plain"]
    described = json.loads((folder / "dictionary.json").read_text("utf-8"))
    markdown = (folder / "dictionary.md").read_text("utf-8")
    csv_files = sorted(p.name for p in folder.glob("*.csv"))
    assert sorted(described["files"]) == csv_files
    for name in csv_files:
        with (folder / name).open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle))
        listed = [c["name"] for c in described["files"][name]["columns"]]
        assert header == listed, name
        assert all(f"`{column}`" in markdown for column in header)
        assert described["files"][name]["rows"] == len(_csv(folder, name))
    assert described["zip3_lists"][0]["census_year"] == 2000
    assert "036" in described["zip3_written_as_000"]


def test_no_cell_starts_with_a_formula_sign(world: World) -> None:
    for folder in world.folders.values():
        for path in folder.glob("*.csv"):
            with path.open(encoding="utf-8-sig", newline="") as handle:
                for row in csv.reader(handle):
                    for cell in row:
                        assert cell.lstrip()[:1] not in ("=", "+", "-", "@"), (path.name, cell)
    conditions = _csv(world.folders["plain"], "conditions.csv")
    assert any(r["display"] == "'-Hypertension (imported)" for r in conditions)
    labels = {r["acquisition_channel_label"] for r in _csv(world.folders["plain"], "patients.csv")}
    assert '\'=HYPERLINK("x")' in labels


def test_visits_reminders_nps_and_campaigns_are_counted_by_year(world: World) -> None:
    folder = world.folders["plain"]
    confirmed = [r for r in _csv(folder, "reminders_by_year.csv") if r["confirmed_by_reply"] != "0"]
    assert any(r["year"] == "2025" for r in confirmed)
    nps = _csv(folder, "nps.csv")
    assert {"year": "2025", "score": "9", "channel": "sms"}.items() <= next(
        r for r in nps if r["score"] == "9" and r["year"] == "2025"
    ).items()
    campaigns = _csv(folder, "campaigns_by_year.csv")
    assert any(r["kind"] == "recall" and r["year"] == "2025" for r in campaigns)
    visits = _csv(folder, "visits_by_year.csv")
    assert sum(int(r["fulfilled"]) for r in visits) > 0


def test_uncoded_conditions_are_left_out(world: World) -> None:
    conditions = _csv(world.folders["plain"], "conditions.csv")
    assert {r["system"] for r in conditions} <= {"SNOMED-CT", "ICD-10-CM", "ICD-10"}
    described = json.loads((world.folders["plain"] / "dictionary.json").read_text("utf-8"))
    assert described["condition_records_left_out"] >= 1


def test_small_cells_are_flagged_and_suppressed_when_asked(world: World) -> None:
    plain = json.loads((world.folders["plain"] / "small_cells.json").read_text("utf-8"))
    assert plain["k"] == 11 and not plain["suppressed"]
    assert plain["demographic_groups_under_k"] > 0
    assert plain["demographic_groups"], "listed when not suppressed"
    assert any(g["values"]["age_band"] == "90+" for g in plain["demographic_groups"])

    folder = world.folders["suppressed"]
    report = json.loads((folder / "small_cells.json").read_text("utf-8"))
    assert report["suppressed"] and report["demographic_groups"] == []
    rows = _csv(folder, "patients.csv")
    hidden = [r for r in rows if r["zip3"] == "suppressed"]
    assert len(hidden) == report["patients_in_small_demographic_groups"]
    assert all(r["age_band"] == r["sex"] == r["birth_year"] == "suppressed" for r in hidden)
    groups: dict[tuple[str, ...], int] = {}
    for r in rows:
        if r["zip3"] != "suppressed":
            key = (r["age_band"], r["birth_year"], r["sex"], r["zip3"])
            groups[key] = groups.get(key, 0) + 1
    assert all(n >= 11 for n in groups.values())
    assert not any(
        r["age_band"] == "90+" and r["zip3"] == "000" and r["state"] == "NH" for r in rows
    )
    conditions = _csv(folder, "conditions.csv")
    assert any(r["code"] == "suppressed" for r in conditions)


def test_every_export_is_audited_without_patient_data(world: World) -> None:
    assert len(world.audit_bodies) == 3
    body = json.loads(world.audit_bodies[0])
    text = json.dumps(body)
    assert "Frontdesk research export 2026-11-29 0812" in text
    assert "patients.csv" in text and "conditions" in text
    for values in world.identifiers.values():
        for value in values:
            assert value not in text


def test_a_receptionist_cannot_make_a_research_export(demo_clinic: Clinic, tmp_path: Path) -> None:
    receptionist = add_user(demo_clinic, "Rita Reception", "receptionist")
    demo_clinic.acting_user_id = receptionist.id
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PermissionDeniedError):
        export_research(demo_clinic, ResearchRequest(("sex",)), out)
    assert list(out.iterdir()) == []
