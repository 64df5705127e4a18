"""Importers that read other systems' exports (FHIR, CSV) into plain data for the clinic."""

from __future__ import annotations
