"""Batches of own changes: bounded in size, carrying the schema, refusing junk in words."""

from __future__ import annotations

import zlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.clinic import Clinic
from app.errors import EnvelopeError, SyncError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.store.hlc import Hlc
from app.store.migrations import latest_version
from app.sync import journal, payload
from app.sync.merge import ChangeRow

_rows = st.lists(
    st.builds(
        ChangeRow,
        hlc=st.builds(
            lambda w, c: Hlc(w, c).encode(), st.integers(0, 10**14), st.integers(0, 99_999)
        ),
        device_id=st.just("desk-a"),
        tbl=st.sampled_from(["patient", "contact_point"]),
        row_id=st.uuids().map(str),
        col=st.sampled_from(["*", "-", "family_name"]),
        value=st.none() | st.text(max_size=40).map(lambda t: orjson.dumps(t).decode()),
    ),
    max_size=30,
)


@given(_rows, st.integers(1, 99))
def test_a_payload_opens_to_the_same_changes_and_schema(rows: list[ChangeRow], schema: int) -> None:
    opened = payload.decode(payload.encode(schema, rows), "desk-a")
    assert opened.schema_version == schema
    assert list(opened.changes) == rows


def test_the_sender_named_by_the_envelope_is_the_device_of_every_change() -> None:
    row = ChangeRow(Hlc(5, 0).encode(), "desk-a", "patient", "p1", "family_name", '"Okafor"')
    opened = payload.decode(payload.encode(9, [row]), "desk-b")
    assert opened.changes[0].device_id == "desk-b"


@pytest.mark.parametrize(
    "data",
    [
        b"not compressed",
        zlib.compress(b"not json"),
        zlib.compress(orjson.dumps({"format": 1, "schema": 9, "changes": [["a", "b"]]})),
        zlib.compress(
            orjson.dumps(
                {"format": 1, "schema": 9, "changes": [["t", "r", "c", None, "yesterday"]]}
            )
        ),
        zlib.compress(orjson.dumps({"format": 1, "schema": "9", "changes": []})),
        zlib.compress(b"[" * 10 + b"]" * 10),
    ],
)
def test_a_damaged_payload_is_refused_in_words(data: bytes) -> None:
    with pytest.raises(EnvelopeError, match="refused"):
        payload.decode(data, "desk-a")


def test_a_payload_of_a_newer_format_asks_for_an_update() -> None:
    data = zlib.compress(orjson.dumps({"format": 2, "schema": 12, "changes": []}))
    with pytest.raises(EnvelopeError, match="newer Frontdesk"):
        payload.decode(data, "desk-a")


def test_a_payload_opening_to_more_than_the_limit_is_refused() -> None:
    bomb = zlib.compress(b" " * (payload.MAX_OPENED_BYTES + 1), 9)
    assert len(bomb) < 1 << 20
    with pytest.raises(EnvelopeError, match="damaged"):
        payload.decode(bomb, "desk-a")


def test_own_changes_travel_in_bounded_batches_that_cover_the_journal_once(clinic: Clinic) -> None:
    for n in range(40):
        create_patient(clinic, PatientDraft(f"Family{n}", "Given"))
    device = clinic.store.device_id
    own = clinic.conn.execute(
        "SELECT count(*) FROM change WHERE device_id = ?", (device,)
    ).fetchone()[0]
    after, seen, sizes = 0, 0, []
    while (
        batch := journal.next_batch(clinic.conn, device, after, latest_version(), max_bytes=600)
    ) is not None:
        assert batch.after_seq == after and batch.upto_seq > after
        opened = payload.decode(batch.payload, device)
        assert opened.schema_version == latest_version()
        seen += len(opened.changes)
        sizes.append(len(batch.payload))
        after = batch.upto_seq
    assert seen == own
    assert len(sizes) > 1 and max(sizes) <= 600


def test_a_single_change_too_large_for_any_batch_is_refused_in_words(clinic: Clinic) -> None:
    create_patient(clinic, PatientDraft("Okafor", "Ada"))
    with pytest.raises(SyncError, match="too large"):
        journal.next_batch(clinic.conn, clinic.store.device_id, 0, latest_version(), max_bytes=10)
