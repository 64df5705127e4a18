"""Reminders on a 100,000-patient clinic (about 320,000 visits): planning, later sending.

Planning: a copy of the cached demo clinic (the shared one stays unplanned) with the
default rules, the clinic in Chicago, "now" 07:00 on the demo's day. Figures:

* plan one day: the first plan() with a one-day horizon, which inserts that day's
  messages (and those still within their window) with their history;
* plan again: the same call a minute later, when everything is planned already (what
  the scheduler pays every few minutes).

Baseline, in the same run on the same clinic: the first version anyone would write, a
loop over the patients with a few indexed queries each (visits, last visit, charges,
payments, existing keys) choosing the same messages. The run checks that both choose
the same set, so the comparison is of like with like.

Helper functions, one per figure, are called from `run` in order; sending figures
belong below the planning ones.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.bench._common import BENCH_DATA, PASSPHRASE, TODAY, demo_clinic, no_keyring
from tests.bench._report import Emit, log

PATIENTS = 100_000
SEED = 1
ZONE = "America/Chicago"
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 7, tzinfo=ZoneInfo(ZONE))
HORIZON = timedelta(days=1)
WORK = BENCH_DATA / "reminders-planning"


def _seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _counts(report: Any) -> str:
    """A PlanReport's counts (its Changes would list every patient id)."""
    return (
        f"planned {report.planned}, made due {report.made_due}, retimed {report.retimed}, "
        f"cancelled {report.cancelled}, stale {report.stale}"
    )


def _copy_clinic(source: Path) -> Path:
    """A throw-away copy: planning writes outbox rows the other groups must not see."""
    if WORK.exists():
        shutil.rmtree(WORK)
    shutil.copytree(source, WORK)
    # The 2 GB just written is still being flushed; the planner's first commit (fsync)
    # would wait for all of it and measure the disk, not the planner.
    os.sync()
    return WORK


# --- the baseline: one patient at a time -----------------------------------------------------


def naive_wanted_keys(clinic: Any, now: datetime, horizon: timedelta) -> set[str]:
    """The keys of the messages the active rules want, chosen patient by patient with a
    handful of queries each: what a first version would do."""
    from app.reminders.outbox import idem_key
    from app.reminders.planning_times import (
        add_months,
        birthday_in,
        local_day,
        parse_utc,
        touch_moment,
    )
    from app.reminders.rules import load_rules

    zone = ZoneInfo(clinic.settings.timezone)
    conn = clinic.conn
    until = now + horizon
    now_text = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rules = load_rules(clinic, active_only=True)
    keys: set[str] = set()

    def wants(rule: Any, touch: int, anchor: date, cap: datetime | None = None) -> bool:
        step = rule.touches[touch]
        due = touch_moment(anchor + timedelta(days=step.days), step.at, zone)
        stale = due + timedelta(hours=rule.window_hours)
        stale = stale if cap is None else min(stale, cap)
        return bool(due <= until and due < stale and stale > now)

    patients = conn.execute(
        "SELECT id, birth_date FROM patient WHERE deceased = 0 AND do_not_contact = 0 "
        "AND merged_into IS NULL"
    ).fetchall()
    for patient_id, birth_date in patients:
        visits = conn.execute(
            "SELECT id, start_at, status, kind, provider_id, location_id FROM appointment "
            "WHERE patient_id = ? ORDER BY start_at",
            (patient_id,),
        ).fetchall()
        booked = conn.execute(
            "SELECT 1 FROM appointment WHERE patient_id = ? AND status IN ('booked', 'confirmed') "
            "AND start_at >= ? LIMIT 1",
            (patient_id, now_text),
        ).fetchone()
        for rule in rules:
            if rule.kind in ("appointment", "no_show"):
                wanted_status = (
                    ("booked", "confirmed") if rule.kind == "appointment" else ("noshow",)
                )
                if rule.kind == "no_show" and booked:
                    continue
                for visit_id, start_at, status, kind, provider, location in visits:
                    if start_at is None or status not in wanted_status:
                        continue
                    if rule.appointment_kinds and kind not in rule.appointment_kinds:
                        continue
                    if rule.provider_ids and provider not in rule.provider_ids:
                        continue
                    if rule.location_ids and location not in rule.location_ids:
                        continue
                    start = parse_utc(start_at)
                    day = local_day(start, zone)
                    cap = start if rule.kind == "appointment" else None
                    for touch in range(len(rule.touches)):
                        if wants(rule, touch, day, cap):
                            keys.add(idem_key(rule.id, touch, visit_id, day.isoformat()))
            elif rule.kind == "recall":
                if booked:
                    continue
                last = conn.execute(
                    "SELECT max(start_at) FROM appointment WHERE patient_id = ? "
                    "AND status = 'fulfilled'",
                    (patient_id,),
                ).fetchone()[0]
                if last is None:
                    continue
                due_day = add_months(local_day(parse_utc(last), zone), rule.recall_months)
                for touch in range(len(rule.touches)):
                    if wants(rule, touch, due_day):
                        keys.add(idem_key(rule.id, touch, patient_id, due_day.isoformat()))
            elif rule.kind == "billing":
                charges = conn.execute(
                    "SELECT posted_at, amount_cents FROM charge WHERE patient_id = ? "
                    "ORDER BY posted_at, id",
                    (patient_id,),
                ).fetchall()
                if not charges:
                    continue
                paid = conn.execute(
                    "SELECT coalesce(sum(amount_cents), 0) FROM payment WHERE patient_id = ?",
                    (patient_id,),
                ).fetchone()[0]
                if sum(c for _, c in charges) - paid < rule.min_balance_cents:
                    continue
                running, anchor_text = 0, None
                for posted_at, cents in charges:
                    running += cents
                    if running > paid:
                        anchor_text = posted_at
                        break
                if anchor_text is None:
                    continue
                anchor = local_day(parse_utc(anchor_text), zone)
                for touch in range(len(rule.touches)):
                    if wants(rule, touch, anchor):
                        keys.add(idem_key(rule.id, touch, patient_id, anchor.isoformat()))
            elif rule.kind == "birthday":
                if not birth_date or len(birth_date) != 10:
                    continue
                born = date.fromisoformat(birth_date)
                for year in (now.year - 1, now.year, now.year + 1):
                    if year <= born.year:
                        continue
                    day = birthday_in(year, born)
                    for touch in range(len(rule.touches)):
                        if wants(rule, touch, day):
                            keys.add(idem_key(rule.id, touch, patient_id, str(year)))
    # The first version would also ask, message by message, whether it exists already.
    for key in keys:
        conn.execute("SELECT 1 FROM outbox WHERE idem_key = ?", (key,)).fetchone()
    return keys


