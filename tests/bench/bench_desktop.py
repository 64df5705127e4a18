"""The desk's own speed: cold start to a painted main window, and finder keystrokes.

Targets (issue 4): cold start with a 100k clinic ≤ 1.5 s, next to the same start with
an empty clinic; keystroke to results on screen p99 ≤ 50 ms at 100k patients, next to
the core search alone for the same texts (the gap is what the GUI adds).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench._common import PASSPHRASE, REPO_ROOT, TODAY, demo_clinic, make_queries, no_keyring
from tests.bench._report import Emit, log, percentile

PATIENTS = 100_000
SEED = 42
STARTS = 5  # cold starts per clinic; the median is reported
KEYSTROKE_QUERIES = 300


def _data_key(home: Path) -> str:
    from app.store import keys
    from app.store.paths import clinic_paths

    key_file = keys.read_key_file(clinic_paths(home).key_file)
    return keys.unwrap(key_file, "passphrase", PASSPHRASE).hex()


def _cold_start(home: Path) -> tuple[float, float]:
    """Median seconds from process launch to the first paint, and to the unlock."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["FRONTDESK_BENCH_KEY"] = _data_key(home)
    env["FRONTDESK_HOME"] = str(home)
    painted, wall = [], []
    for _ in range(STARTS):
        launched = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench._start_probe", str(home)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        wall.append(time.perf_counter() - launched)
        painted.append(json.loads(done.stdout.strip().splitlines()[-1])["painted_s"])
    log(f"  painted (in-process clock) {[round(p, 3) for p in painted]}")
    return statistics.median(wall), statistics.median(painted)


def _empty_clinic(folder: Path) -> Path:
    from app.clinic import create_clinic

    home = folder / "empty"
    created = create_clinic("Empty bench clinic", PASSPHRASE, home, use_keyring=False)
    created.clinic.close()
    return home


def _keystrokes(home: Path) -> tuple[list[float], list[float]]:
    """Type each query a letter at a time into the real finder; time each keystroke
    from the key event to the list on screen for that exact text."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import keyring
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from app.clinic import open_clinic
    from app.patients.search import PatientSearch
    from tests.support.memory_keyring import MemoryKeyring
    from ui.application import application
    from ui.finder import RESULT_LIMIT, Finder

    keyring.set_keyring(MemoryKeyring())
    app = application()
    clinic = open_clinic(home, passphrase=PASSPHRASE, use_keyring=False)
    host = QWidget()
    host.resize(1280, 720)
    finder = Finder(clinic, overlay_parent=host)
    QVBoxLayout(host).addWidget(finder)
    host.show()
    queries = [q.text for q in make_queries(clinic.conn, KEYSTROKE_QUERIES)]
    gui_ms: list[float] = []
    try:
        for text in queries:
            finder.field.clear()
            for ch in text:
                started = time.perf_counter()
                finder.field.insert(ch)  # what a key press does (QTest types ASCII only)
                wanted = finder.field.text()
                while finder.shown_text != wanted:
                    app.processEvents()
                gui_ms.append((time.perf_counter() - started) * 1000)
        core = PatientSearch(clinic.conn, region=clinic.settings.region)
        core_ms: list[float] = []
        for text in queries:
            for end in range(1, len(text) + 1):
                started = time.perf_counter()
                core.search(text[:end], RESULT_LIMIT, today=TODAY)
                core_ms.append((time.perf_counter() - started) * 1000)
    finally:
        finder.close_service()
        host.close()
        clinic.close()
    return gui_ms, core_ms


def run(emit: Emit) -> None:
    no_keyring()
    home = demo_clinic(PATIENTS, SEED)
    log("cold start: 100k clinic")
    big_wall, big_painted = _cold_start(home)
    with tempfile.TemporaryDirectory(prefix="bench-empty-") as tmp:
        empty = _empty_clinic(Path(tmp))
        log("cold start: empty clinic (baseline)")
        empty_wall, empty_painted = _cold_start(empty)
    emit(
        "desktop_cold_start_s",
        big_wall,
        "s (launch to first painted main window, 100k clinic, keyring unlock; baseline: "
        "empty clinic)",
        empty_wall,
    )
    emit(
        "desktop_cold_start_in_process_s",
        big_painted,
        "s (Python start to first paint, imports included; baseline: empty clinic)",
        empty_painted,
    )
    log(f"finder: {KEYSTROKE_QUERIES} queries typed a letter at a time")
    gui_ms, core_ms = _keystrokes(home)
    emit(
        "finder_keystroke_p99_ms",
        percentile(gui_ms, 99),
        "ms (key event to the list shown for that text, 100k; baseline: core search alone)",
        percentile(core_ms, 99),
    )
    emit(
        "finder_keystroke_p50_ms",
        percentile(gui_ms, 50),
        "ms (baseline: core search alone)",
        percentile(core_ms, 50),
    )
