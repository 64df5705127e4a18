"""The QR picture of an enrollment code, drawn module by module from the core's matrix.

app/sync/qr.py gives the modules (True = dark) without a quiet zone; this widget leaves
the four light modules around it that scanners need, keeps the modules square and whole
pixels wide at any screen scale, and stays black on white in the dark theme too (a
scanner reads dark modules on a light ground, not the other way round).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

QUIET_ZONE = 4
MIN_MODULE_PX = 4

Matrix = tuple[tuple[bool, ...], ...]


class QrPicture(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix: Matrix = ()
        self.setAccessibleName("QR picture of the code")
        self.setAccessibleDescription(
            "The same code as the letters beside it, for a phone or a camera to read."
        )
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_matrix(self, matrix: Matrix) -> None:
        self.matrix = matrix
        self.updateGeometry()
        self.update()

    def modules(self) -> int:
        """Modules per side, quiet zone included."""
        return len(self.matrix) + 2 * QUIET_ZONE if self.matrix else 0

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # About 15 lines of text tall: big enough for a webcam at arm's length, and it
        # grows with the text size like everything else on the page.
        side = max(self.fontMetrics().lineSpacing() * 15, self.modules() * MIN_MODULE_PX)
        return QSize(side, side)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        side = self.modules() * MIN_MODULE_PX
        return QSize(side, side)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        count = self.modules()
        if not count:
            painter.end()
            return
        side = min(self.width(), self.height())
        module = max(1, side // count)  # whole pixels: blurred edges scan badly
        left = (self.width() - module * count) // 2 + QUIET_ZONE * module
        top = (self.height() - module * count) // 2 + QUIET_ZONE * module
        dark = QColor("black")
        painter.setPen(Qt.PenStyle.NoPen)
        for y, row in enumerate(self.matrix):
            for x, on in enumerate(row):
                if on:
                    painter.fillRect(
                        QRect(left + x * module, top + y * module, module, module), dark
                    )
        painter.end()
