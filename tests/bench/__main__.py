"""Runs benchmark groups: `python -m tests.bench [GROUP ...]`; no group means all.

Exit status: 0 when every group ran, 1 when a group failed (the others still run),
2 for an unknown group name.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from tests.bench._report import emit, log

_PREFIX = "bench_"


def available_groups() -> list[str]:
    folder = Path(__file__).resolve().parent
    return sorted(
        info.name[len(_PREFIX) :]
        for info in pkgutil.iter_modules([str(folder)])
        if info.name.startswith(_PREFIX)
    )


def main(argv: list[str] | None = None) -> int:
    known = available_groups()
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Frontdesk benchmarks: one JSON line per figure on stdout.",
    )
    parser.add_argument(
        "groups", nargs="*", metavar="GROUP", help=f"groups to run (default: all of {known})"
    )
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in known]
    if unknown:
        print(
            f"unknown benchmark group(s): {', '.join(unknown)}; known groups: {', '.join(known)}",
            file=sys.stderr,
        )
        return 2
    failed = []
    for group in args.groups or known:
        log(f"group {group}: start")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"tests.bench.{_PREFIX}{group}")
            module.run(emit)
        except Exception:  # noqa: BLE001 - report the failure and go on with the next group
            traceback.print_exc()
            failed.append(group)
            log(f"group {group}: FAILED")
            continue
        log(f"group {group}: done in {time.perf_counter() - started:.1f}s")
    if failed:
        print(f"benchmark group(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
