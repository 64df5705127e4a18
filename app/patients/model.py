"""Plain data for patients as they cross from the core to the screens."""

from __future__ import annotations

from dataclasses import dataclass, field

SEXES = ("female", "male", "other", "unknown")
CHANNELS = ("sms", "email", "letter", "phone")
PURPOSES = ("appointment", "recall", "billing", "education", "survey", "marketing")
PHONE_USES = ("home", "work", "mobile", "other")
ADDRESS_USES = ("home", "work", "billing", "other")


def display_name(family: str, given: str, preferred: str) -> str:
    """'Okafor, Ada (Addie)': family first, as front desks file people. The one shape
    for the finder, the lists, Today and the patient header."""
    if preferred and preferred != given:
        given = f"{given} ({preferred})" if given else preferred
    if family and given:
        return f"{family}, {given}"
    return family or given or "(no name)"


@dataclass(frozen=True)
class PhoneDraft:
    number: str  # as typed; normalised to E.164 on save
    use: str = "mobile"


@dataclass(frozen=True)
class AddressDraft:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    use: str = "home"


@dataclass(frozen=True)
class IdentifierDraft:
    system: str
    value: str
    kind: str = ""


@dataclass(frozen=True)
class PatientDraft:
    """What a receptionist types for a new patient; validated as a whole before saving."""

    family_name: str
    given_names: str = ""
    preferred_name: str = ""
    birth_date: str = ""  # as typed: 3/4/1975, 03.04.1975, 1975-03-04
    sex: str = "unknown"
    gender_identity: str = ""
    language: str = ""
    acquisition_source: str = ""
    phones: tuple[PhoneDraft, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[AddressDraft, ...] = ()
    identifiers: tuple[IdentifierDraft, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactPoint:
    id: str
    kind: str
    value: str
    use: str
    rank: int
    verified: bool


@dataclass(frozen=True)
class Address:
    id: str
    use: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    rank: int


@dataclass(frozen=True)
class Identifier:
    id: str
    system: str
    value: str
    kind: str


@dataclass(frozen=True)
class Consent:
    channel: str
    purpose: str
    granted: bool
    source: str
    recorded_at: str
    recorded_by: str = ""  # app_user id; '' for imports and older rows


@dataclass(frozen=True)
class Patient:
    id: str
    family_name: str
    given_names: str
    preferred_name: str
    birth_date: str | None
    sex: str
    gender_identity: str
    language: str
    deceased: bool
    deceased_date: str | None
    do_not_contact: bool
    acquisition_source: str
    household_id: str | None
    household_role: str
    merged_into: str | None
    created_at: str
    updated_at: str
    contact_points: tuple[ContactPoint, ...] = ()
    addresses: tuple[Address, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    tags: tuple[str, ...] = ()
    consents: tuple[Consent, ...] = field(default=())
    preferred_channel: str = ""  # sms, email, letter, phone or '' for no preference
    version: int = 1  # raised by every edit; forms save against it (see update_patient)
    moved_on: str | None = None  # local ISO date the clinic learned they moved away

    @property
    def display_name(self) -> str:
        return display_name(self.family_name, self.given_names, self.preferred_name)

    def consent_for(self, channel: str, purpose: str) -> Consent | None:
        for consent in self.consents:
            if consent.channel == channel and consent.purpose == purpose:
                return consent
        return None
