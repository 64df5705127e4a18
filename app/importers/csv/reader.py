"""Streaming a CSV file as rows keyed by column name, each with the line it starts on.

The reader never stops at a bad record: a row with too few or too many fields comes
out as a RowProblem at its line and reading goes on, because a receptionist needs
"line 4,812 has 24 fields, expected 25" in the error report, not an import that
stopped or a row that vanished. Only a file that cannot be read at all raises.
Memory stays constant: one record at a time, whatever the file size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.importers.csv.problems import CsvFileError, RowProblem
from app.importers.csv.sniff import SniffResult, sniff

__all__ = ["CsvReader", "CsvRow", "read_rows"]


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One record: `values` maps each column name (as in SniffResult.header) to its
    raw text; `line` is the physical line the record starts on (1-based), which stays
    right after quoted values that span several lines."""

    line: int
    values: dict[str, str]


class CsvReader:
    """Iterates over one file's records: CsvRow, or RowProblem for a broken record.

    `bytes_done` / `bytes_total` give progress for a progress bar while iterating.
    `rows` and `problems` count what came out so far. Iterating a second time reads
    the file again from the start.
    """

    def __init__(self, path: Path, sniffed: SniffResult | None = None) -> None:
        self.path = path
        self.sniffed = sniffed if sniffed is not None else sniff(path)
        self.bytes_total = path.stat().st_size
        self.bytes_done = 0
        self.rows = 0
        self.problems = 0
        self.blank_rows = 0

    def __iter__(self) -> Iterator[CsvRow | RowProblem]:
        name = self.path.name
        sniffed = self.sniffed
        try:
            raw = io.FileIO(self.path, "r")
        except OSError as exc:
            raise CsvFileError(name, f"{name} could not be opened ({exc.strerror}).") from None
        with raw, io.TextIOWrapper(io.BufferedReader(raw), sniffed.encoding, newline="") as text:
            yield from self._records(text, raw)

    def _records(self, text: io.TextIOWrapper, raw: io.FileIO) -> Iterator[CsvRow | RowProblem]:
        name = self.path.name
        sniffed = self.sniffed
        header = sniffed.header
        width = len(header)
        # Physical lines consumed before the reader's count starts: Excel's sep= line.
        base = 0
        if sniffed.sep_line:
            self._skip_sep_line(text)
            base = 1
        lines = _BoundedLines(text)
        reader = csv.reader(lines, delimiter=sniffed.delimiter, strict=False)
        before = base
        header_pending = sniffed.has_header
        while True:
            start = before + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except _LineTooLongError:
                before = base + lines.count
                self.problems += 1
                yield RowProblem(name, before, _LONG_LINE_REASON)
                reader = csv.reader(lines, delimiter=sniffed.delimiter, strict=False)
                continue
            except csv.Error as exc:
                before = base + lines.count
                self.problems += 1
                yield RowProblem(name, start, _csv_error_reason(exc))
                continue
            except UnicodeDecodeError:
                raise CsvFileError(
                    name,
                    f"{name} cannot be read as {sniffed.encoding_label} from about line "
                    f"{start}; choose another encoding.",
                ) from None
            before = base + lines.count
            if not record or (not record[0] and not any(record)):
                self.blank_rows += 1
                continue
            if header_pending:
                header_pending = False
                continue
            if len(record) != width:
                trimmed = _without_empty_tail(record, width)
                if trimmed is None:
                    self.problems += 1
                    yield RowProblem(
                        name, start, _ragged_reason(len(record), width, before - start)
                    )
                    continue
                record = trimmed
            self.rows += 1
            if not self.rows % 1024:
                self.bytes_done = raw.tell()
            yield CsvRow(start, dict(zip(header, record, strict=True)))
        self.bytes_done = self.bytes_total

    @staticmethod
    def _skip_sep_line(text: io.TextIOWrapper) -> None:
        # Blank lines before the hint are rare enough to not be worth a line count.
        text.readline()


MAX_LINE = 4 * 1024 * 1024  # characters in one physical line; no EMR row comes near it
_LONG_LINE_REASON = (
    "This line is longer than 4 MB, far longer than any patient record; it was skipped."
)


class _LineTooLongError(Exception):
    """Internal: one physical line past MAX_LINE was skipped (not kept in memory)."""


class _BoundedLines:
    """The file's physical lines for csv.reader, each at most MAX_LINE characters.

    csv.reader would build a whole line (and a list of its fields) in memory: a 2 GB
    file without a newline, or of millions of tiny fields, would take many times that.
    A longer line is skipped in chunks and reported instead. `count` is the number of
    physical lines read so far, the long one included (for row numbers).
    """

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.count = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        self.count += 1
        if len(line) > MAX_LINE and not line.endswith(("\n", "\r")):
            while (more := self.text.readline(MAX_LINE)) and not more.endswith(("\n", "\r")):
                pass
            raise _LineTooLongError
        return line


def _without_empty_tail(record: list[str], width: int) -> list[str] | None:
    """A record with extra fields that are all empty (a trailing delimiter) is fine."""
    if len(record) > width and not any(field.strip() for field in record[width:]):
        return record[:width]
    return None


def _ragged_reason(found: int, expected: int, extra_lines: int) -> str:
    reason = f"This row has {found} {'field' if found == 1 else 'fields'}, expected {expected}"
    if extra_lines > 0:
        reason += (
            f"; it runs over {extra_lines + 1} lines, so a quotation mark may be missing"
            " or one too many"
        )
    elif found > expected:
        reason += "; a value may contain the delimiter without quotes"
    return reason + "."


def _csv_error_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "NUL" in text:
        return "This row contains a NUL character, which a text file cannot hold."
    if "field larger than field limit" in text:
        return "This row has a value longer than 128 KB; a quotation mark may be missing."
    return "This row is not valid CSV."


def read_rows(path: Path, sniffed: SniffResult | None = None) -> Iterator[CsvRow | RowProblem]:
    """Stream the rows of `path` (sniffed first unless `sniffed` is given)."""
    return iter(CsvReader(path, sniffed))
