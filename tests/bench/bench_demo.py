"""Demo clinic generation rate.

Value: patients per second for `generate(clinic, 10_000, seed=1)` into a fresh
encrypted clinic, with everything the real command does (the writer's change rows,
the search index, the commit).

Baseline: the same `generate()` call with a stand-in store that accepts the rows and
keeps nothing, so it measures the generator's own Python (the rows are built exactly
as for the real clinic). The ratio is the share of the time spent building rows:
everything above it is the writer, SQLCipher and the search index.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench._common import BENCH_DATA, PASSPHRASE, TODAY, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 10_000
SEED = 1


class _NullCursor:
    def fetchone(self) -> tuple[int]:
        return (0,)

    def fetchall(self) -> list[Any]:
        return []


class _NullConnection:
    """Takes every statement (the generator's pragmas) and does nothing."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _NullCursor:
        return _NullCursor()


class _NullTx:
    def __init__(self) -> None:
        self.conn = _NullConnection()
        self.rows = 0

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows += len(rows)

    @property
    def changes(self) -> Any:
        from app.store.changes import Changes

        return Changes(frozenset(), frozenset())


class _NullStore:
    def __init__(self) -> None:
        self.conn = _NullConnection()
        self.tx = _NullTx()

    @contextmanager
    def write(self) -> Iterator[_NullTx]:
        yield self.tx


class _NullClinic:
    def __init__(self) -> None:
        self.store = _NullStore()


def run(emit: Emit) -> None:
    from app.clinic import create_clinic
    from app.demo.generator import generate

    no_keyring()
    null = _NullClinic()
    started = time.perf_counter()
    generate(null, PATIENTS, SEED, today=TODAY)  # type: ignore[arg-type]
    build_s = time.perf_counter() - started
    log(
        f"demo: built {null.store.tx.rows:,} rows for {PATIENTS:,} patients in {build_s:.2f}s "
        "without a database"
    )

    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-", dir=BENCH_DATA) as tmp:
        created = create_clinic("Bench demo", PASSPHRASE, Path(tmp) / "clinic", use_keyring=False)
        with created.clinic as clinic:
            started = time.perf_counter()
            summary = generate(clinic, PATIENTS, SEED, today=TODAY)
            full_s = time.perf_counter() - started
    log(f"demo: {summary.patients:,} patients into an encrypted clinic in {full_s:.2f}s")
    emit(
        "demo_patients_per_s",
        summary.patients / full_s,
        "patients/s (10k, seed 1; baseline: the same generate() into a store that keeps nothing)",
        PATIENTS / build_s,
    )
