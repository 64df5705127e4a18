"""What an import writes, whatever format it came from: plain records for the writer.

The FHIR and CSV readers each convert their own records into these, so identity,
re-import, merge review and undo are written once (app/importers/writer.py).

Identity: `keys` are (system, value) pairs naming the record in its source: an MRN
with its issuing system, an NPI, or the exporting system plus the record's own id.
A re-import finds the stored row through any one of them. Links between records of
one import (`Link`) use the same pairs, so an encounter can name its patient before
or after the patient itself is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

Key: TypeAlias = tuple[str, str]  # (system, value)


@dataclass(frozen=True, slots=True)
class Link:
    """A pointer to another record of the import (or of an earlier import).

    `table` is where the target lives once written (patient, provider, location,
    organization); `key` one of the target's identity keys; `display` the words
    the source gave, kept when the target is not found (a payer's name).
    """

    table: str
    key: Key | None
    display: str = ""


@dataclass(frozen=True, slots=True)
class PhoneIn:
    number: str  # E.164 when it could be read, else as given (then it is not stored)
    use: str = "home"  # home, work, mobile, other


@dataclass(frozen=True, slots=True)
class AddressIn:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166 alpha-2 when known
    use: str = "home"  # home, work, billing, other


@dataclass(frozen=True, slots=True)
class IdentifierIn:
    system: str
    value: str
    kind: str = ""  # MR, SS, DL, PPN, NPI...


@dataclass(frozen=True, slots=True)
class PatientIn:
    """A patient as the import would store them. `birth_date` is ISO, maybe partial."""

    location: str  # file and line or entry: for messages, never for logs
    keys: tuple[Key, ...]
    family_name: str
    given_names: str
    preferred_name: str = ""
    birth_date: str | None = None
    sex: str = "unknown"
    language: str = ""
    deceased: bool = False
    deceased_date: str | None = None
    phones: tuple[PhoneIn, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[AddressIn, ...] = ()
    identifiers: tuple[IdentifierIn, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderIn:
    location: str
    keys: tuple[Key, ...]
    family_name: str
    given_names: str = ""
    title: str = ""
    specialty: str = ""
    npi: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class RoleIn:
    """A practitioner's role (FHIR PractitionerRole): not a row of its own. It fills in
    the practitioner's specialty when theirs is empty, and its keys become more keys
    of the practitioner, so a visit that names the role finds the person."""

    location: str
    keys: tuple[Key, ...]
    provider: Link
    specialty: str = ""


@dataclass(frozen=True, slots=True)
class LocationIn:
    location: str
    keys: tuple[Key, ...]
    name: str
    line1: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class OrganizationIn:
    location: str
    keys: tuple[Key, ...]
    name: str
    kind: str = "other"  # payer, provider, other
    phone: str = ""
    line1: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class VisitIn:
    """An appointment or a past encounter: both become a row of the clinic's book,
    so past visits count for "last visit", recalls and reactivation."""

    location: str
    keys: tuple[Key, ...]
    patient: Link
    status: str  # booked, confirmed, arrived, fulfilled, cancelled, noshow
    start_at: str | None  # UTC text; None for a request without a time yet
    end_at: str | None = None
    kind: str = ""
    reason: str = ""
    provider: Link | None = None
    place: Link | None = None  # a location
    note: str = ""  # e.g. "asked for a time in the week of ..." for requests
    counted_as: str = "visits"  # the summary's word: "appointments" for booked ones


@dataclass(frozen=True, slots=True)
class ConditionIn:
    location: str
    keys: tuple[Key, ...]
    patient: Link
    system: str
    code: str
    display: str = ""
    onset: str | None = None
    abated: str | None = None
    clinical_status: str = ""


@dataclass(frozen=True, slots=True)
class AllergyIn:
    location: str
    keys: tuple[Key, ...]
    patient: Link
    system: str
    code: str
    display: str = ""
    category: str = ""
    kind: str = ""
    criticality: str = ""
    clinical_status: str = ""
    reactions: str = ""
    onset: str | None = None
    abated: str | None = None


@dataclass(frozen=True, slots=True)
class CoverageIn:
    location: str
    keys: tuple[Key, ...]
    patient: Link
    payer: Link | None
    member_id: str = ""
    plan: str = ""
    relationship: str = ""
    status: str = ""
    start_on: str | None = None
    end_on: str | None = None


Target: TypeAlias = (
    PatientIn
    | ProviderIn
    | RoleIn
    | LocationIn
    | OrganizationIn
    | VisitIn
    | ConditionIn
    | AllergyIn
    | CoverageIn
)

# The summary's words for each kind of record, in the order they are written: a
# record may only link to kinds written before it.
KIND_NAMES: dict[type[Target], str] = {
    OrganizationIn: "organizations",
    LocationIn: "locations",
    ProviderIn: "practitioners",
    RoleIn: "practitioner roles",
    PatientIn: "patients",
    CoverageIn: "coverages",
    VisitIn: "visits",
    ConditionIn: "conditions",
    AllergyIn: "allergies",
}

TABLES: dict[type[Target], str] = {
    OrganizationIn: "organization",
    LocationIn: "location",
    ProviderIn: "provider",
    RoleIn: "provider",
    PatientIn: "patient",
    CoverageIn: "coverage",
    VisitIn: "appointment",
    ConditionIn: "condition",
    AllergyIn: "allergy",
}


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One thing that went wrong: where (file and line or entry) and why, in plain
    words that never quote the file's content. `dropped` is False when only one
    value was left out and the record was still imported."""

    location: str
    kind: str  # the summary's word: patients, visits... or "file"
    reason: str
    dropped: bool = True
