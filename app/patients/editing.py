"""Editing a patient's contact details as one form: load a snapshot, save only what changed.

The whole form is validated before anything is written, and every bad field is
reported at once, so the receptionist fixes them in one pass instead of one per save.
The save checks the patient's version, so a second window or desk editing the same
patient sees the conflict instead of silently overwriting the first save.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.errors import InvalidDateError, InvalidInputError, RecordNotFoundError
from app.growth import acquisition
from app.patients import model
from app.patients.model import AddressDraft, PatientDraft, PhoneDraft
from app.patients.records import bump_version, check_version
from app.patients.search import age_on
from app.patients.validation import (
    date_query_candidates,
    normalize_email,
    normalize_phone,
    parse_birth_date,
)
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import Tx, utc_now

PREFERRED_CHANNELS = ("", *model.CHANNELS)

# What the forms and the lists said before the channels of app.growth.acquisition were
# the one list: an answer stored in these words is read as that channel's key, without
# rewriting anybody's record (the text stays as written until the record is saved anew).
OLDER_SOURCE_WORDS = {
    "referral from a patient": "patient_referral",
    "doctor referral": "physician_referral",
    "Google search": "search",
    "clinic website": "website",
    "insurance directory": "insurance_directory",
    "social media": "social",
    "community event": "event",
    "walk-in": "walk_in",
}
_OLDER_FOLDED = {words.casefold(): key for words, key in OLDER_SOURCE_WORDS.items()}


def source_key(stored: str) -> str:
    """A stored answer as a channel key: keys stay, older words become their key,
    other free text stays as written."""
    return _OLDER_FOLDED.get(" ".join(stored.split()).casefold(), stored)


def stored_forms(key: str) -> list[str]:
    """Every stored value that means this answer: the key and the older words for it."""
    return [key, *(words for words, older in OLDER_SOURCE_WORDS.items() if older == key)]


def source_words(clinic: Clinic, stored: str) -> str:
    """What a screen shows for a stored answer: the channel's label (older words read as
    their channel), other free text as written, "" when nothing is recorded."""
    if not stored:
        return ""
    return acquisition.labels(clinic).get(source_key(stored), stored)


def source_choices(clinic: Clinic, current: str = "") -> list[tuple[str, str]]:
    """(value to store, words) for "How did you hear about us?": not asked, the active
    channels in the clinic's order, and the current answer when it is no longer offered
    (a retired channel or older free text), so opening a form never changes it."""
    choices = [("", "Not asked")]
    choices += [(s.key, s.label) for s in acquisition.active_sources(clinic)]
    key = source_key(current)
    if current and key not in {value for value, _ in choices}:
        choices.append((current, source_words(clinic, current)))
    return choices


# The languages a form offers first (BCP 47 code, name); other codes are kept as stored.
LANGUAGES = (
    ("en", "English"),
    ("es", "Spanish"),
    ("so", "Somali"),
    ("hmn", "Hmong"),
    ("vi", "Vietnamese"),
    ("zh", "Chinese"),
    ("ar", "Arabic"),
    ("ru", "Russian"),
    ("fr", "French"),
    ("de", "German"),
    ("ko", "Korean"),
    ("tl", "Tagalog"),
)

# The words the timeline note uses for each kind of field; never the values.
_KIND_WORDS = {
    "name": "name",
    "birth_date": "birth date",
    "sex": "sex",
    "language": "language",
    "preferred_channel": "preferred channel",
    "do_not_contact": "do not contact",
    "acquisition_source": "source",
    "moved_on": "moved away",
    "phone": "phone",
    "email": "email",
    "address": "address",
}
_COLUMN_KIND = {
    "family_name": "name",
    "given_names": "name",
    "preferred_name": "name",
    "birth_date": "birth_date",
    "sex": "sex",
    "language": "language",
    "preferred_channel": "preferred_channel",
    "do_not_contact": "do_not_contact",
    "acquisition_source": "acquisition_source",
    "moved_on": "moved_on",
}
_ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")
NOTE_OUTCOME = "details updated"


class DetailsInvalidError(InvalidInputError):
    """Some fields of the details form are not valid; `errors` maps each to the reason.

    Keys are the DetailsEdit field names ("family_name", "birth_date", "address.country"),
    and "phones.N" / "emails.N" for the N-th line (from 0) of those lists.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        count = len(self.errors)
        noun = "field needs" if count == 1 else "fields need"
        super().__init__(f"{count} {noun} fixing before the details can be saved.")


