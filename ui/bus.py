"""One signal that says what a write changed, so every open view refreshes from it.

A core write returns `Changes`; whoever made the write publishes it here, and each
view checks `changes.touches(...)` / `changes.patient_ids` to decide whether to reload.
Published on the GUI thread only (Op callbacks already run there).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.store.changes import Changes


class DataBus(QObject):
    changed = Signal(object)  # Changes

    def publish(self, changes: Changes) -> None:
        if changes:
            self.changed.emit(changes)
