"""SQLCipher against plain SQLite (the stdlib sqlite3 module) on the same workload.

The workload is what the app does to its database: create the schema from
db/migrations, write 20,000 patients with an identifier, a phone and an email through
the writer in batches of 1,000 (so with their change rows and search index), then run
1,000 searches. Both connections get the app's pragmas (WAL, foreign keys,
synchronous NORMAL, in-memory temp store, 32 MB cache). Target: ratio <= 1.3.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.bench._common import BENCH_DATA, TODAY, make_queries
from tests.bench._report import Emit, log

PATIENTS = 20_000
BATCH = 1000
SEARCHES = 1000
ROUNDS = int(os.environ.get("BENCH_STORE_ROUNDS", "2"))  # best of, per engine

# The pragmas app.store.database.connect sets, in its order, for the plain connection.
_APP_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA cache_size = -32000",
)

Batch = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def _batches(seed: int = 1) -> list[Batch]:
    """Patients, their identifiers and contact points, the same on every run."""
    from app.demo import names

    rng = random.Random(seed)

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    batches: list[Batch] = []
    for start in range(0, PATIENTS, BATCH):
        patients, identifiers, contacts = [], [], []
        for number in range(start + 1, min(PATIENTS, start + BATCH) + 1):
            pid = uid()
            family = rng.choice(names.FAMILY_NAMES)
            female = rng.random() < 0.5
            given = rng.choice(names.FEMALE_GIVEN if female else names.MALE_GIVEN)
            born = f"{rng.randint(1930, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            patients.append(
                {
                    "id": pid,
                    "family_name": family,
                    "given_names": given,
                    "birth_date": born,
                    "sex": "female" if female else "male",
                    "created_at": "2024-01-01T09:00:00Z",
                    "updated_at": "2024-01-01T09:00:00Z",
                }
            )
            identifiers.append(
                {
                    "id": uid(),
                    "patient_id": pid,
                    "system": "urn:frontdesk:bench:mrn",
                    "value": f"MRN{number:07d}",
                    "kind": "MR",
                }
            )
            phone = f"+1{rng.choice(('612', '651', '763'))}{rng.randint(200, 999)}"
            phone += f"{rng.randint(0, 9999):04d}"
            local = "".join(ch for ch in f"{given}.{family}".lower() if ch.isascii())
            for kind, value in (("phone", phone), ("email", f"{local}@example.com")):
                contacts.append({"id": uid(), "patient_id": pid, "kind": kind, "value": value})
        batches.append((patients, identifiers, contacts))
    return batches


def _connect_plain(path: Path) -> Any:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    for pragma in _APP_PRAGMAS:
        conn.execute(pragma).fetchall()
    return conn


def _connect_cipher(path: Path) -> Any:
    from app.store import database, keys

    return database.connect(path, keys.new_data_key(), create=True)


def _connect_cipher_library_only(path: Path) -> Any:
    """sqlcipher3 without a key: the same SQLite build, no encryption. It tells the
    cost of encrypting apart from the cost of the library's own SQLite build."""
    import sqlcipher3

    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    for pragma in _APP_PRAGMAS:
        conn.execute(pragma).fetchall()
    return conn


def _workload(conn: Any, batches: list[Batch]) -> tuple[float, float]:
    """Seconds for schema + writes, and for the searches (query making not timed)."""
    from app.patients.search import PatientSearch
    from app.patients.search_index import SOURCE_TABLES, reindex_patients
    from app.store import migrations
    from app.store.writer import Store

    started = time.perf_counter()
    migrations.upgrade(conn)
    conn.execute("INSERT INTO meta (key, value) VALUES ('clinic_id', 'bench')")
    conn.execute("INSERT INTO meta (key, value) VALUES ('device_id', 'bench-device')")
    store = Store(conn, "bench-device")
    store.on_patients_written(SOURCE_TABLES, reindex_patients)
    for patients, identifiers, contacts in batches:
        with store.write() as tx:
            tx.insert_many("patient", patients)
            tx.insert_many("patient_identifier", identifiers)
            tx.insert_many("contact_point", contacts)
    write_s = time.perf_counter() - started
    queries = make_queries(conn, SEARCHES)
    search = PatientSearch(conn, region="US")
    started = time.perf_counter()
    for query in queries:
        search.search(query.text, 20, today=TODAY)
    return write_s, time.perf_counter() - started


def run(emit: Emit) -> None:
    batches = _batches()
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    best: dict[str, float] = {}
    engines = [
        ("sqlite3", _connect_plain),
        ("sqlcipher", _connect_cipher),
        ("sqlcipher3 library, no key", _connect_cipher_library_only),
    ]
    for round_ in range(1, ROUNDS + 1):
        for engine, connect in engines:
            with tempfile.TemporaryDirectory(prefix="store-", dir=BENCH_DATA) as tmp:
                conn = connect(Path(tmp) / "bench.db")
                try:
                    write_s, search_s = _workload(conn, batches)
                finally:
                    conn.close()
            total = write_s + search_s
            log(
                f"store round {round_} {engine}: {total:.2f}s "
                f"(schema + writes {write_s:.2f}s, searches {search_s:.2f}s)"
            )
            best[engine] = min(total, best.get(engine, total))
    emit(
        "sqlcipher_workload_s",
        best["sqlcipher"],
        f"s (schema + {PATIENTS:,} patients with contacts and change rows + "
        f"{SEARCHES:,} searches; baseline: plain sqlite3, best of {ROUNDS})",
        best["sqlite3"],
    )
    # The same figure against the same library unkeyed: what encryption itself costs,
    # without the difference between sqlcipher3's SQLite build and Python's own.
    emit(
        "sqlcipher_encryption_overhead_s",
        best["sqlcipher"],
        f"s (the same workload; baseline: the sqlcipher3 library with no key, best of {ROUNDS})",
        best["sqlcipher3 library, no key"],
    )
