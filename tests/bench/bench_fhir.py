"""FHIR reading and mapping speed, in resources per second, against a parse-only baseline.

Ours: both passes of app.importers.fhir.read_import (index the references, then read
and map every resource) over the Synthea bundles and the bulk NDJSON export of the
shared samples, no database. Baseline: fhir.resources (R4B models, pinned in
requirements-dev.txt) parsing the same files and nothing else; if that package cannot
be imported, the baseline is the standard library's json parse of the same files, and
the figure's name says so. Issue 6 wants the full import (with database writes) 3x
faster than the fhir.resources baseline; this skeleton measures the reading layer, and
the database-writing session adds its figure next to it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from app.importers.fhir import read_import
from tests.bench._common import REPO_ROOT
from tests.bench._report import Emit, log

SAMPLES = Path(os.environ.get("FRONTDESK_EMR_SAMPLES", REPO_ROOT.parent / "shared" / "emr-samples"))
FOLDERS = ("fhir/synthea-bundles", "fhir/bulk-ndjson")
RUNS = 3


def _files() -> list[Path]:
    files: list[Path] = []
    for folder in FOLDERS:
        files.extend(sorted(p for p in (SAMPLES / folder).rglob("*") if p.is_file()))
    return files


def _ours(files: list[Path]) -> int:
    seen = 0
    for item in read_import(files):
        seen += item.resource_type is not None
    return seen


def _fhir_resources_parse(files: list[Path]) -> int:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    parsed = 0
    for path in files:
        if path.suffix == ".ndjson":
            with path.open("rb") as lines:
                for line in lines:
                    if line.strip():
                        kind = json.loads(line)["resourceType"]
                        get_fhir_model_class(kind).model_validate_json(line)
                        parsed += 1
        else:
            bundle = Bundle.model_validate_json(path.read_bytes())
            parsed += len(bundle.entry or [])
    return parsed


def _stdlib_parse(files: list[Path]) -> int:
    parsed = 0
    for path in files:
        if path.suffix == ".ndjson":
            with path.open("rb") as lines:
                parsed += sum(1 for line in lines if line.strip() and json.loads(line))
        else:
            parsed += len(json.loads(path.read_bytes()).get("entry", []))
    return parsed


def _best(work: Callable[[list[Path]], int], files: list[Path]) -> tuple[int, float]:
    best = float("inf")
    count = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        count = work(files)
        best = min(best, time.perf_counter() - started)
    return count, best


def run(emit: Emit) -> None:
    files = _files()
    if not files:
        log(f"no FHIR samples under {SAMPLES}; set FRONTDESK_EMR_SAMPLES")
        return
    try:
        import fhir.resources  # noqa: F401

        baseline_name, baseline = "fhir.resources parse-only", _fhir_resources_parse
    except ImportError:
        log("fhir.resources is not installed: the baseline is the stdlib json parse-only")
        baseline_name, baseline = "stdlib json parse-only", _stdlib_parse
    ours_count, ours_seconds = _best(_ours, files)
    base_count, base_seconds = _best(baseline, files)
    log(f"ours: {ours_count} resources in {ours_seconds:.3f}s (two passes, mapped)")
    log(f"{baseline_name}: {base_count} resources in {base_seconds:.3f}s")
    emit(
        f"fhir read+map (no database) vs {baseline_name}",
        ours_count / ours_seconds,
        "resources/s",
        base_count / base_seconds,
    )
