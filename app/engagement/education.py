"""Health education: the content library's items, how they are checked, and which fit a patient.

The library ships in resources/education/ as one TOML file per item (the format is in that
folder's README). Items the clinic edits will live in the database later; they go through the
same `check_item`, so a broken one is refused with the same plain reason.

`choose_items` is the one place that decides what a patient may be sent. It never offers an
item already sent in any language (the Spanish twin of an English item is the same advice),
and it puts the most specific advice first, so a campaign that sends one item a month sends
the one written for the patient's condition before the one written for everybody.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final, NoReturn
from urllib.parse import urlsplit

from app.errors import InvalidInputError
from app.reminders.sms_text import count_segments
from app.store.paths import resource_root

log = logging.getLogger(__name__)

SNOMED_SYSTEM: Final = "http://snomed.info/sct"
ICD10CM_SYSTEM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
TARGET_SYSTEMS: Final = (SNOMED_SYSTEM, ICD10CM_SYSTEM)

# Imported records name ICD-10 in several ways (the FHIR URI, WHO ICD-10, the HL7 OID of
# ICD-10-CM). The codes share their shape at the level an item targets, so all of them
# match an item's ICD-10-CM codes.
_ICD10_SYSTEMS: Final = frozenset(
    {ICD10CM_SYSTEM, "http://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.90"}
)

FALLBACK_LANGUAGE: Final = "en"
AUDIENCES: Final = ("self", "parent")
"""self: the age range is the patient's own. parent: it is a child's age, so the item fits a
child patient (whose messages reach a guardian) or a patient with a child of that age."""

SMS_MAX_SEGMENTS: Final = 2
MAX_TITLE_CHARS: Final = 80
MAX_BODY_CHARS: Final = 2000
"""An email someone reads to the end; longer advice belongs in a link."""
MAX_AGE_YEARS: Final = 130

_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_LANGUAGE = r"[a-z]{2,3}"
_ID_RE: Final = re.compile(rf"(?P<stem>{_SLUG})\.(?P<language>{_LANGUAGE})")
_SLUG_RE: Final = re.compile(_SLUG)
_LANGUAGE_RE: Final = re.compile(_LANGUAGE)
# ICD-10-CM: a letter, two characters of category, then up to four after the dot.
_ICD10CM_RE: Final = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
# SNOMED CT ids are 6 to 18 digits and never start with 0.
_SNOMED_RE: Final = re.compile(r"[1-9][0-9]{5,17}")
# The two digits before the check digit say what the id names: 00 and 10 are concepts
# (core and extension); descriptions and relationships could never be a condition.
_SNOMED_CONCEPT_PARTITIONS: Final = frozenset({"00", "10"})

_KEYS: Final = frozenset(
    {
        "id",
        "topic",
        "language",
        "audience",
        "title",
        "body",
        "sms",
        "links",
        "clinic_links",
        "age",
        "conditions",
        "months",
        "sources",
    }
)
_AGE_KEYS: Final = frozenset({"min_years", "min_months", "max_years", "max_months"})


class EducationItemError(InvalidInputError):
    """An education item that cannot be used; `source` names the file, `reason` says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """A labelled https address; a clinic link's url is empty until the clinic fills it in."""

    label: str
    url: str


@dataclass(frozen=True)
class TargetCondition:
    """A condition an item is written for: a code in SNOMED CT or ICD-10-CM."""

    system: str
    code: str
    display: str


