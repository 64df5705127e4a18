"""Checking each CSV row against its profile and turning it into a plain record.

A row either becomes one frozen record (CsvPatient, CsvEncounter...) or one or more
RowProblems saying which line and field failed and why. Two severities: an "error"
drops the row (no id, no name, a date that cannot be read: storing it would store
something wrong); a "warning" keeps the row without the one value (a phone number
that cannot be dialled should not cost the clinic the patient). Reasons never
repeat a value from the file, so the error report carries no patient data.

Nothing here touches the database: the import session that writes these records
owns identity, merging and undo.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from app.errors import InvalidInputError
from app.importers.csv.dates import DateFormat, parse_birth, parse_date, parse_moment
from app.importers.csv.problems import RowProblem
from app.importers.csv.profiles import Binding, Kind
from app.importers.csv.reader import CsvRow
from app.patients.validation import normalize_email, normalize_phone

__all__ = [
    "CODE_SYSTEMS",
    "CsvAddress",
    "CsvAllergy",
    "CsvCondition",
    "CsvEncounter",
    "CsvIdentifier",
    "CsvOrganization",
    "CsvPatient",
    "CsvPayer",
    "CsvPhone",
    "CsvProvider",
    "CsvReaction",
    "CsvRecord",
    "RowValidator",
    "validate_rows",
]

# Code system names in CSV exports -> the URIs FHIR uses, so a condition imported
# from CSV and the same one from FHIR carry the same system. Unknown names are kept.
CODE_SYSTEMS = {
    "snomed-ct": "http://snomed.info/sct",
    "snomed": "http://snomed.info/sct",
    "snomedct": "http://snomed.info/sct",
    "sct": "http://snomed.info/sct",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "loinc": "http://loinc.org",
    "icd-10": "http://hl7.org/fhir/sid/icd-10",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "icd-10-cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd-9-cm": "http://hl7.org/fhir/sid/icd-9-cm",
    "cvx": "http://hl7.org/fhir/sid/cvx",
    "unii": "http://fdasis.nlm.nih.gov",
    "ndf-rt": "http://hl7.org/fhir/ndfrt",
}

_SEXES = {
    "m": "male",
    "male": "male",
    "man": "male",
    "f": "female",
    "female": "female",
    "woman": "female",
    "o": "other",
    "other": "other",
    "x": "other",
    "nonbinary": "other",
    "non-binary": "other",
    "u": "unknown",
    "unknown": "unknown",
    "unk": "unknown",
    "": "unknown",
}

# Identifier kinds are the HL7 v2 identifier type codes the FHIR importer also uses.
_PATIENT_IDENTIFIERS = (("mrn", "MR"), ("ssn", "SS"), ("drivers", "DL"), ("passport", "PPN"))


@dataclass(frozen=True, slots=True)
class CsvIdentifier:
    """An identifier of a person: kind MR (record number), SS (social security),
    DL (driver's licence), PPN (passport) or NPI (a provider's national id)."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class CsvPhone:
    """A phone number in E.164 (+15082225200); `use` is home, work or mobile."""

    number: str
    use: str = "home"


