"""The clinic's review links (Google, Yelp, ...) that review requests send to promoters."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.engagement import surveys
from app.engagement.surveys import ReviewLink
from app.errors import FrontdeskError
from app.store.changes import Changes
from ui.bus import DataBus
from ui.ops import show_error
from ui.theme import error_line, hint_line

MOST_LINKS = 5
_ROW = re.compile(r"Review link (\d+):")
NOTE = (
    "After a survey, a patient who scored 9 or 10 gets one message asking for a review, "
    "with the links below. Nobody else is asked, and nobody is asked while this list is "
    "empty. Give each link a name patients recognise, such as Google or Yelp."
)


class ReviewLinksBox(QGroupBox):
    """Up to five (name, https link) rows and Save; the core's reason shows under the rows."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__("Review links", parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Review links")
        self._loading = False
        self._dirty = False

        note = QLabel(NOTE)
        note.setWordWrap(True)
        note.setAccessibleName("About review links")

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 3)
        name_caption = QLabel("Name")
        link_caption = QLabel("Link (starting https://)")
        grid.addWidget(name_caption, 0, 1)
        grid.addWidget(link_caption, 0, 2)
        self.names: list[QLineEdit] = []
        self.links: list[QLineEdit] = []
        for row in range(MOST_LINKS):
            number = QLabel(f"{row + 1}.")
            name = QLineEdit()
            name.setAccessibleName(f"Name of review link {row + 1}")
            name.setPlaceholderText("e.g. Google" if row == 0 else "")
            link = QLineEdit()
            link.setAccessibleName(f"Review link {row + 1}")
            link.setPlaceholderText("https://g.page/r/…/review" if row == 0 else "")
            for field in (name, link):
                field.textChanged.connect(self._edited)
                field.returnPressed.connect(self.save)
            number.setBuddy(name)
            grid.addWidget(number, row + 1, 0)
            grid.addWidget(name, row + 1, 1)
            grid.addWidget(link, row + 1, 2)
            self.names.append(name)
            self.links.append(link)

        self.error = error_line()
        self.error.setAccessibleName("Review links error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.status = hint_line()
        self.status.setAccessibleName("Review links status")
        self.save_button = QPushButton("Save review links")
        self.save_button.setAccessibleName("Save review links")
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(grid)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addStretch(1)  # a tall Settings tab keeps the rows together at the top
        bus.changed.connect(self._on_changes)
        self.refresh()

    def refresh(self) -> None:
        """Show the saved links (an edit in progress is replaced)."""
        self._loading = True
        try:
            saved = surveys.review_links(self.clinic)
            for row in range(MOST_LINKS):
                link = saved[row] if row < len(saved) else None
                self.names[row].setText(link.name if link else "")
                self.links[row].setText(link.url if link else "")
        finally:
            self._loading = False
        self._dirty = False
        self.error.hide()
        self.status.setText("" if saved else "No review links yet: no review requests go out.")

    def typed_links(self) -> list[ReviewLink]:
        """The rows with anything typed, in order; an empty row is no link."""
        return [
            ReviewLink(name.text().strip(), link.text().strip())
            for name, link in zip(self.names, self.links, strict=True)
            if name.text().strip() or link.text().strip()
        ]

    def save(self) -> bool:
        self.error.hide()
        try:
            changes = surveys.save_review_links(self.clinic, self.typed_links())
        except FrontdeskError as exc:  # the core's reason, in plain words, under the rows
            self._show_error(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - shown plainly, a crash report written
            show_error(self, "Review links", exc)
            return False
        for field in (*self.names, *self.links, self.save_button):
            field.setAccessibleDescription("")
        self._dirty = False
        self.bus.publish(changes)
        self.refresh()  # the links as stored (trimmed, in order)
        if self.typed_links():
            self.status.setText("Saved.")
        else:
            self.status.setText("Saved. No review links: no review requests go out.")
        return True

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.status.setText("")
        # "Review link 2: ..." names a row of typed links: put the cursor in that row.
        found = _ROW.match(message)
        typed = [
            row
            for row in range(MOST_LINKS)
            if self.names[row].text().strip() or self.links[row].text().strip()
        ]
        if found and 0 < int(found.group(1)) <= len(typed):
            row = typed[int(found.group(1)) - 1]
            field = self.links[row] if "address" in message else self.names[row]
            field.setAccessibleDescription(message)
            field.setFocus()
        else:
            self.save_button.setAccessibleDescription(message)

    def _edited(self) -> None:
        if not self._loading:
            self._dirty = True
            self.status.setText("")

    def _on_changes(self, changes: Changes) -> None:
        # Another window saved the links: show them, unless someone is typing here.
        if changes.touches("setting") and not self._dirty:
            self.refresh()
