"""Charges and payments. Amounts are integer cents; card numbers are never stored."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients.validation import mask_card_numbers
from app.store.changes import Created
from app.store.writer import utc_now

# A million per single charge or payment is far beyond a small clinic's needs; a
# larger figure is a typing slip (and 64-bit cents must never overflow).
MAX_AMOUNT = Decimal(1_000_000)
METHODS = ("card", "cash", "check", "transfer", "insurance", "other")


@dataclass(frozen=True)
class Balance:
    charged_cents: int
    paid_cents: int

    @property
    def due_cents(self) -> int:
        return self.charged_cents - self.paid_cents


def parse_amount(text: str) -> int:
    """'45', '45.5', '$1,045.50' → cents; refuses fractions of a cent and negatives."""
    cleaned = text.strip().replace(",", "").lstrip("$€£").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInputError("The amount is not a number.") from None
    if not value.is_finite():  # Decimal reads "NaN" and "Infinity" as numbers
        raise InvalidInputError("The amount is not a number.")
    if value <= 0:
        raise InvalidInputError("The amount must be more than zero.")
    if value > MAX_AMOUNT:
        raise InvalidInputError("The amount is too large; check the digits.")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise InvalidInputError("The amount has more than two decimals.")
    return int(cents)


def post_charge(
    clinic: Clinic,
    patient_id: str,
    amount_cents: int,
    description: str,
    *,
    posted_at: str | None = None,
    appointment_id: str | None = None,
) -> Created:
    if amount_cents <= 0:
        raise InvalidInputError("A charge must be more than zero.")
    return clinic.store.create(
        "charge",
        {
            "patient_id": patient_id,
            "amount_cents": amount_cents,
            "description": mask_card_numbers(description.strip()),
            "posted_at": posted_at or utc_now(),
            "appointment_id": appointment_id,
        },
    )


def record_payment(
    clinic: Clinic,
    patient_id: str,
    amount_cents: int,
    method: str,
    reference: str = "",
    *,
    received_at: str | None = None,
) -> Created:
    """The reference is a receipt or authorisation number; a card number typed there is masked."""
    if amount_cents <= 0:
        raise InvalidInputError("A payment must be more than zero.")
    if method not in METHODS:
        raise InvalidInputError(f"Unknown payment method; use one of {', '.join(METHODS)}.")
    return clinic.store.create(
        "payment",
        {
            "patient_id": patient_id,
            "amount_cents": amount_cents,
            "method": method,
            "reference": mask_card_numbers(reference.strip()),
            "received_at": received_at or utc_now(),
        },
    )


def balance(clinic: Clinic, patient_id: str) -> Balance:
    charged = clinic.conn.execute(
        "SELECT coalesce(sum(amount_cents), 0) FROM charge WHERE patient_id = ?", (patient_id,)
    ).fetchone()[0]
    paid = clinic.conn.execute(
        "SELECT coalesce(sum(amount_cents), 0) FROM payment WHERE patient_id = ?", (patient_id,)
    ).fetchone()[0]
    return Balance(int(charged), int(paid))
