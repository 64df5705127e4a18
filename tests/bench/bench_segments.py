"""Segments on a 100,000-patient clinic: a campaign's count and ids against a naive loop.

The segment is a realistic reactivation-by-education campaign: aged 35-70, no visit in
18 months (but seen before), nothing booked, reachable by email for education (opt-in:
a Yes in force, and an email address). Target: ≤ 0.5 s for each of count and ids.

Baseline, in the same run on the same connection: what anyone would write first, one
query per patient (the patient row, then their visits, their newest consent, their email)
deciding in Python. It is run once (it takes seconds); the segment's figures are the p99
of 10 runs each, after one warm-up run so both start from the same page cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from tests.bench._common import PASSPHRASE, TODAY, demo_clinic, no_keyring
from tests.bench._report import Emit, log, percentile

PATIENTS = 100_000
SEED = 1
RUNS = 10


def _ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def _naive(conn: Any, today: date, zone: ZoneInfo) -> list[str]:
    """One patient at a time, as a first version would: about 5 queries a patient."""
    from app.patients.search import age_on
    from app.reminders.planning_times import add_months, day_start
    from app.store.writer import utc_text

    before = utc_text(day_start(add_months(today, -18), zone))
    today_start = utc_text(day_start(today, zone))
    chosen = []
    for pid, birth, deceased, dnc, merged in conn.execute(
        "SELECT id, birth_date, deceased, do_not_contact, merged_into FROM patient ORDER BY rowid"
    ).fetchall():
        if deceased or dnc or merged:
            continue
        age = age_on(birth, today)
        if age is None or not 35 <= age <= 70:
            continue
        last = conn.execute(
            "SELECT max(start_at) FROM appointment WHERE patient_id = ? AND status = 'fulfilled'",
            (pid,),
        ).fetchone()[0]
        if last is None or last >= before:
            continue
        booked = conn.execute(
            "SELECT 1 FROM appointment WHERE patient_id = ? AND status IN ('booked', 'confirmed') "
            "AND start_at >= ? LIMIT 1",
            (pid, today_start),
        ).fetchone()
        if booked:
            continue
        consent = conn.execute(
            "SELECT granted FROM consent WHERE patient_id = ? AND channel = 'email' "
            "AND purpose = 'education' ORDER BY recorded_at DESC, rowid DESC LIMIT 1",
            (pid,),
        ).fetchone()
        if consent is None or not consent[0]:
            continue
        email = conn.execute(
            "SELECT 1 FROM contact_point WHERE patient_id = ? AND kind = 'email' AND value != ''",
            (pid,),
        ).fetchone()
        if email:
            chosen.append(str(pid))
    return chosen


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.growth.segments import SegmentTerms, count, patient_ids

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    try:
        terms = SegmentTerms(
            age_min=35,
            age_max=70,
            last_visit_before_months=18,
            has_future_visit=False,
            reachable_by=("email", "education"),
        )
        zone = ZoneInfo(clinic.settings.timezone)
        count(clinic, terms, today=TODAY)  # warm-up
        log(f"segments: campaign count and ids, {RUNS} times each")
        counts = [_ms(lambda: count(clinic, terms, today=TODAY)) for _ in range(RUNS)]
        ids = [_ms(lambda: patient_ids(clinic, terms, today=TODAY)) for _ in range(RUNS)]
        log("segments: the naive per-patient loop, once")
        naive_ms, naive_ids = _ms(lambda: _naive(clinic.conn, TODAY, zone))
        found = ids[-1][1]
        if found != naive_ids or counts[-1][1] != len(found):
            raise AssertionError(
                f"segment and naive loop disagree: {len(found)} vs {len(naive_ids)} patients"
            )
        log(f"segments: {len(found):,} patients in the campaign")
        emit(
            "segments_campaign_count_p99_ms",
            percentile([ms for ms, _ in counts], 99),
            "ms (100k patients, age 35-70, no visit in 18 months, none booked, email "
            "for education; baseline: per-patient query loop)",
            naive_ms,
        )
        emit(
            "segments_campaign_ids_p99_ms",
            percentile([ms for ms, _ in ids], 99),
            "ms (the same segment's patient ids; baseline: per-patient query loop)",
            naive_ms,
        )
    finally:
        clinic.close()
