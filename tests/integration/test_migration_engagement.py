"""Schema 7 rebuilds reminder_rule and outbox: a clinic's rules, messages and their
history come through whole, and the new kinds and the call channel can then be stored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.store import migrations
from app.store.database import Connection, IntegrityError, connect
from app.store.paths import migrations_dir


@pytest.fixture
def schema6(tmp_path: Path) -> Connection:
    """A real encrypted database brought to schema 6 only, with foreign keys on."""
    folder = tmp_path / "migrations-1-6"
    folder.mkdir()
    for path in sorted(migrations_dir().glob("000[1-6]_*.sql")):
        shutil.copy(path, folder / path.name)
    conn = connect(tmp_path / "clinic.db", os.urandom(32), create=True)
    assert migrations.upgrade(conn, folder) == [1, 2, 3, 4, 5, 6]
    return conn


def _fill(conn: Connection) -> None:
    now = "2026-11-01T10:00:00Z"
    conn.execute(
        "INSERT INTO patient (id, family_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ("p1", "Stored", now, now),
    )
    conn.execute(
        "INSERT INTO reminder_rule (id, kind, name, purpose, active, definition, created_at, "
        "updated_at) VALUES ('r1', 'recall', 'Recall', 'recall', 1, '{}', ?, ?)",
        (now, now),
    )
    for n, state in enumerate(("sent", "due", "cancelled")):
        conn.execute(
            "INSERT INTO outbox (id, idem_key, rule_id, touch, purpose, patient_id, "
            "subject_kind, occurrence, due_at, stale_at, state, channel, created_at, updated_at) "
            "VALUES (?, ?, 'r1', 0, 'recall', 'p1', 'recall', '2026-11-01', ?, ?, ?, ?, ?, ?)",
            (f"m{n}", f"k{n}", now, now, state, "sms" if state == "sent" else "", now, now),
        )
        for step in range(2):
            conn.execute(
                "INSERT INTO outbox_event (id, outbox_id, state, at, reason) "
                "VALUES (?, ?, ?, ?, 'why')",
                (f"e{n}{step}", f"m{n}", state, now),
            )


def test_rules_messages_and_their_history_survive_the_rebuild(schema6: Connection) -> None:
    _fill(schema6)
    before = {
        table: schema6.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in ("reminder_rule", "outbox", "outbox_event")
    }

    assert migrations.upgrade(schema6) == list(range(7, migrations.latest_version() + 1))

    for table, rows in before.items():
        after = schema6.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        assert after == rows, table
    assert schema6.execute("PRAGMA foreign_key_check").fetchall() == []
    assert schema6.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    indexes = {
        str(row[0])
        for row in schema6.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' "
            "AND name NOT LIKE 'sqlite_autoindex%'"
        )
    }
    assert indexes == {
        "outbox_state_due",
        "outbox_patient",
        "outbox_subject",
        "outbox_recipient",
        "outbox_subject_patient",
    }


def test_after_the_rebuild_a_campaign_kind_and_a_call_can_be_stored(schema6: Connection) -> None:
    _fill(schema6)
    migrations.upgrade(schema6)
    schema6.execute(
        "INSERT INTO reminder_rule (id, kind, name, purpose, active, definition, created_at, "
        "updated_at) VALUES ('r2', 'reactivation', 'Back', 'recall', 1, '{}', 'x', 'x')"
    )
    schema6.execute("UPDATE outbox SET channel = 'call' WHERE id = 'm1'")
    # The state is still checked by the schema; deleting a message still takes its history.
    with pytest.raises(IntegrityError):
        schema6.execute("UPDATE outbox SET state = 'lost' WHERE id = 'm1'")
    schema6.execute("DELETE FROM outbox WHERE id = 'm2'")
    left = schema6.execute("SELECT count(*) FROM outbox_event WHERE outbox_id = 'm2'").fetchone()
    assert left[0] == 0
