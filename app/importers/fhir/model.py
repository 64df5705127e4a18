"""What Frontdesk keeps from a FHIR export: frozen records, one per mapped resource.

Every record carries `key` (its ResourceKey within the import, the handle other
records' Ref point at), `location` (file and line or entry, for messages) and, where
FHIR has them, `identifiers` (system + value: the identity a re-import matches on).
Dates keep FHIR's precision: a birth date may be only a year or a year and month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.importers.fhir.references import Ref, ResourceKey
from app.store.writer import utc_text

# Our appointment statuses (app/scheduling/appointments.py STATUSES) that FHIR maps to.
APPOINTMENT_STATUS = {
    "proposed": "booked",
    "pending": "booked",
    "booked": "booked",
    "waitlist": "booked",
    "arrived": "arrived",
    "checked-in": "arrived",
    "fulfilled": "fulfilled",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
    "noshow": "noshow",
}


@dataclass(frozen=True, slots=True)
class FhirDate:
    """A FHIR date: a year, a year and month, or a full date."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def text(self) -> str:
        """The date as FHIR writes it: 1974, 1974-12 or 1974-12-25."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def is_partial(self) -> bool:
        return self.day is None

    def as_date(self) -> date | None:
        """The full date, or None when only the year (and month) is known."""
        if self.month is None or self.day is None:
            return None
        return date(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class FhirDateTime:
    """A FHIR dateTime/instant: the date as precise as given and, with a time, the instant."""

    date: FhirDate
    at: datetime | None = None  # timezone-aware, when a time with offset was given

    @property
    def utc_iso(self) -> str | None:
        """The instant as Frontdesk stores times ("2026-11-28T15:00:00Z"), when there is one."""
        if self.at is None:
            return None
        return utc_text(self.at)


@dataclass(frozen=True, slots=True)
class SourceIdentifier:
    """One identifier from the source system (MRN, SSN, licence...)."""

    system: str | None
    value: str
    type_code: str | None = None  # v2-0203 code: MR, SS, DL, PPN, NPI...; or the type's text
    use: str | None = None


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """A phone number or email address, as the source wrote it (not yet normalised)."""

    system: str  # phone, sms, email
    value: str
    use: str | None = None  # home, work, mobile, temp, old
    rank: int | None = None  # 1 is most preferred


@dataclass(frozen=True, slots=True)
class PostalAddress:
    use: str | None
    lines: tuple[str, ...]
    city: str | None
    district: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class CodedConcept:
    """A coded value (diagnosis, allergen...): every coding the source gave, plus its text."""

    codings: tuple[Coding, ...]
    text: str | None

    @property
    def display(self) -> str | None:
        """The words to show: the text, else the first coding's display, else its code."""
        if self.text:
            return self.text
        for coding in self.codings:
            if coding.display:
                return coding.display
        for coding in self.codings:
            if coding.code:
                return coding.code
        return None


@dataclass(frozen=True, slots=True)
class Period:
    start: FhirDateTime | None
    end: FhirDateTime | None


@dataclass(frozen=True, slots=True)
class PersonName:
    family: str | None
    given: tuple[str, ...]
    prefix: tuple[str, ...]
    text: str | None


@dataclass(frozen=True, slots=True)
class ImportedPatient:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    name: PersonName | None
    preferred_name: str | None  # from a name of use "nickname"
    birth_date: FhirDate | None
    birth_time: FhirDateTime | None  # the patient-birthTime extension on birthDate
    sex: str  # female, male, other, unknown (Frontdesk's SEXES)
    deceased: bool
    deceased_at: FhirDateTime | None
    telecom: tuple[ContactPoint, ...]
    addresses: tuple[PostalAddress, ...]
    language: str | None  # BCP-47 code, preferred communication language
    active: bool | None
    is_animal: bool  # the patient-animal extension: a veterinary record
    general_practitioners: tuple[Ref, ...]
    managing_organization: Ref | None


