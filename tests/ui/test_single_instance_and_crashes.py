"""A second start brings the first forward; an unexpected error leaves a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.crash_report import crash_folder
from ui.application import bring_forward
from ui.ops import report_unexpected, show_error
from ui.single_instance import SingleInstance, ask_running_copy, server_name

ROOT = Path(__file__).resolve().parents[2]


def test_a_later_copy_reaches_the_first_and_asks_it_forward(qtbot: QtBot, tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    assert first.listening
    with qtbot.waitSignal(first.raise_requested, timeout=5_000):
        assert ask_running_copy(tmp_path)
    assert not ask_running_copy(tmp_path / "another-clinic")
    first.close()


def test_the_socket_name_shows_no_folder_or_user(tmp_path: Path) -> None:
    name = server_name(tmp_path / "Okafor family clinic")
    assert "Okafor" not in name and os.sep not in name and name.startswith("frontdesk-")


def test_starting_the_program_again_quits_and_brings_the_first_forward(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The real start path in a second process: it must not open the clinic twice."""
    first = SingleInstance(tmp_path)
    env = dict(os.environ, FRONTDESK_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    with qtbot.waitSignal(first.raise_requested, timeout=60_000):
        second = subprocess.Popen([sys.executable, str(ROOT / "main.py")], env=env)
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
    assert second.returncode == 0
    assert not (tmp_path / "clinic.db").exists()  # no wizard, no second clinic
    first.close()


def test_bring_forward_restores_a_minimised_window(qtbot: QtBot, qapp: QApplication) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    window.showMinimized()
    bring_forward(qapp)
    qtbot.waitUntil(lambda: not window.isMinimized())


def test_an_unexpected_error_says_so_plainly_and_leaves_a_report(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path))
    parent = QWidget()
    qtbot.addWidget(parent)
    try:
        {}["Okafor, Ada"]  # a bug whose message quotes patient data
    except KeyError as exc:
        path = report_unexpected(parent, exc)
    assert path is not None and path.parent == crash_folder(tmp_path)
    assert "Okafor" not in path.read_text("utf-8")
    (box,) = [w for w in parent.findChildren(QMessageBox) if w.isVisible()]
    assert "did not expect" in box.text()
    assert path.name in box.informativeText()
    assert "Okafor" not in box.text() + box.informativeText()
    box.close()


def test_our_own_errors_are_shown_as_they_are_without_a_report(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTimer

    from app.errors import InvalidInputError

    monkeypatch.setenv("FRONTDESK_HOME", str(tmp_path))
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        box.accept()

    QTimer.singleShot(0, answer)
    show_error(None, "Saving", InvalidInputError("The amount is not a number."))
    assert seen == ["The amount is not a number."]
    assert not crash_folder(tmp_path).exists()
