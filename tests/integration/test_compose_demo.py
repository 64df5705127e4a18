"""Send-time decisions over the demo clinic's real mix of patients, visits and consents."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.reminders import outbox
from app.reminders.compose import decide
from app.reminders.rules import install_default_rules
from app.reminders.settings import load_settings
from app.store.writer import utc_now, utc_text


def test_every_visit_of_the_coming_days_gets_drafts_or_a_plain_reason(
    demo_clinic: Clinic,
) -> None:
    clinic = demo_clinic
    clinic.update_settings(phone="(612) 555-0100")  # the default texts give it to call back
    zone = ZoneInfo(clinic.settings.timezone)
    rule = next(r for r in install_default_rules(clinic) if r.kind == "appointment")
    morning_of = 2  # the default rule's third touch: a text at 8:00 on the day
    today = datetime.now(UTC).astimezone(zone).date()
    visits = clinic.conn.execute(
        "SELECT id, patient_id, start_at FROM appointment WHERE status IN ('booked', 'confirmed') "
        "AND start_at >= ? ORDER BY start_at LIMIT 120",
        (utc_text(datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)),),
    ).fetchall()
    assert len(visits) > 20
    rows = []
    for visit_id, patient_id, start_at in visits:
        day = datetime.fromisoformat(start_at).astimezone(zone).date()
        due = datetime.combine(day, time(8, 0), tzinfo=zone)
        rows.append(
            outbox.new_row(
                idem=outbox.idem_key(rule.id, morning_of, visit_id, day.isoformat()),
                rule_id=rule.id,
                touch=morning_of,
                purpose=rule.effective_purpose,
                patient_id=patient_id,
                subject_kind="appointment",
                subject_id=visit_id,
                occurrence=day.isoformat(),
                due_at=utc_text(due),
                stale_at=utc_text(due + timedelta(hours=rule.window_hours)),
                now=utc_now(),
            )
        )
    with clinic.store.write() as tx:
        tx.insert_many("outbox", rows)
    settings = load_settings(clinic)
    outcomes: Counter[str] = Counter()
    for row in rows:
        message = outbox.get_message(clinic, str(row["id"]))
        now = datetime.fromisoformat(message.due_at)
        decision = decide(clinic, message, rule, now=now, settings=settings)
        conditions = {
            str(r[0]).lower()
            for r in clinic.conn.execute(
                "SELECT display FROM condition WHERE patient_id = ?", (message.patient_id,)
            )
        }
        if decision.drafts:
            outcomes["sent"] += 1
            text = decision.drafts[0]
            assert text.channel == "sms" and text.recipient.startswith("+")
            assert "{{" not in text.body and not any(c in text.body.lower() for c in conditions)
        else:
            assert decision.skip and decision.wait_until is None
            outcomes[decision.skip.split(":")[0]] += 1
    # Most demo patients have a mobile and said nothing against texts; some have not.
    assert outcomes["sent"] > len(rows) // 2
    assert set(outcomes) <= {
        "sent",
        "No way to reach the patient",
        "The visit already took place",
        "The patient is deceased",
        "The patient asked not to be contacted",
    }
