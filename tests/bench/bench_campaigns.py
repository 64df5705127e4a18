"""Campaign targeting on a 100,000-patient clinic: one campaign of each kind (issue 9 target:
≤ 0.5 s each).

- education: adults 18-64 (a saved segment), by text or email, on its send day (today);
- allergy: a text on a high-pollen day (today) to patients with a pollen allergy;
- reactivation: no visit for 18 months and nothing booked, on the campaign's first day
  (everyone lapsed by then), a text or email first.

For each, two figures: the planner's targeting (`planner.wanted` for the rule on that day:
the patients and, for education, the item each gets) and `audience(clinic, rule)` (the count
the campaign editor shows before a send, with the reasons of the blocked). Each is the
median of RUNS runs (BASELINE_RUNS for the plain SQL). The baseline, in the same run on
the same connection, is the plain SQL that selects the same patient set (newest consent
per channel and purpose by a window function, STOP, the contact, the campaign's own
terms), and the run checks both give the same patients.

The cached clinic is never written: the segment and the pollen day go in TEMP tables named
like the real ones (unqualified names resolve to the temp schema first).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

from tests.bench._common import PASSPHRASE, TODAY, demo_clinic, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 100_000
SEED = 1
RUNS = 5
BASELINE_RUNS = 3  # the plain SQL takes seconds (a window over every consent row)
SEGMENT_ID = "bench-adults-18-64"

# The decision in force per patient, channel and purpose, and the patients whose newest
# decision about texts (whatever its purpose) is a STOP.
_CONSENT_CTES = """
newest AS (
  SELECT patient_id, channel, purpose, granted FROM (
    SELECT patient_id, channel, purpose, granted, row_number() OVER (
      PARTITION BY patient_id, channel, purpose ORDER BY recorded_at DESC, rowid DESC) AS n
    FROM consent) WHERE n = 1),
stopped AS (
  SELECT patient_id FROM (
    SELECT patient_id, granted, source, row_number() OVER (
      PARTITION BY patient_id ORDER BY recorded_at DESC, rowid DESC) AS n
    FROM consent WHERE channel = 'sms') WHERE n = 1 AND granted = 0 AND source = 'sms-stop')
