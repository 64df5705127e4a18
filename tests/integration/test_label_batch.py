"""Mailing labels for queued letters on a real clinic: each label carries the address the
letter prints with, in the order chosen; a letter that cannot print gets no label and says
why; the first label lands on the chosen start position (read back from the PDF with
pypdf and found inside that label's rectangle on the sheet); the sheet follows the envelope
setting; and printing labels leaves the messages as they were."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.letters import label_batch, queue
from app.letters.label_batch import build_label_sheet, default_sheet, label_addresses
from app.letters.labels import SHEETS
from app.letters.settings import update_settings
from app.patients.model import AddressDraft, PatientDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.reminders.rules import Rule, Touch, save_rule
from tests.support.outbox_rows import make_message

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
BODY = "Dear patient,\n\nIt is time for your check-up. Please call us to book."


def recall_rule(clinic: Clinic) -> str:
    touch = Touch(days=0, at=time(10, 0), channels=("letter",))
    made = Rule(id="", kind="recall", name="Recall letters", touches=(touch,), channels=("letter",))
    return save_rule(clinic, made).id


def patient(clinic: Clinic, given: str, family: str, street: str) -> str:
    address = AddressDraft(
        line1=street, city="Springfield", region="IL", postal_code="62701", country="US"
    )
    draft = PatientDraft(family_name=family, given_names=given, addresses=(address,))
    return create_patient(clinic, draft).id


def letter(clinic: Clinic, patient_id: str, rule_id: str, hours_ago: int, state: str) -> str:
    return make_message(
        clinic,
        patient_id,
        rule_id,
        state,
        due_at=NOW - timedelta(hours=hours_ago),
        sent_at=NOW if state == "sent" else None,
        channel="letter",
        recipient="(the one-line address the sender chose)",
        subject="Time for your check-up",
        body=BODY,
        subject_kind="recall",
    )


@pytest.fixture
def three(clinic: Clinic) -> dict[str, str]:
    """Three recall letters waiting, oldest first: Ada's, Ben's, Cy's."""
    rule_id = recall_rule(clinic)
    people = {
        "ada": patient(clinic, "Ada", "Okafor", "12 Elm Street"),
        "ben": patient(clinic, "Ben", "Novak", "7 Oak Avenue"),
        "cy": patient(clinic, "Cy", "Lindqvist", "301 Pine Road"),
    }
    return {
        name: letter(clinic, pid, rule_id, 9 - n, "to_print")
        for n, (name, pid) in enumerate(people.items())
    }


def remove_address(clinic: Clinic, message_id: str) -> None:
    patient_id = outbox.get_message(clinic, message_id).patient_id
    (address_id,) = clinic.conn.execute(
        "SELECT id FROM address WHERE patient_id = ?", (patient_id,)
    ).fetchone()
    with clinic.store.write() as tx:
        tx.delete("address", address_id)


def runs_of(page: Any) -> list[tuple[str, float, float]]:
    """(text, x, baseline) of every text run on a page."""
    runs: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, _size: float) -> None:
        if text.strip():
            runs.append((text.strip(), tm[4] + cm[4], tm[5] + cm[5]))

    page.extract_text(visitor_text=visit)
    return runs


def position_of(run: tuple[str, float, float], sheet: str) -> int | None:
    spec = SHEETS[sheet]
    _text, x, baseline = run
    for position in range(1, spec.per_sheet + 1):
        r = spec.label_rect(position)
        if r.x <= x <= r.right and r.y <= baseline <= r.top:
            return position
    return None


# --- addresses ------------------------------------------------------------------------------


def test_labels_carry_the_letters_addresses_in_the_order_chosen(
    clinic: Clinic, three: dict[str, str]
) -> None:
    chosen = [three["cy"], three["ada"]]

    found = label_addresses(clinic, chosen)

    assert found.message_ids == chosen
    assert found.left_out == []
    # the very lines the queue prints in the letters' windows
    batch = queue.prepare(clinic, chosen)
    assert found.lines == [list(made.recipient_lines) for made in batch.inputs]
    assert found.lines[0] == ["Cy Lindqvist", "301 Pine Road", "Springfield IL 62701"]


def test_a_letter_whose_patient_lost_the_address_gets_no_label_and_says_why(
    clinic: Clinic, three: dict[str, str]
) -> None:
    remove_address(clinic, three["ben"])
    chosen = [three["ada"], three["ben"], three["cy"]]

    found = label_addresses(clinic, chosen)

    assert found.message_ids == [three["ada"], three["cy"]]
    assert found.left_out == [(three["ben"], queue.NO_ADDRESS)]
    out = io.BytesIO()
    made = build_label_sheet(clinic, chosen, out, sheet="5160")
    assert (made.pages, made.labels) == (1, 2)
    assert made.left_out == [(three["ben"], queue.NO_ADDRESS)]
    text = PdfReader(io.BytesIO(out.getvalue())).pages[0].extract_text()
    assert "Ada Okafor" in text and "Cy Lindqvist" in text and "Novak" not in text


def test_a_cancelled_letter_gets_no_label(clinic: Clinic, three: dict[str, str]) -> None:
    with clinic.store.write() as tx:
        outbox.transition(
            tx,
            three["ada"],
            "cancelled",
            "Cancelled at the desk",
            expect=("to_print",),
            device_id=clinic.store.device_id,
        )

    found = label_addresses(clinic, [three["ada"], three["cy"]])

    assert found.message_ids == [three["cy"]]
    assert found.left_out == [(three["ada"], label_batch.GONE)]