@dataclass(frozen=True)
class EducationItem:
    """One piece of advice in one language, with whom and when it is meant for.

    Ages are in months (a baby's 2 months is exact, a teenager's 13 years is 156), the
    range includes min and stops just before max: 2–5 years is min 24, max 72 (the sixth
    birthday). None means no bound. `months` empty means all year.
    """

    id: str
    topic: str
    language: str
    audience: str
    title: str
    body: str
    sms: str
    links: tuple[Link, ...]
    clinic_links: tuple[Link, ...]
    min_age_months: float | None
    max_age_months: float | None
    conditions: tuple[TargetCondition, ...]
    months: frozenset[int]
    sources: tuple[Link, ...]

    @property
    def stem(self) -> str:
        """What the item's twins in other languages share: "flu-adults" of "flu-adults.en"."""
        return stem_of(self.id)

    @property
    def has_age_range(self) -> bool:
        return self.min_age_months is not None or self.max_age_months is not None

    @property
    def sendable_links(self) -> tuple[Link, ...]:
        """The public links and those clinic links the clinic has filled in."""
        return self.links + tuple(link for link in self.clinic_links if link.url)

    def fits_age(self, age_years: float) -> bool:
        months = age_years * 12
        if self.min_age_months is not None and months < self.min_age_months:
            return False
        return self.max_age_months is None or months < self.max_age_months


@dataclass(frozen=True)
class LibraryReading:
    """What a library folder held: the good items, and one error per file that was refused."""

    items: list[EducationItem]
    problems: list[EducationItemError]


def stem_of(item_id: str) -> str:
    return item_id.rsplit(".", 1)[0]


def education_dir() -> Path:
    return resource_root() / "resources" / "education"


# --- reading the library -------------------------------------------------------------------


def read_library(folder: Path | None = None) -> LibraryReading:
    """Every *.toml item in the folder, checked; a bad file is a problem, never a stop.

    The file must be named for its id, so the id (what the outbox remembers as sent) cannot
    drift away from the file a clinic or a translator edits.
    """
    root = folder if folder is not None else education_dir()
    items: list[EducationItem] = []
    problems: list[EducationItemError] = []
    seen: set[str] = set()
    for path in sorted(root.glob("*.toml")):
        try:
            item = check_item(_read_toml(path), source=path.name)
            if path.name != f"{item.id}.toml":
                raise EducationItemError(
                    path.name, f"the file must be named {item.id}.toml, after the item's id."
                )
            if item.id in seen:
                raise EducationItemError(path.name, f"another file already has the id {item.id}.")
        except EducationItemError as error:
            problems.append(error)
            continue
        seen.add(item.id)
        items.append(item)
    return LibraryReading(items, problems)


def load_library(folder: Path | None = None) -> list[EducationItem]:
    """The usable items of the library (resources/education by default); bad files are logged."""
    reading = read_library(folder)
    for problem in reading.problems:
        log.warning("Education item skipped: %s", problem)
    return reading.items


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise EducationItemError(path.name, f"the file is not valid TOML ({error}).") from error
    except UnicodeDecodeError as error:
        raise EducationItemError(path.name, "the file is not UTF-8 text.") from error
    except OSError as error:
        raise EducationItemError(path.name, "the file cannot be read.") from error


# --- checking one item ---------------------------------------------------------------------


def check_item(raw: Mapping[str, object], *, source: str = "item") -> EducationItem:
    """The item `raw` describes, or EducationItemError naming `source` and what is wrong."""
    checker = _Checker(source)
    if not isinstance(raw, Mapping):
        checker.fail("it is not a table of fields.")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        checker.fail(f"unknown field {unknown[0]!r} (a misspelling?).")

    item_id = checker.text(raw, "id")
    match = _ID_RE.fullmatch(item_id)
    if match is None:
        checker.fail(
            "the id must be a lowercase name and a language, such as flu-adults.en "
            "(letters, digits and dashes, then a dot and the language)."
        )
    language = checker.text(raw, "language")
    if not _LANGUAGE_RE.fullmatch(language):
        checker.fail("the language must be a two- or three-letter code such as en or es.")
    if match.group("language") != language:
        checker.fail(f"the id must end in .{language}, the item's language.")
    topic = checker.text(raw, "topic", default="general")
    if not _SLUG_RE.fullmatch(topic):
        checker.fail("the topic must be a lowercase name such as flu or well-child.")
    audience = checker.text(raw, "audience", default="self")
    if audience not in AUDIENCES:
        checker.fail("the audience must be self or parent.")

    title = checker.text(raw, "title")
    if "\n" in title or len(title) > MAX_TITLE_CHARS:
        checker.fail(f"the title must be one line of at most {MAX_TITLE_CHARS} characters.")
    body = checker.text(raw, "body").strip()
    if len(body) > MAX_BODY_CHARS:
        checker.fail(
            f"the body is {len(body)} characters; at most {MAX_BODY_CHARS} fit an email "
            "people read to the end."
        )
    sms = checker.text(raw, "sms").strip()
    parts = count_segments(sms).segments
    if parts > SMS_MAX_SEGMENTS:
        checker.fail(f"the text message is {parts} parts long; at most {SMS_MAX_SEGMENTS}.")

    min_months, max_months = checker.age(raw.get("age"))
    return EducationItem(
        id=item_id,
        topic=topic,
        language=language,
        audience=audience,
        title=title,
        body=body,
        sms=sms,
        links=checker.links(raw, "links", url_may_be_empty=False),
        clinic_links=checker.links(raw, "clinic_links", url_may_be_empty=True),
        min_age_months=min_months,
        max_age_months=max_months,
        conditions=checker.conditions(raw.get("conditions", [])),
        months=checker.months(raw.get("months", [])),
        sources=checker.links(raw, "sources", url_may_be_empty=False),
    )


