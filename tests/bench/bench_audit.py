"""Audit log: `audit verify` over 1,000,000 entries (target <= 5 s), and what recording costs.

Works in a clinic of its own in a temporary folder (the shared bench clinic is never
written). The log is filled with a realistic mix (patient views, changes with table
counts, prints, sign-ins) in the app's own canonical form and chain, then verified the
way `main.py audit verify` does. Baseline in the same run: reading the same rows and
SHA-256 over the same bytes with no checks, i.e. the least any verify must do.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.bench._common import no_keyring
from tests.bench._report import Emit, log

ENTRIES = int(os.environ.get("BENCH_AUDIT_ENTRIES", "1000000"))
INSERT_BATCH = 50_000
PASSPHRASE = "bench audit passphrase 4417 lakeside"
TARGET_S = 5.0


def _fill(clinic: object, entries: int) -> None:
    """Append `entries` entries in the canonical form record() writes, chained."""
    from app.audit.log import canonical_body, head, workstation
    from app.clinic import Clinic

    assert isinstance(clinic, Clinic)
    rng = random.Random(10)
    people = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(12)]
    patients = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20_000)]
    desk = workstation(clinic)
    start = head(clinic.conn)
    prev = bytes.fromhex(start.hash_hex)
    seq = start.seq
    conn = clinic.conn
    conn.execute("BEGIN IMMEDIATE")
    rows: list[tuple[object, ...]] = []
    millis = 1_735_700_000_000
    for _ in range(entries):
        seq += 1
        millis += rng.randint(200, 30_000)
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + (
            f".{millis % 1000:03d}Z"
        )
        kind = rng.random()
        patient = rng.choice(patients)
        if kind < 0.55:
            action, detail, pid = "patient.view", {}, patient
        elif kind < 0.9:
            action, pid = "change", patient
            detail = {"tables": {"change": 3, "patient": 1}}
        elif kind < 0.95:
            action, pid, detail = "print", "", {"letters": rng.randint(1, 300), "kind": "recall"}
        else:
            action, pid, detail = "signin", "", {}
        fields = {
            "seq": seq,
            "at": at,
            "user_id": rng.choice(people),
            "workstation": desk,
            "action": action,
            "patient_id": pid,
            "target": "",
            "detail": detail,
        }
        body = canonical_body(fields)
        prev = hashlib.sha256(prev + body).digest()
        rows.append((seq, at, fields["user_id"], desk, action, pid, body, prev))
        if len(rows) == INSERT_BATCH:
            conn.executemany("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()
    conn.executemany("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _baseline(conn: object, clinic_id: str) -> float:
    """Read (seq, body, hash) in order and SHA-256 the chain, checking nothing."""
    from app.audit.log import genesis_hash

    started = time.perf_counter()
    prev = genesis_hash(clinic_id)
    sha256 = hashlib.sha256
    cursor = conn.execute("SELECT seq, body, hash FROM audit_event ORDER BY seq")  # type: ignore[attr-defined]
    while rows := cursor.fetchmany(32_768):
        for _seq, body, _digest in rows:
            prev = sha256(prev + body).digest()
    return time.perf_counter() - started


def run(emit: Emit) -> None:
    from app.audit import actions
    from app.audit.log import record
    from app.audit.verify import verify_clinic
    from app.clinic import create_clinic
    from app.patients import records

    no_keyring()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-audit-") as folder:
        home = Path(folder) / "clinic"
        clinic = create_clinic("Bench Audit", PASSPHRASE, home, use_keyring=False).clinic
        try:
            # What recording costs: one entry in its own transaction (a patient opened),
            # and a typical form save with and without its change entry.
            samples = []
            for i in range(2000):
                started = time.perf_counter()
                record(clinic, actions.PATIENT_VIEW, patient_id=f"p{i}")
                samples.append(time.perf_counter() - started)
            per_view = statistics.median(samples)
            created = records.create_patient(clinic, records_draft())
            with_entry, without_entry = _median_saves(clinic, created.id)
            emit("audit: record one entry (own transaction), median", per_view * 1000, "ms", 0)
            emit(
                "audit: form save with its change entry, median",
                with_entry * 1000,
                "ms",
                without_entry * 1000,
            )

            started = time.perf_counter()
            _fill(
                clinic,
                ENTRIES - clinic.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0],
            )
            log(f"audit: {ENTRIES:,} entries written in {time.perf_counter() - started:.1f} s")
            size = sum(p.stat().st_size for p in home.iterdir() if p.name.startswith("clinic.db"))
            log(f"audit: database {size / 1e6:.0f} MB")
            from app.audit.log import restore_anchor

            restore_anchor(clinic)

            baseline = min(_baseline(clinic.conn, clinic.clinic_id) for _ in range(2))
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                report = verify_clinic(clinic)
                timings.append(time.perf_counter() - started)
                if not report.intact or report.entries != ENTRIES:
                    raise RuntimeError(f"the bench log did not verify: {report}")
            best = min(timings)
            emit(f"audit verify, {ENTRIES:,} entries", best, "s", baseline)
            _viewer_pages(emit, clinic)
            started = time.perf_counter()
            deep = verify_clinic(clinic, deep=True)
            deep_s = time.perf_counter() - started
            if not deep.intact:
                raise RuntimeError("the bench log did not verify in deep mode")
            emit(f"audit verify --deep, {ENTRIES:,} entries", deep_s, "s", baseline)
            log(
                f"audit: verify {best:.2f} s (target {TARGET_S:.0f} s), baseline {baseline:.2f} s, "
                f"deep {deep_s:.2f} s"
            )
        finally:
            clinic.close()


def records_draft() -> object:
    from app.patients.model import PatientDraft, PhoneDraft

    return PatientDraft("Benchmark", "Ada", phones=(PhoneDraft("(612) 555-0142"),))


def _median_saves(clinic: Any, patient_id: str) -> tuple[float, float]:
    """The patient form's usual edit (a changed preferred name) saved 600 times, every
    other save without the audit hook: medians (with, without), interleaved so the
    page cache and the disk treat both alike."""
    from app.patients import records

    hooks = list(clinic.store.before_commit)
    with_entry, without_entry = [], []
    for i in range(600):
        clinic.store.before_commit[:] = hooks if i % 2 else []
        started = time.perf_counter()
        records.update_patient(clinic, patient_id, {"preferred_name": f"Addie{i}"})
        (with_entry if i % 2 else without_entry).append(time.perf_counter() - started)
    clinic.store.before_commit[:] = hooks
    return statistics.median(with_entry), statistics.median(without_entry)


def _viewer_pages(emit: Emit, clinic: Any) -> None:
    """The viewer's first page at 1M entries, for each kind of filter (median of 5)."""
    from datetime import date

    from app.audit.query import AuditFilter, entries
    from app.users import add_user

    clinic.acting_user_id = add_user(clinic, "Bench Manager", "manager").id
    row = clinic.conn.execute(
        "SELECT user_id, patient_id FROM audit_event WHERE patient_id <> '' "
        "ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    month = AuditFilter(first=date(2025, 3, 1), last=date(2025, 3, 31))
    cases = {
        "everything": AuditFilter(),
        "one month": month,
        "one person": AuditFilter(user_id=row[0]),
        "one kind (print)": AuditFilter(actions=("print",)),
        "one patient": AuditFilter(patient_id=row[1]),
        "person + kind + month": AuditFilter(
            first=month.first, last=month.last, user_id=row[0], actions=("signin",)
        ),
    }
    for name, filters in cases.items():
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            entries(clinic, filters)
            samples.append(time.perf_counter() - started)
        emit(f"audit viewer first page, {name}", statistics.median(samples) * 1000, "ms", 0)
