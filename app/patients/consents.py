"""A patient's consents as a grid of channel × purpose, with who recorded each and when.

Consent rows are append-only: a change adds a row, so the history of what the patient
said, how we know, and who wrote it down stays on record. Only the cells that really
change get a row, so saving a form with one ticked box does not re-record the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients import model
from app.patients.records import current_consents
from app.store.changes import Changes
from app.store.writer import utc_now

GRANTED, WITHDRAWN, UNKNOWN = "granted", "withdrawn", "unknown"

# Ready answers to "How did the patient tell us?"; the form also accepts free text.
COMMON_SOURCES = (
    "Told us at the desk",
    "Signed form",
    "By phone",
    "By email",
    "By text message",
    "By letter",
)


@dataclass(frozen=True)
class ConsentCell:
    """One box of the grid: the decision in force for a channel and purpose."""

    channel: str
    purpose: str
    state: str  # granted, withdrawn or unknown (never asked)
    source: str  # how we know, as recorded; '' when unknown
    recorded_at: str | None  # UTC ISO
    recorded_by: str  # the user's name; '' for imports and rows from before users


@dataclass(frozen=True)
class ConsentRecord:
    """One decision in the history, as it was recorded."""

    channel: str
    purpose: str
    granted: bool
    source: str
    recorded_at: str
    recorded_by: str  # the user's name, or ''


def consent_grid(clinic: Clinic, patient_id: str) -> list[ConsentCell]:
    """Every channel × purpose (model order), whether or not anything was ever recorded."""
    rows = clinic.conn.execute(
        "SELECT channel, purpose, granted, source, recorded_at, coalesce(u.name, '') FROM ("
        "  SELECT *, row_number() OVER ("
        "    PARTITION BY channel, purpose ORDER BY recorded_at DESC, rowid DESC) AS newest"
        "  FROM consent WHERE patient_id = ?"
        ") AS c LEFT JOIN app_user AS u ON u.id = c.recorded_by WHERE newest = 1",
        (patient_id,),
    ).fetchall()
    by_cell = {(r[0], r[1]): r for r in rows}
    cells: list[ConsentCell] = []
    for channel in model.CHANNELS:
        for purpose in model.PURPOSES:
            row = by_cell.get((channel, purpose))
            if row is None:
                cells.append(ConsentCell(channel, purpose, UNKNOWN, "", None, ""))
            else:
                state = GRANTED if row[2] else WITHDRAWN
                cells.append(ConsentCell(channel, purpose, state, row[3], row[4], row[5]))
    return cells


def consent_history(clinic: Clinic, patient_id: str) -> list[ConsentRecord]:
    """Every decision ever recorded, newest first."""
    rows = clinic.conn.execute(
        "SELECT c.channel, c.purpose, c.granted, c.source, c.recorded_at, coalesce(u.name, '') "
        "FROM consent AS c LEFT JOIN app_user AS u ON u.id = c.recorded_by "
        "WHERE c.patient_id = ? ORDER BY c.recorded_at DESC, c.rowid DESC",
        (patient_id,),
    ).fetchall()
    return [ConsentRecord(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows]


def set_consents(
    clinic: Clinic,
    patient_id: str,
    decisions: Iterable[tuple[str, str, bool]],
    source: str,
) -> Changes:
    """Record (channel, purpose, granted) decisions; one new row per cell that changes.

    A decision equal to the one in force is skipped, so nothing is written when nothing
    changed. `source` says how the patient told us and is required for any change.
    """
    wanted: dict[tuple[str, str], bool] = {}
    for channel, purpose, granted in decisions:
        if channel not in model.CHANNELS or purpose not in model.PURPOSES:
            raise InvalidInputError("That is not a channel and purpose the app knows.")
        wanted[(channel, purpose)] = bool(granted)
    source = " ".join(source.split())
    with clinic.store.write() as tx:
        # Compared inside the transaction, so two desks saving the same cell at once
        # still leave one row per real change.
        in_force = {(c.channel, c.purpose): c.granted for c in current_consents(clinic, patient_id)}
        changed = [
            (key, granted) for key, granted in wanted.items() if in_force.get(key) != granted
        ]
        if changed and not source:
            raise InvalidInputError("Say how the patient told us, such as 'Signed form'.")
        if (
            changed
            and tx.conn.execute("SELECT 1 FROM patient WHERE id = ?", (patient_id,)).fetchone()
            is None
        ):
            raise RecordNotFoundError("That patient is no longer on file.")
        now = utc_now()
        for (channel, purpose), granted in changed:
            tx.insert(
                "consent",
                {
                    "patient_id": patient_id,
                    "channel": channel,
                    "purpose": purpose,
                    "granted": 1 if granted else 0,
                    "source": source,
                    "recorded_at": now,
                    "recorded_by": clinic.acting_user_id,
                },
            )
    return tx.changes
