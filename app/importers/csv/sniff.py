"""Finding how a CSV file is written: its encoding, delimiter and column names.

EMR exports arrive from Excel on Windows (cp1252, semicolons in Europe, a `sep=;`
first line), from Unix tools (UTF-8, LF), from SQL Server (UTF-16 with a BOM) and
from reporting tools that use tabs or pipes. Nothing here trusts the file name or
asks the user first: the guess is made from the bytes and reported, so the wizard
can show it and let the user correct it.

No dependency is added for this: the cases that matter are decided by BOMs, by
strict decoding (UTF-8 is self-checking, and text that is not UTF-8 is almost always
cp1252 in a clinic), and by parsing a sample with each candidate delimiter.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.importers.csv.problems import CsvFileError, EmptyCsvError

__all__ = [
    "DELIMITERS",
    "SniffResult",
    "clean_header",
    "sniff",
]

# Order matters only to break exact ties: comma is by far the most common.
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

_SAMPLE_BYTES = 256 * 1024
_CHUNK_BYTES = 1024 * 1024
_SAMPLE_RECORDS = 50
_PREVIEW_ROWS = 20

_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (with BOM)",
    "utf-16": "UTF-16 (with BOM)",
    "utf-16-le": "UTF-16 LE (no BOM)",
    "utf-16-be": "UTF-16 BE (no BOM)",
    "utf-32": "UTF-32 (with BOM)",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}

# Files people pick by mistake, told apart by their first bytes, with advice they
# can act on instead of "not a CSV".
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "is a ZIP or Excel workbook, not a CSV file; in Excel use Save As > CSV"),
    (b"\xd0\xcf\x11\xe0", "is an old Excel or Word file, not a CSV file; save it as CSV first"),
    (b"%PDF", "is a PDF document, not a CSV file"),
    (b"\x89PNG", "is a picture, not a CSV file"),
    (b"\xff\xd8\xff", "is a picture, not a CSV file"),
    (b"GIF8", "is a picture, not a CSV file"),
    (b"SQLite format 3", "is a database file, not a CSV file"),
    (b"\x1f\x8b", "is a compressed (gzip) file; unpack it first"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_LOOKS_LIKE_DATA = re.compile(
    r"[-+]?[0-9][0-9.,:/ -]*"  # numbers, dates, times, phone numbers
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # UUIDs
    r"|.*@.*\..*",  # email addresses
    re.IGNORECASE,
)
_SEP_LINE = re.compile(r"sep=(.)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class SniffResult:
    """How to read one CSV file, as guessed from its first bytes.

    `encoding` is a Python codec name to open the file with ("utf-8-sig" when there is
    a UTF-8 BOM, so the BOM never sticks to the first column name). `header` holds
    the cleaned column names (unique, never empty); when the file has no header row
    (`has_header` False) they are "column 1", "column 2"... `sample_rows` are the
    first data rows as raw fields, for the wizard's preview and date detection.
    `sep_line` is True when Excel's `sep=;` hint is the first line.
    """

    file_name: str
    encoding: str
    delimiter: str
    has_bom: bool
    header: tuple[str, ...]
    sample_rows: tuple[tuple[str, ...], ...]
    has_header: bool = True
    sep_line: bool = False

    @property
    def encoding_label(self) -> str:
        """The encoding as people know it ("Windows-1252"), for the wizard."""
        return _ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        """The delimiter in words ("semicolon"), since a tab cannot be shown."""
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


def sniff(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> SniffResult:
    """Guess encoding, delimiter and header of the CSV file at `path`.

    `encoding` or `delimiter`, when given (the user chose them in the wizard), are
    used as they are. Raises CsvFileError, naming the file, when it is not a text
    file; EmptyCsvError when it is empty or has column names only.

    The whole file is scanned once (in chunks, constant memory) to confirm the
    encoding: a single cp1252 name on row 90,000 of an otherwise ASCII file would
    otherwise stop the import half-way.
    """
    name = path.name
    try:
        with path.open("rb") as stream:
            head = stream.read(_SAMPLE_BYTES)
            whole = len(head) < _SAMPLE_BYTES or not stream.read(1)
    except OSError as exc:
        raise CsvFileError(name, f"{name} could not be opened ({exc.strerror}).") from None
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise EmptyCsvError(name, f"{name} is empty.")
    _refuse_known_binary(name, head)
    has_bom = any(head.startswith(bom) for bom, _ in _BOMS)
    if encoding is None:
        encoding = _guess_encoding(path, head, whole)
    text = _decode_sample(name, head, encoding, whole)
    _refuse_control_characters(name, text)
    return _sniff_text(name, text, encoding, has_bom, delimiter, whole)


def _refuse_known_binary(name: str, head: bytes) -> None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise CsvFileError(name, f"{name} {what}.")


def _guess_encoding(path: Path, head: bytes, whole: bool) -> str:
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    name = path.name
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16 is None:
            raise CsvFileError(
                name, f"{name} contains NUL bytes, so it is not a text file that can be imported."
            )
        return utf16
    for codec in ("utf-8", "cp1252"):
        if _decodes(head, codec, final=whole) and (whole or _file_decodes(path, codec)):
            return codec
    return "latin-1"


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of mostly Latin letters has a NUL in every other byte."""
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs == 0:
        return None
    even = sample[0::2].count(0) / pairs
    odd = sample[1::2].count(0) / pairs
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _decodes(data: bytes, codec: str, *, final: bool) -> bool:
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        decoder.decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


