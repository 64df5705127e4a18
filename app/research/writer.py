"""The export folder: written hidden, appears under its final name only when complete.

The files are built in a hidden folder next to the chosen one (".frontdesk-research-…",
0700) and renamed when every file is written, so a cancelled or failed export leaves
nothing behind and a researcher never gets half a set. Every CSV cell goes through
app/exports/csv_export.safe_cell (formula injection) and the files are UTF-8 with a BOM,
like the patients list export. The folder's name holds the date and time of the export
and nothing about any patient.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from app.errors import ResearchExportError
from app.exports.csv_export import safe_cell
from app.research.fields import PSEUDONYM, Column

FOLDER_PREFIX = "Frontdesk research export"


def folder_name(moment: datetime) -> str:
    return f"{FOLDER_PREFIX} {moment:%Y-%m-%d %H%M}"


class ExportFolder:
    """`with ExportFolder(parent, name) as folder: folder.csv(...); folder.finish()`."""

    def __init__(self, parent: Path, name: str) -> None:
        self.parent = parent
        self.name = name
        self._temp: Path | None = None
        self.final: Path | None = None

    def __enter__(self) -> ExportFolder:
        if not self.parent.is_dir():
            raise ResearchExportError("That folder does not exist. Choose another folder.")
        try:
            self._temp = Path(tempfile.mkdtemp(prefix=".frontdesk-research-", dir=self.parent))
        except OSError as exc:
            raise ResearchExportError(
                "The export could not be saved there. Choose a folder you can save to."
            ) from exc
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._temp is not None and self.final is None:
            shutil.rmtree(self._temp, ignore_errors=True)

    @property
    def temp(self) -> Path:
        if self._temp is None:
            raise RuntimeError("the export folder is not open")
        return self._temp

    def csv(
        self, file_name: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]
    ) -> int:
        """Write one CSV file; returns the number of data rows.

        Text columns go through safe_cell; numbers, years and the pseudonym (hex digits)
        cannot start with a formula sign, and skipping them keeps 100k-row files fast.
        """
        text = [i for i, c in enumerate(columns) if c.type == "text" and c is not PSEUDONYM]
        written = 0
        try:
            with (self.temp / file_name).open("w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out)
                writer.writerow([safe_cell(c.name) for c in columns])
                for row in rows:
                    if text:
                        cells = list(row)
                        for i in text:
                            cells[i] = safe_cell(_text(cells[i]))
                        writer.writerow(cells)
                    else:
                        writer.writerow(row)
                    written += 1
        except OSError as exc:
            raise _disk_error() from exc
        return written

    def text(self, file_name: str, text: str) -> None:
        try:
            (self.temp / file_name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _disk_error() from exc

    def finish(self) -> Path:
        """Give the folder its name (adding " (2)"… when the name is taken)."""
        for n in range(1, 1000):
            target = self.parent / (self.name if n == 1 else f"{self.name} ({n})")
            if target.exists():
                continue
            try:
                self.temp.rename(target)
            except OSError as exc:
                raise _disk_error() from exc
            self.final = target
            for path in target.iterdir():
                with contextlib.suppress(OSError):  # Windows keeps its own ACLs
                    path.chmod(0o600)
            return target
        raise ResearchExportError("That folder holds too many exports. Choose another folder.")


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _disk_error() -> ResearchExportError:
    return ResearchExportError(
        "The export could not be saved (the disk may be full or the folder read-only). "
        "Nothing was saved."
    )
