"""Follow-up tasks: 'call Mrs Diaz back on Tuesday'. They show on Today until done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.interactions.log import log_interaction
from app.patients.validation import mask_card_numbers
from app.store.changes import Changes, Created
from app.store.writer import utc_now

KINDS = ("call-back", "follow-up")


@dataclass(frozen=True)
class Task:
    id: str
    patient_id: str
    kind: str
    due_on: str  # clinic-local ISO date
    note: str
    created_at: str
    created_by: str
    interaction_id: str | None
    done_at: str | None


_COLUMNS = "id, patient_id, kind, due_on, note, created_at, created_by, interaction_id, done_at"


def _task(row: tuple[object, ...]) -> Task:
    return Task(*row)  # type: ignore[arg-type]


def add_task(
    clinic: Clinic,
    patient_id: str,
    due_on: date,
    *,
    kind: str = "call-back",
    note: str = "",
    interaction_id: str | None = None,
    today: date | None = None,
) -> Created:
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown kind of task; use one of {', '.join(KINDS)}.")
    if today is not None and due_on < today:
        raise InvalidInputError("A follow-up date cannot be in the past.")
    return clinic.store.create(
        "task",
        {
            "patient_id": patient_id,
            "kind": kind,
            "due_on": due_on.isoformat(),
            "note": mask_card_numbers(note.strip()),
            "created_at": utc_now(),
            "created_by": clinic.acting_user_id,
            "interaction_id": interaction_id,
            "done_at": None,
            "done_by": "",
        },
    )


def get_task(clinic: Clinic, task_id: str) -> Task:
    row = clinic.conn.execute(
        f"SELECT {_COLUMNS} FROM task WHERE id = ?",  # noqa: S608 - constant list
        (task_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That task is no longer on file.")
    return _task(row)


def open_tasks(clinic: Clinic, due_by: date, patient_id: str | None = None) -> list[Task]:
    """Tasks not done and due on or before `due_by`, oldest due first."""
    sql = f"SELECT {_COLUMNS} FROM task WHERE done_at IS NULL AND due_on <= ?"  # noqa: S608
    params: list[object] = [due_by.isoformat()]
    if patient_id is not None:
        sql += " AND patient_id = ?"
        params.append(patient_id)
    rows = clinic.conn.execute(sql + " ORDER BY due_on, created_at", params).fetchall()
    return [_task(r) for r in rows]


def complete_task(clinic: Clinic, task_id: str) -> Changes:
    task = get_task(clinic, task_id)
    if task.done_at is not None:
        return Changes()
    with clinic.store.write() as tx:
        tx.update("task", task_id, {"done_at": utc_now(), "done_by": clinic.acting_user_id})
    return tx.changes


def complete_with_call(clinic: Clinic, task_id: str, outcome: str, note: str = "") -> Changes:
    """Marking a call done on Today logs the call on the patient's timeline too."""
    task = get_task(clinic, task_id)
    logged = log_interaction(
        clinic,
        task.patient_id,
        "call",
        direction="out",
        outcome=outcome,
        subject=task.note or "Follow-up call",
        body=note,
    )
    return logged.changes | complete_task(clinic, task_id)
