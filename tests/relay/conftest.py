"""Relay tests run against both storages: SQLite, and PostgreSQL started by the tests.

The PostgreSQL server is pytest-postgresql's executor (pg_ctl) on a free loopback
port, started once per session; each test gets a fresh database from
pytest-postgresql's `postgresql` client fixture (dropped afterwards). Where the
PostgreSQL server programs are not installed, the PostgreSQL runs are skipped and say
why. PostgreSQL refuses to run as root (containers, CI): there the server is run as
the `postgres` system user through runuser, in a folder that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from tests.support.relay import RunningRelay, running_relay

_PG_BINARY_FOLDERS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _find_pg_ctl() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return found
    for folder in _PG_BINARY_FOLDERS:
        if (folder / "pg_ctl").exists():
            return str(folder / "pg_ctl")
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(pg_ctl: str, folder: Path) -> str:
    """A pg_ctl that runs as the postgres user (the server refuses root)."""
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("PostgreSQL refuses to run as root and there is no postgres user here")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("PostgreSQL refuses to run as root and runuser is not installed")
    os.chown(folder, account.pw_uid, account.pw_gid)
    wrapper = folder.parent / "pg_ctl"
    wrapper.write_text(f'#!/bin/sh\nexec {runuser} -u postgres -- {pg_ctl} "$@"\n')
    wrapper.chmod(stat.S_IRWXU)
    return str(wrapper)


@pytest.fixture(scope="session")
def relay_postgresql_server() -> Iterator[PostgreSQLExecutor]:
    """A PostgreSQL server for this session, or a skip that says why there is none."""
    pg_ctl = _find_pg_ctl()
    if pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (no pg_ctl): PostgreSQL relay runs skipped")
    top = Path(tempfile.mkdtemp(prefix="relay-pg-"))
    try:
        top.chmod(0o755)
        folder = top / "server"
        folder.mkdir()
        executable = _as_postgres_user(pg_ctl, folder) if os.geteuid() == 0 else pg_ctl
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        raise
    server = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=_free_port(),
        datadir=str(folder / "data"),
        unixsocketdir=str(folder),
        logfile=str(folder / "postgresql.log"),
        startparams="-w",
        dbname="relay_tests",
        user="postgres",
        # Loopback test server: durability is not what is tested, speed is welcome.
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )
    try:
        server.start()
        janitor = DatabaseJanitor(
            user=server.user,
            host=server.host,
            port=server.port,
            dbname=server.template_dbname,
            as_template=True,
        )
        janitor.init()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(top, ignore_errors=True)


# pytest-postgresql's client fixture: a fresh database per test on the server above.
relay_postgresql = factories.postgresql("relay_postgresql_server")


def database_url_of(connection: psycopg.Connection[Any]) -> str:
    info = connection.info
    return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"


@pytest.fixture
def relay_postgresql_url(relay_postgresql: psycopg.Connection[Any]) -> str:
    """The URL of this test's fresh PostgreSQL database (for RELAY_DATABASE_URL)."""
    return database_url_of(relay_postgresql)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """This test's relay database: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'relay' / 'relay.db'}"
    return str(request.getfixturevalue("relay_postgresql_url"))


@pytest.fixture
def start_relay(database_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningRelay]]:
    """Start a relay on this test's database with these settings (several may share it)."""
    stack: list[Any] = []

    def start(**settings: Any) -> RunningRelay:
        context = running_relay(tmp_path, **{"database_url": database_url, **settings})
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def relay(start_relay: Callable[..., RunningRelay]) -> RunningRelay:
    """The relay under test, rate limits off (tests of limits start their own)."""
    return start_relay()