def _file_decodes(path: Path, codec: str) -> bool:
    """Whether the whole file decodes strictly and has no NUL byte, read in chunks."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            if b"\x00" in chunk:
                raise CsvFileError(
                    path.name,
                    f"{path.name} contains NUL bytes, so it is not a text file that can be "
                    "imported.",
                )
            try:
                decoder.decode(chunk, False)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True


def _decode_sample(name: str, head: bytes, encoding: str, whole: bool) -> str:
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        raise CsvFileError(name, f"The encoding chosen for {name} is not known.") from None
    try:
        text = decoder.decode(head, whole)
    except UnicodeDecodeError:
        raise CsvFileError(
            name, f"{name} is not written in the chosen encoding; choose another one."
        ) from None
    return text.removeprefix("\ufeff")


def _refuse_control_characters(name: str, text: str) -> None:
    controls = sum(
        1 for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if "\x00" in text or controls > max(2, len(text) // 1000):
        raise CsvFileError(name, f"{name} does not look like a text file; is it a CSV export?")


def _records(text: str, delimiter: str, whole: bool) -> list[list[str]]:
    """The first records of the sample, the last dropped if the sample cut it short."""
    if not whole:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut >= 0 else text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    records: list[list[str]] = []
    try:
        for record in reader:
            if record and any(field.strip() for field in record):
                records.append(record)
            if len(records) > _SAMPLE_RECORDS + _PREVIEW_ROWS:
                break
    except csv.Error:
        # A broken quote in the sample: judge on the records read before it; the
        # reader reports the broken record itself, with its line.
        return records
    return records


def _detect_delimiter(text: str, whole: bool) -> str:
    """The candidate that splits the sample's records into the same count of fields.

    Fields are counted by a real CSV parse, so delimiters inside quotes do not count.
    Consistency wins over frequency: a semicolon file whose decimals use commas has
    more commas in its data rows than in its header, and the semicolons agree.
    """
    best, best_score = ",", (0.0, 0)
    for candidate in DELIMITERS:
        records = _records(text, candidate, whole)[:_SAMPLE_RECORDS]
        counts = [len(record) for record in records]
        if not counts:
            continue
        mode, seen = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        # The header must agree with the data: that is what tells a delimiter from
        # a character that only appears in values.
        header_agrees = counts[0] == mode
        score = (seen / len(counts) + (0.5 if header_agrees else 0.0), mode)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _looks_like_header(record: list[str]) -> bool:
    """Column names are words: no number, date, UUID or email among them, and most
    are filled in (an export may leave one trailing column unnamed)."""
    cells = [cell.strip() for cell in record]
    named = [cell for cell in cells if cell]
    if len(named) * 2 < len(cells):
        return False
    return not any(_LOOKS_LIKE_DATA.fullmatch(cell) for cell in named)


def clean_header(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Column names trimmed, never empty, and unique ("NAME", "NAME (2)").

    Duplicates are renamed rather than dropped, so every column stays reachable in
    the mapping step and a row's values never silently overwrite each other.
    """
    cleaned: list[str] = []
    seen: Counter[str] = Counter()
    for position, raw in enumerate(names, start=1):
        label = raw.strip().strip("\ufeff\u200b").strip() or f"column {position}"
        seen[label.casefold()] += 1
        if seen[label.casefold()] > 1:
            label = f"{label} ({seen[label.casefold()]})"
        cleaned.append(label)
    return tuple(cleaned)


def _sniff_text(
    name: str,
    text: str,
    encoding: str,
    has_bom: bool,
    delimiter: str | None,
    whole: bool,
) -> SniffResult:
    lines = iter(text.splitlines())
    first = next((line for line in lines if line.strip()), "")
    sep_line = False
    if match := _SEP_LINE.fullmatch(first.strip()):
        sep_line = True
        delimiter = delimiter or match[1]
        text = text.split(first, 1)[1]
    if delimiter is None:
        delimiter = _detect_delimiter(text, whole)
    records = _records(text, delimiter, whole)
    if not records:
        raise EmptyCsvError(name, f"{name} is empty.")
    has_header = _looks_like_header(records[0])
    if has_header:
        header = clean_header(records[0])
        data = records[1:]
    else:
        width = max(len(record) for record in records)
        header = tuple(f"column {n}" for n in range(1, width + 1))
        data = records
    if not data and whole:
        raise EmptyCsvError(name, f"{name} has column names but no rows.")
    return SniffResult(
        file_name=name,
        encoding=encoding,
        delimiter=delimiter,
        has_bom=has_bom,
        header=header,
        sample_rows=tuple(tuple(row) for row in data[:_PREVIEW_ROWS]),
        has_header=has_header,
        sep_line=sep_line,
    )


def iter_sample_column(result: SniffResult, column: str) -> Iterator[str]:
    """The non-empty sample values of one column, for date-format detection."""
    try:
        index = result.header.index(column)
    except ValueError:
        return
    for row in result.sample_rows:
        if index < len(row) and row[index].strip():
            yield row[index]
