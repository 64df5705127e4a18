"""Emitting figures (stdout, one JSON line each) and progress chatter (stderr)."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from typing import Protocol

_START = time.perf_counter()


class Emit(Protocol):
    def __call__(self, name: str, value: float, unit: str, baseline: float) -> None: ...


def _round(value: float) -> float:
    """Four significant digits: enough to compare runs, short enough to read."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 3 - math.floor(math.log10(abs(value)))))


def figure(name: str, value: float, unit: str, baseline: float) -> dict[str, object]:
    ratio = value / baseline if baseline else None
    return {
        "name": name,
        "value": _round(value),
        "unit": unit,
        "baseline": _round(baseline),
        "ratio": None if ratio is None else _round(ratio),
    }


def emit(name: str, value: float, unit: str, baseline: float) -> None:
    """Print one figure as exactly one JSON line on stdout."""
    print(json.dumps(figure(name, value, unit, baseline), ensure_ascii=False), flush=True)


def log(message: str) -> None:
    """Progress for the person watching; never on stdout, which holds only figures."""
    print(f"[bench {time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p50 of 1..100 is 50, p99 is 99): no interpolation,
    so the figure is always a time that was really measured."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
