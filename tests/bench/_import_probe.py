"""A child process for the memory figure: open a fresh clinic, import the given files.

Run as `python -m tests.bench._import_probe HOME FILE...`. Creating the clinic runs
Argon2id, which alone needs more memory than a streamed import, so the peak is reset
(/proc/self/clear_refs) once the clinic is open: the figure is the import's own peak.
Prints one JSON line: counts, seconds, rss_before_mb and peak_mb.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    from app.clinic import create_clinic
    from app.importers.session import plan_import, run_import
    from tests.bench._common import PASSPHRASE, no_keyring

    no_keyring()
    home, files = Path(argv[0]), [Path(a) for a in argv[1:]]
    created = create_clinic("Bench import", PASSPHRASE, home, use_keyring=False)
    with created.clinic as clinic:
        before = _reset_peak()
        started = time.perf_counter()
        result = run_import(clinic, plan_import(clinic, files))
        took = time.perf_counter() - started
        counts = {k: c.as_dict() for k, c in result.counts.items() if any(c.as_dict().values())}
        records = sum(sum(c.values()) for c in counts.values()) + sum(result.skipped_types.values())
        report = {"records": records, "seconds": took, "counts": counts}
        report |= {"rss_before_mb": before, "peak_mb": _status_mb("VmHWM")}
        print(json.dumps(report))
    return 0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} is not in /proc/self/status")


def _reset_peak() -> float:
    """Start the peak over from the current size; returns that size in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
