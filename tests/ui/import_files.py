"""Small real EMR exports for the import screens' tests, written where the test says."""

from __future__ import annotations

import json
from pathlib import Path

GRACE_ID = "11111111-1111-1111-1111-111111111111"
ERIK_ID = "22222222-2222-2222-2222-222222222222"

BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": f"urn:uuid:{GRACE_ID}",
            "resource": {
                "resourceType": "Patient",
                "id": GRACE_ID,
                "identifier": [
                    {
                        "system": "http://hospital.example/mrn",
                        "type": {"coding": [{"code": "MR"}]},
                        "value": "MRN-1001",
                    }
                ],
                "name": [{"family": "Okafor", "given": ["Grace"]}],
                "gender": "female",
                "birthDate": "1974-12-03",
                "telecom": [{"system": "phone", "value": "(312) 555-0142", "use": "home"}],
            },
        },
        {
            "fullUrl": f"urn:uuid:{ERIK_ID}",
            "resource": {
                "resourceType": "Patient",
                "id": ERIK_ID,
                "name": [{"family": "Lindqvist", "given": ["Erik", "Johan"]}],
                "gender": "male",
                "birthDate": "1961-05",
            },
        },
        {
            "fullUrl": "urn:uuid:33333333-3333-3333-3333-333333333333",
            "resource": {
                "resourceType": "Encounter",
                "id": "33333333-3333-3333-3333-333333333333",
                "status": "finished",
                "class": {"code": "AMB"},
                "type": [{"text": "General examination"}],
                "subject": {"reference": f"urn:uuid:{GRACE_ID}"},
                "period": {
                    "start": "2024-02-10T09:30:00-06:00",
                    "end": "2024-02-10T10:00:00-06:00",
                },
            },
        },
        {
            "fullUrl": "urn:uuid:44444444-4444-4444-4444-444444444444",
            "resource": {
                "resourceType": "Observation",
                "id": "44444444-4444-4444-4444-444444444444",
                "status": "final",
                "code": {"text": "Weight"},
            },
        },
    ],
}

# A clinic's own export: semicolons, headers no profile knows, dates that read both ways.
GENERIC_CSV = (
    "Chart No;Surname;Given Name;DOB;Home Phone;E-mail\n"
    "A-17;Marsh;Helen;03/04/1975;312-555-0101;helen@example.com\n"
    "A-18;Whitaker;Tom;05/06/1980;312-555-0102;\n"
    "A-19;Nguyen;Linh;07/08/1990;;linh@example.com\n"
)

SYNTHEA_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,"
    "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
)
SYNTHEA_ROWS = (
    "aaaa0001-0000-0000-0000-000000000001,1988-07-14,,999-12-3456,S99912345,,Mrs.,Rosa,Maria,"
    "Delgado,,,M,white,hispanic,F,Chicago  Illinois  US,12 Lake St,Chicago,Illinois,"
    "Cook County,17031,60601,41.88,-87.62,1000.0,200.0,50000",
    "aaaa0002-0000-0000-0000-000000000002,2001-01-30,,999-65-4321,,,Mr.,Sam,,Patel,,,S,asian,"
    "nonhispanic,M,Evanston  Illinois  US,8 Elm Ave,Evanston,Illinois,Cook County,17031,"
    "60201,42.04,-87.69,500.0,100.0,30000",
)


def write_bundle(folder: Path) -> Path:
    path = folder / "bundle.json"
    path.write_text(json.dumps(BUNDLE), encoding="utf-8")
    return path


def write_generic_csv(folder: Path) -> Path:
    path = folder / "clinic-export.csv"
    path.write_text(GENERIC_CSV, encoding="utf-8")
    return path


def write_synthea_patients(folder: Path, extra: int = 0) -> Path:
    """Synthea's patients.csv; `extra` made-up patients more make a long import."""
    path = folder / "patients.csv"
    lines = [SYNTHEA_HEADER, *SYNTHEA_ROWS]
    for number in range(extra):
        lines.append(
            f"bbbb{number:04x}-0000-0000-0000-000000000000,1970-01-{1 + number % 28:02d},,,,,,"
            f"Given{number},,Family{number},,,S,white,nonhispanic,F,X,1 Main St,Chicago,Illinois,"
            ",,60601,,,0,0,0"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_not_an_export(folder: Path) -> Path:
    path = folder / "scan.pdf"
    path.write_bytes(b"%PDF-1.4 not an export")
    return path


def write_synthea_devices(folder: Path) -> Path:
    """A Synthea table Frontdesk does not keep: listed, then left out without a fuss."""
    path = folder / "devices.csv"
    path.write_text(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI\n"
        "2020-01-01T10:00:00Z,,aaaa0001-0000-0000-0000-000000000001,e1,123,Pump,(01)1\n",
        encoding="utf-8",
    )
    return path
