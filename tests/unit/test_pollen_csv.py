"""The pollen file: its accepted forms, bad lines left out by number, tables refused whole."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.engagement.pollen import CsvPollen, PollenCsvError

MAY_4 = date(2026, 5, 4)
MAY_5 = date(2026, 5, 5)


def _levels(pollen: CsvPollen) -> dict[date, str]:
    return {day: reading.level for day, reading in pollen.days.items()}


# --- accepted forms ------------------------------------------------------------------------


def test_date_and_level_with_commas() -> None:
    pollen = CsvPollen("date,level\n2026-05-04,high\n2026-05-05,Very High\n")

    assert _levels(pollen) == {MAY_4: "high", MAY_5: "very_high"}
    assert pollen.reading(MAY_4).source == "Pollen file"
    assert pollen.reading(MAY_4).detail == "From the pollen file: high."
    assert pollen.problems == []
    assert pollen.error is None


def test_semicolons_and_a_byte_order_mark_from_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "pollen.csv"
    path.write_bytes("Date;Level\r\n2026-05-04;moderate\r\n2026-05-05;none\r\n".encode("utf-8-sig"))

    pollen = CsvPollen(path)

    assert _levels(pollen) == {MAY_4: "moderate", MAY_5: "none"}


def test_pollen_counts_become_levels_with_the_same_ranges_as_the_forecast() -> None:
    pollen = CsvPollen(
        "date,grass,birch_pollen,ragweed\n"
        "2026-05-04,45,20,\n"  # grass high, birch moderate
        "2026-05-05,3,,0\n"  # grass low
    )

    assert _levels(pollen) == {MAY_4: "high", MAY_5: "low"}
    assert pollen.reading(MAY_4).detail == "High: grass pollen up to 45 grains/m³."


def test_semicolon_file_reads_decimal_commas() -> None:
    pollen = CsvPollen("date;grass;birch\n2026-05-04;19,5;14,9\n")

    assert _levels(pollen) == {MAY_4: "moderate"}
    assert "19.5" in pollen.reading(MAY_4).detail


def test_a_file_without_a_header_line_is_date_and_level() -> None:
    pollen = CsvPollen("2026-05-04,high\n2026-05-05,low\n")

    assert _levels(pollen) == {MAY_4: "high", MAY_5: "low"}


def test_a_day_not_in_the_file_is_unknown() -> None:
    reading = CsvPollen("date,level\n2026-05-04,high\n").reading(MAY_5)

    assert reading.level == "unknown"
    assert reading.detail == "The pollen file has no line for 2026-05-05."


# --- bad lines ----------------------------------------------------------------------------------


def test_bad_lines_are_left_out_by_line_number_and_the_rest_is_used() -> None:
    pollen = CsvPollen(
        "date,level\n"
        "2026-05-04,high\n"
        "04/05/2026,high\n"
        "2026-05-05,extreme\n"
        "\n"
        "2026-05-04,low\n"
        "2026-05-06,low\n"
    )

    assert _levels(pollen) == {MAY_4: "high", date(2026, 5, 6): "low"}
    assert pollen.problems == [
        "Line 3: “04/05/2026” is not a date written like 2026-05-04.",
        "Line 4: “extreme” is not a level (none, low, moderate, high or very high).",
        "Line 6: 2026-05-04 is already on line 2; the first one is used.",
    ]
    error = pollen.error
    assert isinstance(error, PollenCsvError)
    assert str(error) == "3 lines were left out of the pollen file; the rest is used."
    assert error.problems == pollen.problems


def test_bad_counts_are_left_out_by_line_number() -> None:
    pollen = CsvPollen(
        "date,grass,oak\n2026-05-04,-5,1\n2026-05-05,lots,\n2026-05-06,,\n2026-05-07,25,\n"
    )

    assert _levels(pollen) == {date(2026, 5, 7): "high"}
    assert pollen.problems == [
        "Line 1: the column “oak” is not a pollen Frontdesk knows; it is left out.",
        "Line 2: the grass count “-5” is not a number of grains/m³ of 0 or more.",
        "Line 3: the grass count “lots” is not a number of grains/m³ of 0 or more.",
        "Line 4: no pollen count on this line.",
    ]


# --- refused whole ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "The pollen file is empty."),
        ("Dear clinic,\nthe pollen is high this week.\n", "first column must be the date"),
        ("date,oak,pine\n2026-05-04,3,4\n", "neither a level column nor a pollen column"),
        ("date,level\n", "no line that can be used"),
        ("date,level\nMonday,high\nTuesday,low\n", "no line that can be used"),
    ],
)
def test_text_that_is_not_a_table_of_days_is_refused_whole(text: str, reason: str) -> None:
    with pytest.raises(PollenCsvError) as refused:
        CsvPollen(text)

    assert reason in str(refused.value)
    assert refused.value.problems


def test_a_spreadsheet_file_is_refused_with_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "pollen.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")

    with pytest.raises(PollenCsvError) as refused:
        CsvPollen(path)

    assert "not a table of text" in str(refused.value)
    assert refused.value.problems == [
        "Save it from the spreadsheet as CSV, UTF-8, and choose it again."
    ]


def test_a_file_in_another_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pollen.csv"
    path.write_bytes("date;level\n2026-05-04;élevé\n".encode("latin-1"))

    with pytest.raises(PollenCsvError, match="not UTF-8"):
        CsvPollen(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PollenCsvError, match="could not be opened"):
        CsvPollen(tmp_path / "gone.csv")
