"""Patient details copied out of Frontdesk are marked sensitive and do not stay on the
clipboard; what is on the clipboard since is left alone."""

from __future__ import annotations

import hashlib

from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from ui.bus import DataBus
from ui.patient.view import PatientView
from ui.security.clipboard import ClipboardGuard, sensitive_formats


def some_patient(clinic: Clinic) -> str:
    return str(
        clinic.conn.execute(
            "SELECT id FROM patient WHERE deceased = 0 ORDER BY family_name LIMIT 1"
        ).fetchone()[0]
    )


def copy_patient_name(qtbot: QtBot, clinic: Clinic) -> str:
    """Select the name in a real patient header and press the platform's Copy keys."""
    view = PatientView(clinic, DataBus())
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    view.show_patient(some_patient(clinic))
    name = view.header.name
    name.setSelection(0, len(name.text()))
    name.setFocus()
    QTest.keySequence(name, QKeySequence.StandardKey.Copy)
    return name.text()


def test_a_copied_patient_name_is_marked_and_cleared(qtbot: QtBot, demo_clinic: Clinic) -> None:
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    guard = ClipboardGuard(clear_after_ms=50)
    try:
        copied = copy_patient_name(qtbot, demo_clinic)
        assert copied
        assert clipboard.text() == copied
        mime = clipboard.mimeData()
        assert bytes(mime.data("x-kde-passwordManagerHint").data()) == b"secret"
        assert guard.holds_ours()
        qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)
        assert not guard.holds_ours()
    finally:
        guard.close()


def test_lock_clears_the_copy_at_once(qtbot: QtBot, demo_clinic: Clinic) -> None:
    clipboard = QGuiApplication.clipboard()
    guard = ClipboardGuard(clear_after_ms=3_600_000)
    try:
        copy_patient_name(qtbot, demo_clinic)
        assert clipboard.text()
        guard.clear_now()
        assert clipboard.text() == ""
    finally:
        guard.close()


def test_the_guard_keeps_a_digest_not_the_text(qtbot: QtBot, demo_clinic: Clinic) -> None:
    guard = ClipboardGuard(clear_after_ms=3_600_000)
    try:
        copied = copy_patient_name(qtbot, demo_clinic)
        held = [v for v in vars(guard).values() if isinstance(v, (str, bytes))]
        assert copied not in [v for v in held if isinstance(v, str)]
        assert hashlib.sha256(copied.encode()).digest() in held
    finally:
        guard.close()


def test_a_copy_marked_once_is_not_marked_again_and_again(qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    guard = ClipboardGuard(clear_after_ms=3_600_000)
    changes: list[int] = []

    def changed() -> None:
        changes.append(1)

    clipboard.dataChanged.connect(changed)
    try:
        clipboard.setText("Frontdesk copy")
        QGuiApplication.processEvents()
        # the copy itself, then the one re-marking: no loop
        assert len(changes) == 2
        assert clipboard.mimeData().hasFormat("x-kde-passwordManagerHint")
    finally:
        guard.close()
        clipboard.dataChanged.disconnect(changed)


def test_every_platform_gets_its_own_do_not_keep_formats() -> None:
    windows = sensitive_formats("win32", "x")
    assert windows == {
        'application/x-qt-windows-mime;value="ExcludeClipboardContentFromMonitorProcessing"': (
            b"\0\0\0\0"
        ),
        'application/x-qt-windows-mime;value="CanIncludeInClipboardHistory"': b"\0\0\0\0",
        'application/x-qt-windows-mime;value="CanUploadToCloudClipboard"': b"\0\0\0\0",
    }
    assert sensitive_formats("darwin", "Ada") == {
        "application/x-nspasteboard-concealed-type": b"Ada"
    }
    assert sensitive_formats("linux", "Ada") == {"x-kde-passwordManagerHint": b"secret"}
