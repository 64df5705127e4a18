"""Small inputs the reminder settings share: a ticked list and the channel-order picker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from app.reminders.rules import CHANNEL_LABELS, CHANNELS

NONE = ""


class TickList(QListWidget):
    """Values to tick; nothing ticked means all of them (the rule's filters work that way)."""

    edited = Signal()

    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(accessible_name)
        self.itemChanged.connect(lambda _item: self.edited.emit())
        rows = self.fontMetrics().lineSpacing()
        self.setMinimumHeight(rows * 3)
        self.setMaximumHeight(rows * 7)

    def fill(self, choices: Iterable[tuple[str, str]], ticked: Sequence[str]) -> None:
        """(value, label) pairs; a ticked value no longer offered stays, so nothing is lost."""
        self.blockSignals(True)
        try:
            self.clear()
            offered: list[tuple[str, str]] = list(choices)
            known = {value for value, _label in offered}
            offered += [
                (value, f"{value} (no longer listed)") for value in ticked if value not in known
            ]
            for value, label in offered:
                item = QListWidgetItem(label)
                item.setData(Qt.ItemDataRole.UserRole, value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = value in ticked
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self.addItem(item)
        finally:
            self.blockSignals(False)

    def ticked(self) -> tuple[str, ...]:
        values = []
        for row in range(self.count()):
            item = self.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                values.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(values)

    def set_ticked(self, values: Sequence[str]) -> None:
        for row in range(self.count()):
            item = self.item(row)
            value = str(item.data(Qt.ItemDataRole.UserRole))
            item.setCheckState(
                Qt.CheckState.Checked if value in values else Qt.CheckState.Unchecked
            )


class ChannelOrder(QWidget):
    """'First Text, then Email, then Letter': the order a rule tries its ways of sending."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Ways of sending, in order")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combos: list[QComboBox] = []
        words = ("First", "else", "else")
        names = ("First way of sending", "Second way of sending", "Third way of sending")
        for index, (word, name) in enumerate(zip(words, names, strict=True)):
            label = QLabel(word)
            combo = QComboBox()
            combo.setAccessibleName(name)
            if index:
                combo.addItem("nothing else", NONE)
            for channel in CHANNELS:
                combo.addItem(CHANNEL_LABELS[channel], channel)
            label.setBuddy(combo)
            combo.currentIndexChanged.connect(lambda _i: self.edited.emit())
            layout.addWidget(label)
            layout.addWidget(combo)
            self.combos.append(combo)
        layout.addStretch(1)

    def set_channels(self, channels: Sequence[str]) -> None:
        for index, combo in enumerate(self.combos):
            value = channels[index] if index < len(channels) else NONE
            found = combo.findData(value)
            combo.setCurrentIndex(max(found, 0))

    def channels(self) -> tuple[str, ...]:
        """The chosen order; a repeated way is kept so the rule's check can name it."""
        chosen = [str(combo.currentData()) for combo in self.combos]
        return tuple(c for c in chosen if c)
