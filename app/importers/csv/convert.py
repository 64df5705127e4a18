"""From validated CSV records to the format-neutral targets the writer takes.

The row layer (rows.py) already checked every value and normalised phones and
emails; this module gives each record its identity keys and links, and turns times
into the UTC text Frontdesk stores. Keys are built in one place (`csv_key`), since a
link finds its target only when both sides built the same pair.

`system` names the exporting system: SYNTHEA_SYSTEM for Synthea (whose patient Id
is also the FHIR Patient's Synthea identifier, so the same patient matches across
both exports), "csv:<profile name>" for a clinic's own layout. Each table gets its
own suffix, so a provider and a patient with the same id never collide.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from app.importers.csv.rows import (
    CsvAddress,
    CsvAllergy,
    CsvCondition,
    CsvEncounter,
    CsvIdentifier,
    CsvOrganization,
    CsvPatient,
    CsvPayer,
    CsvProvider,
    CsvRecord,
    Moment,
)
from app.importers.fhir.convert import NPI_SYSTEM, country_code
from app.importers.targets import (
    AddressIn,
    AllergyIn,
    ConditionIn,
    IdentifierIn,
    ImportProblem,
    Key,
    Link,
    OrganizationIn,
    PatientIn,
    PhoneIn,
    ProviderIn,
    Target,
    VisitIn,
)
from app.store.writer import utc_text

__all__ = ["SYNTHEA_SYSTEM", "clinical_key", "csv_key", "csv_target", "patient_keys"]

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"

# The suffix of each table's key system; a patient's key is the bare system.
PATIENT = ""
MRN = "/mrn"
PROVIDER = "/provider"
ORGANIZATION = "/organization"
PAYER = "/payer"
ENCOUNTER = "/encounter"
CONDITION = "/condition"
ALLERGY = "/allergy"

_NOON = datetime.time(12)

Result = tuple[Target | None, list[ImportProblem]]


def csv_key(system: str, table: str, value: str) -> Key:
    """The identity key of a CSV record, and what links to it use: the one place."""
    return (system + table, value)


def csv_target(
    record: CsvRecord,
    *,
    system: str,
    zone: ZoneInfo,
    today: datetime.date,
    file_name: str,
    region: str = "US",
) -> Result:
    """The target one validated CSV record becomes, and the problems met on the way.

    `zone` is the clinic's: times without a zone are clinic-local, and a visit with
    only a date is placed at noon that day. `today` decides whether a visit is past
    (fulfilled) or still to come (booked). `file_name` is where problems point.
    `region` is accepted for symmetry with the FHIR converter; phone numbers were
    already read with it by the row layer.
    """
    del region  # CsvPhone numbers are E.164 already
    where = f"{file_name}, line {record.line}"
    if isinstance(record, CsvPatient):
        return _patient(record, system, where), []
    if isinstance(record, CsvEncounter):
        return _encounter(record, system, where, zone, today), []
    if isinstance(record, CsvCondition):
        return _condition(record, system, where), []
    if isinstance(record, CsvAllergy):
        return _allergy(record, system, where), []
    if isinstance(record, CsvProvider):
        return _provider(record, system, where), []
    if isinstance(record, CsvOrganization):
        return _organization(record, system, where), []
    return _payer(record, system, where), []


# --- people ------------------------------------------------------------------------


def patient_keys(record: CsvPatient, system: str) -> tuple[Key, ...]:
    """The exporting system's id, plus the record numbers (MRN) the file carries."""
    keys = [csv_key(system, PATIENT, record.source_id)]
    keys += [csv_key(system, MRN, i.value) for i in record.identifiers if i.kind == "MR"]
    return tuple(dict.fromkeys(keys))


def _identifier(system: str, identifier: CsvIdentifier) -> IdentifierIn:
    # An MRN is stored under the same system as its identity key, so a re-import finds
    # the patient through patient_identifier too; other kinds get their own suffix.
    suffix = MRN if identifier.kind == "MR" else "/" + identifier.kind.lower()
    return IdentifierIn(system + suffix, identifier.value, identifier.kind)


def _patient(r: CsvPatient, system: str, where: str) -> PatientIn:
    address = _address(r.address)
    return PatientIn(
        location=where,
        keys=patient_keys(r, system),
        family_name=r.family_name,
        given_names=r.given_names,
        birth_date=r.birth_date or None,
        sex=r.sex,
        deceased=r.deceased_date is not None,
        deceased_date=r.deceased_date.isoformat() if r.deceased_date else None,
        phones=tuple(PhoneIn(p.number, p.use) for p in r.phones),
        emails=r.emails,
        addresses=(address,) if address else (),
        # Record numbers only: social security, licence and passport numbers stay in
        # the EMR (a front desk never needs them; each copy is one more leak).
        identifiers=tuple(
            dict.fromkeys(_identifier(system, i) for i in r.identifiers if i.kind == "MR")
        ),
    )


