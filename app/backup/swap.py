"""Putting a prepared clinic in place of the current one, so that a crash can only delay it.

Restore and rekey both prepare the new database and key file in a hidden folder inside
the data folder, completely, while the clinic keeps working; then they write
`pending-swap.json`. The swap itself happens when no connection is open: at once for
the command line, at the next start for the window (Frontdesk closes and starts again).

The journal names a phase. "keep": the current files move aside (restore: into
`before-restore-<time>`, never overwritten or deleted; rekey: the old WAL is dropped,
its content already in the new file). "place": the prepared files move in. Each step
checks what is already done, so running the swap again after a crash at any point
finishes it, and a half-swapped folder never opens (the key file and database salt
would not match, which the unlock refuses).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import StoreError

log = logging.getLogger(__name__)

JOURNAL = "pending-swap.json"
CLINIC_FILES = ("clinic.db", "clinic.db-wal", "clinic.db-shm", "clinic.key", "audit-head")
# The order the prepared files move in: the database first, the key file that opens it next.
_PLACE_ORDER = ("clinic.db", "clinic.key.new", "clinic.key", "audit-head")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._ -]+$")


@dataclass(frozen=True)
class SwapDone:
    kind: str  # "restore" or "rekey"
    kept: Path | None  # where the previous clinic files were kept (restore)


def write_journal(home: Path, kind: str, staging: str, kept: str = "") -> None:
    payload = {"kind": kind, "staging": staging, "kept": kept, "phase": "keep"}
    _write(home, payload)


def _write(home: Path, payload: dict[str, str]) -> None:
    temp = home / (JOURNAL + ".tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(home / JOURNAL)


def pending(home: Path) -> dict[str, str] | None:
    try:
        data = json.loads((home / JOURNAL).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise StoreError(
            "A restore or key replacement was interrupted and its notes are damaged. "
            "Ask your administrator; the files are still in the data folder."
        ) from None
    names = (data.get("staging", ""), data.get("kept", ""))
    if data.get("kind") not in ("restore", "rekey") or any(
        n and (not _SAFE_NAME.match(n) or n.startswith("..")) for n in names
    ):
        raise StoreError("The notes of an interrupted restore are not Frontdesk's.")
    return {str(k): str(v) for k, v in data.items()}


def complete_pending_swap(home: Path) -> SwapDone | None:
    """Finish a prepared restore or rekey; None when there is none. Call with no
    connection to the clinic open (at start, before unlocking)."""
    journal = pending(home)
    if journal is None:
        return None
    staging = home / journal["staging"]
    kept = home / journal["kept"] if journal["kept"] else None
    if journal["phase"] == "keep" and not (staging / "clinic.db").is_file():
        # The prepared files are gone (deleted by hand?): nothing was moved yet, so the
        # clinic stays as it is and the swap is forgotten.
        log.warning("a prepared %s was missing; the clinic was left as it was", journal["kind"])
        (home / JOURNAL).unlink()
        return None
    if journal["phase"] == "keep":
        if kept is not None:
            kept.mkdir(exist_ok=True)
            for name in CLINIC_FILES:
                if (home / name).exists() and not (kept / name).exists():
                    (home / name).replace(kept / name)
        else:
            for name in ("clinic.db-wal", "clinic.db-shm"):
                (home / name).unlink(missing_ok=True)
        journal["phase"] = "place"
        _write(home, journal)
    for name in _PLACE_ORDER:
        source = staging / name
        if source.exists():
            source.replace(home / name.removesuffix(".new"))
    (home / JOURNAL).unlink()
    for leftover in staging.iterdir() if staging.is_dir() else ():
        leftover.unlink()
    if staging.is_dir():
        staging.rmdir()
    log.info("completed a %s", journal["kind"])
    return SwapDone(journal["kind"], kept)
