"""The countries Frontdesk can read phone numbers for, named in the computer's language.

One list for the first-run wizard and Settings: the core refuses a country that
phonenumbers cannot check (app/clinic.py), so neither screen may offer one.
"""

from __future__ import annotations

from functools import cache

import phonenumbers
from PySide6.QtCore import QLocale


@cache
def phone_countries() -> tuple[tuple[str, str], ...]:
    """(ISO code, name) of every supported country, sorted by name."""
    found = []
    for code in phonenumbers.SUPPORTED_REGIONS:
        territory = QLocale.codeToTerritory(code)
        name = code if territory == QLocale.Country.AnyTerritory else None
        found.append((code, name or QLocale.territoryToString(territory)))
    return tuple(sorted(found, key=lambda pair: pair[1].casefold()))


def calling_code(code: str) -> int:
    return int(phonenumbers.country_code_for_region(code))
