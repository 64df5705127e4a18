"""Long work runs off the GUI thread, reports back on it, and Cancel undoes it."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.demo.generator import generate
from app.ops import CancelToken, OperationCancelledError, Progress
from ui.main_window import MainWindow
from ui.ops import Op


def _patients(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT count(*) FROM patient").fetchone()[0])


def test_demo_clinic_is_built_off_the_gui_thread_and_reported_back(
    qtbot: QtBot, clinic: Clinic
) -> None:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    threads: list[threading.Thread] = []
    results: list[object] = []

    def work(progress: Progress, cancel: CancelToken) -> object:
        threads.append(threading.current_thread())
        return generate(clinic, 60, 3, progress=progress, cancel=cancel)

    op = Op(window, "Creating the demo clinic", work).success(results.append)
    op.run_in_background()
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    assert threads[0] is not threading.main_thread()
    assert _patients(clinic) >= 60
    assert op.dialog is None  # the progress dialog closed itself


def test_cancel_leaves_the_clinic_as_it_was(qtbot: QtBot, clinic: Clinic) -> None:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    failures: list[BaseException] = []
    started = threading.Event()

    def work(progress: Progress, cancel: CancelToken) -> object:
        def report(done: int, total: int, what: str) -> None:
            started.set()
            cancel.cancel()  # as if the person pressed Cancel at the first progress report
            progress(done, total, what)

        return generate(clinic, 5000, 3, progress=report, cancel=cancel)

    changes_before = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    Op(window, "Creating the demo clinic", work).failure(failures.append).run_in_background()
    qtbot.waitUntil(lambda: bool(failures), timeout=60_000)
    assert started.is_set()
    assert isinstance(failures[0], OperationCancelledError)
    assert _patients(clinic) == 0
    assert clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0] == changes_before
