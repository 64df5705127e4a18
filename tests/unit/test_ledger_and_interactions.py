"""Charges, payments and logged contacts: amounts in cents, card numbers never stored."""

from __future__ import annotations

import pytest

from app.billing import ledger
from app.clinic import Clinic
from app.errors import InvalidInputError
from app.interactions.log import log_interaction
from app.patients import records
from app.patients.model import PatientDraft

VISA = "4111 1111 1111 1111"
VISA_DASHED = "4111-1111-1111-1111"
AMEX = "378282246310005"


@pytest.fixture
def patient(clinic: Clinic) -> str:
    return records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id


def stored(clinic: Clinic, table: str, column: str, row_id: str) -> str:
    row = clinic.conn.execute(f"SELECT {column} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return str(row[0])


def journalled(clinic: Clinic, row_id: str) -> str:
    rows = clinic.conn.execute("SELECT value FROM change WHERE row_id = ?", (row_id,))
    return " ".join(str(r[0]) for r in rows)


# --- amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("$1,045.50", 104550),
        ("45", 4500),
        ("45.5", 4550),
        ("0.01", 1),
        (" 12.30 ", 1230),
        ("€7", 700),
        ("1045.500", 104550),
    ],
)
def test_amount_typed_with_symbols_and_separators_becomes_cents(typed: str, cents: int) -> None:
    assert ledger.parse_amount(typed) == cents


@pytest.mark.parametrize(
    "typed", ["1.005", "-3", "0", "0.00", "abc", "", "$", "12,3.4.5", "NaN", "Infinity", "sNaN"]
)
def test_amount_that_is_not_whole_cents_above_zero_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        ledger.parse_amount(typed)

    assert str(raised.value)


def test_amount_too_large_to_store_is_refused() -> None:
    # A held-down key: twenty nines. SQLite integers stop at 2**63 - 1 cents, so this
    # can never be posted and must be refused here with a readable message.
    with pytest.raises(InvalidInputError):
        ledger.parse_amount("9" * 20)


def test_balance_is_charges_minus_payments_in_cents(clinic: Clinic, patient: str) -> None:
    ledger.post_charge(clinic, patient, ledger.parse_amount("120.00"), "Office visit")
    ledger.post_charge(clinic, patient, ledger.parse_amount("$45.50"), "Flu shot")
    ledger.record_payment(clinic, patient, ledger.parse_amount("100"), "card", "AUTH 0042")

    balance = ledger.balance(clinic, patient)

    assert (balance.charged_cents, balance.paid_cents, balance.due_cents) == (16550, 10000, 6550)


def test_balance_counts_only_this_patient(clinic: Clinic, patient: str) -> None:
    other = records.create_patient(clinic, PatientDraft("Lindqvist")).id
    ledger.post_charge(clinic, other, 5000, "Office visit")
    ledger.record_payment(clinic, other, 1000, "cash")

    balance = ledger.balance(clinic, patient)

    assert (balance.charged_cents, balance.paid_cents, balance.due_cents) == (0, 0, 0)


def test_overpayment_leaves_a_credit(clinic: Clinic, patient: str) -> None:
    ledger.post_charge(clinic, patient, 2500, "Copay")
    ledger.record_payment(clinic, patient, 4000, "cash")

    assert ledger.balance(clinic, patient).due_cents == -1500


@pytest.mark.parametrize("cents", [0, -100])
def test_charge_or_payment_of_zero_or_less_is_refused(
    clinic: Clinic, patient: str, cents: int
) -> None:
    with pytest.raises(InvalidInputError):
        ledger.post_charge(clinic, patient, cents, "Nothing")
    with pytest.raises(InvalidInputError):
        ledger.record_payment(clinic, patient, cents, "cash")

    assert ledger.balance(clinic, patient) == ledger.Balance(0, 0)


def test_unknown_payment_method_is_refused(clinic: Clinic, patient: str) -> None:
    with pytest.raises(InvalidInputError):
        ledger.record_payment(clinic, patient, 1000, "bitcoin")

    assert ledger.balance(clinic, patient).paid_cents == 0


