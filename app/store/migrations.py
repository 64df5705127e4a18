"""Schema upgrades: numbered SQL files applied in order, one transaction each."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import MigrationError, NewerSchemaError
from app.store.database import Connection, DatabaseError
from app.store.paths import migrations_dir

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available(folder: Path | None = None) -> list[Migration]:
    folder = folder or migrations_dir()
    found: list[Migration] = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"Migrations are not numbered 1..n without gaps: {versions}")
    return found


def latest_version(folder: Path | None = None) -> int:
    return len(available(folder))


def schema_version(conn: Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def upgrade(conn: Connection, folder: Path | None = None) -> list[int]:
    """Bring the schema up to date; return the versions applied.

    Each migration and its user_version bump commit together, so a failure (or a
    crash) leaves the database at the last complete version, never in between.
    """
    migrations = available(folder)
    current = schema_version(conn)
    if current > len(migrations):
        raise NewerSchemaError(
            f"This clinic was last opened with a newer version of Frontdesk (data version "
            f"{current}; this program knows up to {len(migrations)}). Install the newer "
            "version to open it. The data has not been touched."
        )
    applied: list[int] = []
    for migration in migrations[current:]:
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                f"PRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(
                f"Updating the clinic data to version {migration.version} failed ({exc}). "
                "The data stays as it was; nothing was lost."
            ) from exc
        log.info("applied migration %s", migration.name)
        applied.append(migration.version)
    return applied
