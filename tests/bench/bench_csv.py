"""CSV reading layer: sniff + read + map + validate 100,000 patient rows in the newer
Synthea layout, against the stdlib csv.DictReader reading the same file (no checks).

The file is generated here (seeded, so every run reads the same bytes): names with
Synthea's digit suffixes, some accents, ZIPs with leading zeros, addresses with
quoted commas, a few deceased patients. The database write is not part of this
figure; the import session adds its own benchmark with the executemany baseline.
"""

from __future__ import annotations

import csv
import datetime
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from app.importers.csv import CsvPatient, RecordStream, RowProblem, plan_file
from tests.bench._report import Emit, log

ROWS = int(os.environ.get("BENCH_CSV_ROWS", "100000"))
SEED = 6
ROUNDS = int(os.environ.get("BENCH_CSV_ROUNDS", "3"))  # best of
TODAY = datetime.date(2025, 1, 15)

_HEADER_LINE = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,"
    "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
)
HEADER = _HEADER_LINE.split(",")

_FIRST = ["Maynard", "Curt", "Víctor", "Glenn", "Ana", "Zoë", "Mei", "Oluwaseun", "Jo", "Ines"]
_LAST = ["Mosciski", "Schmidt", "Noriega", "O'Keefe", "Mejía", "Nguyen", "Okafor", "Smith"]
_CITIES = [("Somerville", "Middlesex County", "02155"), ("Mashpee", "Barnstable County", "02649")]


def _patient(rng: random.Random) -> list[str]:
    birth = datetime.date(1925, 1, 1) + datetime.timedelta(days=rng.randrange(36_000))
    dead = rng.random() < 0.05
    death = birth + datetime.timedelta(days=rng.randrange(1, 20_000)) if dead else None
    adult = birth.year < 2005
    city, county, zip_code = rng.choice(_CITIES)
    return [
        str(uuid.UUID(int=rng.getrandbits(128))),
        birth.isoformat(),
        death.isoformat() if death and death < TODAY else "",
        f"999-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}",
        f"S999{rng.randrange(10000, 99999)}" if adult else "",
        f"X{rng.randrange(10**7, 10**8)}X" if adult else "",
        rng.choice(["Mr.", "Mrs.", "Ms.", ""]),
        f"{rng.choice(_FIRST)}{rng.randrange(1000)}",
        f"{rng.choice(_FIRST)}{rng.randrange(1000)}" if rng.random() < 0.5 else "",
        f"{rng.choice(_LAST)}{rng.randrange(1000)}",
        "",
        "",
        rng.choice(["M", "S", ""]),
        "white",
        "nonhispanic",
        rng.choice(["M", "F"]),
        "Boston  Massachusetts  US",
        f"{rng.randrange(1, 999)} Stamm Lock, Unit {rng.randrange(1, 99)}",
        city,
        "Massachusetts",
        county,
        "25017",
        zip_code if rng.random() < 0.95 else "",
        f"{42 + rng.random():.12f}",
        f"{-71 - rng.random():.12f}",
        f"{rng.random() * 100_000:.2f}",
        f"{rng.random() * 10_000:.2f}",
        str(rng.randrange(10_000, 200_000)),
    ]


def _generate(path: Path) -> None:
    rng = random.Random(SEED)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(HEADER)
        for _ in range(ROWS):
            writer.writerow(_patient(rng))


def _baseline(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as stream:
        count = sum(1 for _ in csv.DictReader(stream))
    return time.perf_counter() - started, count


def _ours(path: Path) -> tuple[float, Counter[str]]:
    started = time.perf_counter()
    plan = plan_file(path)
    kinds: Counter[str] = Counter()
    for item in RecordStream(plan, today=TODAY):
        if isinstance(item, CsvPatient):
            kinds["patients"] += 1
        elif isinstance(item, RowProblem):
            kinds[item.severity] += 1
    return time.perf_counter() - started, kinds


def run(emit: Emit) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-csv-") as tmp:
        path = Path(tmp) / "patients.csv"
        started = time.perf_counter()
        _generate(path)
        size_mb = path.stat().st_size / 1e6
        took = time.perf_counter() - started
        log(f"csv: generated {ROWS:,} rows ({size_mb:.1f} MB) in {took:.1f}s")
        best_base = best_ours = float("inf")
        for round_ in range(1, ROUNDS + 1):
            base_s, base_rows = _baseline(path)
            ours_s, kinds = _ours(path)
            if base_rows != ROWS or kinds["patients"] != ROWS:
                raise AssertionError(f"row counts differ: {base_rows}, {dict(kinds)}")
            log(f"csv round {round_}: DictReader {base_s:.2f}s, sniff+read+validate {ours_s:.2f}s")
            best_base, best_ours = min(best_base, base_s), min(best_ours, ours_s)
    emit(
        "csv_read_validate_100k_patients_s",
        best_ours,
        f"s (sniff + read + map + validate {ROWS:,} Synthea-layout patient rows, "
        f"{size_mb:.0f} MB; baseline: stdlib csv.DictReader read only, best of {ROUNDS})",
        best_base,
    )
    emit(
        "csv_patient_rows_per_s",
        ROWS / best_ours,
        "rows/s (validated records; baseline: DictReader rows/s)",
        ROWS / best_base,
    )