# --- card numbers never reach the database -------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (VISA, "•••• •••• •••• 1111"),
        (VISA_DASHED, "••••-••••-••••-1111"),
        (f"card {AMEX} auth 7781", "card •••••••••••0005 auth 7781"),
    ],
)
def test_card_number_in_a_payment_reference_is_masked_before_storage(
    clinic: Clinic, patient: str, reference: str, expected: str
) -> None:
    payment = ledger.record_payment(clinic, patient, 4500, "card", reference).id

    assert stored(clinic, "payment", "reference", payment) == expected
    assert reference not in journalled(clinic, payment)


def test_card_number_in_a_note_body_and_subject_is_masked_before_storage(
    clinic: Clinic, patient: str
) -> None:
    note = log_interaction(
        clinic,
        patient,
        "call",
        direction="in",
        subject=f"Paid with {VISA_DASHED}",
        body=f"Patient read out {VISA} exp 12/27, please charge the copay.",
    ).id

    body = stored(clinic, "interaction", "body", note)
    subject = stored(clinic, "interaction", "subject", note)
    assert body == "Patient read out •••• •••• •••• 1111 exp 12/27, please charge the copay."
    assert subject == "Paid with ••••-••••-••••-1111"
    assert VISA not in journalled(clinic, note)
    assert VISA_DASHED not in journalled(clinic, note)


def test_card_number_in_a_charge_description_is_masked(clinic: Clinic, patient: str) -> None:
    charge = ledger.post_charge(clinic, patient, 4500, f"Copay, card {VISA}").id

    assert stored(clinic, "charge", "description", charge) == "Copay, card •••• •••• •••• 1111"


@pytest.mark.parametrize(
    "body",
    [
        "Call back on +1 612 555 0142 after 3pm.",
        "Call back on (612) 555-0142 after 3pm.",
        "Receipt R123456, invoice 2024-0042.",
        "Reference 4111 1111 1111 1112 does not pass the card check.",
    ],
)
def test_phone_numbers_and_references_in_a_note_are_kept_as_typed(
    clinic: Clinic, patient: str, body: str
) -> None:
    note = log_interaction(clinic, patient, "note", body=body).id

    assert stored(clinic, "interaction", "body", note) == body


def test_logged_interaction_is_stored_trimmed_with_its_details(
    clinic: Clinic, patient: str
) -> None:
    note = log_interaction(
        clinic,
        patient,
        "sms",
        direction="out",
        outcome=" delivered ",
        subject="  Reminder ",
        body=" See you Tuesday ",
        occurred_at="2025-01-02T09:00:00Z",
    )

    row = clinic.conn.execute(
        "SELECT patient_id, kind, direction, outcome, subject, body, occurred_at "
        "FROM interaction WHERE id = ?",
        (note.id,),
    ).fetchone()
    assert row == (
        patient,
        "sms",
        "out",
        "delivered",
        "Reminder",
        "See you Tuesday",
        "2025-01-02T09:00:00Z",
    )
    assert note.changes.tables == frozenset({"interaction"})
    assert note.changes.patient_ids == frozenset({patient})


@pytest.mark.parametrize(("kind", "direction"), [("fax", "in"), ("call", "sideways")])
def test_unknown_kind_or_direction_is_refused(
    clinic: Clinic, patient: str, kind: str, direction: str
) -> None:
    with pytest.raises(InvalidInputError):
        log_interaction(clinic, patient, kind, direction=direction)

    assert clinic.conn.execute("SELECT count(*) FROM interaction").fetchone()[0] == 0


def test_appointment_details_change_without_touching_time_or_state(clinic: Clinic) -> None:
    from datetime import UTC, datetime, timedelta

    from app.directory import add_provider
    from app.scheduling import appointments

    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    start = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
    booked = appointments.book(clinic, patient, start, start + timedelta(minutes=20), kind="x")
    provider = add_provider(clinic, "Novak", "Eva", title="Dr.").id
    appointments.update_details(
        clinic,
        booked.id,
        provider_id=provider,
        location_id=None,
        kind="checkup",
        reason="Card 4111 1111 1111 1111",
    )
    after = appointments.get(clinic, booked.id)
    assert (after.provider_id, after.kind, after.status) == (provider, "checkup", "booked")
    assert after.start_at == "2027-01-05T15:00:00Z"
    assert "4111 1111 1111 1111" not in after.reason
    appointments.set_status(clinic, booked.id, "cancelled")
    with pytest.raises(InvalidInputError):
        appointments.update_details(
            clinic, booked.id, provider_id=None, location_id=None, kind="", reason=""
        )
