"""Research export (app/research/deidentify.py) of the 100,000-patient clinic (target ≤ 10 s).

Everyone, every field of the catalogue, written to a temporary folder. The baseline, in
the same run on the same connection, is a plain CSV dump (csv.writer) of the same rows
the export reads: the patient rows with their main address, visit counts by year and
status, sent messages by year, rule and channel, survey answers and conditions — as
anyone would first write it (years by substr of the UTC time, ids as they are, no
pseudonyms, no checks, no dictionary or small-cell report).

The cached clinic is only read. Its demo has no user accounts and an export needs a
manager (and writes an audit entry), so each run happens inside one transaction that
adds a manager with plain SQL and is rolled back at the end: the manager, the audit
entry and everything else the run wrote are gone, and the audit head file beside the
database is put back as it was (removed when there was none). Each side runs 3 times;
the figure is the median, because the VM is shared: one run that waits for another
process's disk says nothing about the export (every run is logged).
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from tests.bench._common import PASSPHRASE, demo_clinic, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 100_000
SEED = 1
RUNS = 3

# The rows the export reads: unmerged patients' own rows, visits of the four outcomes.
_MEMBER = "JOIN patient p ON p.id = {t}.patient_id AND p.merged_into IS NULL"
_DUMPS = {
    "patients.csv": (
        "SELECT p.id, p.birth_date, p.sex, p.language, p.acquisition_source, p.created_at,"
        " p.deceased, a.region, a.postal_code, a.country FROM patient p"
        " LEFT JOIN (SELECT patient_id, region, postal_code, country, min(rank) FROM address"
        "  GROUP BY patient_id) a ON a.patient_id = p.id WHERE p.merged_into IS NULL"
    ),
    "visits.csv": (
        "SELECT a.patient_id, substr(a.start_at, 1, 4), sum(a.status IN ('fulfilled', 'arrived')),"
        " sum(a.status = 'noshow'), sum(a.status = 'cancelled') FROM appointment a "
        + _MEMBER.format(t="a")
        + " WHERE a.start_at IS NOT NULL"
        " AND a.status IN ('fulfilled', 'arrived', 'noshow', 'cancelled')"
        " GROUP BY a.patient_id, substr(a.start_at, 1, 4)"
    ),
    "messages.csv": (
        "SELECT o.patient_id, substr(o.sent_at, 1, 4), o.rule_id, o.subject_kind, o.channel,"
        " count(*) FROM outbox o " + _MEMBER.format(t="o") + " WHERE o.state = 'sent'"
        " GROUP BY o.patient_id, substr(o.sent_at, 1, 4), o.rule_id, o.subject_kind, o.channel"
    ),
    "nps.csv": (
        "SELECT r.patient_id, substr(r.answered_at, 1, 4), r.score, r.channel"
        " FROM survey_response r " + _MEMBER.format(t="r")
    ),
    "conditions.csv": (
        "SELECT c.patient_id, c.system, c.code, c.display, c.onset, c.clinical_status"
        " FROM condition c " + _MEMBER.format(t="c")
    ),
}


def _plain_dump(conn: Any, folder: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    for name, sql in _DUMPS.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            cursor = conn.execute(sql)
            n = 0
            while batch := cursor.fetchmany(5000):
                writer.writerows(batch)
                n += len(batch)
            rows[name] = n
    return rows


def run(emit: Emit) -> None:
    from app.audit.anchor import ANCHOR_FILE
    from app.audit.log import restore_anchor
    from app.clinic import open_clinic
    from app.research.deidentify import ResearchRequest, export_research
    from app.research.fields import CATALOGUE
    from app.store.writer import new_id, utc_now

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    anchor = home / ANCHOR_FILE
    anchor_before = anchor.read_bytes() if anchor.exists() else None
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    request = ResearchRequest(tuple(f.key for f in CATALOGUE))
    export_times: list[float] = []
    dump_times: list[float] = []
    conn = clinic.conn
    try:
        for attempt in range(RUNS):
            with tempfile.TemporaryDirectory(prefix="bench-research-") as tmp:
                conn.execute("BEGIN")
                try:
                    manager = new_id()
                    conn.execute(
                        "INSERT INTO app_user (id, name, role, active, created_at)"
                        " VALUES (?, 'Bench manager', 'manager', 1, ?)",
                        (manager, utc_now()),
                    )
                    clinic.acting_user_id = manager
                    started = time.perf_counter()
                    result = export_research(clinic, request, Path(tmp))
                    export_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    dumped = _plain_dump(conn, Path(tmp))
                    dump_times.append(time.perf_counter() - started)
                finally:
                    conn.execute("ROLLBACK")
                    clinic.acting_user_id = ""
                    if anchor_before is None:
                        anchor.unlink(missing_ok=True)
                    else:
                        restore_anchor(clinic)
            log(
                f"run {attempt + 1}: export {export_times[-1]:.2f} s "
                f"({result.patients:,} patients, rows {result.rows}, "
                f"{result.small_groups:,} small groups); plain dump {dump_times[-1]:.2f} s "
                f"(rows {dumped})"
            )
    finally:
        clinic.close()
        if anchor_before is not None and anchor.read_bytes() != anchor_before:
            anchor.write_bytes(anchor_before)
    emit("research_export_100k_s", median(export_times), "s", median(dump_times))