@dataclass(frozen=True)
class DetailsEdit:
    """What the form holds, as typed; `save_details` cleans and checks it."""

    family_name: str = ""
    given_names: str = ""
    preferred_name: str = ""
    birth_date: str = ""  # as typed: 3/14/1975, 1975-03-14, 1975-03, 1975 or empty
    sex: str = "unknown"
    language: str = ""
    preferred_channel: str = ""
    do_not_contact: bool = False
    acquisition_source: str = ""  # a channel key of app.growth.acquisition, or as stored
    moved_on: str = ""  # ISO local date the clinic learned they moved away; "" = not moved
    phones: tuple[tuple[str, str], ...] = ()  # (number as typed, use), preferred first
    emails: tuple[str, ...] = ()  # preferred first
    address: AddressDraft = field(default_factory=AddressDraft)


@dataclass(frozen=True)
class ContactDetails:
    """The patient's editable details as saved, with the version they were read at."""

    family_name: str
    given_names: str
    preferred_name: str
    birth_date: str | None  # ISO, may be partial ('1975', '1975-03')
    sex: str
    language: str
    preferred_channel: str
    do_not_contact: bool
    acquisition_source: str
    moved_on: str | None  # ISO local date, None when not known to have moved
    phones: tuple[tuple[str, str], ...]  # (E.164, use) in rank order
    emails: tuple[str, ...]  # in rank order
    address: AddressDraft  # the home address; all fields empty when there is none
    version: int

    def as_edit(self, *, day_first: bool = False) -> DetailsEdit:
        """The form's starting values: saving them unchanged changes nothing."""
        return DetailsEdit(
            family_name=self.family_name,
            given_names=self.given_names,
            preferred_name=self.preferred_name,
            birth_date=birth_date_text(self.birth_date, day_first=day_first),
            sex=self.sex,
            language=self.language,
            preferred_channel=self.preferred_channel,
            do_not_contact=self.do_not_contact,
            acquisition_source=self.acquisition_source,
            moved_on=self.moved_on or "",
            phones=self.phones,
            emails=self.emails,
            address=self.address,
        )


def birth_date_text(iso: str | None, *, day_first: bool = False) -> str:
    """A stored birth date as the clinic writes it (3/14/1975 or 14/3/1975).

    Partial dates stay ISO (1975-03, 1975): a slashed form would need a day. Every form
    this returns is read back by parse_birth_date to the same value.
    """
    if not iso:
        return ""
    try:
        value = date.fromisoformat(iso)
    except ValueError:
        return iso
    if day_first:
        return f"{value.day}/{value.month}/{value.year}"
    return f"{value.month}/{value.day}/{value.year}"


# --- loading -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    id: str
    value: str
    use: str
    rank: int


def _contact_rows(conn: Connection, patient_id: str, kind: str) -> list[_Row]:
    return [
        _Row(r[0], r[1], r[2], int(r[3]))
        for r in conn.execute(
            "SELECT id, value, use, rank FROM contact_point "
            "WHERE patient_id = ? AND kind = ? ORDER BY rank, rowid",
            (patient_id, kind),
        )
    ]


def _home_address(conn: Connection, patient_id: str) -> tuple[str | None, AddressDraft]:
    # The form edits one address: the first home address, or the first of any use for
    # patients imported with only a billing or work address.
    row = conn.execute(
        "SELECT id, line1, line2, city, region, postal_code, country, use FROM address "
        "WHERE patient_id = ? ORDER BY use != 'home', rank, rowid LIMIT 1",
        (patient_id,),
    ).fetchone()
    if row is None:
        return None, AddressDraft()
    line1, line2, city, region, postal_code, country, use = row[1:8]
    return row[0], AddressDraft(line1, line2, city, region, postal_code, country, use)


def load_details(clinic: Clinic, patient_id: str) -> ContactDetails:
    return _load(clinic.conn, patient_id)


