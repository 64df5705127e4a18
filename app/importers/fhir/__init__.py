"""Reading FHIR R4 exports (JSON, Bundles, NDJSON, folders, zips) into plain Frontdesk data.

The layers, each usable alone:
- sources: files → SourceItem (one resource dict or one problem, with its location)
- references: a two-pass index that resolves every reference form to a ResourceKey
- mapping: resource dict → Imported* frozen records (model), or MappingProblem
- summary: counts per resource type of what was seen, mapped, skipped and failed

Typical use: `for item in read_import(paths): summary.add(item); write(item.records)`.
"""

from __future__ import annotations

from app.importers.fhir.mapping import MAPPED_TYPES, MappedItem, map_resource, read_import
from app.importers.fhir.references import Ref, ReferenceIndex, ResourceKey, build_index
from app.importers.fhir.sources import ReadLimits, SourceItem, read_resources
from app.importers.fhir.summary import ReadSummary, summarize

__all__ = [
    "MAPPED_TYPES",
    "MappedItem",
    "ReadLimits",
    "ReadSummary",
    "Ref",
    "ReferenceIndex",
    "ResourceKey",
    "SourceItem",
    "build_index",
    "map_resource",
    "read_import",
    "read_resources",
    "summarize",
]
