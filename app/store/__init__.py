"""The encrypted clinic database: files, keys, schema and the single place writes go through."""

from __future__ import annotations
