"""The clipboard guard against a real second program: on an X server (Xvfb), Frontdesk's
own copy is marked and cleared, and text another program copies afterwards is left alone,
by the timer and by a lock. Offscreen Qt keeps the clipboard inside one process, so
"another program" needs a real display server and a second process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
XVFB = shutil.which("Xvfb")

FRONTDESK = r"""
import sys
from PySide6.QtCore import QElapsedTimer
from PySide6.QtWidgets import QApplication
from ui.security.clipboard import ClipboardGuard

app = QApplication([])
clipboard = app.clipboard()
guard = ClipboardGuard(clear_after_ms=1500)

def until(test, ms=10000):
    clock = QElapsedTimer(); clock.start()
    while not test() and clock.elapsed() < ms:
        app.processEvents(); app.thread().msleep(20)
    return test()

def say(*words):
    print(*words, flush=True)

clipboard.setText("Okafor, Ada")
HINT = "x-kde-passwordManagerHint"
until(lambda: clipboard.mimeData().hasFormat(HINT), 3000)
say("marked", clipboard.mimeData().hasFormat(HINT), clipboard.ownsClipboard())
say("cleared", until(lambda: clipboard.text() == ""))
clipboard.setText("Okafor, Ada")
until(lambda: guard.holds_ours(), 3000)
say("copied", guard.holds_ours())
sys.stdin.readline()  # the other program has copied now
say("lost", until(lambda: not clipboard.ownsClipboard()))
until(lambda: False, 2500)  # longer than the guard's 1.5 s
guard.clear_now()  # and a lock on top
until(lambda: False, 300)
say("text", repr(clipboard.text()))
"""

OTHER = r"""
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
app.clipboard().setText("a note from the other program")
QTimer.singleShot(200, lambda: print("set", app.clipboard().ownsClipboard(), flush=True))
QTimer.singleShot(30000, app.quit)
app.exec()
"""


@pytest.fixture
def display() -> Iterator[str]:
    if XVFB is None:
        pytest.skip("Xvfb is not installed on this computer")
    server = subprocess.Popen(
        [XVFB, "-displayfd", "1", "-nolisten", "tcp", "-screen", "0", "1280x720x24"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    number = server.stdout.readline().strip()
    if not number:
        server.kill()
        pytest.skip("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def program(script: str, display: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONPATH": str(REPO),
    }
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def answer(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        _out, err = process.communicate(timeout=10)
        pytest.fail(f"the program stopped: {err[-2000:]}")
    return line.split()


def test_our_copy_is_cleared_and_another_programs_copy_is_left_alone(display: str) -> None:
    ours = program(FRONTDESK, display)
    other: subprocess.Popen[str] | None = None
    try:
        assert answer(ours) == ["marked", "True", "True"]
        assert answer(ours) == ["cleared", "True"]
        assert answer(ours) == ["copied", "True"]
        other = program(OTHER, display)
        assert answer(other) == ["set", "True"]
        assert ours.stdin is not None
        ours.stdin.write("go\n")
        ours.stdin.flush()
        assert answer(ours) == ["lost", "True"]
        assert answer(ours)[1:] == ["'a", "note", "from", "the", "other", "program'"]
    finally:
        for process in (ours, other):
            if process is not None:
                process.kill()
                process.communicate(timeout=10)