class _Checker:
    """Field checks that all fail the same way: the file's name and a plain reason."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, reason: str) -> NoReturn:
        raise EducationItemError(self.source, reason)

    def text(self, raw: Mapping[str, object], key: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        if value is None:
            self.fail(f"the {key} is missing.")
        if not isinstance(value, str) or not value.strip():
            self.fail(f"the {key} must be text and cannot be empty.")
        return value.strip() if key != "body" else value

    def links(
        self, raw: Mapping[str, object], key: str, *, url_may_be_empty: bool
    ) -> tuple[Link, ...]:
        entries = _list(raw.get(key, []))
        if entries is None:
            self.fail(f"{key} must be a list of entries with a label and a url.")
        found = []
        for entry in entries:
            if not isinstance(entry, Mapping) or set(entry) - {"label", "url"}:
                self.fail(f"each of {key} has a label and a url, nothing else.")
            label, url = entry.get("label"), entry.get("url", "")
            if not isinstance(label, str) or not label.strip() or not isinstance(url, str):
                self.fail(f"each of {key} needs a label and a url as text.")
            url = url.strip()
            if (url or not url_may_be_empty) and not is_https_url(url):
                self.fail(f"the address for {label.strip()!r} must start with https://.")
            found.append(Link(label.strip(), url))
        return tuple(found)

    def age(self, raw: object) -> tuple[float | None, float | None]:
        if raw is None:
            return None, None
        if not isinstance(raw, Mapping) or set(raw) - _AGE_KEYS:
            self.fail("age may hold min_years or min_months, and max_years or max_months.")
        bounds: list[float | None] = []
        for end in ("min", "max"):
            years, months = raw.get(f"{end}_years"), raw.get(f"{end}_months")
            if years is not None and months is not None:
                self.fail(f"give the {end} age in years or in months, not both.")
            value = years if years is not None else months
            if value is None:
                bounds.append(None)
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(f"the {end} age must be a number.")
            in_months = float(value) * (12 if years is not None else 1)
            if not math.isfinite(in_months) or not 0 <= in_months <= MAX_AGE_YEARS * 12:
                self.fail(f"the {end} age must be between 0 and {MAX_AGE_YEARS} years.")
            bounds.append(in_months)
        low, high = bounds
        if low is not None and high is not None and low >= high:
            self.fail("the max age must be above the min age (max is the age the item stops).")
        return low, high

    def conditions(self, raw: object) -> tuple[TargetCondition, ...]:
        entries = _list(raw)
        if entries is None:
            self.fail("conditions must be a list of entries with a system and a code.")
        found = []
        for entry in entries:
            if not isinstance(entry, Mapping) or set(entry) - {"system", "code", "display"}:
                self.fail("each condition has a system, a code and a display, nothing else.")
            system, code = entry.get("system"), entry.get("code")
            display = entry.get("display", "")
            if not all(isinstance(value, str) for value in (system, code, display)):
                self.fail("each condition's system, code and display are text.")
            assert isinstance(system, str) and isinstance(code, str) and isinstance(display, str)
            if system not in TARGET_SYSTEMS:
                self.fail(f"a condition's system must be {SNOMED_SYSTEM} or {ICD10CM_SYSTEM}.")
            if system == SNOMED_SYSTEM and not is_snomed_concept_id(code):
                self.fail(f"{code!r} is not a SNOMED CT concept id (its check digit is wrong?).")
            if system == ICD10CM_SYSTEM and not is_icd10cm_code(code):
                self.fail(f"{code!r} is not an ICD-10-CM code such as R73.03.")
            found.append(TargetCondition(system, code, display.strip()))
        return tuple(found)

    def months(self, raw: object) -> frozenset[int]:
        entries = _list(raw)
        if entries is None or not all(
            isinstance(month, int) and not isinstance(month, bool) and 1 <= month <= 12
            for month in entries
        ):
            self.fail("months must be a list of month numbers from 1 to 12 (empty: all year).")
        return frozenset(month for month in entries if isinstance(month, int))


def _list(value: object) -> list[object] | None:
    return value if isinstance(value, list) else None


# --- codes and addresses -------------------------------------------------------------------


def is_https_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname) and not any(c.isspace() for c in url)


def is_icd10cm_code(code: str) -> bool:
    return _ICD10CM_RE.fullmatch(code) is not None


def is_snomed_concept_id(code: str) -> bool:
    """A SNOMED CT concept id: digits, a concept partition, and a right Verhoeff check digit."""
    return (
        _SNOMED_RE.fullmatch(code) is not None
        and code[-3:-1] in _SNOMED_CONCEPT_PARTITIONS
        and verhoeff_is_valid(code)
    )


# Verhoeff's dihedral-group tables: unlike a plain sum, they catch every single-digit typo
# and every swap of two neighbouring digits, the mistakes people make copying a code.
_VERHOEFF_D: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV: Final = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _verhoeff_checksum(digits: str, *, has_check_digit: bool) -> int:
    check = 0
    offset = 0 if has_check_digit else 1
    for position, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[(position + offset) % 8][int(digit)]]
    return check


def verhoeff_check_digit(digits: str) -> str:
    """The digit Verhoeff's scheme appends to `digits` (a SNOMED CT id without its last one)."""
    if not digits.isdecimal() or not digits.isascii():
        raise InvalidInputError("A check digit can only be worked out for digits.")
    return str(_VERHOEFF_INV[_verhoeff_checksum(digits, has_check_digit=False)])


