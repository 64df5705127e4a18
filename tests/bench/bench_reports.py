"""Reports (app/reports) on a 100,000-patient clinic: 24 months, and the page's 12.

The cached demo clinic's engagement history is small (one reminder per visit, answers
for one year), so the run puts in its place,
in TEMP tables named like the real ones (they shadow them for unqualified names; the
shared clinic file is never written):

* an outbox of about 750,000 messages: an appointment reminder sent the day before for
  most visits since 2020 (some with a second touch, some failed), and recalls, balance
  notices, birthdays, surveys, education and reactivation over five years by SMS,
  email and letter; with the real table's indexes;
* the visit status history copied, plus "confirmed by reply" rows (the note the SMS
  reply reader writes) for a share of the reminded visits;
* survey answers for a share of the fulfilled visits, with the visit's provider.

Caveat: the clinic keeps TEMP tables in memory (temp_store=MEMORY), so the shadowed
tables are read without page decryption; the outbox-heavy figures are somewhat better
than on the encrypted file. Visits (appointment) are read from the real file.

Each report is run 5 times; the figure is the slowest (target ≤ 1 s). The baseline, in
the same run on the same connection, is the plain SQL of the same figure as anyone
would first write it (months by substr of the UTC time — the bench clinic keeps UTC —
and a join or a correlated subquery per visit), and the run checks both give the same
figures.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from tests.bench._common import PASSPHRASE, demo_clinic, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 100_000
SEED = 1
FIRST, LAST = date(2023, 2, 1), date(2025, 1, 31)  # the 24 months up to the demo's day
RUNS = 5
_REMINDERS_SINCE = "2020-01-01"
_OTHER_MESSAGES = 500_000

_OUTBOX_COLUMNS = (
    "id, idem_key, rule_id, touch, purpose, patient_id, subject_kind, subject_id, occurrence,"
    " due_at, stale_at, state, reason, channel, recipient, subject, body, provider_ref,"
    " delivery, attempts, next_try_at, sent_at, created_at, updated_at"
)

NAIVE_NO_SHOWS = (
    "SELECT month, sum(reminded), sum(reminded AND missed), sum(NOT reminded),"
    " sum(NOT reminded AND missed) FROM ("
    " SELECT substr(a.start_at, 1, 7) AS month, a.status = 'noshow' AS missed,"
    "  count(o.id) > 0 AS reminded FROM appointment a LEFT JOIN outbox o"
    "  ON o.subject_id = a.id AND o.subject_kind = 'appointment' AND o.state = 'sent'"
    "  AND o.sent_at < a.start_at"
    " WHERE a.status IN ('fulfilled', 'arrived', 'noshow') AND a.start_at >= :lo"
    " AND a.start_at < :hi AND (:provider IS NULL OR a.provider_id = :provider)"
    " GROUP BY a.id) GROUP BY month ORDER BY month"
)
NAIVE_CONFIRMATIONS = (
    "SELECT substr(a.start_at, 1, 7) AS month, sum(r.n), count(r.n),"
    " sum(r.n IS NOT NULL AND EXISTS (SELECT 1 FROM appointment_status h"
    "  WHERE h.appointment_id = a.id AND h.status = 'confirmed' AND h.note = :note)) "
    "FROM appointment a LEFT JOIN (SELECT o.subject_id AS id, count(*) AS n"
    " FROM outbox o JOIN appointment a2 ON a2.id = o.subject_id"
    " WHERE o.subject_kind = 'appointment' AND o.state = 'sent' AND o.sent_at < a2.start_at"
    " GROUP BY o.subject_id) r ON r.id = a.id "
    "WHERE a.start_at >= :lo AND a.start_at < :hi"
    " AND (:provider IS NULL OR a.provider_id = :provider) "
    "GROUP BY month ORDER BY month"
)
NAIVE_NPS = (
    "SELECT substr(answered_at, 1, 7) AS month, sum(score >= 9), sum(score IN (7, 8)),"
    " sum(score <= 6) FROM survey_response WHERE answered_at >= :lo AND answered_at < :hi"
    " AND (:provider IS NULL OR provider_id = :provider) GROUP BY month ORDER BY month"
)
NAIVE_REACTIVATION = (
    "SELECT f.rule_id, count(*), sum(EXISTS (SELECT 1 FROM appointment a"
    " WHERE a.patient_id = f.patient_id AND a.created_at > f.first"
    " AND a.created_at <= strftime('%Y-%m-%dT%H:%M:%SZ', f.first, '+60 days'))) "
    "FROM (SELECT rule_id, patient_id, min(sent_at) AS first FROM outbox"
    " WHERE subject_kind = 'reactivation' AND state = 'sent' AND sent_at IS NOT NULL"
    " GROUP BY rule_id, patient_id) f WHERE f.first >= :lo AND f.first < :hi GROUP BY f.rule_id"
)
NAIVE_MESSAGES = (
    "SELECT substr(coalesce(sent_at, updated_at), 1, 7) AS month, channel,"
    " sum(state = 'sent'), sum(state = 'failed') FROM outbox"
    " WHERE state IN ('sent', 'failed') AND coalesce(sent_at, updated_at) >= :lo"
    " AND coalesce(sent_at, updated_at) < :hi GROUP BY month, channel"
)


def _slowest(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return max(times), result


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _outbox_row(n: int, patient: str, kind: str, subject: str, due: datetime, **more: Any) -> tuple:
    state = more.get("state", "sent")
    sent = more.get("sent_at")
    channel = more.get("channel", "sms")
    stamp = _utc(due)
    finished = _utc(sent) if sent else _utc(due + timedelta(minutes=30))
    return (
        f"m{n}",
        f"k{n}",
        f"rule-{kind}",
        more.get("touch", 0),
        "appointment" if kind == "appointment" else "recall",
        patient,
        kind,
        subject,
        stamp[:10],
        stamp,
        _utc(due + timedelta(days=2)),
        state,
        "",
        channel,
        "",
        "",
        "",
        "",
        "",
        1,
        None,
        _utc(sent) if sent else None,
        stamp,
        finished,
    )


def _shadow_tables(conn: Any, note: str) -> int:
    """Outbox, status history and survey answers in TEMP tables (see the docstring)."""
    rng = random.Random(SEED)
    conn.execute("CREATE TEMP TABLE outbox AS SELECT * FROM main.outbox WHERE 0")
    conn.execute("CREATE TEMP TABLE appointment_status AS SELECT * FROM main.appointment_status")
    conn.execute("CREATE TEMP TABLE survey_response AS SELECT * FROM main.survey_response WHERE 0")
    visits = conn.execute(
        "SELECT id, patient_id, provider_id, start_at, status FROM appointment"
        " WHERE start_at >= ? ORDER BY start_at",
        (_REMINDERS_SINCE,),
    ).fetchall()
    rows, confirmed, answers = [], [], []
    n = 0
    for visit_id, patient, provider, start_at, status in visits:
        start = _parse(start_at)
        if rng.random() < 0.7:
            channel = rng.choice(("sms", "sms", "sms", "email"))
            failed = rng.random() < 0.03
            sent_at = start - timedelta(hours=rng.randint(20, 30))
            due = sent_at - timedelta(minutes=rng.randint(0, 90))
            rows.append(
                _outbox_row(
                    n,
                    patient,
                    "appointment",
                    visit_id,
                    due,
                    channel=channel,
                    state="failed" if failed else "sent",
                    sent_at=None if failed else sent_at,
                )
            )
            n += 1
            if not failed and rng.random() < 0.15:  # a second touch a week before
                week = sent_at - timedelta(days=7)
                rows.append(
                    _outbox_row(n, patient, "appointment", visit_id, week, touch=1, sent_at=week)
                )
                n += 1
            if not failed and channel == "sms" and rng.random() < 0.35:
                confirmed.append((f"c{n}", visit_id, "confirmed", _utc(sent_at), note))
        if status == "fulfilled" and rng.random() < 0.3:
            score = rng.choices(range(11), weights=(1, 1, 1, 1, 1, 2, 3, 6, 10, 18, 22))[0]
            answered = _utc(start + timedelta(hours=rng.randint(3, 48)))
            answers.append((f"s{n}-{len(answers)}", patient, visit_id, provider, score, answered))
    patients = [r[0] for r in conn.execute("SELECT id FROM patient ORDER BY rowid")]
    kinds = ("recall", "balance", "birthday", "survey", "education", "reactivation")
    lapsed = rng.sample(patients, 30_000)  # reactivation goes to patients who stayed away
    start = datetime(2020, 1, 1)
    for _ in range(_OTHER_MESSAGES):
        due = start + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
        if due >= datetime(2025, 1, 15):
            due -= timedelta(days=365)
        state = rng.choices(("sent", "failed", "skipped", "cancelled"), weights=(90, 3, 5, 2))[0]
        channel = rng.choices(("sms", "email", "letter"), weights=(60, 30, 10))[0]
        if state == "failed" and rng.random() < 0.3:
            channel = ""
        sent_at = due + timedelta(minutes=rng.randint(0, 600)) if state == "sent" else None
        if channel == "letter" and sent_at is not None:
            sent_at += timedelta(days=rng.randint(0, 5))  # printed later
        kind = rng.choice(kinds)
        rows.append(
            _outbox_row(
                n,
                rng.choice(lapsed if kind == "reactivation" else patients),
                kind,
                "",
                due,
                channel=channel,
                state=state,
                sent_at=sent_at,
            )
        )
        n += 1
    conn.executemany(
        f"INSERT INTO temp.outbox ({_OUTBOX_COLUMNS}) VALUES ({','.join('?' * 24)})", rows
    )
    _copy_indexes(conn, "outbox")
    conn.executemany(
        "INSERT INTO temp.appointment_status (id, appointment_id, status, changed_at, note)"
        " VALUES (?, ?, ?, ?, ?)",
        confirmed,
    )
    _copy_indexes(conn, "appointment_status")
    conn.executemany(
        "INSERT INTO temp.survey_response (id, patient_id, appointment_id, provider_id, score,"
        " comment, channel, answered_at, created_at) VALUES (?, ?, ?, ?, ?, '', 'sms', ?, ?)",
        [(*a, a[5]) for a in answers],
    )
    _copy_indexes(conn, "survey_response")
    log(f"reports: {len(rows):,} messages, {len(confirmed):,} replies, {len(answers):,} answers")
    return len(rows)


def _copy_indexes(conn: Any, table: str) -> None:
    """The real table's indexes on its TEMP shadow, read from the schema itself, so the
    bench measures the indexes a clinic has (a hand-kept copy fell behind schema 7)."""
    for (sql,) in conn.execute(
        "SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (table,),
    ).fetchall():
        conn.execute(
            str(sql)
            .replace("CREATE INDEX ", "CREATE INDEX temp.", 1)
            .replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX temp.", 1)
        )


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.reminders.replies import CONFIRM_NOTE
    from app.reports import attendance, growth, messages, satisfaction
    from app.reports.filters import ReportFilters
    from tests.bench.bench_growth import NAIVE_NEW

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    conn = clinic.conn
    try:
        if clinic.settings.timezone != "UTC":
            raise RuntimeError("the baselines assume the bench clinic keeps UTC months")
        started = time.perf_counter()
        messages_made = _shadow_tables(conn, CONFIRM_NOTE)
        log(f"reports: shadow tables made in {time.perf_counter() - started:.1f} s")
        provider = conn.execute(
            "SELECT provider_id FROM appointment WHERE provider_id IS NOT NULL"
            " GROUP BY provider_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        everyone = ReportFilters(FIRST, LAST)
        one = ReportFilters(FIRST, LAST, provider)

        def params(filters: ReportFilters) -> dict[str, Any]:
            return {
                "lo": f"{filters.first.isoformat()}T00:00:00Z",
                "hi": f"{(filters.last + timedelta(days=1)).isoformat()}T00:00:00Z",
                "provider": filters.provider_id,
                "note": CONFIRM_NOTE,
                "first": filters.first.isoformat()[:7],
                "last": filters.last.isoformat()[:7],
            }

        def compare(
            name: str,
            unit: str,
            mine: Callable[[], Any],
            naive_sql: str,
            filters: ReportFilters,
            shape: Callable[[Any], Any],
        ) -> None:
            mine()  # warm the page cache the same way for both
            conn.execute(naive_sql, params(filters)).fetchall()
            log(f"reports: {name}")
            took, rows = _slowest(mine)
            naive_took, naive = _slowest(
                lambda: conn.execute(naive_sql, params(filters)).fetchall()
            )
            if shape(rows) != {r[0]: tuple(r[1:]) for r in naive}:
                raise AssertionError(f"{name}: the report differs from the plain SQL")
            emit(name, took, unit, naive_took)

        def no_show_shape(rows: list[attendance.NoShowMonth]) -> dict[str, tuple[int, ...]]:
            return {
                r.month: (r.reminded, r.reminded_noshows, r.not_reminded, r.not_reminded_noshows)
                for r in rows
                if r.reminded + r.not_reminded
            }

        def confirmation_shape(rows: list[attendance.ConfirmationMonth]) -> dict[str, Any]:
            return {
                r.month: (r.reminders_sent or None, r.visits_reminded, r.confirmed_by_reply)
                for r in rows
            }

        def nps_shape(rows: list[satisfaction.NpsMonth]) -> dict[str, tuple[int, ...]]:
            return {r.month: (r.promoters, r.passives, r.detractors) for r in rows if r.answers}

        year = ReportFilters(date(2024, 2, 1), LAST)  # the page's default: the last 12 months
        ranges = (
            ("24 months, all providers", everyone, ""),
            ("24 months, one provider", one, "_one_provider"),
            ("12 months, all providers", year, "_12_months"),
        )
        for label, filters, suffix in ranges:
            visits = conn.execute(
                "SELECT count(*) FROM appointment WHERE start_at >= :lo AND start_at < :hi"
                " AND (:provider IS NULL OR provider_id = :provider)",
                params(filters),
            ).fetchone()[0]
            compare(
                f"reports_no_shows{suffix}_s",
                f"s ({label}, {visits:,} visits; baseline: left join of reminders)",
                lambda f=filters: attendance.no_shows(clinic, f),
                NAIVE_NO_SHOWS,
                filters,
                no_show_shape,
            )
            compare(
                f"reports_confirmations{suffix}_s",
                f"s ({label}; baseline: grouped reminders joined, EXISTS per visit)",
                lambda f=filters: attendance.confirmations(clinic, f),
                NAIVE_CONFIRMATIONS,
                filters,
                confirmation_shape,
            )
            compare(
                f"reports_nps{suffix}_s",
                f"s ({label}; baseline: substr months)",
                lambda f=filters: satisfaction.nps_by_month(clinic, f),
                NAIVE_NPS,
                filters,
                nps_shape,
            )

        mine_new = lambda: growth.new_patients(clinic, everyone)  # noqa: E731
        mine_new()
        log("reports: new patients by source")
        took, rows = _slowest(mine_new)
        naive_took, naive = _slowest(lambda: conn.execute(NAIVE_NEW, params(everyone)).fetchall())
        if {(r.month, r.source): r.count for r in rows} != {(m, s): c for m, s, c in naive}:
            raise AssertionError("new patients by source differ from the plain SQL")
        emit(
            "reports_new_patients_by_source_s",
            took,
            "s (24 months; baseline: correlated min per patient)",
            naive_took,
        )

        from app.reports import reactivation

        mine_back = lambda: reactivation.rates(clinic, everyone)  # noqa: E731
        mine_back()
        log("reports: reactivation by campaign")
        took, rows = _slowest(mine_back)
        naive_took, naive = _slowest(
            lambda: conn.execute(NAIVE_REACTIVATION, params(everyone)).fetchall()
        )
        if {r.rule_id: (r.reached, r.reactivated) for r in rows if r.reached} != {
            rule: (n, back) for rule, n, back in naive
        }:
            raise AssertionError("reactivation differs from the plain SQL")
        emit(
            "reports_reactivation_by_campaign_s",
            took,
            f"s (24 months, {sum(r.reached for r in rows):,} patients reached; "
            "baseline: grouped first messages, EXISTS per patient)",
            naive_took,
        )

        mine_messages = lambda: messages.message_volume(clinic, everyone)  # noqa: E731
        mine_messages()
        log("reports: messages by channel")
        took, rows = _slowest(mine_messages)
        naive_took, naive = _slowest(
            lambda: conn.execute(NAIVE_MESSAGES, params(everyone)).fetchall()
        )
        if {(r.month, r.channel): (r.sent, r.failed) for r in rows} != {
            (m, c): (s, f) for m, c, s, f in naive
        }:
            raise AssertionError("messages by channel differ from the plain SQL")
        emit(
            "reports_messages_by_channel_s",
            took,
            f"s (24 months of {messages_made:,} messages; baseline: scan of sent and failed)",
            naive_took,
        )
    finally:
        clinic.close()
