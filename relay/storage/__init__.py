"""Where the relay keeps its records: SQLite (default) or PostgreSQL, one interface."""

from __future__ import annotations

from relay.settings import Settings
from relay.storage.base import Storage


def open_storage(settings: Settings) -> Storage:
    """The storage the settings' database URL names; ValueError for any other URL."""
    url = settings.database_url
    path = settings.sqlite_path()
    if path is not None:
        from relay.storage.sqlite import SqliteStorage

        if str(path) in ("", ":memory:"):
            raise ValueError("the relay needs a SQLite file (sqlite:///path/to/relay.db)")
        return SqliteStorage(path, settings)
    if url.startswith(("postgresql://", "postgres://")):
        from relay.storage.postgres import PostgresStorage

        return PostgresStorage(url, settings)
    raise ValueError(
        "the database must be sqlite:///path/to/relay.db or postgresql://user@host/dbname"
    )
