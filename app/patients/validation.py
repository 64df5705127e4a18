"""Cleaning and checking what a receptionist types, before any of it is saved or searched."""

from __future__ import annotations

import calendar
import datetime
import functools
import re
import unicodedata
from collections.abc import Iterator

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from app.errors import InvalidDateError, InvalidEmailError, InvalidPhoneError

__all__ = [
    "date_query_candidates",
    "fold_text",
    "luhn_valid",
    "mask_card_numbers",
    "normalize_email",
    "normalize_phone",
    "parse_birth_date",
    "phone_search_keys",
]

# --- phone numbers -------------------------------------------------------------------

# Punctuation people put in phone numbers. Anything else (letters, '#', '*') means the
# field holds something other than a number we can dial, so it is refused rather than
# letting the parser guess: phonenumbers would turn 1-800-FLOWERS into digits.
_PHONE_PUNCTUATION = frozenset("+()-./")

_TOO_FEW_DIGITS = "This phone number has too few digits."
_TOO_MANY_DIGITS = "This phone number has too many digits."
_UNKNOWN_COUNTRY = "This phone number has a country code that does not exist."

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: _UNKNOWN_COUNTRY,
    NumberParseException.NOT_A_NUMBER: "This is not a phone number.",
    NumberParseException.TOO_SHORT_AFTER_IDD: _TOO_FEW_DIGITS,
    NumberParseException.TOO_SHORT_NSN: _TOO_FEW_DIGITS,
    NumberParseException.TOO_LONG: _TOO_MANY_DIGITS,
}

_POSSIBILITY_ERRORS = {
    ValidationResult.TOO_SHORT: _TOO_FEW_DIGITS,
    ValidationResult.TOO_LONG: _TOO_MANY_DIGITS,
    ValidationResult.INVALID_COUNTRY_CODE: _UNKNOWN_COUNTRY,
    ValidationResult.INVALID_LENGTH: "This phone number has the wrong number of digits.",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "This phone number is missing its area code.",
}


