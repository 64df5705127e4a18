"""The clinic's own people and places: providers and locations."""

from __future__ import annotations

from dataclasses import dataclass

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.store.changes import Created


@dataclass(frozen=True)
class Provider:
    id: str
    family_name: str
    given_names: str
    title: str
    specialty: str
    npi: str | None
    active: bool

    @property
    def display_name(self) -> str:
        parts = [self.title, self.given_names, self.family_name]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    city: str
    phone: str
    active: bool


def add_provider(
    clinic: Clinic,
    family_name: str,
    given_names: str = "",
    *,
    title: str = "",
    specialty: str = "",
    npi: str | None = None,
) -> Created:
    if not family_name.strip():
        raise InvalidInputError("A provider needs a family name.")
    return clinic.store.create(
        "provider",
        {
            "family_name": family_name.strip(),
            "given_names": given_names.strip(),
            "title": title.strip(),
            "specialty": specialty.strip(),
            "npi": npi,
        },
    )


def add_location(
    clinic: Clinic, name: str, *, line1: str = "", city: str = "", phone: str = ""
) -> Created:
    if not name.strip():
        raise InvalidInputError("A location needs a name.")
    return clinic.store.create(
        "location", {"name": name.strip(), "line1": line1, "city": city, "phone": phone}
    )


def providers(clinic: Clinic) -> list[Provider]:
    rows = clinic.conn.execute(
        "SELECT id, family_name, given_names, title, specialty, npi, active FROM provider "
        "ORDER BY family_name, given_names"
    ).fetchall()
    return [Provider(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]


def locations(clinic: Clinic) -> list[Location]:
    rows = clinic.conn.execute(
        "SELECT id, name, city, phone, active FROM location ORDER BY name"
    ).fetchall()
    return [Location(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]
