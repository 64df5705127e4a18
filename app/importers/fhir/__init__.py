"""Reading FHIR R4 exports (JSON, Bundles, NDJSON, folders, zips) into plain Frontdesk data.

The layers, each usable alone:
- sources: files → SourceItem (one resource dict or one problem, with its location)
- references: a two-pass index that resolves every reference form to a ResourceKey
- mapping: resource dict → Imported* frozen dataclasses (model), or MappingProblem
- summary: counts per resource type of what was seen, mapped, skipped and failed
"""

from __future__ import annotations
