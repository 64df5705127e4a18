"""SQLCipher stays silent on a wrong key: the plain message is ours, stderr stays clean."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.errors import DatabaseCorruptError
from app.store import database


def test_a_wrong_key_is_explained_without_sqlcipher_writing_to_stderr(
    clinic: Clinic, capfd: pytest.CaptureFixture[str]
) -> None:
    path = clinic.opened.paths.database
    clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    capfd.readouterr()
    with pytest.raises(DatabaseCorruptError):
        database.connect(Path(path), os.urandom(32))
    captured = capfd.readouterr()
    assert "hmac" not in captured.err.lower()
    assert captured.err == ""


def test_the_right_key_still_opens_with_the_log_silenced(clinic: Clinic) -> None:
    conn = database.connect(Path(clinic.opened.paths.database), clinic.opened.data_key)
    try:
        assert conn.execute("PRAGMA cipher_log_level").fetchone()[0] == "NONE"
        assert conn.execute("SELECT count(*) FROM setting").fetchone()[0] >= 1
    finally:
        conn.close()
