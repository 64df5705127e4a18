"""One CSV file from guess to records: what was detected, what the user must still
choose, and the stream of validated records once everything is settled.

The wizard shows a CsvFilePlan (encoding, delimiter, table, date format, preview),
lets the user correct it, then the import session iterates a RecordStream.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.importers.csv.dates import DateDetection, DateFormat, detect_date_format
from app.importers.csv.problems import RowProblem
from app.importers.csv.profiles import (
    SYNTHEA_PROFILES,
    SYNTHEA_SKIPPED_TABLES,
    Binding,
    MissingColumnsError,
    Profile,
    detect_synthea_table,
)
from app.importers.csv.reader import CsvReader
from app.importers.csv.rows import CsvRecord, RowValidator, validate_rows
from app.importers.csv.sniff import SniffResult, iter_sample_column, sniff

__all__ = ["DATE_FIELDS", "CsvFilePlan", "RecordStream", "plan_file"]

# Fields holding dates, whose sample values decide the date format.
DATE_FIELDS = ("birth_date", "deceased_date", "start", "stop")


@dataclass(frozen=True)
class CsvFilePlan:
    """What is known about one file before importing it.

    `table` is the Synthea table recognised from the header (or None); `profile`
    the profile that will map it: the one given, or the shipped Synthea one. None
    means the user must build one in the mapping step (`needs_mapping`), unless
    the file is a Synthea table the import does not take (`skipped`: devices...).
    `dates` is the detection over the sample's date columns, when the profile does
    not fix the format.
    """

    path: Path
    sniffed: SniffResult
    table: str | None
    profile: Profile | None
    dates: DateDetection | None

    @property
    def skipped(self) -> bool:
        return self.profile is None and self.table in SYNTHEA_SKIPPED_TABLES

    @property
    def needs_mapping(self) -> bool:
        return self.profile is None and not self.skipped

    @property
    def date_format(self) -> DateFormat | None:
        """The format rows will be read with if the user changes nothing."""
        if self.profile is not None and self.profile.date_format is not None:
            return self.profile.date_format
        return self.dates.format if self.dates else None

    @property
    def needs_date_choice(self) -> bool:
        """True when the dates fit both US and EU (or none could be read): ask."""
        if self.profile is not None and self.profile.date_format is not None:
            return False
        return self.dates is None or self.dates.format is None or self.dates.ambiguous


def plan_file(
    path: Path,
    *,
    profile: Profile | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    day_first: bool = False,
) -> CsvFilePlan:
    """Sniff `path`, recognise its table, and detect its date format.

    Raises CsvFileError / EmptyCsvError (naming the file) when it cannot be read.
    `day_first` is the clinic's habit, used only to order an ambiguous date guess.
    """
    sniffed = sniff(path, encoding=encoding, delimiter=delimiter)
    table = detect_synthea_table(sniffed.header, path.name)
    if profile is None and table is not None:
        profile = SYNTHEA_PROFILES.get(table)
    dates = None
    if profile is not None and profile.date_format is None:
        try:
            binding = profile.bind(sniffed.header)
        except MissingColumnsError:
            binding = None
        if binding is not None:
            dates = _detect_dates(sniffed, binding, day_first)
    return CsvFilePlan(path, sniffed, table, profile, dates)


def _detect_dates(sniffed: SniffResult, binding: Binding, day_first: bool) -> DateDetection:
    values = [
        value
        for name in DATE_FIELDS
        if (column := binding.column(name))
        for value in iter_sample_column(sniffed, column)
    ]
    return detect_date_format(values, day_first=day_first)


class RecordStream:
    """The validated records and problems of one planned file, streamed in file order.

    Binding the profile happens here, so a file lacking a required column fails
    before any row is read (MissingColumnsError). `reader.bytes_done` and
    `reader.bytes_total` drive a progress bar; stop iterating to cancel.
    """

    def __init__(
        self,
        plan: CsvFilePlan,
        *,
        profile: Profile | None = None,
        date_format: DateFormat | None = None,
        region: str = "US",
        today: datetime.date,
    ) -> None:
        chosen = profile or plan.profile
        if chosen is None:
            raise MissingColumnsError(
                f"{plan.path.name} needs a mapping: choose which column holds what.", ()
            )
        self.plan = plan
        self.binding = chosen.bind(plan.sniffed.header)
        self.reader = CsvReader(plan.path, plan.sniffed)
        self.validator = RowValidator(
            self.binding,
            file_name=plan.path.name,
            date_format=date_format or plan.date_format,
            region=region,
            today=today,
        )

    def __iter__(self) -> Iterator[CsvRecord | RowProblem]:
        return validate_rows(self.reader, self.validator)
