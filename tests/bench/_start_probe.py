"""Cold start in a fresh process: `python -m tests.bench._start_probe HOME`.

Runs the real start path (keyring unlock, preferences, main window) offscreen and
prints one JSON object when the main window has painted for the first time. The
clinic's key arrives in FRONTDESK_BENCH_KEY and goes into an in-memory keyring, so
the unlock is the silent keyring path a receptionist's PC takes every morning.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports: they are part of a cold start

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import keyring

    from tests.support.memory_keyring import MemoryKeyring

    home = Path(sys.argv[1])
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    from app.store.keyring_store import SERVICE
    from app.store.keys import read_key_file
    from app.store.paths import clinic_paths

    clinic_id = read_key_file(clinic_paths(home).key_file).clinic_id
    backend.set_password(SERVICE, clinic_id, os.environ["FRONTDESK_BENCH_KEY"])

    from PySide6.QtCore import QEvent, QObject

    from app.preferences import Preferences
    from ui.application import application
    from ui.main_window import MainWindow
    from ui.startup import start_clinic
    from ui.theme import apply_preferences

    app = application()
    apply_preferences(app, Preferences())
    started = start_clinic(home)
    if started is None:
        raise SystemExit("the clinic did not open")
    unlocked = time.perf_counter() - STARTED
    window = MainWindow(started.clinic)
    painted: list[float] = []

    class PaintWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter() - STARTED)
                app.quit()
            return False

    watch = PaintWatch()
    window.installEventFilter(watch)
    window.show()
    app.exec()
    print(json.dumps({"unlocked_s": unlocked, "painted_s": painted[0]}), flush=True)
    window.close()
    started.clinic.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