def normalize_phone(text: str, region: str = "US") -> str:
    """Return the number in E.164 (+14155552671) so one phone is stored one way only.

    The same number typed as (415) 555-2671 and +1 415 555 2671 must become equal, or
    duplicate checks and texting would miss it. A number without a country code is read
    as belonging to `region`, the clinic's country.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidPhoneError("The phone number is empty.")
    if any(ch.isalpha() for ch in cleaned):
        raise InvalidPhoneError("This phone number contains letters; type digits only.")
    if any(not (ch in "0123456789" or ch.isspace() or ch in _PHONE_PUNCTUATION) for ch in cleaned):
        raise InvalidPhoneError("This phone number contains characters that are not allowed.")
    if not any(ch in "0123456789" for ch in cleaned):
        raise InvalidPhoneError("This phone number has no digits.")
    try:
        number = phonenumbers.parse(cleaned, region.strip().upper() or None)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and "+" not in cleaned:
            # The clinic's region is unknown and the number has no '+': the only fix the
            # receptionist can make is to type the country code.
            raise InvalidPhoneError(
                "This phone number needs its country code, starting with +."
            ) from None
        message = _PARSE_ERRORS.get(exc.error_type, "This is not a phone number.")
        raise InvalidPhoneError(message) from None
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility != ValidationResult.IS_POSSIBLE:
        message = _POSSIBILITY_ERRORS.get(possibility, "This is not a phone number.")
        raise InvalidPhoneError(message)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError("This phone number does not exist in its country.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_search_keys(e164: str) -> list[str]:
    """Digit strings a phone is indexed under, so a search finds it however it is typed.

    Callers type the full international number, the number as dialled at home
    (4155552671), or just the last four digits read off a caller ID; each must hit.
    A stored value that no longer parses still gets its digits indexed, so old data
    stays findable.
    """
    digits = "".join(ch for ch in e164 if ch in "0123456789")
    if not digits:
        return []
    keys = [digits]
    try:
        national = phonenumbers.national_significant_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        national = ""
    if national:
        keys.append(national)
    keys.append(digits[-4:])
    return list(dict.fromkeys(keys))


# --- email addresses -----------------------------------------------------------------

_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^_`{|}~-.")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _local_char_allowed(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _LOCAL_SPECIALS
    # Non-ASCII local parts are legal (RFC 6531) and used for real; control and
    # invisible characters are not, and would make two addresses look the same.
    return not unicodedata.category(ch).startswith(("C", "Z"))


def normalize_email(text: str) -> str:
    """Return the address trimmed and lowercased, with an internationalised domain kept
    readable (bücher.de), so one address is stored one way only.

    The whole address is lowercased, not only the domain: the standard lets the part
    before the @ be case-sensitive, but no mainstream mail provider treats it so, while
    Jane.Doe@ and jane.doe@ stored side by side would defeat duplicate checks and search.
    The check is deliberately a sanity check, not full RFC 5322: it refuses the typos a
    form actually gets (missing @, spaces, no dot in the domain) and rare legal forms
    such as quoted local parts that no patient really has.
    """
    address = text.strip()
    if not address:
        raise InvalidEmailError("The email address is empty.")
    if any(ch.isspace() for ch in address):
        raise InvalidEmailError("This email address contains spaces.")
    if "@" not in address:
        raise InvalidEmailError("This email address has no @ sign.")
    if address.count("@") > 1:
        raise InvalidEmailError("This email address has more than one @ sign.")
    local, domain = address.lower().split("@")
    if not local:
        raise InvalidEmailError("This email address is missing the part before the @.")
    if len(local) > 64:
        raise InvalidEmailError(
            "The part before the @ is too long; it can have at most 64 characters."
        )
    if not all(_local_char_allowed(ch) for ch in local):
        raise InvalidEmailError("The part before the @ contains characters that are not allowed.")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmailError(
            "The part before the @ cannot start or end with a dot, or have two dots in a row."
        )
    return f"{local}@{_normalize_domain(domain)}"


def _normalize_domain(domain: str) -> str:
    if not domain:
        raise InvalidEmailError("This email address is missing the part after the @.")
    if "." not in domain:
        raise InvalidEmailError("The part after the @ needs a dot, as in example.com.")
    not_a_domain = InvalidEmailError("The part after the @ is not a valid domain name.")
    try:
        ascii_form = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise not_a_domain from None
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise not_a_domain
    if labels[-1].isdigit():
        # A numeric top-level label means an IP address or a typo, never a mailbox.
        raise not_a_domain
    try:
        # Back to Unicode: nameprep has already mapped it, so equal domains end up
        # spelt identically, and the receptionist sees what the patient wrote.
        return ascii_form.encode("ascii").decode("idna")
    except UnicodeError:
        raise not_a_domain from None


# --- dates -----------------------------------------------------------------------------

_EARLIEST_YEAR = 1880

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_ISO_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
_ISO_YEAR = re.compile(r"[0-9]{4}")
_SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]+)")
_DOTTED = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]+)")
_DASHED = re.compile(r"([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})")


def _check_year(year: int, today: datetime.date) -> None:
    if year < _EARLIEST_YEAR:
        raise InvalidDateError(f"This date is before {_EARLIEST_YEAR}; check the year.")
    if year > today.year:
        raise InvalidDateError("This date is in the future.")


def _check_month(month: int, *, slashed_month_first: bool = False) -> None:
    if not 1 <= month <= 12:
        hint = (
            " (with slashes the month comes first: month/day/year)" if slashed_month_first else ""
        )
        raise InvalidDateError(f"The month must be between 1 and 12{hint}.")


def _full_date(year: int, month: int, day: int, today: datetime.date, *, hint: bool) -> str:
    _check_year(year, today)
    _check_month(month, slashed_month_first=hint)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise InvalidDateError("That day does not exist in that month.")
    value = datetime.date(year, month, day)
    if value > today:
        raise InvalidDateError("This date is in the future.")
    return value.isoformat()


def _four_digit_year(text: str) -> int:
    if len(text) != 4:
        raise InvalidDateError(
            "Type the year with all four digits; a two-digit year could mean 19xx or 20xx."
            if len(text) == 2
            else "The year must have four digits."
        )
    return int(text)


def parse_birth_date(text: str, *, today: datetime.date, day_first: bool = False) -> str:
    """Return the date as ISO text: YYYY-MM-DD, or YYYY-MM / YYYY when only that is known.

    Partial dates are kept because they are often all a patient knows, and FHIR stores
    them as such. Slashes follow the clinic's habit (`day_first`); dots are always
    day-first, since nobody writes month.day.year. Two-digit years are refused rather
    than guessed: a wrong century on a birth date is worse than asking again. `today`
    is passed in so the function stays pure and testable.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidDateError("The date is empty.")
    if _ISO_YEAR.fullmatch(cleaned):
        year = int(cleaned)
        _check_year(year, today)
        return f"{year:04d}"
    if match := _ISO_MONTH.fullmatch(cleaned):
        year, month = int(match[1]), int(match[2])
        _check_year(year, today)
        _check_month(month)
        if (year, month) > (today.year, today.month):
            raise InvalidDateError("This date is in the future.")
        return f"{year:04d}-{month:02d}"
    if match := _ISO_DATE.fullmatch(cleaned):
        return _full_date(int(match[1]), int(match[2]), int(match[3]), today, hint=False)
    if match := _SLASHED.fullmatch(cleaned):
        first, second = int(match[1]), int(match[2])
        year = _four_digit_year(match[3])
        day, month = (first, second) if day_first else (second, first)
        return _full_date(year, month, day, today, hint=not day_first)
    if match := _DOTTED.fullmatch(cleaned):
        year = _four_digit_year(match[3])
        return _full_date(year, int(match[2]), int(match[1]), today, hint=False)
    example = "14/3/1975" if day_first else "3/14/1975"
    raise InvalidDateError(
        f"This is not a date the app understands; type it like {example} or 1975-03-14."
    )


