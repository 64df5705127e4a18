"""Mapping FHIR resource dicts straight to Frontdesk's records, never raising on bad data.

A field that cannot be read is left out and reported (MappingProblem, dropped=False);
a resource that cannot be used at all is reported and left out (dropped=True). Reasons
name the field and the rule, never the value, so they are safe to log. Unknown
extensions and elements are ignored; unknown resource types are counted by the caller.

`read_import` runs the two passes over the files: index every reference target, then
read again and map each resource against the finished index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.importers.fhir.model import (
    APPOINTMENT_STATUS,
    CodedConcept,
    Coding,
    ContactPoint,
    FhirDate,
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
    MappingProblem,
    Period,
    PersonName,
    PostalAddress,
    SourceIdentifier,
)
from app.importers.fhir.references import (
    Ref,
    RefContext,
    ReferenceIndex,
    ResourceKey,
    build_index,
    contained_key,
    context_for,
)
from app.importers.fhir.sources import ReadLimits, SourceItem, read_resources

MAX_TEXT = 1000  # longer names, addresses, displays are refused as damaged data
MIN_YEAR = 1800  # a plausible year for anything a clinic records (rejects "0385")
MAX_YEAR = 2200

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T.+)?)?)?$")
_SEXES = {"male": "male", "female": "female", "other": "other", "unknown": "unknown"}
_ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"
_BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
_NAME_USE_ORDER = {"official": 0, "usual": 1, None: 2, "temp": 3, "anonymous": 4, "maiden": 5}


@dataclass(frozen=True, slots=True)
class MappedItem:
    """What became of one SourceItem: the records made and the problems met.

    `skipped_type` is set for a resource of a type Frontdesk does not import.
    `source_problem` is set when the item was a reading problem, not a resource.
    """

    location: str
    resource_type: str | None
    records: tuple[Imported, ...]
    problems: tuple[MappingProblem, ...]
    skipped_type: str | None = None
    source_problem: str | None = None


class _Notes:
    """Problems met while mapping one resource."""

    def __init__(self, location: str, resource_type: str) -> None:
        self.location = location
        self.resource_type = resource_type
        self.items: list[MappingProblem] = []

    def field(self, reason: str) -> None:
        self.items.append(MappingProblem(self.location, self.resource_type, reason, False))


class _DropResourceError(Exception):
    """The resource cannot be used; carries the reason."""


# --- the two passes ---------------------------------------------------------------


def read_import(
    paths: Iterable[str | Path] | str | Path, limits: ReadLimits | None = None
) -> Iterator[MappedItem]:
    """Read and map everything in the given files, folders and zips (reads them twice).

    Pass one builds the reference index, pass two maps; items come in file order.
    """
    sources = list(paths) if not isinstance(paths, str | Path) else [paths]
    index = build_index(read_resources(sources, limits))
    for item in read_resources(sources, limits):
        yield map_item(item, index)


def map_item(item: SourceItem, index: ReferenceIndex) -> MappedItem:
    """Map one item of pass two (a reading problem passes through as source_problem)."""
    if item.resource is None:
        return MappedItem(item.location, None, (), (), source_problem=item.problem)
    return map_resource(item.resource, index, location=item.location, full_url=item.full_url)


def map_resource(
    resource: Mapping[str, Any],
    index: ReferenceIndex,
    *,
    location: str,
    full_url: str | None = None,
) -> MappedItem:
    """Map one resource and the resources it contains; never raises on bad data."""
    resource_type = str(resource.get("resourceType", ""))[:64]
    mapper = MAPPERS.get(resource_type)
    if mapper is None:
        return MappedItem(location, resource_type, (), (), skipped_type=resource_type)
    context = context_for(resource, full_url, location)
    notes = _Notes(location, resource_type)
    records: list[Imported] = []
    main = _guarded(mapper, resource, context.key, context, index, notes)
    if main is not None:
        records.append(main)
    contained = resource.get("contained")
    if isinstance(contained, list):
        for inner in contained:
            inner_type = inner.get("resourceType") if isinstance(inner, dict) else None
            inner_id = inner.get("id") if isinstance(inner, dict) else None
            inner_mapper = MAPPERS.get(inner_type) if isinstance(inner_type, str) else None
            if inner_mapper is None or not isinstance(inner_id, str) or not inner_id:
                continue  # contained data of a type we do not keep, or unreferenceable
            assert isinstance(inner, dict) and isinstance(inner_type, str)
            inner_notes = _Notes(f"{location} contained {inner_id[:64]}", inner_type)
            key = contained_key(context.key, inner_type, inner_id)
            record = _guarded(inner_mapper, inner, key, context, index, inner_notes)
            notes.items.extend(inner_notes.items)
            if record is not None:
                records.append(record)
    return MappedItem(location, resource_type, tuple(records), tuple(notes.items))


Mapper = Callable[[Mapping[str, Any], "_Mapping"], Imported]


@dataclass(frozen=True, slots=True)
class _Mapping:
    key: ResourceKey
    location: str
    context: RefContext
    index: ReferenceIndex
    notes: _Notes

    def ref(self, value: Any, field: str, *expect: str) -> Ref | None:
        if value is not None and not isinstance(value, dict):
            self.notes.field(f"{field} is not a reference; left out")
            return None
        return self.index.resolve(value, self.context, expect)

    def refs(self, values: Iterable[Any], field: str, *expect: str) -> tuple[Ref, ...]:
        found = (self.ref(v, field, *expect) for v in values)
        return tuple(r for r in found if r is not None)


def _guarded(
    mapper: Mapper,
    resource: Mapping[str, Any],
    key: ResourceKey,
    context: RefContext,
    index: ReferenceIndex,
    notes: _Notes,
) -> Imported | None:
    try:
        return mapper(resource, _Mapping(key, notes.location, context, index, notes))
    except _DropResourceError as drop:
        notes.items.append(MappingProblem(notes.location, notes.resource_type, str(drop), True))
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        # A shape no rule foresaw; the resource is left out, the import goes on.
        reason = f"has a structure Frontdesk cannot read ({type(exc).__name__}); left out"
        notes.items.append(MappingProblem(notes.location, notes.resource_type, reason, True))
    except RecursionError:
        reason = "is nested too deeply to read; left out"
        notes.items.append(MappingProblem(notes.location, notes.resource_type, reason, True))
    return None


# --- resources --------------------------------------------------------------------


def _patient(r: Mapping[str, Any], m: _Mapping) -> ImportedPatient:
    names = _list(r, "name", m)
    deceased, deceased_at = _deceased(r, m)
    birth_date = _date(r.get("birthDate"), "birthDate", m)
    birth_time = _birth_time(r.get("_birthDate"), m)
    if birth_date is None and birth_time is not None and "birthDate" not in r:
        birth_date = birth_time.date
    return ImportedPatient(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        name=_best_name(names, m),
        preferred_name=_nickname(names, m),
        birth_date=birth_date,
        birth_time=birth_time,
        sex=_sex(r, m),
        deceased=deceased,
        deceased_at=deceased_at,
        telecom=_telecom(r, m),
        addresses=_addresses(_list(r, "address", m), m),
        language=_language(r, m),
        active=_bool(r, "active", m),
        is_animal=any(_extension_url(e) == _ANIMAL for e in _list(r, "extension", m)),
        general_practitioners=m.refs(
            _list(r, "generalPractitioner", m),
            "generalPractitioner",
            "Practitioner",
            "PractitionerRole",
            "Organization",
        ),
        managing_organization=m.ref(
            r.get("managingOrganization"), "managingOrganization", "Organization"
        ),
    )


def _practitioner(r: Mapping[str, Any], m: _Mapping) -> ImportedPractitioner:
    return ImportedPractitioner(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        name=_best_name(_list(r, "name", m), m),
        sex=_sex(r, m),
        telecom=_telecom(r, m),
        addresses=_addresses(_list(r, "address", m), m),
        active=_bool(r, "active", m),
    )


def _organization(r: Mapping[str, Any], m: _Mapping) -> ImportedOrganization:
    kinds = (_concept(t, "type", m) for t in _list(r, "type", m))
    return ImportedOrganization(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        name=_text(r.get("name"), "name", m),
        kinds=tuple(k.display for k in kinds if k is not None and k.display),
        telecom=_telecom(r, m),
        addresses=_addresses(_list(r, "address", m), m),
        part_of=m.ref(r.get("partOf"), "partOf", "Organization"),
        active=_bool(r, "active", m),
    )


def _location(r: Mapping[str, Any], m: _Mapping) -> ImportedLocation:
    address = _addresses([r["address"]], m) if "address" in r else ()
    return ImportedLocation(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        name=_text(r.get("name"), "name", m),
        status=_code(r.get("status"), "status", m),
        address=address[0] if address else None,
        telecom=_telecom(r, m),
        managing_organization=m.ref(
            r.get("managingOrganization"), "managingOrganization", "Organization"
        ),
        part_of=m.ref(r.get("partOf"), "partOf", "Location"),
    )


def _practitioner_role(r: Mapping[str, Any], m: _Mapping) -> ImportedPractitionerRole:
    return ImportedPractitionerRole(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        practitioner=m.ref(r.get("practitioner"), "practitioner", "Practitioner"),
        organization=m.ref(r.get("organization"), "organization", "Organization"),
        locations=m.refs(_list(r, "location", m), "location", "Location"),
        roles=_displays(_list(r, "code", m), "code", m),
        specialties=_displays(_list(r, "specialty", m), "specialty", m),
        telecom=_telecom(r, m),
        active=_bool(r, "active", m),
    )


def _appointment(r: Mapping[str, Any], m: _Mapping) -> ImportedAppointment:
    source_status = r.get("status")
    if not isinstance(source_status, str) or source_status not in APPOINTMENT_STATUS:
        raise _DropResourceError("appointment status is missing or not a FHIR appointment status")
    patient: Ref | None = None
    practitioners: list[Ref] = []
    locations: list[Ref] = []
    for participant in _list(r, "participant", m):
        if not isinstance(participant, dict):
            m.notes.field("participant is not an object; left out")
            continue
        ref = m.ref(participant.get("actor"), "participant.actor")
        if ref is None:
            continue
        if ref.target_type == "Patient" and patient is None:
            patient = ref
        elif ref.target_type in ("Practitioner", "PractitionerRole"):
            practitioners.append(ref)
        elif ref.target_type == "Location":
            locations.append(ref)
    minutes = r.get("minutesDuration")
    if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool)):
        m.notes.field("minutesDuration is not a whole number; left out")
        minutes = None
    reasons = _displays(_list(r, "reasonCode", m), "reasonCode", m)
    kind = _concept(r.get("appointmentType"), "appointmentType", m)
    return ImportedAppointment(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        status=APPOINTMENT_STATUS[source_status],
        source_status=source_status,
        note="on the waiting list" if source_status == "waitlist" else None,
        start=_datetime(r.get("start"), "start", m),
        end=_datetime(r.get("end"), "end", m),
        requested_periods=tuple(
            p
            for p in (_period(v, "requestedPeriod", m) for v in _list(r, "requestedPeriod", m))
            if p is not None
        ),
        minutes=minutes if minutes is None or 0 < minutes < 100_000 else None,
        patient=patient,
        practitioners=tuple(practitioners),
        locations=tuple(locations),
        kind=kind.display if kind else None,
        reason=reasons[0] if reasons else None,
        description=_text(r.get("description"), "description", m),
    )


def _encounter(r: Mapping[str, Any], m: _Mapping) -> ImportedEncounter:
    period = _period(r.get("period"), "period", m)
    klass = r.get("class")
    class_code = _code(klass.get("code"), "class", m) if isinstance(klass, dict) else None
    kinds = _displays(_list(r, "type", m), "type", m)
    reasons = _displays(_list(r, "reasonCode", m), "reasonCode", m)
    practitioners = []
    for participant in _list(r, "participant", m):
        if isinstance(participant, dict):
            ref = m.ref(
                participant.get("individual"),
                "participant.individual",
                "Practitioner",
                "PractitionerRole",
            )
            if ref is not None:
                practitioners.append(ref)
    locations = []
    for place in _list(r, "location", m):
        if isinstance(place, dict):
            ref = m.ref(place.get("location"), "location", "Location")
            if ref is not None:
                locations.append(ref)
    return ImportedEncounter(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        status=_code(r.get("status"), "status", m),
        class_code=class_code,
        kind=kinds[0] if kinds else None,
        start=period.start if period else None,
        end=period.end if period else None,
        patient=m.ref(r.get("subject"), "subject", "Patient"),
        practitioners=tuple(practitioners),
        locations=tuple(locations),
        service_provider=m.ref(r.get("serviceProvider"), "serviceProvider", "Organization"),
        reason=reasons[0] if reasons else None,
    )


def _condition(r: Mapping[str, Any], m: _Mapping) -> ImportedCondition:
    onset, onset_text = _onset(r, "onset", m)
    abatement, abatement_text = _onset(r, "abatement", m)
    return ImportedCondition(
        key=m.key,
        location=m.location,
        patient=m.ref(r.get("subject"), "subject", "Patient"),
        code=_concept(r.get("code"), "code", m),
        clinical_status=_status_code(r.get("clinicalStatus"), "clinicalStatus", m),
        verification_status=_status_code(r.get("verificationStatus"), "verificationStatus", m),
        onset=onset,
        onset_text=onset_text,
        abatement=abatement,
        abatement_text=abatement_text,
        recorded=_datetime(r.get("recordedDate"), "recordedDate", m),
        encounter=m.ref(r.get("encounter"), "encounter", "Encounter"),
    )


def _allergy(r: Mapping[str, Any], m: _Mapping) -> ImportedAllergy:
    onset, onset_text = _onset(r, "onset", m)
    reactions: list[str] = []
    for reaction in _list(r, "reaction", m):
        if isinstance(reaction, dict):
            reactions.extend(_displays(_list(reaction, "manifestation", m), "manifestation", m))
    categories = (_code(c, "category", m) for c in _list(r, "category", m))
    return ImportedAllergy(
        key=m.key,
        location=m.location,
        patient=m.ref(r.get("patient"), "patient", "Patient"),
        code=_concept(r.get("code"), "code", m),
        clinical_status=_status_code(r.get("clinicalStatus"), "clinicalStatus", m),
        verification_status=_status_code(r.get("verificationStatus"), "verificationStatus", m),
        kind=_code(r.get("type"), "type", m),
        categories=tuple(c for c in categories if c),
        criticality=_code(r.get("criticality"), "criticality", m),
        onset=onset,
        onset_text=onset_text,
        recorded=_datetime(r.get("recordedDate"), "recordedDate", m),
        reactions=tuple(reactions),
    )


def _coverage(r: Mapping[str, Any], m: _Mapping) -> ImportedCoverage:
    plan = None
    for item in _list(r, "class", m):
        if isinstance(item, dict):
            plan = plan or _text(item.get("name"), "class.name", m)
            plan = plan or _text(item.get("value"), "class.value", m)
    relationship = _concept(r.get("relationship"), "relationship", m)
    kind = _concept(r.get("type"), "type", m)
    return ImportedCoverage(
        key=m.key,
        location=m.location,
        identifiers=_identifiers(r, m),
        status=_code(r.get("status"), "status", m),
        kind=kind.display if kind else None,
        patient=m.ref(r.get("beneficiary"), "beneficiary", "Patient"),
        payers=m.refs(_list(r, "payor", m), "payor", "Organization", "Patient", "RelatedPerson"),
        subscriber=m.ref(r.get("subscriber"), "subscriber", "Patient", "RelatedPerson"),
        subscriber_id=_text(r.get("subscriberId"), "subscriberId", m),
        relationship=relationship.display if relationship else None,
        plan=plan,
        period=_period(r.get("period"), "period", m),
    )


MAPPERS: dict[str, Mapper] = {
    "Patient": _patient,
    "Practitioner": _practitioner,
    "Organization": _organization,
    "Location": _location,
    "PractitionerRole": _practitioner_role,
    "Appointment": _appointment,
    "Encounter": _encounter,
    "Condition": _condition,
    "AllergyIntolerance": _allergy,
    "Coverage": _coverage,
}
MAPPED_TYPES = frozenset(MAPPERS)


# --- elements ---------------------------------------------------------------------


def _list(r: Mapping[str, Any], field: str, m: _Mapping) -> list[Any]:
    value = r.get(field)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]  # a repeating element written once, not as a list: read it anyway
    m.notes.field(f"{field} is not a list; left out")
    return []


def _text(value: Any, field: str, m: _Mapping) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        m.notes.field(f"{field} is not text; left out")
        return None
    value = value.strip()
    if len(value) > MAX_TEXT:
        m.notes.field(f"{field} is longer than {MAX_TEXT} characters; left out")
        return None
    return value or None


def _code(value: Any, field: str, m: _Mapping) -> str | None:
    text = _text(value, field, m)
    return text[:64] if text else None


def _bool(r: Mapping[str, Any], field: str, m: _Mapping) -> bool | None:
    value = r.get(field)
    if value is None or isinstance(value, bool):
        return value
    m.notes.field(f"{field} is not true or false; left out")
    return None


def _sex(r: Mapping[str, Any], m: _Mapping) -> str:
    gender = r.get("gender")
    if gender is None:
        return "unknown"
    if isinstance(gender, str) and gender in _SEXES:
        return _SEXES[gender]
    m.notes.field("gender is not male, female, other or unknown; left as unknown")
    return "unknown"


def _identifiers(r: Mapping[str, Any], m: _Mapping) -> tuple[SourceIdentifier, ...]:
    found: list[SourceIdentifier] = []
    for identifier in _list(r, "identifier", m):
        if not isinstance(identifier, dict):
            m.notes.field("identifier is not an object; left out")
            continue
        value = _text(identifier.get("value"), "identifier.value", m)
        if value is None:
            continue
        kind = _concept(identifier.get("type"), "identifier.type", m)
        type_code = None
        if kind is not None:
            codes = [c.code for c in kind.codings if c.code]
            type_code = codes[0] if codes else kind.text
        found.append(
            SourceIdentifier(
                system=_text(identifier.get("system"), "identifier.system", m),
                value=value,
                type_code=type_code,
                use=_code(identifier.get("use"), "identifier.use", m),
            )
        )
    return tuple(found)


def _best_name(names: list[Any], m: _Mapping) -> PersonName | None:
    if any(not isinstance(n, dict) for n in names):
        m.notes.field("name is not an object; left out")
    candidates = [n for n in names if isinstance(n, dict) and n.get("use") != "nickname"]
    candidates.sort(key=lambda n: _NAME_USE_ORDER.get(n.get("use"), 6))
    for candidate in candidates:
        name = _person_name(candidate, m)
        if name is not None:
            return name
    return None


def _person_name(raw: Mapping[str, Any], m: _Mapping) -> PersonName | None:
    family = _text(raw.get("family"), "name.family", m)
    # `given` may hold nulls where only `_given` carries an extension: skip them.
    given = tuple(g for g in (_text(v, "name.given", m) for v in _strings(raw, "given")) if g)
    prefix = tuple(p for p in (_text(v, "name.prefix", m) for v in _strings(raw, "prefix")) if p)
    text = _text(raw.get("text"), "name.text", m)
    if family is None and not given:
        if text is None:
            return None
        family, given = _split_text_name(text)
    return PersonName(family, given, prefix, text)


def _strings(raw: Mapping[str, Any], field: str) -> list[Any]:
    value = raw.get(field)
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value] if isinstance(value, str) else []


def _split_text_name(text: str) -> tuple[str, tuple[str, ...]]:
    """A name given only as text: "Family, Given", "Given Family", or one word (張無忌)."""
    if "," in text:
        family, _, given = text.partition(",")
        return family.strip(), tuple(given.split())
    words = text.split()
    if len(words) == 1:
        return text, ()
    return words[-1], tuple(words[:-1])


def _nickname(names: list[Any], m: _Mapping) -> str | None:
    for raw in names:
        if isinstance(raw, dict) and raw.get("use") == "nickname":
            name = _person_name(raw, m)
            if name is not None:
                return name.given[0] if name.given else name.text or name.family
    return None


def _deceased(r: Mapping[str, Any], m: _Mapping) -> tuple[bool, FhirDateTime | None]:
    if "deceasedDateTime" in r:
        when = _datetime(r.get("deceasedDateTime"), "deceasedDateTime", m)
        return True, when
    flag = r.get("deceasedBoolean")
    if flag is None or isinstance(flag, bool):
        return bool(flag), None
    m.notes.field("deceasedBoolean is not true or false; left out")
    return False, None


def _birth_time(extra: Any, m: _Mapping) -> FhirDateTime | None:
    if not isinstance(extra, dict):
        return None
    for extension in _list(extra, "extension", m):
        if _extension_url(extension) == _BIRTH_TIME and isinstance(extension, dict):
            return _datetime(extension.get("valueDateTime"), "birthTime", m)
    return None


def _extension_url(extension: Any) -> str | None:
    url = extension.get("url") if isinstance(extension, dict) else None
    return url if isinstance(url, str) else None


def _telecom(r: Mapping[str, Any], m: _Mapping) -> tuple[ContactPoint, ...]:
    points: list[ContactPoint] = []
    for raw in _list(r, "telecom", m):
        if not isinstance(raw, dict):
            m.notes.field("telecom is not an object; left out")
            continue
        system = raw.get("system")
        value = _text(raw.get("value"), "telecom.value", m)
        if value is None or system not in ("phone", "sms", "email"):
            continue  # empty, or a fax/pager/url Frontdesk does not use
        rank = raw.get("rank")
        if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank < 1):
            m.notes.field("telecom.rank is not a positive whole number; left out")
            rank = None
        points.append(ContactPoint(system, value, _code(raw.get("use"), "telecom.use", m), rank))
    points.sort(key=lambda p: p.rank if p.rank is not None else 1_000_000)
    return tuple(points)


def _addresses(raws: list[Any], m: _Mapping) -> tuple[PostalAddress, ...]:
    found: list[PostalAddress] = []
    for raw in raws:
        if not isinstance(raw, dict):
            m.notes.field("address is not an object; left out")
            continue
        lines = tuple(
            line for line in (_text(v, "address.line", m) for v in _strings(raw, "line")) if line
        )
        address = PostalAddress(
            use=_code(raw.get("use"), "address.use", m),
            lines=lines,
            city=_text(raw.get("city"), "address.city", m),
            district=_text(raw.get("district"), "address.district", m),
            state=_text(raw.get("state"), "address.state", m),
            postal_code=_text(raw.get("postalCode"), "address.postalCode", m),
            country=_text(raw.get("country"), "address.country", m),
            text=_text(raw.get("text"), "address.text", m),
        )
        if any((address.lines, address.city, address.postal_code, address.text, address.state)):
            found.append(address)
    return tuple(found)


def _language(r: Mapping[str, Any], m: _Mapping) -> str | None:
    chosen: str | None = None
    for raw in _list(r, "communication", m):
        if not isinstance(raw, dict):
            continue
        concept = _concept(raw.get("language"), "communication.language", m)
        if concept is None:
            continue
        codes = [c.code for c in concept.codings if c.code]
        code = codes[0] if codes else concept.text
        if raw.get("preferred") is True:
            return code
        chosen = chosen or code
    return chosen


def _concept(value: Any, field: str, m: _Mapping) -> CodedConcept | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        m.notes.field(f"{field} is not a coded value; left out")
        return None
    codings: list[Coding] = []
    for raw in _list(value, "coding", m):
        if not isinstance(raw, dict):
            continue
        coding = Coding(
            system=_text(raw.get("system"), f"{field}.system", m),
            code=_code(raw.get("code"), f"{field}.code", m),
            display=_text(raw.get("display"), f"{field}.display", m),
        )
        if coding.code or coding.display:
            codings.append(coding)
    text = _text(value.get("text"), f"{field}.text", m)
    if not codings and text is None:
        return None
    return CodedConcept(tuple(codings), text)


def _displays(values: list[Any], field: str, m: _Mapping) -> tuple[str, ...]:
    concepts = (_concept(v, field, m) for v in values)
    return tuple(c.display for c in concepts if c is not None and c.display)


def _status_code(value: Any, field: str, m: _Mapping) -> str | None:
    concept = _concept(value, field, m)
    if concept is None:
        return None
    codes = [c.code for c in concept.codings if c.code]
    return codes[0] if codes else concept.text


def _onset(
    r: Mapping[str, Any], prefix: str, m: _Mapping
) -> tuple[FhirDateTime | None, str | None]:
    if f"{prefix}DateTime" in r:
        return _datetime(r.get(f"{prefix}DateTime"), f"{prefix}DateTime", m), None
    if f"{prefix}Period" in r:
        period = _period(r.get(f"{prefix}Period"), f"{prefix}Period", m)
        return (period.start if period else None), None
    if f"{prefix}String" in r:
        return None, _text(r.get(f"{prefix}String"), f"{prefix}String", m)
    if f"{prefix}Age" in r:
        age = r.get(f"{prefix}Age")
        if isinstance(age, dict) and isinstance(age.get("value"), int | float):
            unit = age.get("unit") if isinstance(age.get("unit"), str) else "years"
            return None, f"at age {age['value']:g} {str(unit)[:20]}"
    if f"{prefix}Boolean" in r and r.get(f"{prefix}Boolean") is True:
        return None, "yes"
    return None, None


def _period(value: Any, field: str, m: _Mapping) -> Period | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        m.notes.field(f"{field} is not a period; left out")
        return None
    start = _datetime(value.get("start"), f"{field}.start", m)
    end = _datetime(value.get("end"), f"{field}.end", m)
    if start is None and end is None:
        return None
    return Period(start, end)


def _date(value: Any, field: str, m: _Mapping) -> FhirDate | None:
    if value is None:
        return None
    if not isinstance(value, str):
        m.notes.field(f"{field} is not a date; left out")
        return None
    match = _DATE.match(value.strip())
    if match is None:
        m.notes.field(f"{field} is not a date written YYYY, YYYY-MM or YYYY-MM-DD; left out")
        return None
    return _checked_date(match[1], match[2], match[3], field, m)


def _checked_date(
    year_text: str, month_text: str | None, day_text: str | None, field: str, m: _Mapping
) -> FhirDate | None:
    year = int(year_text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        m.notes.field(f"{field} has a year outside {MIN_YEAR}-{MAX_YEAR}; left out")
        return None
    month = int(month_text) if month_text else None
    day = int(day_text) if day_text else None
    try:
        datetime(year, month or 1, day or 1)
    except ValueError:
        m.notes.field(f"{field} is not a real calendar date; left out")
        return None
    return FhirDate(year, month, day)


def _datetime(value: Any, field: str, m: _Mapping) -> FhirDateTime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        m.notes.field(f"{field} is not a date and time; left out")
        return None
    text = value.strip()
    match = _DATETIME.match(text)
    if match is None:
        m.notes.field(f"{field} is not a FHIR date and time (it needs a 4-digit year); left out")
        return None
    date = _checked_date(match[1], match[2], match[3], field, m)
    if date is None or match[4] is None:
        return None if date is None else FhirDateTime(date)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        m.notes.field(f"{field} has a time that cannot be read; only the date was kept")
        return FhirDateTime(date)
    if at.tzinfo is None:
        m.notes.field(f"{field} has a time without a time zone; only the date was kept")
        return FhirDateTime(date)
    return FhirDateTime(date, at)
