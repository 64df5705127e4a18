"""Mapping profiles: which CSV column holds which of our fields, by name, not position.

A Profile says, for one kind of record (patients, encounters...), which column
names to look for (case-insensitive, first found wins) and how dates are written.
The Synthea profiles ship with the app and list every header name Synthea has used
across releases, so old (25-column patients) and new (MIDDLE, FIPS, INCOME...)
exports both map without a question. A clinic's own EMR export gets a user-built
profile from the wizard's mapping step, saved as JSON and reused next time.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from app.errors import InvalidInputError
from app.importers.csv.dates import DateFormat

__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "SYNTHEA_PROFILES",
    "SYNTHEA_SKIPPED_TABLES",
    "Binding",
    "Kind",
    "MissingColumnsError",
    "Profile",
    "detect_profile",
    "detect_synthea_table",
]


class Kind(enum.StrEnum):
    """The kinds of record a CSV file can hold, one kind per file."""

    PATIENT = "patient"
    ENCOUNTER = "encounter"
    CONDITION = "condition"
    ALLERGY = "allergy"
    PROVIDER = "provider"
    ORGANIZATION = "organization"
    PAYER = "payer"


# Our fields per kind: the names a profile maps and the mapping step offers.
FIELDS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {
        Kind.PATIENT: (
            "source_id",
            "mrn",
            "prefix",
            "first",
            "middle",
            "last",
            "suffix",
            "maiden",
            "birth_date",
            "deceased_date",
            "sex",
            "marital",
            "phone",
            "mobile",
            "work_phone",
            "email",
            "address",
            "address2",
            "city",
            "state",
            "county",
            "zip",
            "country",
            "ssn",
            "drivers",
            "passport",
        ),
        Kind.ENCOUNTER: (
            "source_id",
            "patient",
            "start",
            "stop",
            "encounter_class",
            "code",
            "description",
            "provider",
            "organization",
            "payer",
            "reason_code",
            "reason_description",
        ),
        Kind.CONDITION: (
            "patient",
            "encounter",
            "start",
            "stop",
            "system",
            "code",
            "description",
        ),
        Kind.ALLERGY: (
            "patient",
            "encounter",
            "start",
            "stop",
            "system",
            "code",
            "description",
            "allergy_type",
            "category",
            "reaction1",
            "reaction1_description",
            "reaction1_severity",
            "reaction2",
            "reaction2_description",
            "reaction2_severity",
        ),
        Kind.PROVIDER: (
            "source_id",
            "organization",
            "name",
            "prefix",
            "first",
            "last",
            "sex",
            "speciality",
            "address",
            "city",
            "state",
            "zip",
            "phone",
            "npi",
        ),
        Kind.ORGANIZATION: (
            "source_id",
            "name",
            "address",
            "city",
            "state",
            "zip",
            "phone",
            "npi",
        ),
        Kind.PAYER: (
            "source_id",
            "name",
            "ownership",
            "address",
            "city",
            "state",
            "zip",
            "phone",
        ),
    }
)

# Fields a profile must map for its rows to mean anything. A patient needs a name
# column (first or last, checked per row) besides its id; see rows.py.
REQUIRED_FIELDS: Mapping[Kind, tuple[str, ...]] = MappingProxyType(
    {
        Kind.PATIENT: ("source_id",),
        Kind.ENCOUNTER: ("patient", "start"),
        Kind.CONDITION: ("patient", "code"),
        Kind.ALLERGY: ("patient", "code"),
        Kind.PROVIDER: ("source_id",),
        Kind.ORGANIZATION: ("source_id", "name"),
        Kind.PAYER: ("source_id", "name"),
    }
)


class MissingColumnsError(InvalidInputError):
    """The file lacks a column the profile needs; `fields` lists our field names."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