@dataclass(frozen=True, slots=True)
class CsvAddress:
    """A postal address; `postal_code` is text, so ZIP 02155 keeps its leading zero."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    county: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class CsvPatient:
    """A patient row. `source_id` is its id in the exporting system (Synthea's Id);
    names are kept exactly as given (Synthea's Glenn0 keeps its digit). `birth_date`
    is ISO text, possibly partial (1974, 1974-12), "" when the file has none."""

    line: int
    source_id: str
    family_name: str
    given_names: str
    prefix: str
    suffix: str
    maiden_name: str
    birth_date: str
    deceased_date: datetime.date | None
    sex: str
    marital_status: str
    phones: tuple[CsvPhone, ...]
    emails: tuple[str, ...]
    address: CsvAddress | None
    identifiers: tuple[CsvIdentifier, ...]


Moment: TypeAlias = datetime.date | datetime.datetime


@dataclass(frozen=True, slots=True)
class CsvEncounter:
    """A visit. `start`/`stop` are datetimes (aware when the file gave a zone, as
    Synthea's ...Z does; naive means clinic-local time) or plain dates."""

    line: int
    source_id: str
    patient_id: str
    start: Moment
    stop: Moment | None
    encounter_class: str
    code: str
    description: str
    provider_id: str
    organization_id: str
    payer_id: str
    reason_code: str
    reason_description: str


@dataclass(frozen=True, slots=True)
class CsvCondition:
    """A coded condition; `code_system` is a URI (http://snomed.info/sct)."""

    line: int
    patient_id: str
    encounter_id: str
    code_system: str
    code: str
    description: str
    start: datetime.date | None
    stop: datetime.date | None


@dataclass(frozen=True, slots=True)
class CsvReaction:
    code: str
    description: str
    severity: str  # lower case: mild, moderate, severe, or ""


@dataclass(frozen=True, slots=True)
class CsvAllergy:
    """A coded allergy or intolerance; `allergy_type` is allergy/intolerance and
    `category` food/medication/environment, as in the file (lower case)."""

    line: int
    patient_id: str
    encounter_id: str
    code_system: str
    code: str
    description: str
    start: datetime.date | None
    stop: datetime.date | None
    allergy_type: str
    category: str
    reactions: tuple[CsvReaction, ...]


@dataclass(frozen=True, slots=True)
class CsvProvider:
    """A clinician. A single NAME column ("Ludivina884 Steuber698") is split at its
    last space: everything before is the given names, the last word the family name."""

    line: int
    source_id: str
    organization_id: str
    family_name: str
    given_names: str
    prefix: str
    sex: str
    speciality: str
    address: CsvAddress | None
    phones: tuple[CsvPhone, ...]
    identifiers: tuple[CsvIdentifier, ...]


@dataclass(frozen=True, slots=True)
class CsvOrganization:
    line: int
    source_id: str
    name: str
    address: CsvAddress | None
    phones: tuple[CsvPhone, ...]
    identifiers: tuple[CsvIdentifier, ...]


@dataclass(frozen=True, slots=True)
class CsvPayer:
    line: int
    source_id: str
    name: str
    ownership: str
    address: CsvAddress | None
    phones: tuple[CsvPhone, ...]


CsvRecord: TypeAlias = (
    CsvPatient | CsvEncounter | CsvCondition | CsvAllergy | CsvProvider | CsvOrganization | CsvPayer
)


class _RowFailedError(Exception):
    """Internal: the row cannot become a record; its problem is already noted."""


_LABELS = {
    "source_id": "the id",
    "patient": "the patient id",
    "birth_date": "the birth date",
    "deceased_date": "the date of death",
    "start": "the start",
    "stop": "the end",
    "code": "the code",
    "name": "the name",
}


class RowValidator:
    """Turns the rows of one file into records with one bound profile.

    Built once per file: the column of each field is looked up once, not per row.
    `date_format` overrides the profile's (the user's choice in the wizard); one of
    the two must be set. `region` is the clinic's country, for phone numbers without
    a country code; `today` bounds birth dates.
    """

    def __init__(
        self,
        binding: Binding,
        *,
        file_name: str,
        date_format: DateFormat | None = None,
        region: str = "US",
        today: datetime.date,
    ) -> None:
        fmt = date_format or binding.profile.date_format
        if fmt is None:
            raise InvalidInputError(
                "Choose how the dates in this file are written before importing it."
            )
        self.binding = binding
        self.file_name = file_name
        self.date_format = fmt
        self.region = region
        self.today = today
        self._columns = dict(binding.columns)
        self._pairs = tuple(binding.columns.items())
        self._f: dict[str, str] = {}
        self._problems: list[RowProblem] = []
        self._line = 0
        builders: dict[Kind, Callable[[], CsvRecord]] = {
            Kind.PATIENT: self._patient,
            Kind.ENCOUNTER: self._encounter,
            Kind.CONDITION: self._condition,
            Kind.ALLERGY: self._allergy,
            Kind.PROVIDER: self._provider,
            Kind.ORGANIZATION: self._organization,
            Kind.PAYER: self._payer,
        }
        self._build = builders[binding.profile.kind]

    def validate(self, row: CsvRow) -> tuple[CsvRecord | None, list[RowProblem]]:
        """The record for one row (None if it failed) and the problems found in it."""
        self._line = row.line
        values = row.values
        # Every mapped field's trimmed text, once per row: builders read it many times.
        self._f = {name: values.get(column, "").strip() for name, column in self._pairs}
        self._problems = []
        try:
            record = self._build()
        except _RowFailedError:
            return None, self._problems
        return record, self._problems

    # --- reading values -------------------------------------------------------------

    def _get(self, name: str) -> str:
        return self._f.get(name, "")

    def _has(self, name: str) -> bool:
        return name in self._columns

    def _fail(self, name: str, reason: str) -> _RowFailedError:
        self._problems.append(RowProblem(self.file_name, self._line, reason, self._column(name)))
        return _RowFailedError()

    def _warn(self, name: str, reason: str) -> None:
        self._problems.append(
            RowProblem(self.file_name, self._line, reason, self._column(name), severity="warning")
        )

    def _column(self, name: str) -> str:
        return self._columns.get(name, name)

    def _required(self, name: str) -> str:
        value = self._get(name)
        if not value:
            raise self._fail(name, f"{_LABELS.get(name, name).capitalize()} is empty.")
        return value

    def _optional_id(self, name: str) -> str:
        """An id column that, when the profile maps it, must not be empty."""
        return self._required(name) if self._has(name) else ""

    def _date(self, name: str) -> datetime.date | None:
        text = self._get(name)
        if not text:
            return None
        try:
            return parse_date(text, self.date_format)
        except InvalidInputError as exc:
            raise self._fail(name, _date_reason(name, exc)) from None

    def _moment(self, name: str) -> Moment | None:
        text = self._get(name)
        if not text:
            return None
        try:
            return parse_moment(text, self.date_format)
        except InvalidInputError as exc:
            raise self._fail(name, _date_reason(name, exc)) from None

    def _phones(self, *fields: tuple[str, str]) -> tuple[CsvPhone, ...]:
        phones: list[CsvPhone] = []
        for name, use in fields:
            text = self._get(name)
            if not text:
                continue
            try:
                number = normalize_phone(text, self.region)
            except InvalidInputError as exc:
                self._warn(name, f"The phone number was left out: {exc}")
                continue
            if all(p.number != number for p in phones):
                phones.append(CsvPhone(number, use))
        return tuple(phones)

    def _address(self) -> CsvAddress | None:
        get = self._f.get
        line1, line2, city = get("address", ""), get("address2", ""), get("city", "")
        state, postal_code = get("state", ""), get("zip", "")
        if not (line1 or line2 or city or state or postal_code):
            return None
        return CsvAddress(
            line1, line2, city, state, get("county", ""), postal_code, get("country", "")
        )

    def _sex(self, name: str) -> str:
        text = self._get(name)
        sex = _SEXES.get(text.casefold())
        if sex is None:
            self._warn(name, "The sex is not one the app knows (M, F, other); kept as unknown.")
            return "unknown"
        return sex

    def _code_system(self) -> str:
        name = self._get("system") or self.binding.profile.code_system
        return CODE_SYSTEMS.get(name.casefold(), name)

    # --- one builder per kind ---------------------------------------------------------

    def _patient(self) -> CsvPatient:
        get = self._f.get  # this builder runs 100,000 times a file: no method calls
        source_id = self._required("source_id")
        first, middle, family = get("first", ""), get("middle", ""), get("last", "")
        given = f"{first} {middle}" if first and middle else first or middle
        if not family and not given:
            raise self._fail("last", "The patient has no name.")
        birth = self._get("birth_date")
        if birth:
            try:
                birth = parse_birth(birth, self.date_format, today=self.today)
            except InvalidInputError as exc:
                raise self._fail("birth_date", _date_reason("birth_date", exc)) from None
        deceased = self._date("deceased_date")
        emails: list[str] = []
        if text := self._get("email"):
            try:
                emails.append(normalize_email(text))
            except InvalidInputError as exc:
                self._warn("email", f"The email address was left out: {exc}")
        identifiers = tuple(
            CsvIdentifier(kind, value)
            for name, kind in _PATIENT_IDENTIFIERS
            if (value := get(name, ""))
        )
        return CsvPatient(
            line=self._line,
            source_id=source_id,
            family_name=family,
            given_names=given,
            prefix=get("prefix", ""),
            suffix=get("suffix", ""),
            maiden_name=get("maiden", ""),
            birth_date=birth,
            deceased_date=deceased,
            sex=self._sex("sex"),
            marital_status=get("marital", ""),
            phones=self._phones(("phone", "home"), ("mobile", "mobile"), ("work_phone", "work")),
            emails=tuple(emails),
            address=self._address(),
            identifiers=identifiers,
        )

    def _encounter(self) -> CsvEncounter:
        source_id = self._optional_id("source_id")
        patient = self._required("patient")
        start = self._moment("start")
        if start is None:
            raise self._fail("start", "The start is empty.")
        stop = self._moment("stop")
        return CsvEncounter(
            line=self._line,
            source_id=source_id,
            patient_id=patient,
            start=start,
            stop=stop,
            encounter_class=self._get("encounter_class").casefold(),
            code=self._get("code"),
            description=self._get("description"),
            provider_id=self._get("provider"),
            organization_id=self._get("organization"),
            payer_id=self._get("payer"),
            reason_code=self._get("reason_code"),
            reason_description=self._get("reason_description"),
        )

    def _condition(self) -> CsvCondition:
        return CsvCondition(
            line=self._line,
            patient_id=self._required("patient"),
            encounter_id=self._get("encounter"),
            code_system=self._code_system(),
            code=self._required("code"),
            description=self._get("description"),
            start=self._date("start"),
            stop=self._date("stop"),
        )

    def _allergy(self) -> CsvAllergy:
        reactions: list[CsvReaction] = []
        for n in ("reaction1", "reaction2"):
            code, description = self._get(n), self._get(f"{n}_description")
            if code or description:
                severity = self._get(f"{n}_severity").casefold()
                reactions.append(CsvReaction(code, description, severity))
        return CsvAllergy(
            line=self._line,
            patient_id=self._required("patient"),
            encounter_id=self._get("encounter"),
            code_system=self._code_system(),
            code=self._required("code"),
            description=self._get("description"),
            start=self._date("start"),
            stop=self._date("stop"),
            allergy_type=self._get("allergy_type").casefold(),
            category=self._get("category").casefold(),
            reactions=tuple(reactions),
        )

    def _provider(self) -> CsvProvider:
        source_id = self._required("source_id")
        family, given = self._get("last"), self._get("first")
        if not family and not given:
            given, _, family = self._get("name").rpartition(" ")
            given, family = given.strip(), family.strip()
        if not family and not given:
            raise self._fail("name", "The provider has no name.")
        npi = self._get("npi")
        return CsvProvider(
            line=self._line,
            source_id=source_id,
            organization_id=self._get("organization"),
            family_name=family,
            given_names=given,
            prefix=self._get("prefix"),
            sex=self._sex("sex"),
            speciality=self._get("speciality"),
            address=self._address(),
            phones=self._phones(("phone", "work")),
            identifiers=(CsvIdentifier("NPI", npi),) if npi else (),
        )

    def _organization(self) -> CsvOrganization:
        npi = self._get("npi")
        return CsvOrganization(
            line=self._line,
            source_id=self._required("source_id"),
            name=self._required("name"),
            address=self._address(),
            phones=self._phones(("phone", "work")),
            identifiers=(CsvIdentifier("NPI", npi),) if npi else (),
        )

    def _payer(self) -> CsvPayer:
        return CsvPayer(
            line=self._line,
            source_id=self._required("source_id"),
            name=self._required("name"),
            ownership=self._get("ownership"),
            address=self._address(),
            phones=self._phones(("phone", "work")),
        )


def _date_reason(name: str, exc: InvalidInputError) -> str:
    """Our date messages name the problem and the format, never the value."""
    return f"{_LABELS.get(name, name).capitalize()}: {exc}"


def validate_rows(
    rows: Iterable[CsvRow | RowProblem], validator: RowValidator
) -> Iterator[CsvRecord | RowProblem]:
    """Stream records and problems from a reader's output, in file order.

    A row's problems come before its record (warnings) or instead of it (errors);
    problems from the reader (ragged rows) pass through unchanged.
    """
    validate = validator.validate
    for row in rows:
        if isinstance(row, RowProblem):
            yield row
            continue
        record, problems = validate(row)
        yield from problems
        if record is not None:
            yield record
