"""`audit verify` (app.audit.verify): an intact log passes, each kind of tampering is named."""

from __future__ import annotations

import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from app.audit import actions, verify
from app.audit.anchor import anchor_path
from app.audit.log import head, record
from app.clinic import Clinic

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def logged(clinic: Clinic, dana: str) -> Clinic:
    """A log of a dozen entries: views, prints, a sign-in."""
    for i in range(10):
        record(clinic, actions.PATIENT_VIEW, patient_id=f"patient-{i}")
    record(clinic, actions.PRINT, detail={"letters": 4})
    record(clinic, actions.SIGN_IN)
    return clinic


def tamper(clinic: Clinic, sql: str, *params: object) -> None:
    """What a person with the key and a SQLite shell could do: drop the guards, then edit."""
    clinic.conn.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
    clinic.conn.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    clinic.conn.execute(sql, params)


def last_seq(clinic: Clinic) -> int:
    return head(clinic.conn).seq


def test_an_untouched_log_is_intact(logged: Clinic):
    report = verify.verify_clinic(logged)
    assert report.intact and report.entries == last_seq(logged)
    assert verify.describe(report, CHICAGO).startswith(
        f"The audit log is intact: {report.entries:,} entries, newest 20"
    )


def test_the_append_only_guards_refuse_an_edit(logged: Clinic):
    with pytest.raises(Exception, match="append-only"):
        logged.conn.execute("DELETE FROM audit_event WHERE seq = 3")


def test_a_flipped_byte_in_an_entry_is_named(logged: Clinic):
    target = last_seq(logged) - 4
    body = bytearray(
        logged.conn.execute("SELECT body FROM audit_event WHERE seq = ?", (target,)).fetchone()[0]
    )
    body[-30] ^= 0x01
    tamper(logged, "UPDATE audit_event SET body = ? WHERE seq = ?", bytes(body), target)

    link = verify.verify_clinic(logged).first_broken
    assert link is not None
    assert (link.seq, link.what, link.action, link.user_name) == (
        target,
        verify.CHANGED,
        "patient.view",
        "Dana Reyes",
    )
    text = verify.describe(verify.verify_clinic(logged), CHICAGO)
    assert f"entry {target:,} (" in text and "patient opened by Dana Reyes" in text


def test_a_deleted_middle_entry_is_named_as_a_gap(logged: Clinic):
    target = last_seq(logged) - 5
    tamper(logged, "DELETE FROM audit_event WHERE seq = ?", target)

    link = verify.verify_clinic(logged).first_broken
    assert link is not None and (link.seq, link.what) == (target, verify.GAP)


def test_deleting_the_newest_entries_is_caught_by_the_head_kept_outside(logged: Clinic):
    newest = last_seq(logged)
    tamper(logged, "DELETE FROM audit_event WHERE seq >= ?", newest - 1)

    report = verify.verify_clinic(logged)
    assert report.first_broken is not None
    assert (report.first_broken.seq, report.first_broken.what, report.first_broken.through_seq) == (
        newest - 1,
        verify.REMOVED_FROM_END,
        newest,
    )
    # The chain alone cannot see it: what remains is a valid chain.
    assert verify.verify(logged.conn, logged.clinic_id, None).intact


def test_a_column_changed_without_its_entry_is_named(logged: Clinic):
    target = last_seq(logged) - 2
    tamper(logged, "UPDATE audit_event SET user_id = 'someone-else' WHERE seq = ?", target)

    for deep in (False, True):
        link = verify.verify_clinic(logged, deep=deep).first_broken
        assert link is not None
        assert (link.seq, link.what) == (target, verify.COLUMNS_DISAGREE)


def test_each_column_is_compared_with_the_entry(logged: Clinic):
    for column, value in (
        ("action", "print"),
        ("at", "2020-01-01T00:00:00.000Z"),
        ("patient_id", "patient-99"),
        ("workstation", "elsewhere"),
    ):
        target = 3
        original = logged.conn.execute(
            f"SELECT {column} FROM audit_event WHERE seq = ?", (target,)
        ).fetchone()[0]
        tamper(logged, f"UPDATE audit_event SET {column} = ? WHERE seq = ?", value, target)
        link = verify.verify_clinic(logged).first_broken
        assert link is not None and (link.seq, link.what) == (target, verify.COLUMNS_DISAGREE)
        tamper(logged, f"UPDATE audit_event SET {column} = ? WHERE seq = ?", original, target)
    assert verify.verify_clinic(logged).intact