@dataclass(frozen=True, slots=True)
class ImportedPractitioner:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    name: PersonName | None
    sex: str
    telecom: tuple[ContactPoint, ...]
    addresses: tuple[PostalAddress, ...]
    active: bool | None


@dataclass(frozen=True, slots=True)
class ImportedOrganization:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    name: str | None
    kinds: tuple[str, ...]  # type displays (prov, pay, ins...)
    telecom: tuple[ContactPoint, ...]
    addresses: tuple[PostalAddress, ...]
    part_of: Ref | None
    active: bool | None


@dataclass(frozen=True, slots=True)
class ImportedLocation:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    name: str | None
    status: str | None
    address: PostalAddress | None
    telecom: tuple[ContactPoint, ...]
    managing_organization: Ref | None
    part_of: Ref | None


@dataclass(frozen=True, slots=True)
class ImportedPractitionerRole:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    practitioner: Ref | None
    organization: Ref | None
    locations: tuple[Ref, ...]
    roles: tuple[str, ...]
    specialties: tuple[str, ...]
    telecom: tuple[ContactPoint, ...]
    active: bool | None


@dataclass(frozen=True, slots=True)
class ImportedAppointment:
    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    status: str  # Frontdesk's: booked, arrived, fulfilled, cancelled, noshow
    source_status: str  # FHIR's, kept for the timeline
    note: str | None  # e.g. "on the waiting list" for waitlist
    start: FhirDateTime | None  # None: no time yet (only requestedPeriod)
    end: FhirDateTime | None
    requested_periods: tuple[Period, ...]
    minutes: int | None
    patient: Ref | None
    practitioners: tuple[Ref, ...]
    locations: tuple[Ref, ...]
    kind: str | None  # appointmentType display
    reason: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class ImportedEncounter:
    """A past or current visit, shown on the patient's timeline."""

    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    status: str | None
    class_code: str | None  # AMB, EMER, IMP, HH, VR...
    kind: str | None  # type display
    start: FhirDateTime | None
    end: FhirDateTime | None
    patient: Ref | None
    practitioners: tuple[Ref, ...]
    locations: tuple[Ref, ...]
    service_provider: Ref | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ImportedCondition:
    key: ResourceKey
    location: str
    patient: Ref | None
    code: CodedConcept | None
    clinical_status: str | None
    verification_status: str | None
    onset: FhirDateTime | None
    onset_text: str | None
    abatement: FhirDateTime | None
    abatement_text: str | None
    recorded: FhirDateTime | None
    encounter: Ref | None


@dataclass(frozen=True, slots=True)
class ImportedAllergy:
    key: ResourceKey
    location: str
    patient: Ref | None
    code: CodedConcept | None
    clinical_status: str | None
    verification_status: str | None
    kind: str | None  # allergy or intolerance
    categories: tuple[str, ...]  # food, medication, environment, biologic
    criticality: str | None
    onset: FhirDateTime | None
    onset_text: str | None
    recorded: FhirDateTime | None
    reactions: tuple[str, ...]  # manifestation displays


@dataclass(frozen=True, slots=True)
class ImportedCoverage:
    """Insurance: who pays (the payer) for which patient, under which member id."""

    key: ResourceKey
    location: str
    identifiers: tuple[SourceIdentifier, ...]
    status: str | None
    kind: str | None  # type display
    patient: Ref | None  # the beneficiary
    payers: tuple[Ref, ...]  # Organization (with display) or a person paying
    subscriber: Ref | None
    subscriber_id: str | None
    relationship: str | None  # self, spouse, child...
    plan: str | None
    period: Period | None


Imported = (
    ImportedPatient
    | ImportedPractitioner
    | ImportedOrganization
    | ImportedLocation
    | ImportedPractitionerRole
    | ImportedAppointment
    | ImportedEncounter
    | ImportedCondition
    | ImportedAllergy
    | ImportedCoverage
)


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """Something in one resource that could not be taken over; never quotes its content.

    `dropped` says whether the whole resource was left out (True) or only the field
    named in `reason` (False; the resource was still mapped).
    """

    location: str
    resource_type: str
    reason: str
    dropped: bool
