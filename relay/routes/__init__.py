"""The relay's HTTP endpoints (API v1), one module per kind of record."""
