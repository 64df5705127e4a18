"""Acquisition reports on a 100,000-patient clinic (about 320,000 visits), 24 months.

The cached demo clinic has a source on every patient but no enquiries and no spend, so
the run adds 10,000 leads (with their status history, a third linked to patients) and a
month of spend per channel in TEMP tables named like the real ones: unqualified names
resolve to the temp schema first, so the reports read them, and the shared clinic file
is never written (no lock held while other groups run).

Each report is run 5 times; the figure is the slowest (target ≤ 1 s). The baseline, in
the same run on the same connection, is the plain SQL of the same figure as anyone
would first write it (a correlated first-visit minimum per patient, an outer join of
payments, months by substr of the UTC time; the bench clinic keeps time in UTC, so its
months are the same) — and the run checks both give the same figures.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.bench._common import PASSPHRASE, TODAY, demo_clinic, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 100_000
SEED = 1
FIRST, LAST = "2023-02", "2025-01"  # the 24 months up to the demo's day
RUNS = 5
LEADS = 10_000

_NAIVE_STARTS = (
    "SELECT p.id AS id, p.acquisition_source AS source, coalesce((SELECT min(a.start_at) "
    "FROM appointment a WHERE a.patient_id = p.id AND a.status = 'fulfilled'), p.created_at) "
    "AS start_at FROM patient p WHERE p.merged_into IS NULL"
)
NAIVE_NEW = (
    f"SELECT substr(start_at, 1, 7) AS month, source, count(*) FROM ({_NAIVE_STARTS}) "
    "WHERE month BETWEEN :first AND :last GROUP BY month, source ORDER BY month, source"
)
NAIVE_CONVERSION = (
    "SELECT source, count(*), "
    "sum(id IN (SELECT lead_id FROM lead_status WHERE status IN ('booked', 'first_visit'))), "
    "sum(status = 'first_visit' OR patient_id IN "
    "    (SELECT patient_id FROM appointment WHERE status = 'fulfilled')), "
    "sum(status = 'lost') FROM lead WHERE substr(created_at, 1, 7) BETWEEN :first AND :last "
    "GROUP BY source ORDER BY source"
)
NAIVE_SPEND = (
    "SELECT month, source, amount_cents FROM channel_spend WHERE month BETWEEN :first AND :last"
)
NAIVE_REVENUE = (
    "SELECT s.source, count(DISTINCT s.id), coalesce(sum(y.amount_cents), 0), "
    "count(DISTINCT CASE WHEN date(s.start_at, '+12 months') > :today THEN s.id END) "
    f"FROM ({_NAIVE_STARTS}) s LEFT JOIN payment y ON y.patient_id = s.id "
    "AND y.received_at >= date(s.start_at) AND y.received_at < date(s.start_at, '+12 months') "
    "WHERE substr(s.start_at, 1, 7) BETWEEN :first AND :last GROUP BY s.source ORDER BY s.source"
)


def _slowest(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return max(times), result


def _shadow_tables(conn: Any) -> None:
    """Leads, their history and spend in TEMP tables that shadow the real (empty) ones."""
    for table in ("lead", "lead_status", "channel_spend"):
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{table} WHERE 0")
    conn.execute("CREATE INDEX temp.lead_by_status ON lead(status, created_at)")
    conn.execute("CREATE INDEX temp.lead_patient ON lead(patient_id)")
    conn.execute("CREATE INDEX temp.lead_status_lead ON lead_status(lead_id, changed_at)")
    conn.execute("CREATE UNIQUE INDEX temp.channel_spend_key ON channel_spend(source, month)")
    rng = random.Random(SEED)
    sources = [r[0] for r in conn.execute("SELECT DISTINCT acquisition_source FROM patient")]
    patients = [r[0] for r in conn.execute("SELECT id FROM patient ORDER BY rowid")]
    paths = (
        ["new"],
        ["new", "contacted"],
        ["new", "contacted", "booked"],
        ["new", "booked", "first_visit"],
        ["new", "contacted", "lost"],
        ["new", "lost", "contacted"],
    )
    leads, history = [], []
    for n in range(LEADS):
        created = f"{rng.choice((2023, 2024))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        stamp = f"{created}T{rng.randint(0, 23):02d}:00:00Z"
        path = rng.choice(paths)
        linked = rng.choice(patients) if path[-1] != "lost" and rng.random() < 0.33 else None
        lead_id = f"lead-{n}"
        leads.append(
            (
                lead_id,
                "Bench",
                "Lead",
                "+16125550100",
                "",
                rng.choice(sources),
                path[-1],
                "",
                linked,
                stamp,
                stamp,
            )
        )
        history += [(f"{lead_id}-{i}", lead_id, s, stamp, "") for i, s in enumerate(path)]
    conn.executemany(f"INSERT INTO temp.lead VALUES ({','.join('?' * 11)})", leads)
    conn.executemany("INSERT INTO temp.lead_status VALUES (?, ?, ?, ?, ?)", history)
    months = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]
    conn.executemany(
        "INSERT INTO temp.channel_spend VALUES (?, ?, ?, ?)",
        [(f"{s}-{m}", s, m, rng.randrange(0, 300_000)) for s in sources for m in months],
    )


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.growth import acquisition as acq

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    conn = clinic.conn
    params = {"first": FIRST, "last": LAST, "today": TODAY.isoformat()}
    try:
        if clinic.settings.timezone != "UTC":
            raise RuntimeError("the baselines assume the bench clinic keeps UTC months")
        _shadow_tables(conn)
        # Warm the page cache the same way for both.
        acq.new_patients_by_source(clinic, FIRST, LAST)
        conn.execute(NAIVE_NEW, params).fetchall()

        log("growth: new patients by source")
        took, rows = _slowest(lambda: acq.new_patients_by_source(clinic, FIRST, LAST))
        naive_took, naive = _slowest(lambda: conn.execute(NAIVE_NEW, params).fetchall())
        new = {(r.month, r.source): r.count for r in rows}
        if new != {(m, s): c for m, s, c in naive}:
            raise AssertionError("new patients by source differ from the plain SQL")
        emit(
            "growth_new_patients_by_source_s",
            took,
            f"s (24 months, {sum(new.values()):,} new patients; baseline: correlated min per "
            "patient)",
            naive_took,
        )

        log("growth: lead conversion")
        took, rows = _slowest(lambda: acq.lead_conversion(clinic, FIRST, LAST))
        naive_took, naive = _slowest(lambda: conn.execute(NAIVE_CONVERSION, params).fetchall())
        if [(r.source, r.leads, r.booked, r.first_visit, r.lost) for r in rows] != naive:
            raise AssertionError("lead conversion differs from the plain SQL")
        emit(
            "growth_lead_conversion_s",
            took,
            f"s ({sum(r.leads for r in rows):,} leads; baseline: IN-subquery SQL)",
            naive_took,
        )

        log("growth: cost per new patient")
        took, rows = _slowest(lambda: acq.cost_per_new_patient(clinic, FIRST, LAST))

        def naive_cost() -> dict[tuple[str, str], list[int]]:
            merged: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            for month, source, cents in conn.execute(NAIVE_SPEND, params):
                merged[(month, source)][0] += cents
            for month, source, count in conn.execute(NAIVE_NEW, params):
                merged[(month, source)][1] += count
            return dict(merged)

        naive_took, merged = _slowest(naive_cost)
        if {(r.month, r.source): [r.spend_cents, r.new_patients] for r in rows} != merged:
            raise AssertionError("cost per new patient differs from the plain SQL")
        emit(
            "growth_cost_per_new_patient_s",
            took,
            f"s ({len(rows)} month×channel rows; baseline: plain SQL, merged in Python)",
            naive_took,
        )

        log("growth: revenue in the first year")
        today = TODAY.isoformat()
        took, rows = _slowest(lambda: acq.revenue_in_first_year(clinic, FIRST, LAST, today=today))
        naive_took, naive = _slowest(lambda: conn.execute(NAIVE_REVENUE, params).fetchall())
        mine = [(r.source, r.patients, r.payments_cents, r.still_in_first_year) for r in rows]
        if mine != naive:
            raise AssertionError("first-year revenue differs from the plain SQL")
        emit(
            "growth_revenue_first_year_s",
            took,
            f"s ({sum(r.patients for r in rows):,} patients; baseline: outer join of payments)",
            naive_took,
        )
    finally:
        clinic.close()
