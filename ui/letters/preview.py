"""A page-by-page preview of a batch PDF held in memory.

Only the page on screen is rendered, when it is shown: a batch of a thousand letters
previews as fast as one. The page is drawn to the width the panel has, at the screen's
pixel density, so it stays sharp at 200 %.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.letters import printing
from ui.theme import hint_line


class _PageLabel(QLabel):
    """The page image; PgUp/PgDn turn pages when it has the focus."""

    turn = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_PageDown, Qt.Key.Key_Right):
            self.turn.emit(1)
            return
        if event.key() in (Qt.Key.Key_PageUp, Qt.Key.Key_Left):
            self.turn.emit(-1)
            return
        super().keyPressEvent(event)


class PdfPreview(QWidget):
    """Shows one page of `data` at a time with Previous and Next; `page_shown(index)`."""

    page_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Preview")
        self.data: bytes | None = None
        self.pages = 0
        self.index = 0
        self.image = QImage()
        self.message = hint_line()
        self.message.setAccessibleName("About the preview")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.page = _PageLabel()
        self.page.setAccessibleName("Page")
        self.page.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.page.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.page.turn.connect(self.turn)
        # The sheet stands out on grey, as on a desk.
        self.page.setAutoFillBackground(True)
        self.page.setBackgroundRole(QPalette.ColorRole.Mid)
        self.scroller = QScrollArea()
        self.scroller.setAccessibleName("Page preview")
        self.scroller.setWidget(self.page)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.previous_button = QPushButton("◀ Previous page")
        self.previous_button.setAccessibleName("Previous page")
        self.previous_button.clicked.connect(lambda: self.turn(-1))
        self.next_button = QPushButton("Next page ▶")
        self.next_button.setAccessibleName("Next page")
        self.next_button.clicked.connect(lambda: self.turn(1))
        self.where = QLabel()
        self.where.setAccessibleName("Page number")
        self.where.setAlignment(Qt.AlignmentFlag.AlignCenter)
        paging = QHBoxLayout()
        paging.setContentsMargins(0, 0, 0, 0)
        paging.addWidget(self.previous_button)
        paging.addWidget(self.where, 1)
        paging.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.scroller, 1)
        layout.addLayout(paging)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(120)
        self._resize_timer.timeout.connect(self._render)
        self.show_message("")

    # --- what is shown -----------------------------------------------------------------

    def show_message(self, text: str) -> None:
        """No pages, only a sentence (building, nothing chosen, a problem)."""
        self.data = None
        self.pages = 0
        self.index = 0
        self.image = QImage()
        self.page.clear()
        self.page.setAccessibleDescription("")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.scroller.setVisible(False)
        self._update_paging()

    def set_pdf(self, data: bytes, *, index: int = 0) -> None:
        self.data = data
        self.pages = printing.page_count(data)
        self.message.hide()
        self.scroller.setVisible(True)
        self.show_page(index)

    def show_page(self, index: int) -> None:
        if not self.pages:
            return
        self.index = max(0, min(index, self.pages - 1))
        self._render()
        self._update_paging()
        self.page_shown.emit(self.index)

    def turn(self, step: int) -> None:
        if self.pages:
            self.show_page(self.index + step)

    def _render(self) -> None:
        if self.data is None:
            return
        ratio = self.devicePixelRatioF()
        width = max(self.scroller.viewport().width() - 16, 200)
        self.image = printing.render_page(self.data, self.index, int(width * ratio))
        pixmap = QPixmap.fromImage(self.image)
        pixmap.setDevicePixelRatio(ratio)
        self.page.setPixmap(pixmap)
        self.page.setAccessibleDescription(f"Page {self.index + 1} of {self.pages}")

    def _update_paging(self) -> None:
        self.where.setText(f"Page {self.index + 1:,} of {self.pages:,}" if self.pages else "")
        self.previous_button.setEnabled(self.pages > 0 and self.index > 0)
        self.next_button.setEnabled(self.pages > 0 and self.index < self.pages - 1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.data is not None:
            self._resize_timer.start()
