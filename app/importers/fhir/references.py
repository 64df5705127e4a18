"""Resolving FHIR references across one whole import, in any order of appearance.

Pass one feeds every SourceItem to a ReferenceIndex, which keeps only keys (type and
id, fullUrl, identifiers) of the resource types Frontdesk links to, never the
resources; so an NDJSON export of any size can be indexed in little memory. Pass two
reads the files again, maps each resource, and asks the index to resolve its
references. Forms handled: `urn:uuid:`/`urn:oid:` fullUrls, relative `Type/id`,
absolute URLs, versioned `.../_history/n`, contained `#id` (within the resource that
contains it), conditional `Type?identifier=system|value` (or `=value`, `=|value`) and
logical references by `identifier`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

from app.importers.fhir.sources import SourceItem

# The types a mapped Frontdesk record can point at; others are never looked up, so
# they are not indexed (Observations dominate bulk exports).
INDEXED_TYPES = frozenset(
    {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
        "Encounter",
        "Appointment",
        "Coverage",
        "Condition",
        "AllergyIntolerance",
    }
)

_LITERAL = re.compile(
    r"^(?P<base>.*?/)?(?P<type>[A-Z][A-Za-z]{1,63})/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_HISTORY = re.compile(r"/_history/[^/]*$")


class ResourceKey(NamedTuple):
    """Who a resource is within one import: its type and its id.

    The id is the resource's own `id`; without one, its Bundle fullUrl; without that,
    `@` and its location (stable only within one reading of the same files).
    Contained resources get `<container id>#<contained id>`.
    """

    type: str
    id: str


# Marks an identifier shared by two resources: a conditional reference to it is refused.
_AMBIGUOUS = ResourceKey("", "ambiguous")


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference as mapped: where it points (when found in this import) and its display."""

    target_type: str | None
    key: ResourceKey | None
    display: str | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class RefContext:
    """What a reference is resolved against: the resource it sits in."""

    key: ResourceKey
    full_url: str | None = None
    contained: Mapping[str, str] = field(default_factory=dict)  # contained id → type


def resource_key(resource: Mapping[str, Any], full_url: str | None, location: str) -> ResourceKey:
    """The key of a top-level resource, the same in both passes over the same files."""
    resource_type = sys.intern(str(resource.get("resourceType", "")))
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        return ResourceKey(resource_type, rid)
    if full_url:
        return ResourceKey(resource_type, full_url)
    return ResourceKey(resource_type, f"@{location}")


def contained_key(container: ResourceKey, resource_type: str, contained_id: str) -> ResourceKey:
    """The key of a contained resource: scoped to its container, as `#id` references are."""
    return ResourceKey(resource_type, f"{container.id}#{contained_id}")


def context_for(resource: Mapping[str, Any], full_url: str | None, location: str) -> RefContext:
    """The context for resolving the references inside one top-level resource."""
    contained: dict[str, str] = {}
    inner = resource.get("contained")
    if isinstance(inner, list):
        for item in inner:
            if isinstance(item, dict):
                cid, ctype = item.get("id"), item.get("resourceType")
                if isinstance(cid, str) and isinstance(ctype, str):
                    contained[cid] = ctype
    return RefContext(resource_key(resource, full_url, location), full_url, contained)


