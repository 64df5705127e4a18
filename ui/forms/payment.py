"""Record a payment (Ctrl+P): amount, how it was paid, a receipt reference; shows the balance."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from app.billing.ledger import METHODS, balance, parse_amount, record_payment
from app.clinic import Clinic
from app.errors import InvalidInputError
from app.patients.records import get_patient
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import FieldError, FormDialog
from ui.patient.header import money

METHOD_LABELS = {
    "card": "Card",
    "cash": "Cash",
    "check": "Check",
    "transfer": "Bank transfer",
    "insurance": "Insurance",
    "other": "Other",
}


class PaymentDialog(FormDialog):
    def __init__(
        self, clinic: Clinic, bus: DataBus, patient_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(clinic, bus, "Record a payment", parent)
        self.patient_id = patient_id
        patient = get_patient(clinic, patient_id)
        self.setWindowTitle(f"Record a payment · {patient.display_name}")
        self.add_heading(f"Payment from {patient.display_name}")
        self.save_button.setText("Record payment")
        self.due_cents = balance(clinic, patient_id).due_cents

        self.balance_label = QLabel(_balance_words(self.due_cents))
        self.balance_label.setAccessibleName("Balance")
        self.add_field("Balance", self.balance_label, "balance")

        self.amount = QLineEdit()
        self.amount.setPlaceholderText("e.g. 45.50")
        if self.due_cents > 0:
            self.amount.setPlaceholderText(f"e.g. {self.due_cents / 100:.2f}")
        self.amount.textChanged.connect(self._update_hint)
        self.add_field("&Amount", self.amount, "amount")

        self.method = QComboBox()
        for value in METHODS:
            self.method.addItem(METHOD_LABELS.get(value, value.capitalize()), value)
        self.add_field("&Paid by", self.method, "method")

        self.reference = QLineEdit()
        self.reference.setPlaceholderText("Receipt or approval number (optional)")
        self.reference.setToolTip("Never type a full card number; it would be hidden anyway.")
        self.add_field("&Reference", self.reference, "reference")
        self.mark_clean()

    def _update_hint(self) -> None:
        """Paying more than is due is allowed (it leaves a credit) but worth a second look."""
        try:
            cents = parse_amount(self.amount.text())
        except InvalidInputError:
            self.set_hint("amount", "")
            return
        over = cents - max(self.due_cents, 0)
        if over > 0:
            self.set_hint(
                "amount",
                f"This is {money(over)} more than is due; the rest is kept as credit.",
            )
        else:
            self.set_hint("amount", "")

    def _save(self) -> Changes:
        try:
            cents = parse_amount(self.amount.text())
        except InvalidInputError as exc:
            message = "Type the amount paid." if not self.amount.text().strip() else str(exc)
            raise FieldError("amount", message) from exc
        method = str(self.method.currentData())
        recorded = record_payment(
            self.clinic, self.patient_id, cents, method, self.reference.text()
        )
        return recorded.changes


def _balance_words(due_cents: int) -> str:
    if due_cents > 0:
        return f"{money(due_cents)} due"
    if due_cents < 0:
        return f"{money(-due_cents)} in credit"
    return "Nothing due"
