"""The patients list on a 100,000-patient clinic: page fetches against the naive way.

Baselines, measured in the same run on the same connection: the first version anyone
would write, `LIMIT 200 OFFSET n` over the same ORDER BY, and for the filter a LIKE
scan of the names. Each figure is the p99 of its samples (nearest rank).

* first page: a fresh PatientList and its first 200 rows, name order.
* deep page: the page at row 90,000 reached by paging on (what the table and the
  export do), against OFFSET 90,000.
* last visit: pages 1-20 in last-visit order (newest first and oldest first), against
  ORDER BY a correlated max() per patient.
* filter keystroke: a new list for each prefix of a family name as typed, first page.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.bench._common import PASSPHRASE, TODAY, demo_clinic, no_keyring
from tests.bench._report import Emit, log, percentile

PATIENTS = 100_000
SEED = 1
PAGE = 200
DEEP = 90_000
NAIVE_NAME = (
    "SELECT id, family_name, given_names, birth_date FROM patient WHERE deceased = 0 "
    "AND merged_into IS NULL ORDER BY family_name COLLATE NOCASE, "
    "given_names COLLATE NOCASE, rowid LIMIT ? OFFSET ?"
)
NAIVE_LAST_VISIT = (
    "SELECT p.id, (SELECT max(a.start_at) FROM appointment a WHERE a.patient_id = p.id "
    "AND a.status = 'fulfilled' AND a.start_at <= ?) AS lv FROM patient p "
    "WHERE p.deceased = 0 AND p.merged_into IS NULL ORDER BY lv IS NULL, lv DESC, p.rowid "
    "LIMIT ? OFFSET ?"
)
NAIVE_FILTER = (
    "SELECT id FROM patient WHERE deceased = 0 AND (family_name LIKE ? OR given_names LIKE ?) "
    "ORDER BY family_name COLLATE NOCASE, given_names COLLATE NOCASE, rowid LIMIT ?"
)


def _ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.patients.listing import PatientList, PatientListQuery

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    now = datetime(TODAY.year, TODAY.month, TODAY.day, 18, tzinfo=UTC)
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = clinic.conn
    try:
        name = PatientListQuery()
        # Warm the page cache the same way for both.
        PatientList(clinic, name, now=now).page(0, PAGE)
        conn.execute(NAIVE_NAME, (PAGE, 0)).fetchall()

        log("listing: first page, 50 times each way")
        first = [_ms(lambda: PatientList(clinic, name, now=now).page(0, PAGE)) for _ in range(50)]
        naive_first = [
            _ms(lambda: conn.execute(NAIVE_NAME, (PAGE, 0)).fetchall()) for _ in range(50)
        ]
        emit(
            "listing_first_page_p99_ms",
            percentile(first, 99),
            "ms (200 rows, name order; baseline: LIMIT/OFFSET 0 without row details)",
            percentile(naive_first, 99),
        )

        log(f"listing: paging on to row {DEEP:,}")
        listing = PatientList(clinic, name, now=now)
        steps = [
            _ms(lambda o=offset: listing.page(o, PAGE)) for offset in range(0, DEEP + PAGE, PAGE)
        ]
        deep = steps[-20:]
        naive_deep = [
            _ms(lambda o=offset: conn.execute(NAIVE_NAME, (PAGE, o)).fetchall())
            for offset in range(DEEP - 19 * PAGE, DEEP + PAGE, PAGE)
        ]
        emit(
            "listing_deep_page_p99_ms",
            percentile(deep, 99),
            f"ms (pages near row {DEEP:,}, keyset; baseline: OFFSET)",
            percentile(naive_deep, 99),
        )
        emit(
            "listing_every_page_p99_ms",
            percentile(steps, 99),
            f"ms (all {len(steps)} pages to row {DEEP:,} incl. row details; baseline: first page)",
            percentile(first, 99),
        )

        for descending in (True, False):
            query = PatientListQuery(sort="last_visit", descending=descending)
            label = "newest" if descending else "oldest"
            log(f"listing: 20 pages by last visit, {label} first")
            walk = PatientList(clinic, query, now=now)
            pages = [
                _ms(lambda o=offset, w=walk: w.page(o, PAGE))
                for offset in range(0, 20 * PAGE, PAGE)
            ]
            naive = [
                _ms(lambda o=offset: conn.execute(NAIVE_LAST_VISIT, (now_text, PAGE, o)).fetchall())
                for offset in (0, 10 * PAGE)
            ]
            emit(
                f"listing_last_visit_{label}_first_p99_ms",
                percentile(pages, 99),
                "ms (20 pages of 200; baseline: ORDER BY correlated max(), 2 pages)",
                percentile(naive, 99),
            )

        log("listing: filter keystrokes")
        families = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT family_name FROM patient ORDER BY family_name"
            ).fetchall()
        ]
        rng = random.Random(20250115)
        typed = []
        for family in rng.sample(families, min(40, len(families))):
            typed += [family[:n] for n in range(2, min(len(family), 6) + 1)]
        keystrokes = [
            _ms(lambda t=text: PatientList(clinic, PatientListQuery(text=t), now=now).page(0, PAGE))
            for text in typed
        ]
        naive_keys = [
            _ms(lambda t=text: conn.execute(NAIVE_FILTER, (f"%{t}%", f"%{t}%", PAGE)).fetchall())
            for text in typed
        ]
        emit(
            "listing_filter_keystroke_p50_ms",
            percentile(keystrokes, 50),
            "ms (same keystrokes, median; baseline: LIKE scan)",
            percentile(naive_keys, 50),
        )
        emit(
            "listing_filter_keystroke_p99_ms",
            percentile(keystrokes, 99),
            f"ms ({len(typed)} prefixes, FTS, first page; baseline: LIKE scan)",
            percentile(naive_keys, 99),
        )
        counts = [
            _ms(lambda t=text: PatientList(clinic, PatientListQuery(text=t), now=now).count())
            for text in typed[::3]
        ]
        whole = [_ms(lambda: PatientList(clinic, name, now=now).count()) for _ in range(10)]
        emit(
            "listing_filter_count_p99_ms",
            percentile(counts, 99),
            "ms (count of a filtered list; baseline: count of the whole list)",
            percentile(whole, 99),
        )
    finally:
        clinic.close()
