"""Opening a backup's database read-only, where it lies, without changing a byte of it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3

from app.backup.manifest import COUNTED_TABLES
from app.backup.snapshot import DB_MEMBER
from app.errors import BackupError

if TYPE_CHECKING:
    from sqlite3 import Connection, DatabaseError
else:
    from sqlcipher3.dbapi2 import Connection, DatabaseError

WRONG_KEY = (
    "This backup does not open with this clinic's key. If it was made before the key was "
    "replaced, it opens only with the passphrase or Emergency Kit of that time."
)


@contextlib.contextmanager
def open_read_only(folder: Path, data_key: bytes) -> Iterator[Connection]:
    """mode=ro: SQLite replays a copied WAL into its index (the -shm file, which this
    removes again afterwards when it made it) but never writes the database or the WAL."""
    db = folder / DB_MEMBER
    shm = folder / (DB_MEMBER + "-shm")
    shm_existed = shm.exists()
    conn: Connection = sqlcipher3.connect(
        db.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        try:
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{data_key.hex()}'\"")
            conn.execute("PRAGMA cipher_compatibility = 4")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except DatabaseError:
            raise BackupError(WRONG_KEY) from None
        yield conn
    finally:
        conn.close()
        if not shm_existed:
            shm.unlink(missing_ok=True)


def clinic_facts(conn: Connection) -> tuple[str, int, dict[str, int]]:
    """(clinic_id, schema version, row counts of the main tables) of an open database."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'clinic_id'").fetchone()
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    present = {
        str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    counts = {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - names from COUNTED_TABLES
        for table in COUNTED_TABLES
        if table in present
    }
    return (str(row[0]) if row else "", version, counts)


def audit_head_of(conn: Connection) -> dict[str, object]:
    """The newest audit entry's number and hash, read from the copy itself."""
    from app.audit.log import head

    try:
        current = head(conn)
    except DatabaseError:
        return {}
    return {"seq": current.seq, "hash": current.hash_hex}