@dataclass(frozen=True)
class Binding:
    """A profile applied to one file's header: our field -> the file's column name.

    Fields the file has no column for are absent; `column(field)` gives "" for them.
    """

    profile: Profile
    columns: Mapping[str, str]

    def column(self, name: str) -> str:
        return self.columns.get(name, "")


@dataclass(frozen=True)
class Profile:
    """How to read one kind of record from a CSV file.

    `columns` maps each of our fields (FIELDS[kind]) to the column names to look
    for, in order; matching ignores case and surrounding spaces. `date_format`
    None means "detect it from the file" (and ask when ambiguous). `code_system`
    is used for coded rows when no column gives the system (older Synthea files
    have no SYSTEM column: their codes are SNOMED CT). `source_system` names where
    the ids come from, for the identity of a re-imported record.
    """

    name: str
    kind: Kind
    columns: Mapping[str, tuple[str, ...]]
    date_format: DateFormat | None = None
    code_system: str = ""
    source_system: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        known = set(FIELDS[self.kind])
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise InvalidInputError(
                f"The profile {self.name!r} maps fields a {self.kind.value} does not have: "
                f"{', '.join(unknown)}."
            )

    def bind(self, header: Sequence[str]) -> Binding:
        """Match the profile to a file's column names, by name, whatever their order.

        Raises MissingColumnsError when a required field has no column.
        """
        by_key = {_key(name): name for name in header}
        found: dict[str, str] = {}
        for our_field, names in self.columns.items():
            for name in names:
                if (column := by_key.get(_key(name))) is not None:
                    found[our_field] = column
                    break
        missing = tuple(f for f in REQUIRED_FIELDS[self.kind] if f not in found)
        if missing:
            wanted = ", ".join(
                "/".join(self.columns.get(f, ())) or f.replace("_", " ") for f in missing
            )
            raise MissingColumnsError(
                f"The file has no column for: {wanted}. Choose the columns in the mapping step.",
                missing,
            )
        return Binding(self, MappingProxyType(found))

    # --- saving and loading ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "columns": {f: list(names) for f, names in self.columns.items()},
            "date_format": self.date_format.value if self.date_format else None,
            "code_system": self.code_system,
            "source_system": self.source_system,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """A profile from its saved form; a column may be one name or a list of them."""
        broken = InvalidInputError("This mapping profile is damaged; build it again.")
        try:
            kind = Kind(data["kind"])
            raw_columns = data["columns"]
            columns: dict[str, tuple[str, ...]] = {}
            for our_field, names in raw_columns.items():
                if isinstance(names, str):
                    names = [names]
                if not all(isinstance(n, str) for n in names):
                    raise broken
                columns[str(our_field)] = tuple(names)
            fmt = data.get("date_format")
            return cls(
                name=str(data["name"]),
                kind=kind,
                columns=MappingProxyType(columns),
                date_format=DateFormat(fmt) if fmt else None,
                code_system=str(data.get("code_system", "")),
                source_system=str(data.get("source_system", "")),
                description=str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise broken from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Profile:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidInputError("This mapping profile is damaged; build it again.") from None
        if not isinstance(data, dict):
            raise InvalidInputError("This mapping profile is damaged; build it again.")
        return cls.from_dict(data)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Profile:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InvalidInputError(f"The mapping profile {path.name} could not be read.") from None
        return cls.from_json(text)


def _key(name: str) -> str:
    return name.strip().casefold()


# --- Synthea -------------------------------------------------------------------------

_SYNTHEA = "synthea"
_SNOMED = "SNOMED-CT"


def _synthea(kind: Kind, table: str, **columns: str | tuple[str, ...]) -> Profile:
    return Profile(
        name=f"Synthea {table}",
        kind=kind,
        columns=MappingProxyType(
            {f: (names,) if isinstance(names, str) else names for f, names in columns.items()}
        ),
        date_format=DateFormat.ISO,
        code_system=_SNOMED if kind in (Kind.CONDITION, Kind.ALLERGY) else "",
        source_system=_SYNTHEA,
        description=f"Synthea CSV export, {table}.csv (any release)",
    )


SYNTHEA_PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "patients": _synthea(
            Kind.PATIENT,
            "patients",
            source_id=("Id", "PATIENT_ID"),
            prefix="PREFIX",
            first="FIRST",
            middle="MIDDLE",
            last="LAST",
            suffix="SUFFIX",
            maiden="MAIDEN",
            birth_date="BIRTHDATE",
            deceased_date="DEATHDATE",
            sex="GENDER",
            marital="MARITAL",
            phone="PHONE",
            email="EMAIL",
            address="ADDRESS",
            city="CITY",
            state="STATE",
            county="COUNTY",
            zip="ZIP",
            ssn="SSN",
            drivers="DRIVERS",
            passport="PASSPORT",
        ),
        "encounters": _synthea(
            Kind.ENCOUNTER,
            "encounters",
            source_id="Id",
            patient="PATIENT",
            start=("START", "DATE"),
            stop="STOP",
            encounter_class="ENCOUNTERCLASS",
            code="CODE",
            description="DESCRIPTION",
            provider="PROVIDER",
            organization="ORGANIZATION",
            payer="PAYER",
            reason_code="REASONCODE",
            reason_description="REASONDESCRIPTION",
        ),
        "conditions": _synthea(
            Kind.CONDITION,
            "conditions",
            patient="PATIENT",
            encounter="ENCOUNTER",
            start="START",
            stop="STOP",
            system="SYSTEM",
            code="CODE",
            description="DESCRIPTION",
        ),
        "allergies": _synthea(
            Kind.ALLERGY,
            "allergies",
            patient="PATIENT",
            encounter="ENCOUNTER",
            start="START",
            stop="STOP",
            system="SYSTEM",
            code="CODE",
            description="DESCRIPTION",
            allergy_type="TYPE",
            category="CATEGORY",
            reaction1="REACTION1",
            reaction1_description="DESCRIPTION1",
            reaction1_severity="SEVERITY1",
            reaction2="REACTION2",
            reaction2_description="DESCRIPTION2",
            reaction2_severity="SEVERITY2",
        ),
        "providers": _synthea(
            Kind.PROVIDER,
            "providers",
            source_id="Id",
            organization="ORGANIZATION",
            name="NAME",
            prefix="PREFIX",
            first="FIRST",
            last="LAST",
            sex="GENDER",
            speciality=("SPECIALITY", "SPECIALTY"),
            address="ADDRESS",
            city="CITY",
            state="STATE",
            zip="ZIP",
            phone="PHONE",
            npi="NPI",
        ),
        "organizations": _synthea(
            Kind.ORGANIZATION,
            "organizations",
            source_id="Id",
            name="NAME",
            address="ADDRESS",
            city="CITY",
            state="STATE",
            zip="ZIP",
            phone="PHONE",
            npi="NPI",
        ),
        "payers": _synthea(
            Kind.PAYER,
            "payers",
            source_id="Id",
            name="NAME",
            ownership="OWNERSHIP",
            address="ADDRESS",
            city="CITY",
            state=("STATE_HEADQUARTERED", "STATE"),
            zip="ZIP",
            phone="PHONE",
        ),
    }
)


