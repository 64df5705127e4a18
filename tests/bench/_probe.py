"""Measurements that need a fresh process: `python -m tests.bench._probe MODE ...`.

Prints one JSON object on stdout for the parent benchmark to read.

  search HOME QUERIES  open the clinic with its passphrase, time to the first search
                       result, then the remaining searches; peak RSS; the KDF alone
  open-count HOME      the baseline open: the same unlock, then SELECT count(*)
  bare                 only the imports the search probe makes; peak RSS
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

# The same imports in every mode, so the bare process is a fair RSS baseline.
from app.clinic import Clinic, open_clinic
from app.patients.search import PatientSearch
from app.store import database, keys
from app.store.paths import clinic_paths
from tests.bench._common import PASSPHRASE, TODAY, load_queries, no_keyring


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes; the benchmarks run on Linux).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _search(home: Path, queries_file: Path) -> dict[str, float]:
    queries = load_queries(queries_file)
    started = time.perf_counter()
    clinic: Clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    search = PatientSearch(clinic.conn, region=clinic.settings.region)
    first = search.search(queries[0].text, today=TODAY)
    first_s = time.perf_counter() - started
    if not first:
        raise SystemExit(f"the first query found nobody: {queries[0]}")
    for query in queries[1:]:
        search.search(query.text, today=TODAY)
    rss = _peak_rss_mb()
    clinic.close()
    # The KDF alone, after the peak RSS was read (Argon2 takes 64 MiB while it runs,
    # which the open above already paid).
    key_file = keys.read_key_file(clinic_paths(home).key_file)
    kdf_started = time.perf_counter()
    keys.unwrap(key_file, "passphrase", PASSPHRASE)
    kdf_s = time.perf_counter() - kdf_started
    return {"open_to_first_result_s": first_s, "kdf_s": kdf_s, "peak_rss_mb": rss}


def _open_count(home: Path) -> dict[str, float]:
    paths = clinic_paths(home)
    started = time.perf_counter()
    key_file = keys.read_key_file(paths.key_file)
    data_key = keys.unwrap(key_file, "passphrase", PASSPHRASE)
    conn = database.connect(paths.database, data_key)
    count = conn.execute("SELECT count(*) FROM patient").fetchone()[0]
    elapsed = time.perf_counter() - started
    conn.close()
    return {"open_count_s": elapsed, "patients": float(count)}


def main(argv: list[str]) -> int:
    no_keyring()
    mode = argv[0] if argv else ""
    if mode == "search" and len(argv) == 3:
        result = _search(Path(argv[1]), Path(argv[2]))
    elif mode == "open-count" and len(argv) == 2:
        result = _open_count(Path(argv[1]))
    elif mode == "bare" and len(argv) == 1:
        result = {"peak_rss_mb": _peak_rss_mb()}
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
