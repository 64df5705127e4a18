"""Two relay processes' worth of apps on one PostgreSQL: cursors stay gap-free and in
commit order, so a reader polling all along never misses a batch."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from relay.settings import Settings
from relay.storage.base import SCHEMA_VERSION
from relay.storage.postgres import PostgresStorage
from tests.support.relay import TestSpace, enroll_device, new_space, running_relay, sealed_batch

DEVICES = 6
BATCHES_EACH = 15


def _pusher(desk: TestSpace, url: str) -> list[int]:
    cursors = []
    with requests.Session() as http:
        for seq in range(1, BATCHES_EACH + 1):
            answer = http.post(
                f"{url}/v1/batches", data=sealed_batch(desk, seq), headers=desk.headers, timeout=30
            )
            assert answer.status_code == 201, answer.text
            cursors.append(answer.json()["cursor"])
    return cursors


def test_two_relays_on_one_postgresql_hand_out_each_cursor_once_and_readers_miss_none(
    tmp_path: Path, relay_postgresql_url: str
) -> None:
    url = relay_postgresql_url
    total = DEVICES * BATCHES_EACH
    with (
        running_relay(tmp_path, database_url=url) as one,
        running_relay(tmp_path, database_url=url) as two,
    ):
        first = new_space(one.url)
        desks = [first] + [enroll_device(first) for _ in range(DEVICES - 1)]
        seen: list[int] = []
        done = threading.Event()

        def read_all_along() -> None:
            # Pull after the last cursor seen, from the other relay, while pushes go on.
            with requests.Session() as http:
                after = 0
                deadline = time.monotonic() + 60
                while len(seen) < total and time.monotonic() < deadline:
                    page = http.get(
                        f"{two.url}/v1/batches",
                        params={"after": after, "limit": 7},
                        headers=first.headers,
                        timeout=30,
                    ).json()
                    for batch in page["batches"]:
                        seen.append(batch["cursor"])
                        after = batch["cursor"]
                    if done.is_set() and not page["batches"] and page["head"] == after:
                        break

        reader = threading.Thread(target=read_all_along, daemon=True)
        reader.start()
        with ThreadPoolExecutor(DEVICES) as pool:
            urls = [one.url if n % 2 else two.url for n in range(DEVICES)]
            results = list(pool.map(_pusher, desks, urls))
        done.set()
        reader.join(timeout=60)

    pushed = sorted(c for cursors in results for c in cursors)
    assert pushed == list(range(1, total + 1))
    for cursors in results:
        assert cursors == sorted(cursors)  # each device's batches in its own order
    assert seen == list(range(1, total + 1))


def test_concurrent_first_starts_create_the_tables_once(
    relay_postgresql: psycopg.Connection, relay_postgresql_url: str
) -> None:
    settings = Settings(database_url=relay_postgresql_url)

    with ThreadPoolExecutor(4) as pool:
        stores = list(
            pool.map(lambda _: PostgresStorage(settings.database_url, settings), range(4))
        )
    for store in stores:
        store.close()

    rows = relay_postgresql.execute("SELECT version FROM relay_schema").fetchall()
    assert rows == [(SCHEMA_VERSION,)]


def test_a_postgresql_that_cannot_be_reached_is_a_plain_error_not_a_hang(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")

    with pytest.raises(Exception, match="not reachable"):
        PostgresStorage(settings.database_url, settings)


def test_the_same_batch_sent_through_both_relays_at_once_is_stored_once(
    tmp_path: Path, relay_postgresql_url: str
) -> None:
    url = relay_postgresql_url
    with (
        running_relay(tmp_path, database_url=url) as one,
        running_relay(tmp_path, database_url=url) as two,
    ):
        desk = new_space(one.url)
        outcomes = []
        with ThreadPoolExecutor(2) as pool:
            for seq in range(1, 11):
                envelope = sealed_batch(desk, seq)
                answers = list(
                    pool.map(
                        lambda base, body=envelope: requests.post(
                            f"{base}/v1/batches", data=body, headers=desk.headers, timeout=30
                        ),
                        [one.url, two.url],
                    )
                )
                outcomes.append(
                    (sorted(a.status_code for a in answers), {a.json()["cursor"] for a in answers})
                )

    assert outcomes == [([200, 201], {seq}) for seq in range(1, 11)]
