"""Reading CSV exports (Synthea or a clinic's own EMR) up to validated plain records.

The layers, each usable alone:

- sniff.sniff(path) -> SniffResult: encoding, delimiter, header, preview rows.
- reader.CsvReader(path, sniffed): CsvRow(line, values) or RowProblem per record.
- profiles.Profile / detect_profile(header, file_name): which column is which field.
- dates.detect_date_format(values) / parse_date / parse_moment / parse_birth.
- rows.RowValidator + validate_rows: CsvPatient, CsvEncounter... or RowProblem.
- plan.plan_file(path) -> CsvFilePlan, then iterate RecordStream(plan, today=...).

Nothing here writes to the database; problems never carry patient data.
"""

from __future__ import annotations

from app.importers.csv.dates import DateDetection, DateFormat, detect_date_format
from app.importers.csv.plan import CsvFilePlan, RecordStream, plan_file
from app.importers.csv.problems import CsvFileError, EmptyCsvError, RowProblem
from app.importers.csv.profiles import (
    SYNTHEA_PROFILES,
    Kind,
    MissingColumnsError,
    Profile,
    detect_profile,
    detect_synthea_table,
)
from app.importers.csv.reader import CsvReader, CsvRow, read_rows
from app.importers.csv.rows import (
    CsvAddress,
    CsvAllergy,
    CsvCondition,
    CsvEncounter,
    CsvIdentifier,
    CsvOrganization,
    CsvPatient,
    CsvPayer,
    CsvPhone,
    CsvProvider,
    CsvReaction,
    CsvRecord,
    RowValidator,
    validate_rows,
)
from app.importers.csv.sniff import SniffResult, sniff

__all__ = [
    "SYNTHEA_PROFILES",
    "CsvAddress",
    "CsvAllergy",
    "CsvCondition",
    "CsvEncounter",
    "CsvFileError",
    "CsvFilePlan",
    "CsvIdentifier",
    "CsvOrganization",
    "CsvPatient",
    "CsvPayer",
    "CsvPhone",
    "CsvProvider",
    "CsvReaction",
    "CsvReader",
    "CsvRecord",
    "CsvRow",
    "DateDetection",
    "DateFormat",
    "EmptyCsvError",
    "Kind",
    "MissingColumnsError",
    "Profile",
    "RecordStream",
    "RowProblem",
    "RowValidator",
    "SniffResult",
    "detect_date_format",
    "detect_profile",
    "detect_synthea_table",
    "plan_file",
    "read_rows",
    "sniff",
    "validate_rows",
]
