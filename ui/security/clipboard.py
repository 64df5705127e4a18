"""Patient details copied out of Frontdesk do not stay on the clipboard.

Whenever the clipboard changes and Frontdesk owns it (a copy from any Frontdesk field),
the copy is put back marked as sensitive, in the form each platform's clipboard managers
and history honour, and cleared after 30 seconds, on lock and on quit: but only if the
clipboard still holds that same copy. Text another program put there since is never
touched. Only a SHA-256 of the copy is kept, never the text itself.

A paste into another program before then cannot be taken back; the user guide says so.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import sys
from typing import Final

import shiboken6
from PySide6.QtCore import QCoreApplication, QMimeData, QObject, QTimer
from PySide6.QtGui import QClipboard, QGuiApplication

log = logging.getLogger(__name__)

CLEAR_AFTER_MS: Final = 30_000
# Platforms whose clipboard lives inside this process: whatever is on it, Frontdesk put it
# there (the test platform; no other program can reach it).
_PROCESS_LOCAL_PLATFORMS: Final = frozenset({"offscreen", "minimal"})

_WINDOWS_FORMAT = 'application/x-qt-windows-mime;value="{}"'
_DWORD_ZERO = struct.pack("<I", 0)


def sensitive_formats(platform: str, text: str) -> dict[str, bytes]:
    """The extra clipboard formats that ask clipboard managers and histories to skip a copy.

    Linux/KDE (Klipper and others): x-kde-passwordManagerHint. macOS: the nspasteboard.org
    concealed type (its data is the text itself, by that convention). Windows: leave it
    out of Win+V history and the cloud clipboard, and out of clipboard monitors, through
    Qt's raw Windows clipboard formats.
    """
    if platform == "win32":
        return {
            _WINDOWS_FORMAT.format("ExcludeClipboardContentFromMonitorProcessing"): _DWORD_ZERO,
            _WINDOWS_FORMAT.format("CanIncludeInClipboardHistory"): _DWORD_ZERO,
            _WINDOWS_FORMAT.format("CanUploadToCloudClipboard"): _DWORD_ZERO,
        }
    if platform == "darwin":
        return {"application/x-nspasteboard-concealed-type": text.encode("utf-8")}
    return {"x-kde-passwordManagerHint": b"secret"}


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class ClipboardGuard(QObject):
    """Watches the application's clipboard; one per application (the screen guard's).

    A new guard retires the one before it: two guards answering the same change would
    each re-mark the clipboard inside the other's handling, replacing the data under it.
    """

    _active: ClipboardGuard | None = None

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        clear_after_ms: int = CLEAR_AFTER_MS,
        platform: str = sys.platform,
    ) -> None:
        super().__init__(parent)
        self._clipboard = QGuiApplication.clipboard()
        self._platform = platform
        self._ours: bytes | None = None  # SHA-256 of the copy Frontdesk last made
        self._marking = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(clear_after_ms)
        self._timer.timeout.connect(self.clear_now)
        previous = ClipboardGuard._active
        if previous is not None and shiboken6.isValid(previous):
            previous.close()
        ClipboardGuard._active = self
        self._closed = False
        self._clipboard.dataChanged.connect(self._changed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.clear_now)

    def holds_ours(self) -> bool:
        """Whether the clipboard still holds the copy Frontdesk made (and has not cleared)."""
        if self._ours is None or not self._owned():
            return False
        mime = self._clipboard.mimeData(QClipboard.Mode.Clipboard)
        return mime is not None and mime.hasText() and digest(mime.text()) == self._ours

    def clear_now(self) -> None:
        """Clear the clipboard if it still holds Frontdesk's copy (timer, lock, quit)."""
        self._timer.stop()
        if self.holds_ours():
            self._clipboard.clear(QClipboard.Mode.Clipboard)
        self._ours = None
        # X11's selection holds whatever was last highlighted with the mouse, a patient's
        # name included; Frontdesk clears it only while it is still Frontdesk's.
        if self._clipboard.supportsSelection() and self._clipboard.ownsSelection():
            self._clipboard.clear(QClipboard.Mode.Selection)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.clear_now()
        self._clipboard.dataChanged.disconnect(self._changed)
        if ClipboardGuard._active is self:
            ClipboardGuard._active = None

    def _owned(self) -> bool:
        if QGuiApplication.platformName() in _PROCESS_LOCAL_PLATFORMS:
            return True
        return bool(self._clipboard.ownsClipboard())

    def _changed(self) -> None:
        if self._marking:
            return  # our own re-marking below, delivered at once
        mime = self._clipboard.mimeData(QClipboard.Mode.Clipboard)
        if not self._owned() or mime is None or not mime.hasText() or not mime.text():
            # Another program's copy (or an empty clipboard): none of Frontdesk's business.
            self._ours = None
            self._timer.stop()
            return
        text = mime.text()
        copied = digest(text)
        if copied == self._ours:
            # Our re-marked copy coming back (platforms that tell later) or the same text
            # copied again: the clock simply starts over.
            self._timer.start()
            return
        marked = QMimeData()
        for name in mime.formats():
            marked.setData(name, mime.data(name))
        for name, data in sensitive_formats(self._platform, text).items():
            marked.setData(name, data)
        self._ours = copied
        self._marking = True
        try:
            self._clipboard.setMimeData(marked, QClipboard.Mode.Clipboard)
        finally:
            self._marking = False
        self._timer.start()
