"""The patients list as a CSV file a spreadsheet opens safely.

* UTF-8 with a byte-order mark, because Excel reads a CSV without one in the
  computer's legacy code page and mangles José and Ирина.
* Formula injection (OWASP "CSV injection"): a cell that starts with = + - @, a tab or
  a carriage return, or their full-width forms (＝＋－＠, which some spreadsheets
  normalise), is run as a formula by Excel and LibreOffice. A name or tag typed as
  `=HYPERLINK(...)` must stay text, so such cells get a leading apostrophe, OWASP's
  advice. Leading spaces do not protect a cell, so they are looked through. Phones
  are written in the national display form ("(612) 555-0123"), which starts with no
  sign at all; only foreign numbers ("+44 …") carry the apostrophe.
* Streamed page by page in the list's own order (a 100k clinic never sits in memory),
  into a temporary file in the destination folder that replaces the destination only
  when complete (os.replace), so a cancelled or failed export leaves nothing behind
  and never a half file under the chosen name. Created 0600: it holds patient data.
  The temporary name holds no patient data.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.audit import log as audit
from app.audit.actions import EXPORT
from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, Progress, no_progress
from app.patients.listing import PatientList, PatientListQuery, PatientRow
from app.security.permissions import require

HEADER = (
    "Name",
    "Birth date",
    "Age",
    "Phone",
    "Email",
    "Last visit",
    "Next appointment",
    "Acquisition source",
    "Tags",
    "Deceased",
)
_TRIGGERS = frozenset("=+-@＝＋－＠")
_CONTROL_TRIGGERS = frozenset("\t\r")
_BATCH = 500


class ExportError(FrontdeskError):
    """The file could not be written; nothing was left behind."""


def safe_cell(value: str) -> str:
    """The cell as text a spreadsheet will show, never run."""
    if not value:
        return value
    if value[0] in _CONTROL_TRIGGERS:
        return "'" + value
    stripped = value.lstrip()
    if stripped and stripped[0] in _TRIGGERS:
        return "'" + value
    return value


def _cells(row: PatientRow) -> list[str]:
    values = (
        row.display_name,
        row.birth_date or "",
        "" if row.age is None else str(row.age),
        row.phone,
        row.email,
        row.last_visit.isoformat() if row.last_visit else "",
        row.next_appointment.isoformat() if row.next_appointment else "",
        row.source_words or row.source,
        row.tags,
        "yes" if row.deceased else "",
    )
    return [safe_cell(v) for v in values]


def export_patient_list(
    clinic: Clinic,
    query: PatientListQuery,
    path: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> int:
    """Write every row of the list, in its order, to `path`; returns the rows written.
    Patient data leaving the app: only a role the table allows (checked here, where the
    file is written, whatever screen or command asked)."""
    require(clinic, "data.export")
    cancel = cancel or CancelToken()
    listing = PatientList(clinic, query)
    progress(0, 0, "Counting patients")
    total = listing.count()
    written = 0
    with atomic_csv(path) as writer:
        writer.writerow(HEADER)
        for batch in listing.batches(_BATCH):
            cancel.raise_if_cancelled()
            writer.writerows(_cells(row) for row in batch)
            written += len(batch)
            progress(written, total, f"Exporting patients: {written:,} of {total:,}")
        cancel.raise_if_cancelled()
    audit.record(clinic, EXPORT, target=path.name, detail=_export_detail(query, written))
    return written


def _export_detail(query: PatientListQuery, rows: int) -> dict[str, object]:
    """What the audit log keeps of a list export: counts, the columns and which filters
    were on; never the typed search (it may be a patient's name) nor a cell."""
    filters = [
        name
        for name, on in (
            ("search", bool(query.text)),
            ("tag", bool(query.tag)),
            ("source", bool(query.source)),
            ("upcoming only", query.upcoming_only),
            ("deceased included", query.include_deceased),
        )
        if on
    ]
    detail: dict[str, object] = {"rows": rows, "columns": list(HEADER), "filters": filters}
    if query.segment_id:
        detail["segment_id"] = query.segment_id
    return detail


@contextlib.contextmanager
def atomic_csv(path: Path) -> Iterator[Any]:
    """A csv writer whose file appears under `path` only once complete (see above).

    Callers pass every cell through `safe_cell` when it may hold typed or imported text.
    Raises ExportError, in plain words, when the folder cannot take the file.
    """
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=".frontdesk-export-", suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise ExportError(
            "The file could not be created there. Choose a folder you can save to."
        ) from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as out:
            yield csv.writer(out)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except OSError as exc:
        _remove(temp)
        raise ExportError(
            "The file could not be saved (the disk may be full or the folder read-only). "
            "Nothing was saved."
        ) from exc
    except BaseException:
        _remove(temp)
        raise
    with contextlib.suppress(OSError):  # Windows keeps its own ACLs; the mode is best effort
        path.chmod(0o600)


def _remove(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
