"""Where new patients come from (the "How did you hear about us?" channels) and the size
above which a campaign asks before it starts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.growth import acquisition, segments
from app.growth.acquisition import Source
from app.store.changes import Changes
from ui.bus import DataBus
from ui.ops import show_error
from ui.theme import error_line, hint_line

CHANNELS_NOTE = (
    "The answers the desk offers to “How did you hear about us?”, in this order. "
    "Renaming a channel keeps every patient who came that way on it, and the reports "
    "show the new name. A channel you no longer want offered can be retired: patients "
    "who already came through it keep it."
)
RETIRED = "retired, kept for past patients"
LIMIT_NOTE = (
    "A campaign to more patients than this asks “Send to all of them?” before it "
    "starts, so a group left too wide is caught before anyone gets a message."
)


def _item_text(source: Source) -> str:
    return source.label if source.active else f"{source.label} ({RETIRED})"


class ChannelsBox(QGroupBox):
    """The channels in order, with a name box for the selected one and buttons to move,
    add, retire or bring back; Save hands the whole list to the core, whose reason for
    refusing shows under the list."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__("How new patients heard about us", parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("How new patients heard about us")
        self._rows: list[Source] = []
        self._dirty = False
        self._loading = False

        note = QLabel(CHANNELS_NOTE)
        note.setWordWrap(True)
        note.setAccessibleName("About the channels")

        self.list = QListWidget()
        self.list.setAccessibleName("Channels, in the order they are offered")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMinimumHeight(120)
        self.list.currentRowChanged.connect(self._selected)

        self.name = QLineEdit()
        self.name.setAccessibleName("Name of the selected channel")
        self.name.setPlaceholderText("e.g. Internet search")
        self.name.textEdited.connect(self._renamed)
        self.name.returnPressed.connect(self.save)
        name_label = QLabel("&Name:")
        name_label.setBuddy(self.name)
        name_row = QHBoxLayout()
        name_row.addWidget(name_label)
        name_row.addWidget(self.name, 1)

        self.up_button = self._button("Move &up", "Move the selected channel up", self.move_up)
        self.down_button = self._button(
            "Move &down", "Move the selected channel down", self.move_down
        )
        self.add_button = self._button("&Add a channel", "Add a channel", self.add_channel)
        self.retire_button = self._button("&Retire", "Retire the selected channel", self.toggle)
        self.remove_button = self._button(
            "Re&move", "Remove the selected channel", self.remove_channel
        )
        self.remove_button.setToolTip(
            "Only for a channel nobody has used yet, such as one added by mistake."
        )
        side = QVBoxLayout()
        for button in (
            self.up_button,
            self.down_button,
            self.add_button,
            self.retire_button,
            self.remove_button,
        ):
            side.addWidget(button)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addLayout(side)

        self.error = error_line()
        self.error.setAccessibleName("Channels error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.status = hint_line()
        self.status.setAccessibleName("Channels status")
        self.undo_button = self._button(
            "Undo changes", "Undo changes to the channels", self.refresh
        )
        self.save_button = self._button("&Save channels", "Save channels", self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(body, 1)
        layout.addLayout(name_row)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        for first, second in (
            (self.list, self.name),
            (self.name, self.up_button),
            (self.up_button, self.down_button),
            (self.down_button, self.add_button),
            (self.add_button, self.retire_button),
            (self.retire_button, self.remove_button),
            (self.remove_button, self.undo_button),
            (self.undo_button, self.save_button),
        ):
            QWidget.setTabOrder(first, second)
        bus.changed.connect(self._on_changes)
        self.refresh()

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # --- reading and showing ---------------------------------------------------------

    def refresh(self) -> None:
        """Show the saved channels (an edit in progress is dropped)."""
        self._rows = acquisition.sources(self.clinic)
        self._dirty = False
        self.error.hide()
        self.status.setText("")
        self._show(0 if self._rows else -1)

    def channels(self) -> list[Source]:
        """The list as edited: what Save will hand to the core."""
        return list(self._rows)

    def _show(self, current: int) -> None:
        self._loading = True
        try:
            self.list.clear()
            for source in self._rows:
                item = QListWidgetItem(_item_text(source))
                item.setToolTip("Offered to new patients" if source.active else "No longer offered")
                self.list.addItem(item)
            self.list.setCurrentRow(current)
        finally:
            self._loading = False
        self._selected(current)

    def _selected(self, row: int) -> None:
        if self._loading:
            return
        has = 0 <= row < len(self._rows)
        self.name.setEnabled(has)
        self.name.setText(self._rows[row].label if has else "")
        self.up_button.setEnabled(has and row > 0)
        self.down_button.setEnabled(has and row < len(self._rows) - 1)
        self.retire_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        active = has and self._rows[row].active
        self.retire_button.setText("&Retire" if active or not has else "&Bring back")
        self.retire_button.setAccessibleName(
            "Retire the selected channel"
            if active or not has
            else "Bring back the selected channel"
        )

    def _edited(self, current: int, message: str = "") -> None:
        self._dirty = True
        self.error.hide()
        self.status.setText(message or "Not saved yet.")
        self._show(current)

    # --- editing ---------------------------------------------------------------------

    def _renamed(self, text: str) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._rows):
            return
        source = self._rows[row]
        self._rows[row] = Source(source.key, text, source.active)
        item = self.list.item(row)
        if item is not None:
            item.setText(_item_text(self._rows[row]))
        self._dirty = True
        self.error.hide()
        self.status.setText("Not saved yet.")

    def move_up(self) -> None:
        self._move(-1)

    def move_down(self) -> None:
        self._move(1)

    def _move(self, step: int) -> None:
        row = self.list.currentRow()
        other = row + step
        if not (0 <= row < len(self._rows) and 0 <= other < len(self._rows)):
            return
        self._rows[row], self._rows[other] = self._rows[other], self._rows[row]
        self._edited(other)
        self.list.setFocus()

    def add_channel(self) -> None:
        # The core makes the key from the name when it saves; until then it is "".
        self._rows.append(Source("", "", True))
        self._edited(len(self._rows) - 1, "Type the new channel's name, then save.")
        self.name.setFocus()

    def toggle(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._rows):
            return
        source = self._rows[row]
        self._rows[row] = Source(source.key, source.label, not source.active)
        self._edited(row)
        self.retire_button.setFocus()

    def remove_channel(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self._rows):
            return
        del self._rows[row]
        self._edited(min(row, len(self._rows) - 1))
        self.list.setFocus()

    # --- saving ----------------------------------------------------------------------

    def save(self) -> bool:
        self.error.hide()
        try:
            changes = acquisition.save_sources(self.clinic, self.channels())
        except FrontdeskError as exc:  # the core's reason, in plain words, under the list
            self.error.setText(str(exc))
            self.error.show()
            self.status.setText("Not saved.")
            self.save_button.setAccessibleDescription(str(exc))
            self._point_at_problem()
            return False
        except Exception as exc:  # noqa: BLE001 - shown plainly, a crash report written
            show_error(self, "Channels", exc)
            return False
        self.save_button.setAccessibleDescription("")
        row = self.list.currentRow()
        self.refresh()  # the list as stored: trimmed names, keys made for new channels
        self._show(min(max(row, 0), len(self._rows) - 1))
        self.bus.publish(changes)
        self.status.setText("Saved.")
        return True

    def _point_at_problem(self) -> None:
        # The core says what is wrong, not where: select an empty or repeated name so
        # the person can fix it at once (the name box takes the cursor).
        seen: set[str] = set()
        for row, source in enumerate(self._rows):
            name = " ".join(source.label.split()).casefold()
            if not name or name in seen:
                self.list.setCurrentRow(row)
                self.name.setFocus()
                return
            seen.add(name)

    def _on_changes(self, changes: Changes) -> None:
        # Another window saved the channels: show them, unless someone is editing here.
        if changes.touches("setting") and not self._dirty:
            row = self.list.currentRow()
            self.refresh()
            self._show(min(max(row, 0), len(self._rows) - 1))


class CampaignLimitBox(QGroupBox):
    """The number of patients above which a campaign asks before it starts."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__("Large campaigns", parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Large campaigns")
        self._loading = False
        self._dirty = False

        note = QLabel(LIMIT_NOTE)
        note.setWordWrap(True)
        note.setAccessibleName("About large campaigns")

        self.limit = QSpinBox()
        self.limit.setRange(1, segments.MAX_ASK_ABOVE)
        self.limit.setGroupSeparatorShown(True)
        self.limit.setSuffix(" patients")
        self.limit.setAccessibleName("Ask before a campaign reaches more than this many patients")
        self.limit.valueChanged.connect(self._edited)
        self.limit.editingFinished.connect(self._typed)
        label = QLabel("Ask before a &campaign reaches more than")
        label.setBuddy(self.limit)

        self.error = error_line()
        self.error.setAccessibleName("Large campaigns error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.status = hint_line()
        self.status.setAccessibleName("Large campaigns status")
        self.save_button = QPushButton("Save")
        self.save_button.setAccessibleName("Save the number of patients to ask above")
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.limit)
        row.addWidget(self.save_button)
        row.addWidget(self.status, 1)
        form.addRow(label, row)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        bus.changed.connect(self._on_changes)
        self.refresh()

    def refresh(self) -> None:
        self._loading = True
        try:
            self.limit.setValue(segments.ask_above(self.clinic))
        finally:
            self._loading = False
        self._dirty = False
        self.error.hide()
        self.status.setText("")

    def save(self) -> bool:
        self.error.hide()
        try:
            changes = segments.save_ask_above(self.clinic, self.limit.value())
        except FrontdeskError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self.status.setText("Not saved.")
            return False
        except Exception as exc:  # noqa: BLE001 - shown plainly, a crash report written
            show_error(self, "Large campaigns", exc)
            return False
        self._dirty = False
        self.bus.publish(changes)
        self.status.setText("Saved.")
        return True

    def _typed(self) -> None:
        # Enter in the box saves, as in the other settings boxes; leaving it does not.
        if self.limit.hasFocus() and self._dirty:
            self.save()

    def _edited(self) -> None:
        if not self._loading:
            self._dirty = True
            self.status.setText("Not saved yet.")

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches("setting") and not self._dirty:
            self.refresh()
