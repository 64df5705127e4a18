"""The clinic's health-education library: the shipped items merged with the clinic's own.

A clinic edits an item in the app; the edited version is stored in education_item under the
item's own id and replaces the shipped text everywhere (campaigns, previews), so the outbox's
memory of what a patient was sent (the item's stem) stays true across the edit. Switching an
item off keeps it out of every campaign; reverting drops the clinic's version (a shipped
item comes back as shipped, an item the clinic wrote is deleted).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.clinic import Clinic
from app.engagement.education import EducationItem, Link, check_item, load_library
from app.errors import RecordNotFoundError
from app.store.changes import Changes
from app.store.database import Connection
from app.store.writer import utc_now

ORIGINS: Final = ("shipped", "clinic", "changed")


@dataclass(frozen=True)
class LibraryEntry:
    """An item as the library page lists it: where it comes from and whether it is used."""

    item: EducationItem
    origin: str  # shipped | clinic (written by the clinic) | changed (a shipped item edited)
    active: bool


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[EducationItem, ...]:
    return tuple(load_library())


def shipped_items() -> dict[str, EducationItem]:
    return {item.id: item for item in _shipped()}


def _clinic_rows(conn: Connection) -> dict[str, tuple[EducationItem, bool]]:
    found: dict[str, tuple[EducationItem, bool]] = {}
    for item_id, definition, active in conn.execute(
        "SELECT id, definition, active FROM education_item ORDER BY id"
    ).fetchall():
        try:
            item = check_item(json.loads(definition), source=str(item_id))
        except (ValueError, TypeError):
            continue  # a damaged row is left out, as a bad shipped file is
        found[str(item_id)] = (item, bool(active))
    return found


def entries_from(conn: Connection) -> list[LibraryEntry]:
    shipped = shipped_items()
    own = _clinic_rows(conn)
    entries: list[LibraryEntry] = []
    for item_id in sorted(set(shipped) | set(own)):
        if item_id in own:
            item, active = own[item_id]
            origin = "changed" if item_id in shipped else "clinic"
            entries.append(LibraryEntry(item, origin, active))
        else:
            entries.append(LibraryEntry(shipped[item_id], "shipped", True))
    return entries


def library_from(conn: Connection) -> list[EducationItem]:
    """The items campaigns choose from, read from a connection (the planner's)."""
    return [entry.item for entry in entries_from(conn) if entry.active]


def library(clinic: Clinic) -> list[EducationItem]:
    return library_from(clinic.conn)


def library_entries(clinic: Clinic) -> list[LibraryEntry]:
    return entries_from(clinic.conn)


def item_to_raw(item: EducationItem) -> dict[str, Any]:
    """The item as the fields check_item reads (what is stored as JSON)."""

    def links(values: tuple[Link, ...]) -> list[dict[str, str]]:
        return [{"label": link.label, "url": link.url} for link in values]

    raw: dict[str, Any] = {
        "id": item.id,
        "topic": item.topic,
        "language": item.language,
        "audience": item.audience,
        "title": item.title,
        "body": item.body,
        "sms": item.sms,
        "links": links(item.links),
        "clinic_links": links(item.clinic_links),
        "conditions": [
            {"system": c.system, "code": c.code, "display": c.display} for c in item.conditions
        ],
        "months": sorted(item.months),
        "sources": links(item.sources),
    }
    age: dict[str, float] = {}
    if item.min_age_months is not None:
        age["min_months"] = item.min_age_months
    if item.max_age_months is not None:
        age["max_months"] = item.max_age_months
    if age:
        raw["age"] = age
    return raw


def _store(clinic: Clinic, item: EducationItem, active: bool) -> Changes:
    definition = json.dumps(item_to_raw(item), ensure_ascii=False, sort_keys=True)
    now = utc_now()
    with clinic.store.write() as tx:
        if tx.current("education_item", item.id, ("id",)) is None:
            tx.insert(
                "education_item",
                {
                    "id": item.id,
                    "definition": definition,
                    "active": int(active),
                    "created_at": now,
                    "updated_at": now,
                },
            )
        else:
            tx.update(
                "education_item",
                item.id,
                {"definition": definition, "active": int(active), "updated_at": now},
            )
    return tx.changes


def save_item(clinic: Clinic, raw: Mapping[str, object]) -> EducationItem:
    """Check and store an item (new, or the clinic's version of a shipped one). Raises
    EducationItemError with the plain reason when it cannot be used."""
    item = check_item(raw, source=str(raw.get("id", "item")) if isinstance(raw, Mapping) else "")
    current = _clinic_rows(clinic.conn).get(item.id)
    _store(clinic, item, current[1] if current is not None else True)
    return item


def _entry(clinic: Clinic, item_id: str) -> LibraryEntry:
    for entry in library_entries(clinic):
        if entry.item.id == item_id:
            return entry
    raise RecordNotFoundError("That education item is no longer in the library.")


def set_item_active(clinic: Clinic, item_id: str, active: bool) -> Changes:
    """Use an item in campaigns again, or keep it out of them (a shipped one too)."""
    entry = _entry(clinic, item_id)
    return _store(clinic, entry.item, active)


def revert_item(clinic: Clinic, item_id: str) -> Changes:
    """Drop the clinic's version: a shipped item is as shipped again (and in use), an item
    the clinic wrote itself is deleted."""
    _entry(clinic, item_id)
    with clinic.store.write() as tx:
        if tx.current("education_item", item_id, ("id",)) is not None:
            tx.delete("education_item", item_id)
    return tx.changes