def test_a_forged_entry_with_a_wrong_hash_is_named(logged: Clinic):
    forged = last_seq(logged) + 1
    body = b'{"action":"signin","at":"2026-01-01T00:00:00.000Z"}'
    tamper(
        logged,
        "INSERT INTO audit_event (seq, at, action, body, hash) VALUES (?, ?, 'signin', ?, ?)",
        forged,
        "2026-01-01T00:00:00.000Z",
        body,
        b"\x00" * 32,
    )
    link = verify.verify_clinic(logged).first_broken
    assert link is not None and (link.seq, link.what) == (forged, verify.CHANGED)


def test_a_forged_entry_chained_correctly_is_caught_by_the_sealed_head(logged: Clinic):
    newest = head(logged.conn)
    forged = newest.seq + 1
    fields = {
        "action": "signin",
        "at": "2026-01-01T00:00:00.000Z",
        "detail": {},
        "patient_id": "",
        "seq": forged,
        "target": "",
        "user_id": "",
        "workstation": "x",
    }
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(bytes.fromhex(newest.hash_hex) + body).digest()
    tamper(
        logged,
        "INSERT INTO audit_event (seq, at, workstation, action, body, hash) "
        "VALUES (?, ?, 'x', 'signin', ?, ?)",
        forged,
        fields["at"],
        body,
        digest,
    )
    link = verify.verify_clinic(logged).first_broken
    assert link is not None and (link.seq, link.what) == (forged, verify.ADDED_AFTER_HEAD)


def test_a_whole_chain_recomputed_after_an_edit_differs_from_the_sealed_head(logged: Clinic):
    rows = logged.conn.execute("SELECT seq, body FROM audit_event ORDER BY seq").fetchall()
    clinic_prev = hashlib.sha256(b"frontdesk-audit-v1\x00" + logged.clinic_id.encode()).digest()
    printed = next(seq for seq, body in rows if b'"letters":4' in bytes(body))
    edited = bytes(rows[printed - 1][1]).replace(b'"letters":4', b'"letters":9')
    tamper(logged, "UPDATE audit_event SET body = ? WHERE seq = ?", edited, printed)
    prev = clinic_prev
    for seq, _ in rows:
        body = logged.conn.execute("SELECT body FROM audit_event WHERE seq = ?", (seq,)).fetchone()
        prev = hashlib.sha256(prev + bytes(body[0])).digest()
        tamper(logged, "UPDATE audit_event SET hash = ? WHERE seq = ?", prev, seq)

    report = verify.verify_clinic(logged)
    assert report.first_broken is not None
    assert (report.first_broken.seq, report.first_broken.what) == (len(rows), verify.REWRITTEN)


def test_a_missing_head_file_is_reported(logged: Clinic):
    anchor_path(logged.home).unlink()
    report = verify.verify_clinic(logged)
    assert report.first_broken is None and report.anchor_problem == "missing"
    assert not report.intact
    assert "audit-head" in verify.describe(report, CHICAGO)


def test_writing_after_entries_were_removed_from_the_end_leaves_an_alarm_on_record(
    logged: Clinic,
):
    newest = last_seq(logged)
    tamper(logged, "DELETE FROM audit_event WHERE seq >= ?", newest - 2)

    record(logged, actions.PATIENT_VIEW, patient_id="patient-1")  # the desk goes on working

    alarm, view = logged.conn.execute(
        "SELECT action, body FROM audit_event WHERE seq >= ? ORDER BY seq", (newest - 2,)
    ).fetchall()
    assert (alarm[0], view[0]) == ("audit.alarm", "patient.view")
    assert json.loads(alarm[1])["detail"] == {
        "problem": "removed from the end",
        "sealed_seq": newest,
        "newest_seq": newest - 3,
    }
    report = verify.verify_clinic(logged)
    assert report.first_broken is None and (report.alarms, report.first_alarm) == (1, newest - 2)
    assert "the newest entries were removed from the end" in verify.describe(report, CHICAGO)


def test_writing_after_the_head_file_was_deleted_leaves_an_alarm_on_record(logged: Clinic):
    anchor_path(logged.home).unlink()

    record(logged, actions.SIGN_OUT)

    report = verify.verify_clinic(logged)
    assert report.intact and report.alarms == 1
    assert "the sealed head file was missing" in verify.describe(report, CHICAGO)


def test_an_intact_log_has_no_alarm(logged: Clinic):
    record(logged, actions.SIGN_OUT)
    assert verify.verify_clinic(logged).alarms == 0
