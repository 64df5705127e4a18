"""What can go wrong reading a CSV file: a whole-file error, or one row's problem."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInputError

__all__ = ["CsvFileError", "EmptyCsvError", "RowProblem"]


class CsvFileError(InvalidInputError):
    """The file as a whole cannot be read as CSV (empty, binary, not text...).

    The message names the file, never its content, so it can be shown and logged.
    The import of the other files goes on; `file_name` lets a summary list it.
    """

    def __init__(self, file_name: str, message: str) -> None:
        super().__init__(message)
        self.file_name = file_name


class EmptyCsvError(CsvFileError):
    """The file is empty or holds only the column names: nothing to import.

    A subclass so a caller can list it as a warning rather than a failure (an EMR
    exports an empty allergies table when nobody has allergies).
    """


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One record that was not taken, and why; the import goes on without it.

    `line` is the physical line where the record starts (1 = first line of the file),
    which is what a spreadsheet or text editor shows. `field` names our field (or the
    column) when one value is at fault, "" when the whole row is. `reason` never
    contains a value from the file: it is safe for logs and the error report.
    `severity` "error" means the row was not taken; "warning" means it was taken
    without the one value named (a phone that cannot be dialled, say).
    """

    file_name: str
    line: int
    reason: str
    field: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file_name}, line {self.line}"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.reason}"
