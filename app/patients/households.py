"""Households: a family under one guarantor, who receives the bills."""

from __future__ import annotations

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.store.changes import Changes, Created
from app.store.writer import utc_now

ROLES = ("guarantor", "spouse", "child", "other")


def create_household(clinic: Clinic, name: str, guarantor_id: str) -> Created:
    if not name.strip():
        raise InvalidInputError("A household needs a name, such as the family name.")
    with clinic.store.write() as tx:
        household_id = tx.insert(
            "household",
            {"name": name.strip(), "guarantor_patient_id": guarantor_id, "created_at": utc_now()},
        )
        tx.update(
            "patient", guarantor_id, {"household_id": household_id, "household_role": "guarantor"}
        )
    return Created(household_id, tx.changes)


def add_member(clinic: Clinic, household_id: str, patient_id: str, role: str) -> Changes:
    if role not in ROLES:
        raise InvalidInputError(f"Unknown household role; use one of {', '.join(ROLES)}.")
    with clinic.store.write() as tx:
        tx.update("patient", patient_id, {"household_id": household_id, "household_role": role})
    return tx.changes


def members(clinic: Clinic, household_id: str) -> list[tuple[str, str]]:
    """(patient id, role) of everyone in the household, guarantor first."""
    rows = clinic.conn.execute(
        "SELECT id, household_role FROM patient WHERE household_id = ? "
        "ORDER BY household_role != 'guarantor', birth_date",
        (household_id,),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