class ReferenceIndex:
    """Keys of every indexed resource of one import, to resolve references against."""

    def __init__(self, types: Iterable[str] = INDEXED_TYPES) -> None:
        self._types = frozenset(types)
        self._keys: set[ResourceKey] = set()
        self._by_url: dict[str, ResourceKey] = {}
        self._by_identifier: dict[tuple[str, str, str], ResourceKey] = {}
        self._by_value: dict[tuple[str, str], ResourceKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, item: SourceItem) -> None:
        """Index one item of pass one (problems and unindexed types are ignored)."""
        if item.resource is not None:
            self.add_resource(item.resource, item.full_url, item.location)

    def add_resource(
        self, resource: Mapping[str, Any], full_url: str | None, location: str
    ) -> None:
        """Index one resource by its key, its fullUrl and its identifiers."""
        if resource.get("resourceType") not in self._types:
            return
        key = resource_key(resource, full_url, location)
        self._keys.add(key)
        if full_url:
            self._by_url[full_url] = key
        identifiers = resource.get("identifier")
        if not isinstance(identifiers, list):
            return
        for identifier in identifiers:
            if not isinstance(identifier, dict):
                continue
            value, system = identifier.get("value"), identifier.get("system")
            if not isinstance(value, str) or not value:
                continue
            system = sys.intern(system) if isinstance(system, str) else ""
            _put(self._by_identifier, (key.type, system, value), key)
            _put(self._by_value, (key.type, value), key)

    def resolve(
        self, reference: Any, context: RefContext, expect: tuple[str, ...] = ()
    ) -> Ref | None:
        """Resolve a FHIR Reference (a dict) met inside the resource of `context`.

        Returns None when there is no reference at all. `expect` names the types the
        field allows; it types a logical (identifier-only) reference. A reference that
        is not found still comes back, with its display and the reason in `problem`.
        """
        if not isinstance(reference, dict):
            return None
        display = reference.get("display")
        display = display if isinstance(display, str) and display.strip() else None
        declared = reference.get("type")
        declared = declared if isinstance(declared, str) else None
        text = reference.get("reference")
        if isinstance(text, str) and text.strip():
            target, key, problem = self._resolve_text(text.strip(), context)
            return Ref(target or declared, key, display, problem)
        identifier = reference.get("identifier")
        if isinstance(identifier, dict):
            types = (declared,) if declared else expect
            key, problem = self._by_identifier_of(identifier, types)
            target = key.type if key else (types[0] if len(types) == 1 else None)
            return Ref(target, key, display, problem)
        if display is None:
            return None
        return Ref(declared, None, display, None)

    # --- the forms ---------------------------------------------------------------

    def _resolve_text(
        self, text: str, context: RefContext
    ) -> tuple[str | None, ResourceKey | None, str | None]:
        if text.startswith("#"):
            return _contained(text[1:], context)
        found = self._by_url.get(text) or self._by_url.get(_HISTORY.sub("", text))
        if found is not None:
            return found.type, found, None
        head, question, query = text.partition("?")
        if question:
            return self._conditional(head.rsplit("/", 1)[-1], query)
        match = _LITERAL.match(text)
        if match is None:
            if text.startswith(("urn:uuid:", "urn:oid:")):
                return None, None, "points at an entry that is not in this import"
            return None, None, "is not a reference form Frontdesk can follow"
        resource_type, rid = match["type"], match["id"]
        base = match["base"]
        if base is None and context.full_url and "://" in context.full_url:
            # Relative to the server of the resource that holds it (FHIR's rule).
            root = _server_root(context.full_url)
            if root is not None:
                found = self._by_url.get(f"{root}{resource_type}/{rid}")
                if found is not None:
                    return found.type, found, None
        key = ResourceKey(resource_type, rid)
        if key in self._keys:
            return resource_type, key, None
        # Kept with its key: an earlier import may have brought that resource in, and
        # the writer looks for it there (a visits-only export after a patients export).
        return resource_type, key, f"points at a {resource_type} that is not in this import"

    def _conditional(
        self, resource_type: str, query: str
    ) -> tuple[str | None, ResourceKey | None, str | None]:
        target = resource_type or None
        for part in query.split("&"):
            name, _, raw = part.partition("=")
            if unquote(name) != "identifier":
                continue
            value = unquote(raw)
            system, bar, code = value.partition("|")
            identifier = {"system": system, "value": code} if bar else {"value": value}
            if bar and not system:
                identifier = {"value": code, "system": ""}
            key, problem = self._by_identifier_of(identifier, (resource_type,))
            return target, key, problem
        return target, None, "is a search Frontdesk cannot follow (only identifier= is)"

    def _by_identifier_of(
        self, identifier: Mapping[str, Any], types: tuple[str, ...]
    ) -> tuple[ResourceKey | None, str | None]:
        value, system = identifier.get("value"), identifier.get("system")
        if not isinstance(value, str) or not value:
            return None, "has an identifier without a value"
        if not types:
            return None, "has an identifier but no type to look it up in"
        for resource_type in types:
            if isinstance(system, str):
                key = self._by_identifier.get((resource_type, system, value))
            else:
                key = self._by_value.get((resource_type, value))
            if key is _AMBIGUOUS:
                return None, f"matches more than one {resource_type} by identifier"
            if key is not None:
                return key, None
        return None, f"matches no {' or '.join(types)} in this import by identifier"


def build_index(
    items: Iterable[SourceItem], types: Iterable[str] = INDEXED_TYPES
) -> ReferenceIndex:
    """Pass one: index every item (read the files with sources.read_resources)."""
    index = ReferenceIndex(types)
    for item in items:
        index.add(item)
    return index


def _put(table: dict[Any, ResourceKey], where: Any, key: ResourceKey) -> None:
    existing = table.get(where)
    if existing is None:
        table[where] = key
    elif existing != key:
        table[where] = _AMBIGUOUS


def _contained(cid: str, context: RefContext) -> tuple[str | None, ResourceKey | None, str | None]:
    if not cid:
        return context.key.type, context.key, None  # "#" alone is the container itself
    resource_type = context.contained.get(cid)
    if resource_type is None:
        return None, None, "points at a contained resource that is not there"
    return resource_type, contained_key(context.key, resource_type, cid), None


def _server_root(full_url: str) -> str | None:
    match = _LITERAL.match(_HISTORY.sub("", full_url))
    if match is None or match["base"] is None:
        return None
    return str(match["base"])