"""
_ICD = (
    "'http://hl7.org/fhir/sid/icd-10-cm', 'http://hl7.org/fhir/sid/icd-10', "
    "'urn:oid:2.16.840.1.113883.6.90'"
)
_CONTACTABLE = (
    "p.deceased = 0 AND p.do_not_contact = 0 AND p.merged_into IS NULL AND p.moved_on IS NULL"
)


def _reach(channel: str, purpose: str, opt_in: bool) -> str:
    """Plain SQL: the patient may be sent `channel` for `purpose` (consent and contact)."""
    if opt_in:
        consent = (
            "p.id IN (SELECT patient_id FROM newest WHERE channel = '{c}' "
            "AND purpose = '{p}' AND granted = 1)"
        )
    else:
        consent = (
            "p.id NOT IN (SELECT patient_id FROM newest WHERE channel = '{c}' "
            "AND purpose = '{p}' AND granted = 0)"
        )
    parts = [consent.format(c="phone" if channel == "call" else channel, p=purpose)]
    if channel == "sms":
        parts.append("p.id NOT IN (SELECT patient_id FROM stopped)")
    if channel in ("sms", "call"):
        parts.append(
            "p.id IN (SELECT patient_id FROM contact_point WHERE kind = 'phone' AND value != '')"
        )
    elif channel == "email":
        parts.append(
            "p.id IN (SELECT patient_id FROM contact_point WHERE kind = 'email' AND value != '')"
        )
    else:
        parts.append(
            "p.id IN (SELECT patient_id FROM address WHERE trim(line1) != '' "
            "AND (trim(postal_code) != '' OR trim(city) != ''))"
        )
    return "(" + " AND ".join(parts) + ")"


def _education_sql() -> str:
    reach = " OR ".join(_reach(c, "education", True) for c in ("sms", "email"))
    return (
        f"WITH {_CONSENT_CTES} SELECT p.id FROM patient p WHERE {_CONTACTABLE} "
        "AND length(p.birth_date) = 10 AND p.birth_date <= date(:today, '-18 years') "
        f"AND p.birth_date > date(:today, '-65 years') AND ({reach})"
    )


def _allergy_sql() -> str:
    return (
        f"WITH {_CONSENT_CTES} SELECT p.id FROM patient p WHERE {_CONTACTABLE} "
        "AND p.id IN ("
        "  SELECT patient_id FROM condition WHERE clinical_status NOT IN "
        "    ('inactive', 'remission', 'resolved') AND ((system = 'http://snomed.info/sct' AND "
        "    code IN ('61582004', '21719001', '367498001', '232353008', '300910009', "
        "    '444908001', '256259004', '256277009', '782576004', '418689008')) "
        f"    OR (system IN ({_ICD}) AND upper(replace(trim(code), '.', '')) LIKE 'J30%' "
        "    AND upper(replace(trim(code), '.', '')) != 'J300'))"
        "  UNION SELECT patient_id FROM allergy WHERE clinical_status NOT IN "
        "    ('inactive', 'remission', 'resolved') AND ((system = 'http://snomed.info/sct' AND "
        "    code IN ('61582004', '21719001', '367498001', '232353008', '300910009', "
        "    '444908001', '256259004', '256277009', '782576004', '418689008')) "
        f"    OR (system IN ({_ICD}) AND upper(replace(trim(code), '.', '')) LIKE 'J30%' "
        "    AND upper(replace(trim(code), '.', '')) != 'J300') "
        "    OR lower(display) LIKE '%pollen%' OR lower(display) LIKE '%polen%')"
        f") AND {_reach('sms', 'education', True)}"
    )


def _reactivation_sql() -> str:
    """Seen (fulfilled) but not since :cutoff, nothing booked from today on."""
    reach = " OR ".join(_reach(c, "recall", False) for c in ("sms", "email"))
    return (
        f"WITH {_CONSENT_CTES}, last AS (SELECT patient_id, max(start_at) AS seen "
        "FROM appointment WHERE status = 'fulfilled' GROUP BY patient_id) "
        f"SELECT p.id FROM patient p JOIN last l ON l.patient_id = p.id WHERE {_CONTACTABLE} "
        "AND l.seen < :cutoff AND p.id NOT IN (SELECT patient_id FROM appointment "
        "WHERE status IN ('booked', 'confirmed') AND start_at >= :today_start) "
        f"AND ({reach})"
    )


def _median(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    """The median wall time of `runs` runs (the CPU time is logged: on a busy machine the
    wall time grows with the load, the CPU time much less)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    log(f"  median {statistics.median(times):.3f} s wall, {statistics.median(cpu):.3f} s CPU")
    return statistics.median(times), result


def _shadow_tables(conn: Any) -> None:
    """The campaign's segment and today's pollen level, in TEMP tables over the real ones."""
    from app.growth.segments import SegmentTerms, to_json

    for table in ("segment", "pollen_day"):
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM main.{table} WHERE 0")
    conn.execute("CREATE UNIQUE INDEX temp.pollen_day_day ON pollen_day(day)")
    stamp = f"{TODAY.isoformat()}T06:00:00Z"
    conn.execute(
        "INSERT INTO temp.segment VALUES (?, ?, ?, ?, ?)",
        (SEGMENT_ID, "Adults 18-64", to_json(SegmentTerms(age_min=18, age_max=64)), stamp, stamp),
    )
    conn.execute(
        "INSERT INTO temp.pollen_day VALUES (?, ?, 'high', 'bench', 'High today', ?)",
        ("bench-pollen", TODAY.isoformat(), stamp),
    )