def _provider(r: CsvProvider, system: str, where: str) -> ProviderIn:
    npi = next((i.value for i in r.identifiers if i.kind == "NPI"), None)
    keys = [csv_key(system, PROVIDER, r.source_id)]
    if npi:
        keys.append((NPI_SYSTEM, npi))  # the same clinician as in a FHIR export
    # One name only (a FIRST column without LAST): lists sort and show by family name.
    family, given = (r.family_name, r.given_names) if r.family_name else (r.given_names, "")
    return ProviderIn(
        location=where,
        keys=tuple(keys),
        family_name=family,
        given_names=given,
        title=r.prefix,
        specialty=r.speciality,
        npi=npi,
    )


def _organization(r: CsvOrganization, system: str, where: str) -> OrganizationIn:
    return _organization_in(r, csv_key(system, ORGANIZATION, r.source_id), "provider", where)


def _payer(r: CsvPayer, system: str, where: str) -> OrganizationIn:
    return _organization_in(r, csv_key(system, PAYER, r.source_id), "payer", where)


def _organization_in(
    r: CsvOrganization | CsvPayer, key: Key, kind: str, where: str
) -> OrganizationIn:
    """A practice and an insurer are both organizations; only their kind and key differ."""
    address = _address(r.address)
    return OrganizationIn(
        location=where,
        keys=(key,),
        name=r.name,
        kind=kind,
        phone=r.phones[0].number if r.phones else "",
        line1=address.line1 if address else "",
        city=address.city if address else "",
        region=address.region if address else "",
        postal_code=address.postal_code if address else "",
        country=address.country if address else "",
    )


# --- visits and clinical -----------------------------------------------------------


def _encounter(
    r: CsvEncounter, system: str, where: str, zone: ZoneInfo, today: datetime.date
) -> VisitIn:
    start = _aware(r.start, zone)
    # A stop given only as a date would become noon like the start: no end is better.
    # A layout without an id column: the patient, the moment and the kind of visit
    # name it, so importing the same file twice still finds it.
    source_id = r.source_id or f"{r.patient_id}|{utc_text(start)}|{r.code}"
    return VisitIn(
        location=where,
        keys=(csv_key(system, ENCOUNTER, source_id),),
        patient=Link("patient", csv_key(system, PATIENT, r.patient_id)),
        status="fulfilled" if start.astimezone(zone).date() < today else "booked",
        start_at=utc_text(start),
        end_at=utc_text(_aware(r.stop, zone)) if isinstance(r.stop, datetime.datetime) else None,
        kind=r.description,
        reason=r.reason_description,
        provider=Link("provider", csv_key(system, PROVIDER, r.provider_id))
        if r.provider_id
        else None,
        place=None,
    )


def clinical_key(record: CsvCondition | CsvAllergy) -> str:
    """CSV conditions and allergies have no id: who, in which visit, what, and since when."""
    start = record.start.isoformat() if record.start else ""
    return f"{record.patient_id}|{record.encounter_id}|{record.code}|{start}"


def _condition(r: CsvCondition, system: str, where: str) -> ConditionIn:
    return ConditionIn(
        location=where,
        keys=(csv_key(system, CONDITION, clinical_key(r)),),
        patient=Link("patient", csv_key(system, PATIENT, r.patient_id)),
        system=r.code_system,
        code=r.code,
        display=r.description,
        onset=r.start.isoformat() if r.start else None,
        abated=r.stop.isoformat() if r.stop else None,
        clinical_status="resolved" if r.stop else "active",
    )


def _allergy(r: CsvAllergy, system: str, where: str) -> AllergyIn:
    reactions = (x.description or x.code for x in r.reactions)
    return AllergyIn(
        location=where,
        keys=(csv_key(system, ALLERGY, clinical_key(r)),),
        patient=Link("patient", csv_key(system, PATIENT, r.patient_id)),
        system=r.code_system,
        code=r.code,
        display=r.description,
        category=r.category,
        kind=r.allergy_type,
        clinical_status="resolved" if r.stop else "active",
        reactions=", ".join(dict.fromkeys(x for x in reactions if x)),
        onset=r.start.isoformat() if r.start else None,
        abated=r.stop.isoformat() if r.stop else None,
    )


# --- values ------------------------------------------------------------------------


def _aware(moment: Moment, zone: ZoneInfo) -> datetime.datetime:
    """A moment with its zone: as given, clinic-local when naive, noon local for a date."""
    if isinstance(moment, datetime.datetime):
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return datetime.datetime.combine(moment, _NOON, tzinfo=zone)


def _address(address: CsvAddress | None) -> AddressIn | None:
    if address is None:
        return None
    return AddressIn(
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.state,
        postal_code=address.postal_code,
        country=country_code(address.country),
    )