def verhoeff_is_valid(digits: str) -> bool:
    """Whether the last digit of `digits` is the Verhoeff check digit of the ones before it."""
    if len(digits) < 2 or not digits.isdecimal() or not digits.isascii():
        return False
    return _verhoeff_checksum(digits, has_check_digit=True) == 0


# --- choosing for a patient ----------------------------------------------------------------


def age_in_years(birth_date: date, on: date) -> float:
    """Age as whole months lived plus the part of the current month, in years.

    Calendar months rather than days/365.25, so a baby born on 31 January is exactly
    2 months on 31 March and an item for "2–6 months" fits on the day of the checkup.
    """
    if on < birth_date:
        raise InvalidInputError("The birth date is after the day the age is wanted for.")
    months = (on.year - birth_date.year) * 12 + (on.month - birth_date.month)
    if on.day < birth_date.day and not _is_last_day_of_month(on):
        months -= 1
    anniversary = _add_months(birth_date, months)
    following = _add_months(birth_date, months + 1)
    part = (on - anniversary).days / max((following - anniversary).days, 1)
    return (months + part) / 12


def _is_last_day_of_month(day: date) -> bool:
    return _add_months(day.replace(day=1), 1).toordinal() - 1 == day.toordinal()


def _add_months(day: date, months: int) -> date:
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    first = date(year, month_index + 1, 1)
    next_first = date(year + (month_index + 1) // 12, (month_index + 1) % 12 + 1, 1)
    return first.replace(day=min(day.day, (next_first - first).days))


def choose_items(
    items: Iterable[EducationItem],
    *,
    age_years: float | None,
    child_ages: Sequence[float],
    conditions: set[tuple[str, str]],
    month: int,
    language: str,
    already_sent: set[str],
) -> list[EducationItem]:
    """The items this patient may be sent now, most specific first.

    An item fits when
    - its age range holds the patient's age, or (for a `parent` item) one of `child_ages`;
      an item with no age range fits any age, an unknown one included;
    - the patient has one of its conditions, when it names any: `conditions` holds
      (system, code) pairs as imported; an ICD-10 code also matches a more detailed one
      below it (J30 covers J30.1), a SNOMED CT code only itself;
    - `month` (1–12) is one of its months, or it has none;
    - neither it nor its twin in another language is in `already_sent` (item ids).

    Language: each piece of advice is offered in the patient's language ("es-MX" reads
    "es"), or in English when the library has no version of it in theirs, so a patient is
    never left without advice only because nobody has translated it yet.

    Order: items matched on a condition, then items matched on an age, then items for
    everybody; within each, seasonal before all-year, a narrower age band before a wider
    one, then by id so the order is the same every time.
    """
    if isinstance(month, bool) or not 1 <= month <= 12:
        raise InvalidInputError("The month must be a number from 1 to 12.")
    wanted = _base_language(language)
    sent_stems = {stem_of(item_id) for item_id in already_sent}
    by_stem: dict[str, dict[str, EducationItem]] = {}
    for candidate in items:
        by_stem.setdefault(candidate.stem, {})[candidate.language] = candidate

    patient_codes = _normalised_codes(conditions)
    chosen: list[tuple[tuple[int, int, float, str], EducationItem]] = []
    for stem, versions in by_stem.items():
        if stem in sent_stems:
            continue
        item = versions.get(wanted) or versions.get(FALLBACK_LANGUAGE)
        if item is None or (item.months and month not in item.months):
            continue
        condition_match = _matches_condition(item, patient_codes)
        if item.conditions and not condition_match:
            continue
        if item.has_age_range and not _fits_someone(item, age_years, child_ages):
            continue
        rank = 0 if condition_match else 1 if item.has_age_range else 2
        span = _age_span(item)
        chosen.append(((rank, 0 if item.months else 1, span, item.id), item))
    chosen.sort(key=lambda pair: pair[0])
    return [item for _key, item in chosen]


def _base_language(language: str) -> str:
    return language.replace("_", "-").split("-")[0].strip().lower() or FALLBACK_LANGUAGE


def _fits_someone(
    item: EducationItem, age_years: float | None, child_ages: Sequence[float]
) -> bool:
    if age_years is not None and item.fits_age(age_years):
        return True
    return item.audience == "parent" and any(item.fits_age(age) for age in child_ages)


def _age_span(item: EducationItem) -> float:
    low = item.min_age_months if item.min_age_months is not None else 0.0
    high = item.max_age_months if item.max_age_months is not None else MAX_AGE_YEARS * 12.0
    return high - low


def _normalised_codes(conditions: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Patient codes in the form items use: ICD-10 under one system, dotted and upper case."""
    found = set()
    for system, code in conditions:
        clean = code.strip()
        if system.strip() in _ICD10_SYSTEMS:
            found.add((ICD10CM_SYSTEM, _dotted_icd(clean)))
        else:
            found.add((system.strip(), clean))
    return found


def _dotted_icd(code: str) -> str:
    bare = code.replace(".", "").upper()
    return f"{bare[:3]}.{bare[3:]}" if len(bare) > 3 else bare


def _matches_condition(item: EducationItem, patient_codes: set[tuple[str, str]]) -> bool:
    for target in item.conditions:
        if target.system == SNOMED_SYSTEM:
            if (SNOMED_SYSTEM, target.code) in patient_codes:
                return True
            continue
        wanted = target.code.replace(".", "")
        for system, code in patient_codes:
            if system == ICD10CM_SYSTEM and code.replace(".", "").startswith(wanted):
                return True
    return False
