"""The 3-digit ZIP rule of Safe Harbor (45 CFR 164.514(b)(2)(i)(B)) and the lists it reads.

A ZIP code keeps only its first three digits, and only when the area they cover has more
than 20,000 people; every other area is written as "000". The restricted areas are the
shipped lists in app/research/data/restricted_zip3*.json: the HHS list from the 2000
Census, and any later list put next to it (say one derived from the 2020 Census). All
lists apply together (their union): a ZIP3 that any list restricts is "000", the safe
side when sources disagree. Prefixes where nobody lives (never assigned, overseas
military post offices) are "000" too, as is anything that is not a US five-digit ZIP.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DATA_FOLDER: Final = Path(__file__).resolve().parent / "data"
HIDDEN: Final = "000"
_ZIP: Final = re.compile(r"(\d{5})(?:[- ]?\d{4})?")
_US: Final = frozenset({"", "US", "USA"})


@dataclass(frozen=True)
class Zip3Source:
    """Where one list came from, for the data dictionary."""

    file: str
    source: str
    census_year: int
    retrieved: str
    codes: int


@dataclass(frozen=True)
class Zip3Lists:
    sources: tuple[Zip3Source, ...]
    restricted: frozenset[str]
    unpopulated: frozenset[str]

    def zip3(self, postal_code: str, country: str = "") -> str:
        """The ZIP3 a researcher may see for this address, or "000"."""
        if country.strip().upper() not in _US:
            return HIDDEN
        found = _ZIP.fullmatch(postal_code.strip())
        if found is None:
            return HIDDEN
        prefix = found.group(1)[:3]
        if prefix in self.restricted or prefix in self.unpopulated:
            return HIDDEN
        return prefix


def _codes(values: object, file: str) -> frozenset[str]:
    if not isinstance(values, list) or not all(
        isinstance(v, str) and re.fullmatch(r"\d{3}", v) for v in values
    ):
        raise ValueError(f"{file}: codes must be a list of three-digit strings")
    return frozenset(values)


def load_zip3_lists(folder: Path = DATA_FOLDER) -> Zip3Lists:
    """Every restricted_zip3*.json in `folder`, applied together.

    A list that cannot be read is a broken installation, not something to export around:
    it raises rather than fall back to fewer restrictions.
    """
    sources: list[Zip3Source] = []
    restricted: set[str] = set()
    unpopulated: set[str] = set()
    for path in sorted(folder.glob("restricted_zip3*.json")):
        data = json.loads(path.read_text("utf-8"))
        codes = _codes(data["codes"], path.name)
        restricted |= codes
        empty = data.get("no_resident_population")
        if isinstance(empty, dict):
            unpopulated |= _codes(empty.get("codes", []), path.name)
        sources.append(
            Zip3Source(
                path.name,
                str(data["source"]),
                int(data["census_year"]),
                str(data["retrieved"]),
                len(codes),
            )
        )
    if not sources:
        raise FileNotFoundError("the restricted ZIP3 list is missing from this installation")
    return Zip3Lists(tuple(sources), frozenset(restricted), frozenset(unpopulated))
