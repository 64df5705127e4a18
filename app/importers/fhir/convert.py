"""From the FHIR reading layer's records to the format-neutral targets the writer takes.

The mapping layer (mapping.py) kept what FHIR said; this module decides what the
clinic stores: phones in E.164, times in UTC, FHIR's statuses in Frontdesk's words.
Identity keys and links are built in one place (`resource_key_of`, `link_to`), because
the writer pairs a link with its target only when both sides built the same key.

Nothing here raises on bad data: a value that cannot be used is left out with a
problem (dropped=False); a record that cannot be used at all comes back as None with
the reason. Reasons never quote the file, so they are safe for logs and reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.errors import InvalidInputError
from app.importers.fhir.model import (
    CodedConcept,
    Coding,
    ContactPoint,
    FhirDateTime,
    Imported,
    ImportedAllergy,
    ImportedAppointment,
    ImportedCondition,
    ImportedCoverage,
    ImportedEncounter,
    ImportedLocation,
    ImportedOrganization,
    ImportedPatient,
    ImportedPractitioner,
    ImportedPractitionerRole,
    Period,
    PersonName,
    PostalAddress,
    SourceIdentifier,
)
from app.importers.fhir.references import Ref, ResourceKey
from app.importers.targets import (
    KIND_NAMES,
    AddressIn,
    AllergyIn,
    ConditionIn,
    CoverageIn,
    IdentifierIn,
    ImportProblem,
    Key,
    Link,
    LocationIn,
    OrganizationIn,
    PatientIn,
    PhoneIn,
    ProviderIn,
    RoleIn,
    Target,
    VisitIn,
)
from app.patients.validation import normalize_email, normalize_phone
from app.store.writer import utc_text

__all__ = [
    "NPI_SYSTEM",
    "SNOMED_SYSTEM",
    "country_code",
    "fhir_target",
    "is_sensitive",
    "link_to",
    "patient_keys",
    "practitioner_keys",
    "resource_key_of",
]

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
SNOMED_SYSTEM = "http://snomed.info/sct"
_ICD10_PREFIXES = ("http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.90")

# Identifier types (HL7 v2-0203) that are government or financial numbers. Frontdesk
# keeps none of them: a front desk never needs a social security or passport number,
# and every copy is one more place it could leak (they stay in the EMR).
_SENSITIVE_TYPES = frozenset(
    {
        "SS",
        "SSN",
        "DL",
        "DLN",
        "PPN",
        "SB",
        "TAX",
        "NI",
        "NH",
        "MC",
        "MA",
        "CZ",
        "BC",
        "BA",
        "BCT",
        "NCT",
        "PEN",
        "VS",
        "WP",
    }
)
# When a type is given only as text, or not at all, the system gives it away.
_SENSITIVE_WORDS = (
    "social security",
    "driver",
    "passport",
    "licen",
    "tax",
    "medicare",
    "national",
    "citizen",
    "bsn",
)
_SENSITIVE_SYSTEMS = (
    "http://hl7.org/fhir/sid/us-ssn",
    "http://hl7.org/fhir/sid/us-medicare",
    "http://hl7.org/fhir/sid/us-mbi",
    "http://hl7.org/fhir/sid/passport",
    "urn:oid:2.16.840.1.113883.4.1",  # US SSN
    "urn:oid:2.16.840.1.113883.4.3.",  # US state driver's licences
    "urn:oid:2.16.840.1.113883.2.4.6.3",  # Dutch citizen service number (BSN)
    "http://fhir.nl/fhir/NamingSystem/bsn",
    "urn:oid:2.16.578.1.12.4.1.4.1",  # Norwegian national identity number
    "urn:oid:1.2.752.129.2.1.3.1",  # Swedish personal identity number
    "https://fhir.kbv.de/NamingSystem/KBV_NS_Base_GKV_KVID",  # German insurance number
    "http://ns.electronichealth.net.au/id/medicare-number",
    "https://fhir.nhs.uk/Id/nhs-number",
)

_PHONE_USES = {"home": "home", "work": "work", "mobile": "mobile"}
_ADDRESS_USES = {"home": "home", "work": "work", "billing": "billing"}
_COUNTRY_NAMES = {"usa": "US", "united states": "US", "united states of america": "US"}
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")

_ENCOUNTER_STATUS = {
    "planned": "booked",
    "arrived": "arrived",
    "triaged": "arrived",
    "in-progress": "arrived",
    "onleave": "arrived",
    "finished": "fulfilled",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
_ENCOUNTER_CLASSES = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "IMP": "inpatient",
    "VR": "virtual",
    "HH": "home health",
}
# Verification statuses that say the record is not true of the patient: storing it
# would target a patient with education for a disease they do not have.
_NOT_TRUE = frozenset({"entered-in-error", "refuted"})

_NOON = time(12)

PHONE_LEFT_OUT = "a phone number could not be read; it was left out"
EMAIL_LEFT_OUT = "an email address could not be read; it was left out"


# --- identity: the one place keys and links are built ---------------------------------


def resource_key_of(key: ResourceKey) -> Key:
    """The identity key every FHIR record carries, and that links to it use."""
    return ("fhir:" + key.type, key.id)


def link_to(table: str, ref: Ref | None) -> Link:
    """A link through a resolved reference (by its key), else only its display."""
    if ref is None:
        return Link(table, None, "")
    key = resource_key_of(ref.key) if ref.key is not None else None
    return Link(table, key, ref.display or "")


def is_sensitive(identifier: SourceIdentifier) -> bool:
    """A government or financial number: left in the EMR, neither stored nor a key."""
    kind = (identifier.type_code or "").strip()
    if kind.upper() in _SENSITIVE_TYPES:
        return True
    folded = kind.casefold()
    if any(word in folded for word in _SENSITIVE_WORDS):
        return True
    system = identifier.system or ""
    return any(system.startswith(s) for s in _SENSITIVE_SYSTEMS)


def patient_keys(record: ImportedPatient) -> tuple[Key, ...]:
    """The resource key, plus every identifier with a system that is not a government number."""
    keys = [resource_key_of(record.key)]
    keys += [
        (i.system, i.value)
        for i in record.identifiers
        if i.system and i.value and not is_sensitive(i)
    ]
    return tuple(dict.fromkeys(keys))


def practitioner_keys(record: ImportedPractitioner) -> tuple[Key, ...]:
    keys = [resource_key_of(record.key)]
    npi = _npi(record.identifiers)
    if npi:
        keys.append((NPI_SYSTEM, npi))
    return tuple(dict.fromkeys(keys))


# --- the entry point ---------------------------------------------------------------


def fhir_target(
    record: Imported, *, zone: ZoneInfo, today: date, region: str = "US"
) -> tuple[Target | None, list[ImportProblem]]:
    """The target one mapped FHIR record becomes, and the problems met on the way.

    None means the record is not stored: the list says why, except for a
    PractitionerRole (Frontdesk has no separate roles; its practitioner is imported
    from the Practitioner itself) and a condition or allergy whose verification
    status is entered-in-error or refuted (not true of the patient: counted as
    skipped, not as a failure). `zone` is the clinic's, for times given only as a date;
    `today` decides whether a visit without a clear status is past or still to come;
    `region` reads phone numbers written without a country code.
    """
    c = _Context(record.location, zone, today, region)
    if isinstance(record, ImportedPatient):
        return _patient(c, record)
    if isinstance(record, ImportedPractitioner):
        return _practitioner(c, record)
    if isinstance(record, ImportedOrganization):
        return _organization(c, record)
    if isinstance(record, ImportedLocation):
        return _location(c, record)
    if isinstance(record, ImportedAppointment):
        return _appointment(c, record)
    if isinstance(record, ImportedEncounter):
        return _encounter(c, record)
    if isinstance(record, ImportedCondition):
        return _condition(c, record)
    if isinstance(record, ImportedAllergy):
        return _allergy(c, record)
    if isinstance(record, ImportedCoverage):
        return _coverage(c, record)
    return _role(c, record)


class _Context:
    """What one conversion needs, and the problems it notes."""

    __slots__ = ("location", "problems", "region", "today", "zone")

    def __init__(self, location: str, zone: ZoneInfo, today: date, region: str) -> None:
        self.location = location
        self.zone = zone
        self.today = today
        self.region = region
        self.problems: list[ImportProblem] = []

    def note(self, kind: type[Target], reason: str) -> None:
        """A value was left out; the record is still stored."""
        self.problems.append(ImportProblem(self.location, KIND_NAMES[kind], reason, False))

    def drop(self, kind: type[Target], reason: str) -> tuple[None, list[ImportProblem]]:
        self.problems.append(ImportProblem(self.location, KIND_NAMES[kind], reason, True))
        return None, self.problems

    def phones(self, kind: type[Target], points: Iterable[ContactPoint]) -> list[PhoneIn]:
        phones: list[PhoneIn] = []
        for point in points:
            if point.system not in ("phone", "sms"):
                continue
            try:
                number = normalize_phone(point.value, self.region)
            except InvalidInputError:
                self.note(kind, PHONE_LEFT_OUT)
                continue
            if all(p.number != number for p in phones):
                phones.append(PhoneIn(number, _phone_use(point)))
        return phones

    def emails(self, kind: type[Target], points: Iterable[ContactPoint]) -> list[str]:
        emails: list[str] = []
        for point in points:
            if point.system != "email":
                continue
            try:
                email = normalize_email(point.value)
            except InvalidInputError:
                self.note(kind, EMAIL_LEFT_OUT)
                continue
            if email not in emails:
                emails.append(email)
        return emails

    def moment(self, when: FhirDateTime | None) -> str | None:
        """UTC text of a FHIR dateTime; a full date alone is noon clinic time that day
        (so the visit shows on the right day); a year or month alone is no moment."""
        if when is None:
            return None
        if when.at is not None:
            return utc_text(when.at)
        day = when.date.as_date()
        if day is None:
            return None
        return utc_text(datetime.combine(day, _NOON, tzinfo=self.zone))

    def local_day(self, when: FhirDateTime) -> date | None:
        if when.at is not None:
            return when.at.astimezone(self.zone).date()
        return when.date.as_date()


Result = tuple[Target | None, list[ImportProblem]]


# --- people and places -------------------------------------------------------------


def _patient(c: _Context, r: ImportedPatient) -> Result:
    if r.is_animal:
        return c.drop(PatientIn, "a veterinary (animal) record; Frontdesk keeps people only")
    family, given = _names(r.name)
    if not family and not given:
        c.note(PatientIn, "has no name; imported without one")
    addresses = tuple(a for a in (_address(p) for p in r.addresses) if a is not None)
    return PatientIn(
        location=r.location,
        keys=patient_keys(r),
        family_name=family,
        given_names=given,
        preferred_name=r.preferred_name or "",
        birth_date=r.birth_date.text if r.birth_date else None,
        sex=r.sex,
        language=_language(r.language),
        deceased=r.deceased,
        deceased_date=r.deceased_at.date.text if r.deceased_at else None,
        phones=tuple(c.phones(PatientIn, r.telecom)),
        emails=tuple(c.emails(PatientIn, r.telecom)),
        addresses=addresses,
        identifiers=tuple(
            dict.fromkeys(
                IdentifierIn(i.system, i.value, i.type_code or "")
                for i in r.identifiers
                if i.system and i.value and not is_sensitive(i)
            )
        ),
    ), c.problems


def _practitioner(c: _Context, r: ImportedPractitioner) -> Result:
    family, given = _names(r.name)
    if not family:
        return c.drop(ProviderIn, "has no name")
    prefixes = r.name.prefix if r.name else ()
    return ProviderIn(
        location=r.location,
        keys=practitioner_keys(r),
        family_name=family,
        given_names=given,
        title=prefixes[0] if prefixes else "",
        npi=_npi(r.identifiers),
        active=r.active if r.active is not None else True,
    ), c.problems


def _organization(c: _Context, r: ImportedOrganization) -> Result:
    if not r.name:
        return c.drop(OrganizationIn, "has no name")
    phones = c.phones(OrganizationIn, r.telecom)
    address = _address(next((a for a in r.addresses if a.use != "old"), None))
    return OrganizationIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        name=r.name,
        kind=_organization_kind(r.kinds),
        phone=phones[0].number if phones else "",
        line1=address.line1 if address else "",
        city=address.city if address else "",
        region=address.region if address else "",
        postal_code=address.postal_code if address else "",
        country=address.country if address else "",
        active=r.active if r.active is not None else True,
    ), c.problems


def _location(c: _Context, r: ImportedLocation) -> Result:
    if not r.name:
        return c.drop(LocationIn, "has no name")
    phones = c.phones(LocationIn, r.telecom)
    address = _address(r.address)
    return LocationIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        name=r.name,
        line1=address.line1 if address else "",
        city=address.city if address else "",
        region=address.region if address else "",
        postal_code=address.postal_code if address else "",
        country=address.country if address else "",
        phone=phones[0].number if phones else "",
        active=r.status != "inactive",
    ), c.problems


# --- visits ------------------------------------------------------------------------


def _role(c: _Context, r: ImportedPractitionerRole) -> Result:
    if r.practitioner is None:
        return c.drop(RoleIn, "does not say which practitioner it belongs to")
    return RoleIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        provider=link_to("provider", r.practitioner),
        specialty=", ".join(r.specialties[:2]) or ", ".join(r.roles[:1]),
    ), c.problems


def _appointment(c: _Context, r: ImportedAppointment) -> Result:
    start = c.moment(r.start)
    end = c.moment(r.end) if r.end is not None and r.end.at is not None else None
    if start is not None and end is None and r.minutes and r.start and r.start.at:
        end = utc_text(r.start.at + timedelta(minutes=r.minutes))
    notes = [r.note] if r.note else []
    if start is None and (asked := _requested(r.requested_periods)):
        notes.append(asked)
    return VisitIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        patient=link_to("patient", r.patient),
        status=r.status,
        start_at=start,
        end_at=end,
        kind=r.kind or "",
        reason=r.reason or r.description or "",
        provider=_provider_link(r.practitioners),
        place=link_to("location", r.locations[0]) if r.locations else None,
        note="; ".join(notes),
        counted_as="appointments",
    ), c.problems


def _encounter(c: _Context, r: ImportedEncounter) -> Result:
    start = c.moment(r.start)
    if start is None or r.start is None:
        return c.drop(VisitIn, "has no date")
    # A date-only end would become noon like the start: better no end than a wrong one.
    end = c.moment(r.end) if r.end is not None and r.end.at is not None else None
    status = _ENCOUNTER_STATUS.get(r.status or "")
    if status is None:
        day = c.local_day(r.start)
        status = "fulfilled" if day is not None and day < c.today else "booked"
    klass = r.class_code or ""
    return VisitIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        patient=link_to("patient", r.patient),
        status=status,
        start_at=start,
        end_at=end,
        kind=r.kind or _ENCOUNTER_CLASSES.get(klass.upper(), klass),
        reason=r.reason or "",
        provider=_provider_link(r.practitioners),
        place=link_to("location", r.locations[0]) if r.locations else None,
    ), c.problems


# --- clinical ----------------------------------------------------------------------


def _condition(c: _Context, r: ImportedCondition) -> Result:
    if r.verification_status in _NOT_TRUE:
        return None, c.problems
    coded = _coded(r.code)
    if coded is None:
        return c.drop(ConditionIn, "has no code or description")
    system, code, display = coded
    return ConditionIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        patient=link_to("patient", r.patient),
        system=system,
        code=code,
        display=display,
        onset=r.onset.date.text if r.onset else None,
        abated=r.abatement.date.text if r.abatement else None,
        clinical_status=r.clinical_status or "",
    ), c.problems


def _allergy(c: _Context, r: ImportedAllergy) -> Result:
    if r.verification_status in _NOT_TRUE:
        return None, c.problems
    coded = _coded(r.code)
    if coded is None:
        return c.drop(AllergyIn, "has no code or description")
    system, code, display = coded
    return AllergyIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        patient=link_to("patient", r.patient),
        system=system,
        code=code,
        display=display,
        category=r.categories[0] if r.categories else "",
        kind=r.kind or "",
        criticality=r.criticality or "",
        clinical_status=r.clinical_status or "",
        reactions=", ".join(dict.fromkeys(r.reactions)),
        onset=r.onset.date.text if r.onset else None,
    ), c.problems


def _coverage(c: _Context, r: ImportedCoverage) -> Result:
    payer = r.payers[0] if r.payers else None
    payer_link: Link | None = None
    if payer is not None and payer.key is not None and payer.key.type == "Organization":
        payer_link = link_to("organization", payer)
    elif payer is not None:
        # A person paying (the patient, a relative) is no organization: keep the name.
        payer_link = Link("organization", None, payer.display or "")
    member_id = r.subscriber_id or (r.identifiers[0].value if r.identifiers else "")
    period = r.period
    return CoverageIn(
        location=r.location,
        keys=(resource_key_of(r.key),),
        patient=link_to("patient", r.patient),
        payer=payer_link,
        member_id=member_id,
        plan=r.plan or "",
        relationship=r.relationship or "",
        status=r.status or "",
        start_on=period.start.date.text if period and period.start else None,
        end_on=period.end.date.text if period and period.end else None,
    ), c.problems


# --- values ------------------------------------------------------------------------


def _names(name: PersonName | None) -> tuple[str, str]:
    """Family and given names; a text-only name was already split by the mapping."""
    if name is None:
        return "", ""
    return (name.family or "").strip(), " ".join(g.strip() for g in name.given if g.strip())


def _npi(identifiers: Iterable[SourceIdentifier]) -> str | None:
    return next((i.value for i in identifiers if i.system == NPI_SYSTEM and i.value), None)


def _phone_use(point: ContactPoint) -> str:
    if point.use in _PHONE_USES:
        return _PHONE_USES[point.use]
    if point.use is None:
        return "mobile" if point.system == "sms" else "home"
    return "other"  # temp, old


def _address(address: PostalAddress | None) -> AddressIn | None:
    """Our address, or None for a former address or one with nothing to send mail to."""
    if address is None or address.use == "old":
        return None
    lines = list(address.lines)
    if not lines and address.text and not (address.city or address.postal_code):
        lines = [address.text]
    found = AddressIn(
        line1=lines[0] if lines else "",
        line2=", ".join(lines[1:]),
        city=address.city or "",
        region=address.state or "",
        postal_code=address.postal_code or "",
        country=country_code(address.country),
        use=_ADDRESS_USES.get(address.use or "home", "other"),
    )
    if not (found.line1 or found.city or found.region or found.postal_code):
        return None
    return found


def country_code(country: str | None) -> str:
    """ISO 3166 alpha-2 when the source gave one (or the United States by name), else ""."""
    text = (country or "").strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return _COUNTRY_NAMES.get(text.casefold(), "")


def _language(code: str | None) -> str:
    """The primary language subtag ("en" of "en-US"); words like "English" are not codes."""
    match = _LANGUAGE.match((code or "").strip())
    return match[1].lower() if match else ""


def _organization_kind(kinds: Iterable[str]) -> str:
    folded = [k.strip().casefold() for k in kinds]
    if any(k in ("pay", "ins") or "payer" in k or "insur" in k for k in folded):
        return "payer"
    if any(k == "prov" or "provider" in k for k in folded):
        return "provider"
    return "other"


def _provider_link(refs: Iterable[Ref]) -> Link | None:
    # The person first; else a role, which stands for its practitioner (the writer
    # knows a role's key as theirs); found ones before ones known only by name.
    order = [
        (kind, found) for found in (True, False) for kind in ("Practitioner", "PractitionerRole")
    ]
    for kind, found in order:
        ref = next(
            (r for r in refs if r.target_type == kind and (r.key is not None) == found), None
        )
        if ref is not None:
            return link_to("provider", ref)
    return None


def _requested(periods: Iterable[Period]) -> str:
    parts = []
    for period in periods:
        start = period.start.date.text if period.start else None
        end = period.end.date.text if period.end else None
        if start and end:
            parts.append(f"from {start} to {end}")
        elif start:
            parts.append(f"from {start}")
        elif end:
            parts.append(f"by {end}")
    return "asked for a time " + ", or ".join(parts) if parts else ""


def _best_coding(codings: Iterable[Coding]) -> Coding | None:
    """SNOMED CT first (what education targeting looks for), then ICD-10, then any code."""
    coded = [c for c in codings if c.code]
    snomed = next((c for c in coded if c.system == SNOMED_SYSTEM), None)
    if snomed is not None:
        return snomed
    icd10 = next((c for c in coded if (c.system or "").startswith(_ICD10_PREFIXES)), None)
    if icd10 is not None:
        return icd10
    return coded[0] if coded else None


def _coded(concept: CodedConcept | None) -> tuple[str, str, str] | None:
    """(system, code, display) to store, or None when there is neither a code nor words."""
    if concept is None:
        return None
    coding = _best_coding(concept.codings)
    if coding is None:
        display = concept.display or ""
        return ("", "", display) if display else None
    # The words for the chosen code; else the concept's, which every coding shares.
    others = (c.display for c in concept.codings if c.display)
    display = coding.display or concept.text or next(others, None) or ""
    return coding.system or "", coding.code or "", display