def test_when_no_letter_can_have_a_label_the_sheet_is_refused_with_the_reason(
    clinic: Clinic, three: dict[str, str]
) -> None:
    remove_address(clinic, three["ben"])
    with pytest.raises(InvalidInputError, match="No postal address"):
        build_label_sheet(clinic, [three["ben"]], io.BytesIO(), sheet="5160")
    with pytest.raises(InvalidInputError, match="Choose at least one"):
        label_addresses(clinic, [])


def test_printed_letters_can_have_labels_too(clinic: Clinic) -> None:
    rule_id = recall_rule(clinic)
    ada = patient(clinic, "Ada", "Okafor", "12 Elm Street")
    printed = letter(clinic, ada, rule_id, 30, "sent")

    found = label_addresses(clinic, [printed])

    assert found.lines == [["Ada Okafor", "12 Elm Street", "Springfield IL 62701"]]


# --- the sheet ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sheet", "start"), [("5160", 1), ("5160", 17), ("l7163", 9)])
def test_the_first_label_prints_at_the_start_position(
    clinic: Clinic, three: dict[str, str], sheet: str, start: int
) -> None:
    chosen = [three["ada"], three["ben"], three["cy"]]
    out = io.BytesIO()

    made = build_label_sheet(clinic, chosen, out, sheet=sheet, start=start)

    assert (made.pages, made.labels, made.sheet, made.start) == (1, 3, sheet, start)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    width, height = SHEETS[sheet].page_size
    assert float(reader.pages[0].mediabox.width) == pytest.approx(width, abs=0.5)
    assert float(reader.pages[0].mediabox.height) == pytest.approx(height, abs=0.5)
    where = {run[0]: position_of(run, sheet) for run in runs_of(reader.pages[0])}
    assert where["Ada Okafor"] == start
    assert where["Ben Novak"] == start + 1
    assert where["Cy Lindqvist"] == start + 2
    # the positions before the start stay blank: the part-used sheet's gaps are not printed on
    assert min(p for p in where.values() if p is not None) == start


def test_a_start_near_the_end_runs_onto_a_second_sheet(
    clinic: Clinic, three: dict[str, str]
) -> None:
    out = io.BytesIO()
    made = build_label_sheet(clinic, list(three.values()), out, sheet="l7163", start=14)

    assert made.pages == 2
    reader = PdfReader(io.BytesIO(out.getvalue()))
    first = {run[0]: position_of(run, "l7163") for run in runs_of(reader.pages[0])}
    second = {run[0]: position_of(run, "l7163") for run in runs_of(reader.pages[1])}
    assert first["Ada Okafor"] == 14
    assert (second["Ben Novak"], second["Cy Lindqvist"]) == (1, 2)


def test_a_start_off_the_sheet_is_refused(clinic: Clinic, three: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError, match="between 1 and 14"):
        build_label_sheet(clinic, [three["ada"]], io.BytesIO(), sheet="l7163", start=15)


def test_the_sheet_follows_the_envelope_setting(clinic: Clinic, three: dict[str, str]) -> None:
    assert default_sheet(clinic) == "5160"  # US #10 by default
    update_settings(clinic, envelope="din_b")
    assert default_sheet(clinic) == "l7163"

    out = io.BytesIO()
    made = build_label_sheet(clinic, [three["ada"]], out)

    assert made.sheet == "l7163"
    page = PdfReader(io.BytesIO(out.getvalue())).pages[0]
    assert float(page.mediabox.height) == pytest.approx(SHEETS["l7163"].page_size[1], abs=0.5)


def test_labels_change_nothing_and_their_pdf_names_no_patient(
    clinic: Clinic, three: dict[str, str]
) -> None:
    before = {m: outbox.get_message(clinic, m).state for m in three.values()}
    out = io.BytesIO()

    build_label_sheet(clinic, list(three.values()), out, sheet="5160", outlines=True)

    assert {m: outbox.get_message(clinic, m).state for m in three.values()} == before
    assert [g.title for g in queue.waiting(clinic)] == ["Letters — Recall (3)"]
    metadata = PdfReader(io.BytesIO(out.getvalue())).metadata or {}
    words = " ".join(str(v) for v in metadata.values())
    for name in ("Ada", "Okafor", "Novak", "Lindqvist", "Elm", "62701"):
        assert name not in words


def test_an_address_too_long_for_a_label_is_left_out_with_the_reason(
    clinic: Clinic, three: dict[str, str]
) -> None:
    # fits the wider envelope window, but wraps to more lines than a 1-inch label holds
    rule_id = recall_rule(clinic)
    long = AddressDraft(
        line1="Flat 12, Building C, The Old Mill Cottages, Lower Riverside Walk East, "
        "Behind the Community Hall and the Parish Church of Saint Bartholomew",
        line2="Care of the Administrative Office of the Springfield Trust",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="US",
    )
    draft = PatientDraft(
        family_name="Featherstonehaugh Montgomery",
        given_names="Maximiliana Konstantina Alexandrovna",
        addresses=(long,),
    )
    wordy = letter(clinic, create_patient(clinic, draft).id, rule_id, 1, "to_print")
    assert label_addresses(clinic, [wordy]).message_ids == [wordy]  # the letter prints

    made = build_label_sheet(clinic, [three["ada"], wordy], io.BytesIO(), sheet="5160")

    assert made.labels == 1
    assert made.left_out == [(wordy, label_batch.TOO_LONG)]