# --- planning figures ---------------------------------------------------------------------


@dataclass
class PlanningRun:
    """The clinic being planned and the baseline measured on it, shared by the figures."""

    clinic: Any
    baseline_s: float = 0.0
    naive_keys: set[str] = field(default_factory=set)


def planning_baseline(run: PlanningRun) -> None:
    log("reminders: baseline, the per-patient loop")
    run.baseline_s, run.naive_keys = _seconds(lambda: naive_wanted_keys(run.clinic, NOW, HORIZON))
    log(f"reminders: baseline chose {len(run.naive_keys):,} messages in {run.baseline_s:.2f} s")


def plan_one_day(run: PlanningRun, emit: Emit) -> None:
    from app.reminders.planner import plan
    from app.reminders.rules import ENGAGEMENT_KINDS

    conn = run.clinic.conn
    # The demo clinic has a history of sent messages; what this run plans comes after it.
    history = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM outbox").fetchone()[0])
    log("reminders: plan() for one day, first run")
    seconds, report = _seconds(lambda: plan(run.clinic, now=NOW, horizon=HORIZON))
    log(f"reminders: {_counts(report)}")
    new = conn.execute(
        "SELECT o.idem_key, r.kind FROM outbox o JOIN reminder_rule r ON r.id = o.rule_id "
        "WHERE o.rowid > ?",
        (history,),
    ).fetchall()
    # The baseline knows the five reminder kinds; the default rules also hold the
    # satisfaction survey and the review request, planned in the same pass (and timed).
    planned = {str(k).split("#")[0] for k, kind in new if kind not in ENGAGEMENT_KINDS}
    engagement = sum(1 for _k, kind in new if kind in ENGAGEMENT_KINDS)
    log(f"reminders: of which {engagement:,} surveys and review requests")
    naive = run.naive_keys
    if planned != naive:
        raise AssertionError(
            f"planner and baseline disagree: {len(planned - naive)} only planned, "
            f"{len(naive - planned)} only in the baseline"
        )
    emit(
        "reminders_plan_one_day_s",
        seconds,
        f"s (100k patients, 320k visits, default rules, {report.planned:,} new messages "
        f"incl. {engagement:,} surveys; "
        "baseline: a query loop per patient choosing the same ones)",
        run.baseline_s,
    )


def plan_again(run: PlanningRun, emit: Emit) -> None:
    from app.reminders.planner import plan

    log("reminders: plan() again a minute later, nothing new")
    seconds, report = _seconds(
        lambda: plan(run.clinic, now=NOW + timedelta(minutes=1), horizon=HORIZON)
    )
    log(f"reminders: {_counts(report)}")
    emit(
        "reminders_plan_again_s",
        seconds,
        "s (everything planned already: the scheduler's every pass; baseline: the query loop)",
        run.baseline_s,
    )


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.reminders.rules import install_default_rules

    no_keyring()
    home = _copy_clinic(demo_clinic(PATIENTS, SEED))
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    try:
        clinic.update_settings(timezone=ZONE)
        install_default_rules(clinic)
        planning = PlanningRun(clinic)
        planning_baseline(planning)
        plan_one_day(planning, emit)
        plan_again(planning, emit)
    finally:
        clinic.close()
        shutil.rmtree(WORK, ignore_errors=True)
    send_due_rate(emit)


# --- sending figures ----------------------------------------------------------------------


def send_due_rate(emit: Emit) -> None:
    """Messages a second through send_due on loopback servers, against the raw channel
    calls (its own small clinic; see tests/bench/_sending.py)."""
    from tests.bench._sending import sending_figures

    sending_figures(emit)