def _rules() -> dict[str, Any]:
    from app.reminders.rules import Rule, Touch

    ten = clock(10, 0)
    return {
        "education": Rule(
            id="bench-education",
            kind="education",
            name="Health tips for adults",
            touches=(Touch(0, ten),),
            channels=("sms", "email"),
            segment_id=SEGMENT_ID,
            send_day=TODAY.day,
        ),
        "allergy": Rule(
            id="bench-allergy",
            kind="allergy",
            name="High pollen today",
            touches=(Touch(0, ten),),
            channels=("sms",),
            season_months=tuple(range(1, 13)),
        ),
        "reactivation": Rule(
            id="bench-reactivation",
            kind="reactivation",
            name="We miss you",
            touches=(
                Touch(0, ten, ("sms", "email")),
                Touch(14, ten, ("call",)),
                Touch(28, ten, ("letter",)),
            ),
            channels=("sms", "email", "letter"),
            recall_months=18,
            start_on=TODAY.isoformat(),
        ),
    }


def run(emit: Emit) -> None:
    from zoneinfo import ZoneInfo

    from app.clinic import open_clinic
    from app.engagement.audience import audience
    from app.reminders import planner
    from app.reminders.planning_base import Span
    from app.reminders.planning_times import add_months, day_start
    from app.store.writer import utc_text

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    conn = clinic.conn
    try:
        zone = ZoneInfo(clinic.settings.timezone)
        _shadow_tables(conn)
        # 09:00 on the send day; the run looks an hour ahead, so it plans today's 10:00.
        now = datetime.combine(TODAY, clock(9, 0), zone).astimezone(UTC)
        span = Span(now, now + timedelta(hours=1), zone)
        today_start = utc_text(day_start(TODAY, zone))
        params: dict[str, Any] = {"today": TODAY.isoformat(), "today_start": today_start}
        baselines = {
            # The planner also takes those who lapse on the day itself (18 months to the
            # day); the audience counts those lapsed by the start of today.
            "education": (_education_sql(), {}, {}),
            "allergy": (_allergy_sql(), {}, {}),
            "reactivation": (
                _reactivation_sql(),
                {"cutoff": utc_text(day_start(add_months(TODAY, -18) + timedelta(days=1), zone))},
                {"cutoff": utc_text(day_start(add_months(TODAY, -18), zone))},
            ),
        }
        for kind, rule in _rules().items():
            sql, plan_extra, audience_extra = baselines[kind]

            def plain(extra: dict[str, Any], sql: str = sql) -> set[str]:
                return {str(r[0]) for r in conn.execute(sql, {**params, **extra})}

            # Warm the page cache the same way for both.
            planner.wanted(conn, rule, span)
            plain(plan_extra)

            log(f"campaigns: {kind}: the planner's targeting")
            took, wanted = _median(lambda rule=rule: planner.wanted(conn, rule, span))
            base_took, expected = _median(lambda extra=plan_extra: plain(extra), BASELINE_RUNS)
            found = {w.patient_id for w in wanted}
            if found != expected or len(found) != len(wanted):
                raise AssertionError(
                    f"{kind}: the planner wants {len(found):,} patients, the plain SQL "
                    f"{len(expected):,} ({len(found - expected)} only planned, "
                    f"{len(expected - found)} only in the SQL)"
                )
            if kind == "education" and not all(w.subject_id for w in wanted):
                raise AssertionError("education: a planned message has no item")
            log(
                f"campaigns: {kind}: {len(found):,} planned for the day; baseline: plain SQL "
                "of the same patients"
            )
            emit(f"campaigns_{kind}_targeting_s", took, "s", base_took)

            log(f"campaigns: {kind}: the audience before a send")
            took, counted = _median(lambda rule=rule: audience(clinic, rule, today=TODAY))
            base_took, expected = _median(lambda extra=audience_extra: plain(extra), BASELINE_RUNS)
            if set(counted.patient_ids) != expected or counted.reachable != len(expected):
                raise AssertionError(
                    f"{kind}: the audience reaches {counted.reachable:,}, the plain SQL "
                    f"{len(expected):,}"
                )
            log(
                f"campaigns: {kind}: {counted.matched:,} matched, {counted.reachable:,} "
                f"reachable, blocked: {counted.blocked}; baseline: plain SQL of the reachable"
            )
            emit(f"campaigns_{kind}_audience_s", took, "s", base_took)
    finally:
        clinic.close()
