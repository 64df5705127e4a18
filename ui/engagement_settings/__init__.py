"""Settings of engagement: what surveys, reviews and campaigns use (review links, ...)."""

from __future__ import annotations