def _load(conn: Connection, patient_id: str) -> ContactDetails:
    row = conn.execute(
        "SELECT family_name, given_names, preferred_name, birth_date, sex, language, "
        "preferred_channel, do_not_contact, acquisition_source, version, moved_on "
        "FROM patient WHERE id = ?",
        (patient_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That patient is no longer on file.")
    return ContactDetails(
        family_name=row[0],
        given_names=row[1],
        preferred_name=row[2],
        birth_date=row[3],
        sex=row[4],
        language=row[5],
        preferred_channel=row[6],
        do_not_contact=bool(row[7]),
        acquisition_source=row[8],
        moved_on=row[10],
        phones=tuple((r.value, r.use) for r in _contact_rows(conn, patient_id, "phone")),
        emails=tuple(r.value for r in _contact_rows(conn, patient_id, "email")),
        address=_home_address(conn, patient_id)[1],
        version=int(row[9]),
    )


# --- validating --------------------------------------------------------------------


@dataclass(frozen=True)
class _Clean:
    columns: dict[str, Any]
    phones: list[tuple[str, str]]
    emails: list[str]
    address: AddressDraft


def _name(text: str) -> str:
    return " ".join(text.split())


def _validate(clinic: Clinic, edit: DetailsEdit) -> _Clean:
    errors: dict[str, str] = {}
    family, given = _name(edit.family_name), _name(edit.given_names)
    if not family and not given:
        errors["family_name"] = "A patient needs at least a family name or a given name."
    birth_date: str | None = None
    if edit.birth_date.strip():
        try:
            birth_date = parse_birth_date(
                edit.birth_date, today=date.today(), day_first=clinic.settings.day_first
            )
        except InvalidInputError as exc:
            errors["birth_date"] = str(exc)
    if edit.sex not in model.SEXES:
        errors["sex"] = "Choose female, male, other or unknown."
    if edit.preferred_channel not in PREFERRED_CHANNELS:
        errors["preferred_channel"] = "Choose text, email, letter, phone or no preference."
    moved_on = _moved_on(clinic, edit.moved_on, errors)
    phones = _validate_phones(clinic, edit.phones, errors)
    emails = _validate_emails(edit.emails, errors)
    address = _validate_address(edit.address, errors)
    if errors:
        raise DetailsInvalidError(errors)
    return _Clean(
        columns={
            "family_name": family,
            "given_names": given,
            "preferred_name": _name(edit.preferred_name),
            "birth_date": birth_date,
            "sex": edit.sex,
            "language": edit.language.strip(),
            "preferred_channel": edit.preferred_channel,
            "do_not_contact": 1 if edit.do_not_contact else 0,
            "acquisition_source": " ".join(edit.acquisition_source.split()),
            "moved_on": moved_on,
        },
        phones=phones,
        emails=emails,
        address=address,
    )


def _moved_on(clinic: Clinic, text: str, errors: dict[str, str]) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors["moved_on"] = "Give the day they moved away as a date."
        return None
    if day > datetime.now(ZoneInfo(clinic.settings.timezone)).date():
        errors["moved_on"] = "The day they moved away cannot be in the future."
        return None
    return day.isoformat()


def _validate_phones(
    clinic: Clinic, phones: Sequence[tuple[str, str]], errors: dict[str, str]
) -> list[tuple[str, str]]:
    clean: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, (number, use) in enumerate(phones):
        key = f"phones.{index}"
        if not number.strip():
            continue  # an empty line the form added and never filled
        if use not in model.PHONE_USES:
            errors[key] = "Choose mobile, home, work or other for this phone."
            continue
        try:
            e164 = normalize_phone(number, clinic.settings.region)
        except InvalidInputError as exc:
            errors[key] = str(exc)
            continue
        if e164 in seen:
            errors[key] = "This number is already on the list."
            continue
        seen.add(e164)
        clean.append((e164, use))
    return clean


def _validate_emails(emails: Sequence[str], errors: dict[str, str]) -> list[str]:
    clean: list[str] = []
    for index, text in enumerate(emails):
        key = f"emails.{index}"
        if not text.strip():
            continue
        try:
            address = normalize_email(text)
        except InvalidInputError as exc:
            errors[key] = str(exc)
            continue
        if address in clean:
            errors[key] = "This email address is already on the list."
            continue
        clean.append(address)
    return clean


def _validate_address(draft: AddressDraft, errors: dict[str, str]) -> AddressDraft:
    values = {name: " ".join(getattr(draft, name).split()) for name in _ADDRESS_FIELDS}
    values["postal_code"] = values["postal_code"].upper()
    values["country"] = values["country"].upper()
    country = values["country"]
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        errors["address.country"] = "Type the country as its two-letter code, such as US or MX."
    if draft.use not in model.ADDRESS_USES:
        errors["address.use"] = "Choose home, work, billing or other for the address."
    return AddressDraft(**values, use=draft.use)


def check_details(clinic: Clinic, edit: DetailsEdit) -> None:
    """Raise DetailsInvalidError listing every bad field; a form calls this to show all
    of its problems (its own fields too) in one pass before it saves anything."""
    _validate(clinic, edit)


# --- saving ------------------------------------------------------------------------


def save_details(
    clinic: Clinic, patient_id: str, edit: DetailsEdit, expected_version: int
) -> Changes:
    """Save the form against the version it was loaded at; only what differs is written.

    Raises DetailsInvalidError (every bad field) before anything is written, and
    EditConflictError if the patient was saved by someone else since `expected_version`.
    The edit appears on the timeline as a note naming the kinds of fields changed.
    """
    clean = _validate(clinic, edit)
    _keep_or_check_source(clinic, patient_id, clean.columns)
    with clinic.store.write() as tx:
        check_version(tx, patient_id, expected_version)
        kinds: set[str] = set()
        for column in tx.update("patient", patient_id, clean.columns):
            kinds.add(_COLUMN_KIND[column])
        if _sync_contacts(tx, patient_id, "phone", clean.phones):
            kinds.add("phone")
        emails = [(address, "home") for address in clean.emails]
        if _sync_contacts(tx, patient_id, "email", emails, keep_use=True):
            kinds.add("email")
        if _sync_address(tx, patient_id, clean.address):
            kinds.add("address")
        if kinds:
            bump_version(tx, patient_id)
            tx.insert(
                "interaction",
                {
                    "patient_id": patient_id,
                    "kind": "note",
                    "direction": "none",
                    "outcome": NOTE_OUTCOME,
                    "subject": changed_subject(kinds),
                    "body": "",
                    "occurred_at": utc_now(),
                    "recorded_by": clinic.acting_user_id,
                },
            )
    return tx.changes if kinds else Changes()


def _keep_or_check_source(clinic: Clinic, patient_id: str, columns: dict[str, Any]) -> None:
    """A source is "" or an active channel, or the answer the patient already has (a
    retired channel or older words stay as stored: the same answer is not a change)."""
    row = clinic.conn.execute(
        "SELECT acquisition_source FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    stored = str(row[0]) if row is not None else ""
    wanted = str(columns["acquisition_source"])
    if source_key(wanted) == source_key(stored):
        columns["acquisition_source"] = stored
    elif wanted and wanted not in {s.key for s in acquisition.active_sources(clinic)}:
        raise DetailsInvalidError(
            {"acquisition_source": "Choose how they heard about us from the list."}
        )


def changed_subject(kinds: set[str]) -> str:
    """'Phone, email changed': the kinds of fields in the form's order, never values."""
    words = [word for key, word in _KIND_WORDS.items() if key in kinds]
    text = ", ".join(words) + " changed"
    return text[:1].upper() + text[1:]


def _sync_contacts(
    tx: Tx,
    patient_id: str,
    kind: str,
    wanted: Sequence[tuple[str, str]],
    *,
    keep_use: bool = False,
) -> bool:
    """Make the patient's phones (or emails) equal `wanted`, touching as few rows as
    possible: a row whose value stays keeps its id (and its 'verified' mark) and only
    its rank or use is updated; removed values are deleted, new ones inserted."""
    existing = _contact_rows(tx.conn, patient_id, kind)
    by_value: dict[str, _Row] = {}
    for row in existing:
        by_value.setdefault(row.value, row)
    kept: set[str] = set()
    changed = False
    for rank, (value, use) in enumerate(wanted, start=1):
        match = by_value.get(value)
        if match is not None and match.id not in kept:
            kept.add(match.id)
            values: dict[str, Any] = {"rank": rank}
            if not keep_use:
                values["use"] = use
            changed |= bool(tx.update("contact_point", match.id, values))
        else:
            tx.insert(
                "contact_point",
                {"patient_id": patient_id, "kind": kind, "value": value, "use": use, "rank": rank},
            )
            changed = True
    for row in existing:
        if row.id not in kept:
            tx.delete("contact_point", row.id)
            changed = True
    return changed


def _sync_address(tx: Tx, patient_id: str, wanted: AddressDraft) -> bool:
    address_id, _ = _home_address(tx.conn, patient_id)
    values = {name: getattr(wanted, name) for name in _ADDRESS_FIELDS}
    empty = not any(values.values())
    if address_id is None:
        if empty:
            return False
        rank = tx.conn.execute(
            "SELECT coalesce(max(rank), 0) + 1 FROM address WHERE patient_id = ?", (patient_id,)
        ).fetchone()[0]
        tx.insert("address", {"patient_id": patient_id, "use": "home", **values, "rank": rank})
        return True
    if empty:
        tx.delete("address", address_id)
        return True
    return bool(tx.update("address", address_id, values))


# --- a new patient from what was typed in the finder --------------------------------

_PHONE_TOKEN = re.compile(r"^[\d()+./-]+$")


def draft_from_text(clinic: Clinic, text: str) -> PatientDraft:
    """Guess a new patient's fields from what the finder held when nothing matched.

    "Ada Okafor 3/4/1975 612-555-0142" gives the name, the birth date and the phone as
    typed (the form checks them); "Okafor, Ada" puts the family name first. Without a
    comma the word already on file as a family name is taken as the family name, and
    failing that the last word, as people say names; the form has a Swap button.
    """
    words: list[str] = []
    phone_parts: list[str] = []
    birth_date = ""
    emails: list[str] = []
    for token in text.replace(",", " , ").split():
        if "@" in token:
            emails.append(token)
        elif not birth_date and date_query_candidates(token):
            birth_date = token
        elif _PHONE_TOKEN.match(token) and any(ch.isdigit() for ch in token):
            phone_parts.append(token)
        elif not any(ch.isdigit() for ch in token):
            words.append(token)
    phone = " ".join(phone_parts)
    digits = sum(ch.isdigit() for ch in phone)
    family, given = _split_name(clinic, words)
    return PatientDraft(
        family_name=family,
        given_names=given,
        birth_date=birth_date,
        phones=(PhoneDraft(phone),) if digits >= 7 else (),
        emails=tuple(emails[:1]),
    )


def _split_name(clinic: Clinic, words: list[str]) -> tuple[str, str]:
    if "," in words:
        at = words.index(",")
        before = [w for w in words[:at] if w != ","]
        after = [w for w in words[at + 1 :] if w != ","]
        return " ".join(before), " ".join(after)
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    first, last = words[0], words[-1]
    if _family_count(clinic, first) > _family_count(clinic, last):
        return first, " ".join(words[1:])
    return last, " ".join(words[:-1])


def _family_count(clinic: Clinic, word: str) -> int:
    # The patient_name index (family_name COLLATE NOCASE) makes this a short range scan.
    row = clinic.conn.execute(
        "SELECT count(*) FROM patient WHERE family_name = ? COLLATE NOCASE", (word,)
    ).fetchone()
    return int(row[0])


def readable_birth_date(iso: str, today: date) -> str:
    """'14 March 1975 · 51 years old': what the typed date was understood as."""
    if len(iso) == 10:
        day = date.fromisoformat(iso)
        text = f"{day.day} {day:%B %Y}"
    elif len(iso) == 7:
        text = datetime.strptime(iso, "%Y-%m").strftime("%B %Y")
    else:
        text = iso
    age = age_on(iso, today)
    return f"{text} · {age} years old" if age is not None else text


def birth_date_hint(text: str, *, today: date, day_first: bool) -> str:
    """Shown under a birth-date field while typing: how 3/4/75 was read, or nothing yet
    (an unfinished or wrong date is judged on save, with its reason)."""
    if not text.strip():
        return ""
    try:
        iso = parse_birth_date(text, today=today, day_first=day_first)
    except InvalidDateError:
        return ""
    return readable_birth_date(iso, today)
