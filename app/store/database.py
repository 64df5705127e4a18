"""Opening the SQLCipher database file: key, pragmas, and telling damage from a wrong key."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3

from app.errors import DatabaseCorruptError, KeyFileError, StoreError

# sqlcipher3 ships no type information; its DB-API mirrors the standard sqlite3
# module exactly, so the checker sees sqlite3's classes and the program runs on
# sqlcipher3's.
if TYPE_CHECKING:
    from sqlite3 import Connection, DatabaseError, IntegrityError, OperationalError
else:
    from sqlcipher3.dbapi2 import Connection, DatabaseError, IntegrityError, OperationalError

__all__ = ["Connection", "DatabaseError", "IntegrityError", "OperationalError", "connect"]

log = logging.getLogger(__name__)

SALT_BYTES = 16  # SQLCipher keeps a random per-file salt in the first 16 bytes
PAGE_SIZE = 4096
_SQLITE_PLAINTEXT_HEADER = b"SQLite format 3\x00"

_BACKUP_HINT = "Restore the clinic from a backup, or ask your administrator."


def database_salt(path: Path) -> str:
    """Hex of the file's salt; stored in the key file to spot a key/database mismatch."""
    with path.open("rb") as handle:
        return handle.read(SALT_BYTES).hex()


def connect(path: Path, key: bytes, *, create: bool = False) -> Connection:
    """Open with a raw 256-bit key: no passphrase KDF at open, so unlocking stays instant."""
    if not create and not path.is_file():
        raise StoreError("The clinic database file is missing from the data folder.")
    if not create:
        _check_file_shape(path)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (see writer.Store.write), so a
    # transaction is exactly as wide as the code says.
    conn: Connection = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        # SQLCipher otherwise writes "ERROR CORE ... hmac check failed" to stderr on a
        # wrong key or damage; the caller explains those in words, and stderr ends up in
        # logs and crash captures that nobody reviews.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("PRAGMA cipher_compatibility = 4")
        # The first real read proves the key: SQLCipher says "file is not a database"
        # for a wrong key and for damage alike, so the caller tells them apart.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(
            "PRAGMA synchronous = NORMAL"
        )  # safe with WAL; a power cut loses at most the last commit
        conn.execute("PRAGMA temp_store = MEMORY")  # no decrypted temp files on disk
        conn.execute("PRAGMA busy_timeout = 5000")
        # Up to 96 MiB of decrypted pages per connection, filled only as pages are read:
        # a small clinic never reaches it; at 100k patients a segment count or a planning
        # pass reads more than 32 MiB, and re-decrypting evicted pages was most of its time.
        conn.execute("PRAGMA cache_size = -98304")
    except DatabaseError as exc:
        conn.close()
        raise explain_failure(exc) from None
    return conn


def _check_file_shape(path: Path) -> None:
    size = path.stat().st_size
    if size == 0 or size % 1024 != 0:
        raise DatabaseCorruptError(
            "The clinic database file is damaged (it is cut short). It has been left as it "
            f"is. {_BACKUP_HINT}"
        )
    with path.open("rb") as handle:
        head = handle.read(len(_SQLITE_PLAINTEXT_HEADER))
    if head == _SQLITE_PLAINTEXT_HEADER:
        raise DatabaseCorruptError(
            "The clinic database file is not encrypted, so it is not a Frontdesk clinic. "
            f"It has been left as it is. {_BACKUP_HINT}"
        )


def explain_failure(exc: DatabaseError) -> StoreError:
    """Turn SQLite's words for a damaged or wrongly keyed file into a plain message."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text:
        # Reached only with a key the key file vouched for (GCM-authenticated), so
        # either this key file belongs to another database or the file is damaged.
        return DatabaseCorruptError(
            "The clinic database could not be read with its key: the file is damaged, or "
            f"the key file belongs to another clinic. Nothing was changed. {_BACKUP_HINT}"
        )
    log.warning("database open failed: %s", type(exc).__name__)
    return StoreError(f"The clinic database could not be opened ({exc}). {_BACKUP_HINT}")


def check_pair(path: Path, expected_salt: str) -> None:
    """Refuse a key file made for another database before trying its key."""
    if database_salt(path) != expected_salt:
        raise KeyFileError(
            "The key file (clinic.key) belongs to a different database than clinic.db. "
            "Put the matching pair back in the data folder, or restore both from a backup."
        )
