"""The demo clinic's engagement history (app/demo/engagement.py): what reports and campaigns
show on a demo, checked against plain SQL over the rows the generator wrote."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.clinic import Clinic, create_clinic
from app.demo.generator import generate
from app.growth.acquisition import LEAD_STATUSES, pipeline_counts, sources
from app.reminders.outbox import idem_key, message_id_for_key
from app.reminders.replies import CONFIRM_NOTE
from tests.conftest import PASSPHRASE

TODAY = date(2026, 11, 3)
NOW = "2026-11-03T16:30:00Z"  # 10:30 in Chicago, the generator's reference moment
YEAR_AGO = "2025-11-03T16:30:00Z"
TWO_YEARS_AGO = "2024-11-03T16:30:00Z"


@pytest.fixture
def demo(clinic: Clinic) -> Clinic:
    generate(clinic, 600, seed=11, today=TODAY, engagement=True)
    return clinic


def rows(clinic: Clinic, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return clinic.conn.execute(sql, params).fetchall()


def one(clinic: Clinic, sql: str, *params: Any) -> Any:
    return clinic.conn.execute(sql, params).fetchone()[0]


def test_most_visits_of_the_last_two_years_had_a_reminder_sent_before_them(
    demo: Clinic,
) -> None:
    past = one(
        demo,
        "SELECT count(*) FROM appointment WHERE end_at < ? AND start_at >= ? "
        "AND status IN ('fulfilled', 'noshow', 'cancelled')",
        NOW,
        TWO_YEARS_AGO,
    )
    reminded = one(
        demo,
        "SELECT count(*) FROM appointment a WHERE a.end_at < ? AND a.start_at >= ? "
        "AND a.status IN ('fulfilled', 'noshow', 'cancelled') AND EXISTS (SELECT 1 FROM outbox o"
        " WHERE o.subject_kind = 'appointment' AND o.subject_id = a.id AND o.state = 'sent')",
        NOW,
        TWO_YEARS_AGO,
    )
    assert past > 300
    assert reminded / past > 0.6
    # The clinic began sending reminders two years ago.
    assert (
        one(
            demo,
            "SELECT count(*) FROM outbox o JOIN appointment a ON a.id = o.subject_id"
            " WHERE a.start_at < ?",
            TWO_YEARS_AGO,
        )
        == 0
    )


def test_sent_reminders_are_well_formed_outbox_rows(demo: Clinic) -> None:
    found = rows(
        demo,
        "SELECT o.id, o.idem_key, o.rule_id, o.subject_id, o.occurrence, o.channel, o.recipient,"
        " o.sent_at, a.start_at, a.patient_id = o.patient_id, a.created_at FROM outbox o"
        " JOIN appointment a ON a.id = o.subject_id WHERE o.subject_kind = 'appointment'",
    )
    total = one(demo, "SELECT count(*) FROM outbox WHERE subject_kind = 'appointment'")
    assert found and len(found) == total
    for mid, idem, rule, visit, occurrence, channel, recipient, sent, start, same, booked in found:
        assert idem == idem_key(rule, 1, visit, occurrence) and mid == message_id_for_key(idem)
        assert channel in ("sms", "email") and recipient
        assert booked < sent < start and same
    assert one(demo, "SELECT count(*) FROM outbox WHERE state != 'sent'") == 0


def test_fewer_no_shows_among_reminded_visits(demo: Clinic) -> None:
    by_reminded = dict(
        rows(
            demo,
            "SELECT EXISTS (SELECT 1 FROM outbox o WHERE o.subject_id = a.id) AS reminded,"
            " avg(a.status = 'noshow') FROM appointment a"
            " WHERE a.end_at < ? AND a.status IN ('fulfilled', 'noshow') GROUP BY reminded",
            NOW,
        )
    )
    assert by_reminded[1] < by_reminded[0]


def test_some_visits_were_confirmed_by_a_texted_reply(demo: Clinic) -> None:
    confirmed = rows(
        demo,
        "SELECT s.appointment_id, s.changed_at, i.received_at FROM appointment_status s"
        " JOIN outbox o ON o.subject_id = s.appointment_id"
        " JOIN inbound_message i ON i.outbox_id = o.id"
        " WHERE s.status = 'confirmed' AND s.note = ?",
        CONFIRM_NOTE,
    )
    assert len(confirmed) > 20
    assert all(changed == received for _, changed, received in confirmed)
    assert one(demo, "SELECT count(*) FROM inbound_message WHERE meaning != 'confirm'") == 0


def test_about_a_third_of_last_years_visits_have_a_survey_answer(demo: Clinic) -> None:
    visits = one(
        demo,
        "SELECT count(*) FROM appointment WHERE status = 'fulfilled' AND start_at >= ? "
        "AND start_at < ?",
        YEAR_AGO,
        NOW,
    )
    answers = one(demo, "SELECT count(*) FROM survey_response")
    assert 0.2 < answers / visits < 0.4
    mean = one(demo, "SELECT avg(score) FROM survey_response")
    promoters = one(demo, "SELECT avg(score >= 9) FROM survey_response")
    assert mean > 7.5 and promoters > 0.5
    assert {r[0] for r in rows(demo, "SELECT DISTINCT channel FROM survey_response")} == {
        "sms",
        "kiosk",
    }
    assert one(demo, "SELECT count(*) FROM survey_response WHERE comment != ''") > 10
    # Kiosk answers are anonymous; texted ones name their visit and its patient.
    assert (
        one(
            demo,
            "SELECT count(*) FROM survey_response r JOIN appointment a ON a.id = r.appointment_id"
            " WHERE r.channel = 'sms' AND (a.patient_id != r.patient_id OR a.status != 'fulfilled'"
            " OR a.provider_id != r.provider_id)",
        )
        == 0
    )
    assert (
        one(demo, "SELECT count(*) FROM survey_response WHERE channel = 'kiosk' AND patient_id")
        == 0
    )


def test_enquiries_stand_in_every_stage_with_their_history(demo: Clinic) -> None:
    counts = pipeline_counts(demo)
    assert all(counts[status] >= 1 for status in LEAD_STATUSES), counts
    keys = {s.key for s in sources(demo)}
    assert {r[0] for r in rows(demo, "SELECT DISTINCT source FROM lead")} <= keys
    last_steps = rows(
        demo,
        "SELECT l.status, (SELECT h.status FROM lead_status h WHERE h.lead_id = l.id"
        " ORDER BY h.changed_at DESC, h.rowid DESC LIMIT 1) FROM lead l",
    )
    assert all(status == last for status, last in last_steps)


def test_a_year_of_spend_on_the_paid_channels(demo: Clinic) -> None:
    months = [r[0] for r in rows(demo, "SELECT DISTINCT month FROM channel_spend ORDER BY month")]
    assert len(months) == 12 and months[-1] == "2026-11" and months[0] == "2025-12"
    assert one(demo, "SELECT min(amount_cents) FROM channel_spend") > 0


def test_without_the_flag_the_demo_has_no_engagement_history(clinic: Clinic) -> None:
    generate(clinic, 100, seed=11, today=TODAY)
    for table in ("outbox", "inbound_message", "survey_response", "lead", "channel_spend"):
        assert one(clinic, f"SELECT count(*) FROM {table}") == 0, table


@pytest.fixture
def second_clinic(tmp_path: Path) -> Iterator[Clinic]:
    created = create_clinic(
        "Second Practice", PASSPHRASE, tmp_path / "b", timezone="America/Chicago", use_keyring=False
    )
    yield created.clinic
    created.clinic.close()


def test_the_engagement_history_is_the_same_for_the_same_seed(
    clinic: Clinic, second_clinic: Clinic
) -> None:
    generate(clinic, 200, seed=3, today=TODAY, engagement=True)
    generate(second_clinic, 200, seed=3, today=TODAY, engagement=True)
    for table in ("outbox", "survey_response", "lead", "lead_status", "channel_spend"):
        sql = f"SELECT * FROM {table} ORDER BY id"
        first = rows(clinic, sql)
        assert first and first == rows(second_clinic, sql), table