def _cols(text: str) -> frozenset[str]:
    return frozenset(c.casefold() for c in text.split(","))


# Every header layout Synthea has written for each table (older first), from its
# CSV exporter and data dictionary. Exact layouts settle detection; the union of a
# table's columns scores a header that matches no known layout (a future release).
_LAYOUTS: Mapping[str, tuple[frozenset[str], ...]] = MappingProxyType(
    {
        "patients": (
            _cols(
                "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,"
                "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,ZIP"
            ),
            _cols(
                "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,"
                "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,"
                "LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
            ),
            _cols(
                "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,"
                "MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,"
                "FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
            ),
        ),
        "encounters": (
            _cols("Id,START,STOP,PATIENT,CODE,DESCRIPTION,COST,REASONCODE,REASONDESCRIPTION"),
            _cols(
                "Id,START,STOP,PATIENT,PROVIDER,ENCOUNTERCLASS,CODE,DESCRIPTION,COST,"
                "REASONCODE,REASONDESCRIPTION"
            ),
            _cols(
                "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,"
                "DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,"
                "REASONDESCRIPTION"
            ),
        ),
        "conditions": (
            _cols("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
            _cols("START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION"),
        ),
        "allergies": (
            _cols("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
            _cols(
                "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,"
                "DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2"
            ),
        ),
        "providers": (
            _cols("Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,UTILIZATION"),
            _cols(
                "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION"
            ),
            _cols(
                "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,"
                "ENCOUNTERS,PROCEDURES"
            ),
            _cols(
                "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,"
                "ENCOUNTERS,PROCEDURES,NPI"
            ),
        ),
        "organizations": (
            _cols("Id,NAME,ADDRESS,CITY,STATE,ZIP,PHONE,UTILIZATION"),
            _cols("Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION"),
            _cols("Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION,NPI"),
        ),
        "payers": (
            _cols(
                "Id,NAME,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,"
                "AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,"
                "COVERED_MEDICATIONS,UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,"
                "UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,"
                "UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS"
            ),
            _cols(
                "Id,NAME,OWNERSHIP,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,"
                "AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,"
                "COVERED_MEDICATIONS,UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,"
                "UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,"
                "UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS"
            ),
        ),
        # Tables Synthea writes that the import does not take: recognised so that a
        # devices.csv is reported as "not imported", never read as conditions.
        "careplans": (
            _cols("Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION"),
        ),
        "claims": (
            _cols(
                "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,"
                "DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,"
                "DIAGNOSIS5,DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,"
                "CURRENTILLNESSDATE,SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,"
                "OUTSTANDING1,OUTSTANDING2,OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,"
                "LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,HEALTHCARECLAIMTYPEID2"
            ),
        ),
        "claims_transactions": (
            _cols(
                "ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,"
                "PLACEOFSERVICE,PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,"
                "DIAGNOSISREF3,DIAGNOSISREF4,UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,"
                "TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,"
                "PATIENTINSURANCEID,FEESCHEDULEID,PROVIDERID,SUPERVISINGPROVIDERID"
            ),
        ),
        "devices": (_cols("START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI"),),
        "imaging_studies": (
            _cols(
                "Id,DATE,PATIENT,ENCOUNTER,BODYSITE_CODE,BODYSITE_DESCRIPTION,MODALITY_CODE,"
                "MODALITY_DESCRIPTION,SOP_CODE,SOP_DESCRIPTION"
            ),
            _cols(
                "Id,DATE,PATIENT,ENCOUNTER,SERIES_UID,BODYSITE_CODE,BODYSITE_DESCRIPTION,"
                "MODALITY_CODE,MODALITY_DESCRIPTION,INSTANCE_UID,SOP_CODE,SOP_DESCRIPTION,"
                "PROCEDURE_CODE"
            ),
        ),
        "immunizations": (
            _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION"),
            _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST"),
        ),
        "medications": (
            _cols(
                "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,COST,DISPENSES,TOTALCOST,"
                "REASONCODE,REASONDESCRIPTION"
            ),
            _cols(
                "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,"
                "DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION"
            ),
        ),
        "observations": (
            _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS,TYPE"),
            _cols("DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE"),
        ),
        "procedures": (
            _cols(
                "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"
            ),
            _cols(
                "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
                "REASONDESCRIPTION"
            ),
            _cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"),
        ),
        "supplies": (_cols("DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY"),),
        "payer_transitions": (
            _cols("PATIENT,START_YEAR,END_YEAR,PAYER,OWNERSHIP"),
            _cols("PATIENT,MEMBERID,START_YEAR,END_YEAR,PAYER,SECONDARY_PAYER,OWNERSHIP,OWNERNAME"),
            _cols(
                "PATIENT,MEMBERID,START_DATE,END_DATE,PAYER,SECONDARY_PAYER,PLAN_OWNERSHIP,"
                "OWNER_NAME"
            ),
        ),
        "patient_expenses": (
            _cols("PATIENT_ID,YEAR,PAYER_ID,HEALTHCARE_EXPENSES,INSURANCE_COSTS,COVERED_COSTS"),
        ),
    }
)

SYNTHEA_SKIPPED_TABLES = frozenset(_LAYOUTS) - frozenset(SYNTHEA_PROFILES)

# Columns a header must have to be taken for a table at all (any one of a group).
_REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        "patients": (("id",), ("birthdate",), ("first", "last")),
        "encounters": (("id",), ("start", "date"), ("patient",)),
        "conditions": (("start",), ("patient",), ("code",)),
        "allergies": (("start",), ("patient",), ("code",)),
        "providers": (("id",), ("name",)),
        "organizations": (("id",), ("name",)),
        "payers": (("id",), ("name",)),
    }
)

