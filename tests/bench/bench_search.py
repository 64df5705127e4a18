"""Search on a 100,000-patient clinic: latency against a naive LIKE scan, time from
opening the clinic to the first result, and memory.

The clinic is the demo clinic of seed 1, built once under bench-data/ (a few minutes)
and reused while its schema version and seed match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.bench._common import (
    PASSPHRASE,
    REPO_ROOT,
    TODAY,
    Query,
    demo_clinic,
    make_queries,
    no_keyring,
    save_queries,
)
from tests.bench._naive import naive_search
from tests.bench._report import Emit, log, percentile

PATIENTS = 100_000
SEED = 1
QUERIES = 1000
LIMIT = 20
WARM_UP = 20
# The naive scan takes up to a second per query on 100k patients, so by default it
# answers every fourth query (250 of them; with 13 kinds taking turns, every kind is
# in). BENCH_NAIVE_ALL=1 makes it answer all 1,000.
NAIVE_STEP = 1 if os.environ.get("BENCH_NAIVE_ALL") == "1" else 4


def _timed(fn: Any, queries: list[Query]) -> tuple[list[float], int]:
    """Milliseconds per query, and how many queries found at least one patient."""
    times: list[float] = []
    found = 0
    for query in queries:
        started = time.perf_counter()
        results = fn(query.text)
        times.append((time.perf_counter() - started) * 1000)
        found += bool(results)
    return times, found


def _by_kind(queries: list[Query], times: list[float]) -> str:
    kinds: dict[str, list[float]] = defaultdict(list)
    for query, ms in zip(queries, times, strict=True):
        kinds[query.kind].append(ms)
    return ", ".join(f"{k} {percentile(v, 50):.1f}" for k, v in kinds.items())


# Linux hands a child the parent's peak RSS (ru_maxrss survives fork + exec), and this
# process holds a 100k clinic's worth of memory. So the probe is started by a small
# launcher process: the probe is the launcher's child and inherits only its few MB.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def _probe(*args: str) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "tests.bench._probe", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def run(emit: Emit) -> None:
    from app.clinic import open_clinic
    from app.patients.search import PatientSearch

    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    try:
        queries = make_queries(clinic.conn, QUERIES)
        search = PatientSearch(clinic.conn, region=clinic.settings.region)

        def fast(text: str) -> list[Any]:
            return search.search(text, LIMIT, today=TODAY)

        def naive(text: str) -> list[Any]:
            return naive_search(clinic.conn, text, LIMIT)

        # The same few queries warm both up (the fuzzy vocabulary, the first pages).
        _timed(fast, queries[:WARM_UP])
        _timed(naive, queries[:WARM_UP])
        log(f"search: {len(queries)} queries")
        fast_ms, fast_found = _timed(fast, queries)
        log(
            f"search: found someone for {fast_found}/{len(queries)}; p50 ms by kind: "
            f"{_by_kind(queries, fast_ms)}"
        )
        sample = queries[::NAIVE_STEP]
        log(f"naive LIKE scan: {len(sample)} queries")
        naive_ms, naive_found = _timed(naive, sample)
        log(
            f"naive: found someone for {naive_found}/{len(sample)}; p50 ms by kind: "
            f"{_by_kind(sample, naive_ms)}"
        )
    finally:
        clinic.close()
    emit("search_p50_ms", percentile(fast_ms, 50), "ms", percentile(naive_ms, 50))
    emit("search_p99_ms", percentile(fast_ms, 99), "ms", percentile(naive_ms, 99))

    with tempfile.TemporaryDirectory(prefix="bench-queries-") as tmp:
        queries_file = Path(tmp) / "queries.json"
        save_queries(queries, queries_file)
        log("fresh process: unlock + count(*)")
        baseline = _probe("open-count", str(home))
        log("fresh process: unlock + first search + the other searches")
        probe = _probe("search", str(home), str(queries_file))
        log("fresh process: imports only")
        bare = _probe("bare")
    emit(
        "search_open_to_first_result_s",
        probe["open_to_first_result_s"],
        "s (passphrase unlock incl. KDF, to first result; baseline: unlock + count(*))",
        baseline["open_count_s"],
    )
    emit(
        "unlock_kdf_s",
        probe["kdf_s"],
        "s (Argon2id key unwrap; baseline: the whole open to first result)",
        probe["open_to_first_result_s"],
    )
    emit(
        "peak_rss_mb",
        probe["peak_rss_mb"],
        f"MB (open + {len(queries)} searches; baseline: python with the same imports)",
        bare["peak_rss_mb"],
    )
