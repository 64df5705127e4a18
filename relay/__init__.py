"""The sync relay: stores and forwards a clinic's sealed batches, never able to read them.

Runs apart from the desk program (`python -m relay serve`); nothing in app/ or ui/
imports it, and it imports nothing from them (it parses the envelope header itself).
"""

from __future__ import annotations

__version__ = "1.0.0"
API_VERSION = "v1"
