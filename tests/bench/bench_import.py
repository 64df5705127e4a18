"""The import into the encrypted database, end to end: speed and memory.

Figures (each baseline measured in the same run):
- fhir_import_resources_per_s: run_import (both passes, mapping, identity, bulk writes
  with their journal and the search index) over the Synthea bundles and the bulk
  NDJSON samples into a fresh clinic; baseline fhir.resources parse-only of the same
  files (the issue's target: at least 3x faster).
- csv_import_100k_patients_s: 100,000 Synthea-layout patient rows through plan_import +
  run_import; baseline the stdlib csv read plus one bare executemany of the same
  rows into a plain table of the same encrypted kind of database (target: at most 3x).
- ndjson_import_peak_rss_mb: a generated NDJSON export (500 MB unless
  BENCH_NDJSON_MB says otherwise) imported in a child process; baseline the same
  child opening a clinic with the importer loaded but importing nothing (target:
  peak at most 300 MB).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.bench._common import BENCH_DATA, PASSPHRASE, REPO_ROOT, no_keyring
from tests.bench._report import Emit, log
from tests.bench.bench_csv import HEADER, ROWS
from tests.bench.bench_csv import _generate as generate_patients_csv
from tests.bench.bench_fhir import _fhir_resources_parse, _stdlib_parse
from tests.bench.bench_fhir import _files as fhir_sample_files

RUNS = 3
NDJSON_MB = int(os.environ.get("BENCH_NDJSON_MB", "500"))
NDJSON_FORMAT = 1  # bump when the generated file changes


def _fresh_clinic(folder: Path) -> object:
    from app.clinic import create_clinic

    return create_clinic("Bench import", PASSPHRASE, folder, use_keyring=False).clinic


# --- FHIR ------------------------------------------------------------------------------


def _fhir_import(files: list[Path], tmp: Path) -> tuple[int, float]:
    from app.clinic import Clinic
    from app.importers.session import plan_import, run_import

    best, records = float("inf"), 0
    for run in range(RUNS):
        clinic = _fresh_clinic(tmp / f"fhir-{run}")
        assert isinstance(clinic, Clinic)
        with clinic:
            plan = plan_import(clinic, files)
            started = time.perf_counter()
            result = run_import(clinic, plan)
            best = min(best, time.perf_counter() - started)
        counted = sum(sum(c.as_dict().values()) for c in result.counts.values())
        records = counted + sum(result.skipped_types.values())
    return records, best


def _run_fhir(emit: Emit, tmp: Path) -> None:
    files = fhir_sample_files()
    if not files:
        log("no FHIR samples; set FRONTDESK_EMR_SAMPLES to measure the FHIR import")
        return
    try:
        import fhir.resources  # noqa: F401

        name, baseline = "fhir.resources parse-only", _fhir_resources_parse
    except ImportError:
        name, baseline = "stdlib json parse-only", _stdlib_parse
    records, ours = _fhir_import(files, tmp)
    base_best = float("inf")
    parsed = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        parsed = baseline(files)
        base_best = min(base_best, time.perf_counter() - started)
    log(f"fhir import: {records:,} records in {ours:.3f}s; {name}: {parsed:,} in {base_best:.3f}s")
    emit(
        "fhir_import_resources_per_s",
        parsed / ours,
        f"resources/s (read, map, identity, write with journal and search index into "
        f"a new encrypted clinic; baseline: {name}, no database; best of {RUNS})",
        parsed / base_best,
    )


# --- CSV -------------------------------------------------------------------------------


def _csv_baseline(path: Path, tmp: Path) -> float:
    from app.clinic import Clinic

    clinic = _fresh_clinic(tmp / "csv-baseline")
    assert isinstance(clinic, Clinic)
    with clinic:
        conn = clinic.conn
        columns = ", ".join(f'"{h}" TEXT' for h in HEADER[1:])
        conn.execute(f'CREATE TABLE raw ("Id" TEXT PRIMARY KEY, {columns})')
        marks = ", ".join("?" for _ in HEADER)
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as stream:
            reader = csv.reader(stream)
            next(reader)
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO raw VALUES ({marks})", reader)
            conn.execute("COMMIT")
        return time.perf_counter() - started


def _csv_import(path: Path, tmp: Path, run: int) -> tuple[float, int]:
    from app.clinic import Clinic
    from app.importers.session import plan_import, run_import

    clinic = _fresh_clinic(tmp / f"csv-{run}")
    assert isinstance(clinic, Clinic)
    with clinic:
        started = time.perf_counter()
        result = run_import(clinic, plan_import(clinic, [path]))
        took = time.perf_counter() - started
    return took, result.counts["patients"].created


def _run_csv(emit: Emit, tmp: Path) -> None:
    path = tmp / "patients.csv"
    generate_patients_csv(path)
    best_ours = best_base = float("inf")
    for run in range(RUNS):
        base = _csv_baseline(path, tmp) if run == 0 else best_base
        ours, created = _csv_import(path, tmp, run)
        if created != ROWS:
            raise AssertionError(f"imported {created} of {ROWS} patients")
        log(f"csv import round {run + 1}: {ours:.2f}s (baseline read + executemany {base:.2f}s)")
        best_ours, best_base = min(best_ours, ours), min(best_base, base)
    emit(
        "csv_import_100k_patients_s",
        best_ours,
        f"s ({ROWS:,} Synthea-layout patient rows: sniff, map, validate, identity, write "
        "patient, address and source rows with their journal, build the search index; "
        "baseline: csv.reader + one bare executemany into a plain table)",
        best_base,
    )


# --- a big NDJSON export ---------------------------------------------------------------


def _ndjson_file() -> Path:
    """A bulk export of NDJSON_MB megabytes, built once and kept in bench-data/."""
    path = BENCH_DATA / f"bulk-{NDJSON_MB}mb-v{NDJSON_FORMAT}.ndjson"
    if path.is_file():
        return path
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    log(f"generating a {NDJSON_MB} MB NDJSON export once (kept in bench-data/)")
    building = path.with_suffix(".building")
    rng = random.Random(61)
    limit = NDJSON_MB * 1_000_000
    written = 0
    with building.open("w", encoding="utf-8") as out:
        while written < limit:
            for line in _patient_lines(rng):
                out.write(line)
                written += len(line)
    building.rename(path)
    return path


def _patient_lines(rng: random.Random) -> list[str]:
    pid = str(uuid.UUID(int=rng.getrandbits(128)))
    born = f"{rng.randrange(1930, 2020)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": "http://hospital.example.org/mrn",
                "value": f"MRN{rng.randrange(10**9)}",
            }
        ],
        "name": [
            {
                "use": "official",
                "family": f"Family{rng.randrange(5000)}",
                "given": [f"Given{rng.randrange(900)}"],
            }
        ],
        "telecom": [{"system": "email", "value": f"p{rng.randrange(10**8)}@example.org"}],
        "gender": rng.choice(["male", "female"]),
        "birthDate": born,
        "address": [
            {
                "line": [f"{rng.randrange(1, 999)} Main St"],
                "city": "Springfield",
                "state": "IL",
                "postalCode": "62701",
                "country": "US",
            }
        ],
    }
    lines = [json.dumps(patient) + "\n"]
    for _ in range(20):
        year = rng.randrange(2000, 2025)
        day = f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        start = f"{day}T{rng.randrange(8, 17):02d}:00:00-05:00"
        eid = str(uuid.UUID(int=rng.getrandbits(128)))
        lines.append(
            json.dumps(
                {
                    "resourceType": "Encounter",
                    "id": eid,
                    "status": "finished",
                    "class": {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "AMB",
                    },
                    "type": [
                        {
                            "coding": [
                                {
                                    "system": "http://snomed.info/sct",
                                    "code": "185349003",
                                    "display": "Encounter for check up",
                                }
                            ],
                            "text": "Encounter for check up",
                        }
                    ],
                    "subject": {"reference": f"Patient/{pid}"},
                    "period": {"start": start, "end": start},
                }
            )
            + "\n"
        )
        for _ in range(3):
            lines.append(
                json.dumps(
                    {
                        "resourceType": "Observation",
                        "id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "status": "final",
                        "category": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                        "code": "vital-signs",
                                    }
                                ]
                            }
                        ],
                        "code": {
                            "coding": [
                                {
                                    "system": "http://loinc.org",
                                    "code": "8302-2",
                                    "display": "Body Height",
                                }
                            ],
                            "text": "Body Height",
                        },
                        "subject": {"reference": f"Patient/{pid}"},
                        "encounter": {"reference": f"Encounter/{eid}"},
                        "effectiveDateTime": start,
                        "valueQuantity": {
                            "value": round(rng.uniform(50, 200), 1),
                            "unit": "cm",
                            "system": "http://unitsofmeasure.org",
                            "code": "cm",
                        },
                    }
                )
                + "\n"
            )
    return lines


def _probe(home: Path, files: list[Path]) -> dict[str, object]:
    """Run the probe in a child (Linux: it reads its own peak from /proc)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench._import_probe", str(home), *map(str, files)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _run_ndjson(emit: Emit, tmp: Path) -> None:
    if not Path("/proc/self/clear_refs").exists():
        log("no /proc/self/clear_refs (not Linux): the NDJSON memory figure is skipped")
        return
    path = _ndjson_file()
    size_mb = path.stat().st_size / 1e6
    report = _probe(tmp / "rss-import", [path])
    seconds = float(str(report["seconds"]))
    records = float(str(report["records"]))
    log(f"ndjson {size_mb:.0f} MB: {records:,.0f} records in {seconds:.1f}s; {report['counts']}")
    emit(
        "ndjson_import_peak_rss_mb",
        float(str(report["peak_mb"])),
        f"MB peak RSS while importing a {size_mb:.0f} MB NDJSON export (streamed; target "
        "<= 300; baseline: the same process's RSS with the clinic open, before the import)",
        float(str(report["rss_before_mb"])),
    )
    emit(
        "ndjson_import_records_per_s",
        records / seconds,
        f"records/s importing the {size_mb:.0f} MB export (baseline: reading its lines "
        "with the importer's reader alone, no mapping, no database)",
        _read_rate(path),
    )


def _read_rate(path: Path) -> float:
    from app.importers.fhir.sources import SourceFile, read_source

    started = time.perf_counter()
    count = sum(1 for _ in read_source(SourceFile(path, path.name, "ndjson")))
    return count / (time.perf_counter() - started)


def run(emit: Emit) -> None:
    no_keyring()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        tmp = Path(folder)
        _run_fhir(emit, tmp)
        _run_csv(emit, tmp)
        _run_ndjson(emit, tmp)