# A header that matches no known layout: this share of its columns must be known
# to the table.
_MIN_COVERAGE = 0.5


def _profile_columns(table: str) -> frozenset[str]:
    """Column names the shipped profile reads besides Synthea's own (PHONE, FIRST...)."""
    profile = SYNTHEA_PROFILES.get(table)
    if profile is None:
        return frozenset()
    return frozenset(_key(name) for names in profile.columns.values() for name in names)


def _hinted(tables: Iterable[str], file_name: str | None) -> str | None:
    """The one table among `tables` that the file's name names (allergies.csv)."""
    if not file_name:
        return None
    stem = Path(file_name).stem.casefold()
    named = [t for t in tables if t in stem or _singular(t) in stem]
    # "claims_transactions" contains "claims": the longest name that fits is meant.
    named.sort(key=len, reverse=True)
    return named[0] if named else None


def _singular(table: str) -> str:
    return table[:-3] + "y" if table.endswith("ies") else table.rstrip("s")


def detect_synthea_table(header: Sequence[str], file_name: str | None = None) -> str | None:
    """Which Synthea table a header belongs to ("patients", "devices"...), or None.

    An exact known layout decides (in any column order, any case). Old conditions
    and old allergies share a layout; then the file name decides, and without a
    telling name the answer is None so the wizard asks. A header matching no layout
    (a newer Synthea release) goes to the table whose columns it shares most, if
    it has that table's key columns.
    """
    columns = frozenset(_key(c) for c in header)
    exact = [table for table, layouts in _LAYOUTS.items() if columns in layouts]
    if len(exact) == 1:
        return exact[0]
    if exact:
        return _hinted(exact, file_name)
    scored: list[tuple[float, float, str]] = []
    for table, layouts in _LAYOUTS.items():
        required = _REQUIRED.get(table, ())
        if not all(any(name in columns for name in group) for group in required):
            continue
        known = frozenset().union(*layouts) | _profile_columns(table)
        shared = len(columns & known)
        # Most of the header must be this table's; among tables that explain it
        # equally, the one with the fewest columns to spare fits best.
        coverage = shared / len(columns)
        if coverage >= _MIN_COVERAGE:
            scored.append((coverage, shared / len(columns | known), table))
    if not scored:
        return None
    scored.sort(reverse=True)
    best = scored[0][:2]
    tied = [table for *score, table in scored if tuple(score) == best]
    if len(tied) == 1:
        return tied[0]
    return _hinted(tied, file_name)


def detect_profile(header: Sequence[str], file_name: str | None = None) -> Profile | None:
    """The shipped Synthea profile for a header, or None (not Synthea, a table we do
    not import, or old conditions/allergies without a telling file name)."""
    table = detect_synthea_table(header, file_name)
    return SYNTHEA_PROFILES.get(table) if table else None
