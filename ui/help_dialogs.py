"""Help ▸ Shortcuts and Help ▸ About: what the keys do and what is installed, no patient data."""

from __future__ import annotations

import logging

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.store.database import DatabaseError
from app.store.paths import data_home
from app.version import __version__
from ui.shortcuts import SHORTCUTS, Shortcut

log = logging.getLogger(__name__)

PRODUCT = "Frontdesk"
LICENCE = "Proprietary software, licensed to the clinic that installed it."


def key_text(entry: Shortcut) -> str:
    """The keys as this platform writes them (Ctrl+K here, ⌘K on a Mac)."""
    return entry.sequence().toString(QKeySequence.SequenceFormat.NativeText)


class ShortcutsDialog(QDialog):
    """Every shortcut of ui/shortcuts.py, grouped by where it works, with a filter box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Type to filter, e.g. call or Ctrl+L")
        self.filter_edit.setAccessibleName("Filter shortcuts")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.apply_filter)

        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Shortcuts")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Keys", "What it does"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.groups: dict[str, QTreeWidgetItem] = {}
        self.rows: dict[str, list[QTreeWidgetItem]] = {}
        for entry in SHORTCUTS:
            group = self.groups.get(entry.where)
            if group is None:
                group = QTreeWidgetItem(self.tree, [entry.where])
                group.setFirstColumnSpanned(True)
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.groups[entry.where] = group
                self.rows[entry.where] = []
            row = QTreeWidgetItem(group, [key_text(entry), entry.action])
            row.setData(0, Qt.ItemDataRole.UserRole, entry.name)
            self.rows[entry.where].append(row)
            # A screen reader reads the row as a sentence, not two bare cells.
            row.setData(0, Qt.ItemDataRole.AccessibleTextRole, f"{key_text(entry)}: {entry.action}")
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        # Room between the keys and their meaning, measured in characters so it scales.
        gap = self.tree.fontMetrics().averageCharWidth() * 3
        self.tree.setColumnWidth(0, self.tree.columnWidth(0) + gap)
        self.tree.header().setStretchLastSection(True)

        self.empty = QLabel("No shortcut matches.")
        self.empty.setAccessibleName("Filter result")
        self.empty.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addWidget(buttons)
        # Wide and tall enough for the whole list at normal size; scrolls when the text is larger.
        metrics = self.fontMetrics()
        self.resize(metrics.averageCharWidth() * 70, metrics.lineSpacing() * 34)
        self.filter_edit.setFocus()

    def visible_names(self) -> list[str]:
        """The shortcut names the list shows now, in order."""
        return [
            str(row.data(0, Qt.ItemDataRole.UserRole))
            for where, group in self.groups.items()
            if not group.isHidden()
            for row in self.rows[where]
            if not row.isHidden()
        ]

    def apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        shown = 0
        for where, group in self.groups.items():
            group_matches = needle in where.casefold()
            visible_rows = 0
            for row in self.rows[where]:
                haystack = f"{row.text(0)} {row.text(1)}".casefold()
                visible = not needle or group_matches or needle in haystack
                row.setHidden(not visible)
                visible_rows += visible
            group.setHidden(visible_rows == 0)
            shown += visible_rows
        self.empty.setVisible(shown == 0)


def cipher_version(clinic: Clinic) -> str:
    """SQLCipher's own version, as the open database reports it."""
    try:
        row = clinic.conn.execute("PRAGMA cipher_version").fetchone()
    except DatabaseError as exc:
        log.info("cipher version not available: %s", type(exc).__name__)
        return "unknown"
    return str(row[0]) if row and row[0] else "unknown"


def sqlite_version(clinic: Clinic) -> str:
    row = clinic.conn.execute("SELECT sqlite_version()").fetchone()
    return str(row[0])


class AboutDialog(QDialog):
    """Program and library versions, for a support call; nothing about any patient."""

    def __init__(self, parent: QWidget | None = None, clinic: Clinic | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {PRODUCT}")
        self.setAccessibleName(f"About {PRODUCT}")

        title = QLabel(f"<h2>{PRODUCT} {__version__}</h2>")
        title.setAccessibleName(f"{PRODUCT} version {__version__}")
        # Broken by hand, not word-wrapped: Qt sizes a dialog too short for wrapped
        # labels at large text sizes and the facts below would be cut off.
        blurb = QLabel(
            "The front desk of a small clinic: patients, appointments, calls,\n"
            "messages, letters and payments, kept encrypted on this computer."
        )

        self.facts: dict[str, str] = {"Version": __version__}
        self.facts["Qt"] = qVersion()
        self.facts["PySide6"] = PySide6.__version__
        if clinic is not None:
            self.facts["SQLCipher"] = cipher_version(clinic)
            self.facts["SQLite"] = sqlite_version(clinic)
            self.facts["Data folder"] = str(clinic.home)
        else:
            self.facts["Data folder"] = str(data_home())
        self.facts["Licence"] = LICENCE

        form = QFormLayout()
        flags = Qt.TextInteractionFlag
        for name, value in self.facts.items():
            label = QLabel(value)
            label.setAccessibleName(name)
            label.setTextInteractionFlags(
                flags.TextSelectableByMouse | flags.TextSelectableByKeyboard
            )
            form.addRow(f"{name}:", label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        buttons.button(QDialogButtonBox.StandardButton.Close).setDefault(True)
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setAccessibleName("Copy these details for support")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text()))

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 60)
        # Keyboard users get every fact at once through Copy details; Close comes first.
        buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()

    def text(self) -> str:
        """Everything shown, as plain lines: what support asks to have read out or pasted."""
        return "\n".join(f"{name}: {value}" for name, value in self.facts.items())
