"""The words and formats of automatic messages in each language: dates, times, money, phrases.

Written out as small tables on purpose: the operating system's locale is whatever the
workstation happens to run with (a receptionist's laptop set to German, a server set to C),
and Babel is not a dependency. A language without a table gets the English formats, so a
message never fails for want of a month name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Final

_WEEKDAYS: Final[Mapping[str, tuple[str, ...]]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS: Final[Mapping[str, tuple[str, ...]]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}

LANGUAGE_NAMES: Final = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "zh": "Chinese",
    "vi": "Vietnamese",
    "ko": "Korean",
    "tl": "Tagalog",
    "ar": "Arabic",
    "ru": "Russian",
    "so": "Somali",
    "ht": "Haitian Creole",
    "pl": "Polish",
}

CHANNEL_NOUNS: Final = {"sms": "text", "email": "email", "letter": "letter"}
"""One message of each channel, as the desk says it ("no letter template in Spanish")."""

PURPOSE_PHRASES: Final = {
    "appointment": "appointment reminders",
    "recall": "recall reminders",
    "billing": "billing notices",
    "education": "health information",
    "survey": "surveys",
    "marketing": "news and greetings",
}
"""What the patient agreed to or refused, in the words of a consent form."""

_CURRENCY_SYMBOLS: Final = {"GB": "£", "IE": "€", "DE": "€", "FR": "€", "ES": "€", "IT": "€"}


def base_language(language: str) -> str:
    """'es-MX' → 'es'; '' → 'en'."""
    return (language.replace("_", "-").split("-")[0].lower()) or "en"


def _table(language: str) -> str:
    code = base_language(language)
    return code if code in _WEEKDAYS else "en"


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(base_language(language), language or "English")


def weekday(day: date, language: str) -> str:
    """'Tuesday' / 'martes'."""
    return _WEEKDAYS[_table(language)][day.weekday()]


def long_date(day: date, language: str) -> str:
    """'Tuesday, March 10' / 'martes 10 de marzo'."""
    code = _table(language)
    month = _MONTHS[code][day.month - 1]
    if code == "es":
        return f"{weekday(day, code)} {day.day} de {month}"
    return f"{weekday(day, code)}, {month} {day.day}"


def month_day(day: date, language: str) -> str:
    """'April 14' / '14 de abril': a day close enough that the year goes without saying."""
    code = _table(language)
    month = _MONTHS[code][day.month - 1]
    if code == "es":
        return f"{day.day} de {month}"
    return f"{month} {day.day}"


def clock_time(moment: time, language: str) -> str:
    """'9:30 AM' in English (as in the US), '9:30' or '14:05' in Spanish."""
    if _table(language) == "es":
        return f"{moment.hour}:{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{hour}:{moment.minute:02d} {half}"


def money(cents: int, region: str = "US") -> str:
    """'$1,120.50' from integer cents; no float ever touches the amount."""
    symbol = _CURRENCY_SYMBOLS.get(region.upper(), "$")
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


# --- sentences the values need ---------------------------------------------------------


def confirm_instructions(channel: str, language: str, phone: str, *, ask: bool) -> str:
    """How to confirm, for this channel: a text can be answered with C, an email by replying,
    a letter only by calling. A touch that does not ask says there is no need to answer."""
    es = _table(language) == "es"
    call = (f" o llámenos al {phone}" if es else f" or call us at {phone}") if phone else ""
    if channel == "sms":
        # A text is short: no sentence when it does not ask, and the template gives the
        # phone number for changes once.
        if not ask:
            return ""
        return "Responda C para confirmar." if es else "Reply C to confirm."
    if not ask:
        return "No es necesario responder." if es else "There is no need to reply."
    if channel == "email":
        if es:
            return f"Por favor, responda a este correo{call} para confirmar."
        return f"Please reply to this email{call} to confirm."
    if phone:
        return (
            f"Por favor, llámenos al {phone} para confirmar."
            if es
            else f"Please call us at {phone} to confirm."
        )
    return "Por favor, llámenos para confirmar." if es else "Please call us to confirm."


def pay_instructions(language: str, *, online: bool) -> str:
    if _table(language) == "es":
        if online:
            return "Puede pagar en línea, por teléfono o en la recepción."
        return "Puede pagar por teléfono o en la recepción."
    if online:
        return "You can pay online, by phone or at the front desk."
    return "You can pay by phone or at the front desk."


def our_team(language: str) -> str:
    """Who the patient will see when the visit has no provider on it."""
    return "nuestro equipo" if _table(language) == "es" else "our team"


_RECALL_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    # visit kind: (English, Spanish). A plain name for a kind of visit, never what it treats.
    "checkup": ("check-up", "revisión"),
    "check-up": ("check-up", "revisión"),
    "physical": ("check-up", "revisión"),
    "annual": ("check-up", "revisión"),
    "well-child": ("well-child visit", "revisión pediátrica"),
    "cleaning": ("cleaning", "limpieza dental"),
    "hygiene": ("cleaning", "limpieza dental"),
    "eye-exam": ("eye exam", "examen de la vista"),
    "vaccination": ("vaccination", "vacunación"),
    "follow-up": ("follow-up visit", "visita de seguimiento"),
}


def recall_reason(visit_kind: str, language: str) -> str:
    """A label from a short list of visit kinds; anything else is a plain "check-up", so a
    free-text kind typed at the desk can never carry a diagnosis into a message."""
    english, spanish = _RECALL_LABELS.get(visit_kind.strip().lower(), _RECALL_LABELS["checkup"])
    return spanish if _table(language) == "es" else english


def known_recall_kind(visit_kind: str) -> bool:
    return visit_kind.strip().lower() in _RECALL_LABELS
