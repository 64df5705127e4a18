"""Sniffing and reading CSV files as EMRs really write them: other delimiters and
encodings, quoted newlines, ragged rows and files that are not CSV at all. Each
variant is made in a temp folder from the Synthea sample."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest

from app.importers.csv import (
    CsvFileError,
    CsvPatient,
    CsvReader,
    CsvRow,
    EmptyCsvError,
    RecordStream,
    RowProblem,
    plan_file,
    sniff,
)
from tests.support.emr_samples import samples

SAMPLES = samples("csv")
PATIENTS = SAMPLES / "synthea-dbt" / "patients.csv"
TODAY = datetime.date(2025, 6, 1)

pytestmark = pytest.mark.skipif(not PATIENTS.is_file(), reason="EMR samples not present")


def _sample_records() -> list[list[str]]:
    with PATIENTS.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def _write(
    path: Path,
    records: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(records)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _rows(path: Path) -> list[CsvRow | RowProblem]:
    return list(CsvReader(path))


def _patients(path: Path) -> list[CsvPatient]:
    return [p for p in RecordStream(plan_file(path), today=TODAY) if isinstance(p, CsvPatient)]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_detected_and_every_patient_read(tmp_path: Path, delimiter: str) -> None:
    records = _sample_records()
    path = _write(tmp_path / "export.csv", records, delimiter=delimiter)
    assert sniff(path).delimiter == delimiter
    patients = _patients(path)
    assert len(patients) == len(records) - 1
    assert patients[0].given_names == "Maynard46"


def test_semicolon_file_with_decimal_commas_is_read_as_semicolons(tmp_path: Path) -> None:
    records = [
        [cell.replace(".", ",") if cell[:1].isdigit() else cell for cell in r]
        for r in _sample_records()
    ]
    path = _write(tmp_path / "eu.csv", records, delimiter=";")
    assert sniff(path).delimiter == ";"


@pytest.mark.parametrize(
    ("encoding", "expected", "bom"),
    [
        ("utf-8-sig", "utf-8-sig", True),
        ("utf-16", "utf-16", True),
        ("utf-16-le", "utf-16-le", False),
    ],
)
def test_unicode_encodings_are_detected_and_bom_stays_off_the_header(
    tmp_path: Path, encoding: str, expected: str, bom: bool
) -> None:
    records = _sample_records()
    path = _write(tmp_path / "p.csv", records, encoding=encoding)
    sniffed = sniff(path)
    assert (sniffed.encoding, sniffed.has_bom) == (expected, bom)
    assert sniffed.header[0] == "Id"
    assert len(_patients(path)) == len(records) - 1


def test_cp1252_names_are_read_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    records = _sample_records()
    records[1][7] = "Víctor493"
    path = _write(tmp_path / "win.csv", records, encoding="cp1252")
    assert sniff(path).encoding == "cp1252"
    assert _patients(path)[0].given_names == "Víctor493"


def test_a_late_cp1252_byte_beyond_the_sample_still_picks_cp1252(tmp_path: Path) -> None:
    header, row = _sample_records()[:2]
    records = [header] + [[f"id{n}", *row[1:]] for n in range(6000)]
    records[-1][7] = "Müller"
    path = _write(tmp_path / "late.csv", records, encoding="cp1252")
    assert path.stat().st_size > 256 * 1024
    assert sniff(path).encoding == "cp1252"
    assert _patients(path)[-1].given_names == "Müller"


def test_bytes_that_are_not_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Id,FIRST,LAST,BIRTHDATE\n1,A\x81,B,2000-01-01\n")
    assert sniff(path).encoding == "latin-1"


def test_crlf_line_endings_give_the_same_rows_and_lines(tmp_path: Path) -> None:
    records = _sample_records()
    lf = _rows(_write(tmp_path / "lf.csv", records))
    crlf = _rows(_write(tmp_path / "crlf.csv", records, newline="\r\n"))
    assert lf == crlf
    assert [r.line for r in crlf if isinstance(r, CsvRow)][:3] == [2, 3, 4]


def test_quoted_newline_keeps_later_line_numbers_right(tmp_path: Path) -> None:
    records = _sample_records()
    records[2][16] = "171 Kemmer Neck\nApt 30\nBack door"
    path = _write(tmp_path / "multi.csv", records)
    rows = [r for r in _rows(path) if isinstance(r, CsvRow)]
    assert rows[1].line == 3
    assert rows[1].values["ADDRESS"] == "171 Kemmer Neck\nApt 30\nBack door"
    assert rows[2].line == 6  # the address took lines 3, 4 and 5
    assert len(rows) == len(records) - 1


def test_ragged_row_is_reported_with_its_line_and_the_rest_is_read(tmp_path: Path) -> None:
    records = _sample_records()
    records[5] = records[5][:20]
    records[8] = [*records[8], "surplus"]
    path = _write(tmp_path / "ragged.csv", records)
    items = _rows(path)
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert [(p.line, p.file_name) for p in problems] == [(6, "ragged.csv"), (9, "ragged.csv")]
    assert "20 fields, expected 25" in problems[0].reason
    assert sum(isinstance(i, CsvRow) for i in items) == len(records) - 1 - 2


def test_trailing_empty_fields_are_not_a_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "trail.csv"
    path.write_text("Id,FIRST,LAST\n1,Ann,Lee,\n2,Bo,Chu,,\n", encoding="utf-8")
    assert [r.values for r in _rows(path) if isinstance(r, CsvRow)] == [
        {"Id": "1", "FIRST": "Ann", "LAST": "Lee"},
        {"Id": "2", "FIRST": "Bo", "LAST": "Chu"},
    ]


def test_unclosed_quote_is_reported_not_silently_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('Id,FIRST,LAST\n1,"Ann,Lee\n2,Bo,Chu\n3,Cy,Dee\n', encoding="utf-8")
    items = _rows(path)
    problem = next(i for i in items if isinstance(i, RowProblem))
    assert problem.line == 2
    assert "quotation mark" in problem.reason


def test_blank_lines_are_skipped_and_counted_in_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("Id,FIRST,LAST\n\n1,Ann,Lee\n,,\n2,Bo,Chu\n", encoding="utf-8")
    assert [r.line for r in _rows(path) if isinstance(r, CsvRow)] == [3, 5]


def test_excel_sep_line_sets_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\nId;FIRST;LAST\n1;Ann;Lee\n", encoding="utf-8")
    sniffed = sniff(path)
    assert (sniffed.delimiter, sniffed.header) == (";", ("Id", "FIRST", "LAST"))
    assert [(r.line, r.values["LAST"]) for r in _rows(path) if isinstance(r, CsvRow)] == [
        (3, "Lee")
    ]


def test_headerless_file_gets_numbered_columns(tmp_path: Path) -> None:
    path = tmp_path / "nohead.csv"
    path.write_text("1,Ann,Lee,1980-01-02\n2,Bo,Chu,1990-03-04\n", encoding="utf-8")
    sniffed = sniff(path)
    assert not sniffed.has_header
    assert sniffed.header == ("column 1", "column 2", "column 3", "column 4")
    assert [r.line for r in _rows(path) if isinstance(r, CsvRow)] == [1, 2]


def test_duplicate_and_empty_column_names_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("Id,NAME,name,\n1,a,b,c\n", encoding="utf-8")
    assert sniff(path).header == ("Id", "NAME", "name (2)", "column 4")


def test_empty_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(EmptyCsvError, match=r"empty\.csv is empty"):
        sniff(path)


def test_header_only_file_says_it_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "head.csv"
    path.write_text("Id,FIRST,LAST\r\n", encoding="utf-8")
    with pytest.raises(EmptyCsvError, match=r"head\.csv has column names but no rows"):
        sniff(path)


def test_binary_garbage_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CsvFileError, match=r"garbage\.csv"):
        sniff(path)


def test_control_characters_without_nul_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ctl.csv"
    path.write_bytes(bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 50)
    with pytest.raises(CsvFileError, match=r"does not look like a text file"):
        sniff(path)


def test_nul_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Id,FIRST\n1,\x00\x00\x00\x00Ann\x00\n")
    with pytest.raises(CsvFileError, match=r"nul\.csv contains NUL bytes"):
        sniff(path)


def test_excel_workbook_gets_advice_to_save_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "patients.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(CsvFileError, match="Save As"):
        sniff(path)


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.csv", _sample_records())
    reader = CsvReader(path)
    assert reader.bytes_done == 0
    rows = list(reader)
    assert reader.bytes_done == reader.bytes_total == path.stat().st_size
    assert reader.rows == len(rows)