def _real_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def date_query_candidates(text: str) -> list[datetime.date]:
    """Every full date a search text could mean, most likely first.

    A search must not depend on the clinic's date habit: 3/4/1975 is March 4th to an
    American and 3 April to most others, so both are looked up (US reading first).
    Readings that cannot be a date are dropped, which settles 13/2/1980 on its own.
    Unlike entry, nothing is refused: text that is not a date just means "no dates".
    """
    cleaned = text.strip()
    readings: list[tuple[int, int, int]] = []
    if match := _ISO_DATE.fullmatch(cleaned):
        readings.append((int(match[1]), int(match[2]), int(match[3])))
    elif (match := _SLASHED.fullmatch(cleaned) or _DASHED.fullmatch(cleaned)) and len(
        match[3]
    ) == 4:
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        readings += [(year, first, second), (year, second, first)]
    elif (match := _DOTTED.fullmatch(cleaned)) and len(match[3]) == 4:
        readings.append((int(match[3]), int(match[2]), int(match[1])))
    dates = (_real_date(*reading) for reading in readings)
    return list(dict.fromkeys(d for d in dates if d is not None))


# --- card numbers --------------------------------------------------------------------

# A run: digit groups joined by single spaces or hyphens, as card numbers are written.
_DIGIT_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_DIGITS = frozenset("0123456789")


def luhn_valid(digits: str) -> bool:
    """Whether the digits pass the Luhn check that every payment card number passes.

    Anything but ASCII digits, or nothing at all, is not a card number and so fails.
    """
    if not digits or not all(ch in "0123456789" for ch in digits):
        return False
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of whole digit groups holding 13–19 digits that pass Luhn.

    Whole groups only, so a card followed by an expiry (4111 1111 1111 1111 12 25) is
    still found, yet a long reference number is not searched for a lucky sub-string.
    A group right after '+' starts an international phone number, never a card.
    """
    for run in _DIGIT_RUN.finditer(text):
        groups = [
            (g.start() + run.start(), g.end() + run.start())
            for g in _DIGIT_GROUP.finditer(run.group())
        ]
        phone_start = run.start() > 0 and text[run.start() - 1] == "+"
        for first in range(len(groups)):
            if first == 0 and phone_start:
                continue
            count = 0
            for last in range(first, len(groups)):
                count += groups[last][1] - groups[last][0]
                if count > 19:
                    break
                if count < 13:
                    continue
                start, end = groups[first][0], groups[last][1]
                if luhn_valid(text[start:end].replace(" ", "").replace("-", "")):
                    yield start, end


def _masked_positions(text: str) -> set[int]:
    """Indexes of the digits to hide: every card span's digits but its last four."""
    hide: set[int] = set()
    for start, end in _card_spans(text):
        positions = [i for i in range(start, end) if text[i] in _DIGITS]
        hide.update(positions[:-4])
    return hide


def mask_card_numbers(text: str) -> str:
    """Replace all but the last four digits of any payment card number with '•'.

    Notes are free text and a receptionist may paste a card number into one; it must
    never be stored. Digit runs that fail Luhn (phones, references) are left alone.
    When Luhn-valid spans overlap (a stray digit in front of a card can make one), all
    of them are masked: hiding a digit too many is harmless, leaking a card is not.
    Masking repeats until nothing is left to mask, because the four digits kept can
    start a new Luhn-valid run with the digits after them; this also makes masking
    already-masked text a no-op.
    """
    while hide := _masked_positions(text):
        text = "".join("•" if i in hide else ch for i, ch in enumerate(text))
    return text


# --- names -----------------------------------------------------------------------------

# Letters that are not "letter + accent" in Unicode, so NFKD alone leaves them alone,
# yet people type them with or without the stroke: Sørensen is searched as Sorensen.
_LETTER_MAP = str.maketrans(
    {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i"}
)


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=65_536)
def fold_text(text: str) -> str:
    """Fold a name for matching: no case, no accents, single spaces.

    José, JOSE and jose  must find the same patient, since names arrive from forms,
    imports and caller ID each spelt its own way. Folding twice gives the same result,
    which the index relies on when it folds stored names and typed queries alike.
    """
    if text.isascii():  # most names: nothing to decompose or map, ten times faster
        return " ".join(text.lower().split())
    folded = _strip_marks(_strip_marks(text).casefold()).translate(_LETTER_MAP)
    return " ".join(folded.split())


def display_phone(e164: str, region: str = "US") -> str:
    """Show a stored number the way people in the clinic's country write it:
    national format for local numbers, international format for the rest."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    local = phonenumbers.region_code_for_number(parsed) == region.upper()
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if local
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return str(phonenumbers.format_number(parsed, style))
