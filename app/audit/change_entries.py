"""One "change" audit entry per write transaction, written inside it (same commit or rollback)."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from app.audit.actions import CHANGE, SYNC_RECEIVED
from app.audit.log import record, restore_anchor
from app.store.writer import RemoteTx, Tx

if TYPE_CHECKING:
    from app.clinic import Clinic

# A bulk import touches thousands of patients in one transaction: the entry keeps the
# count and the first few ids (ids are not patient data, but entries stay small).
MAX_PATIENT_IDS = 20


def audit_every_change(clinic: Clinic) -> None:
    """Make every write through `clinic.store.write()` leave one entry: which tables and
    how many rows, and the patient when it touched exactly one. Values are never copied
    (the change journal keeps those, under the same encryption)."""

    def entry(tx: Tx) -> None:
        if not tx.rows_by_table:
            return  # a save without edits leaves no trace
        patients = tx.changes.patient_ids
        detail: dict[str, object] = {"tables": dict(sorted(tx.rows_by_table.items()))}
        patient_id = ""
        if len(patients) == 1:
            (patient_id,) = patients
        elif patients:
            detail["patients"] = len(patients)
            # Any few (sorting 100,000 ids would cost more than the entry is worth).
            detail["patient_ids"] = sorted(islice(patients, MAX_PATIENT_IDS))
        if isinstance(tx, RemoteTx):
            # Made elsewhere: the entry names the workstations (device ids) and no
            # person of this desk, whoever happens to be signed in while sync runs.
            detail["from_devices"] = sorted(tx.from_devices)
            record(clinic, SYNC_RECEIVED, patient_id=patient_id, detail=detail, user_id="")
            return
        record(clinic, CHANGE, patient_id=patient_id, detail=detail)

    clinic.store.before_commit.append(entry)

    def put_head_back() -> None:
        restore_anchor(clinic)

    clinic.store.after_rollback.append(put_head_back)
