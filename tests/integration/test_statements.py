"""Statements add up to the ledger, and print as a table that splits across pages."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.billing import ledger
from app.clinic import Clinic
from app.errors import InvalidInputError
from app.letters.envelopes import ENVELOPES
from app.letters.settings import LetterSettings
from app.letters.statements import (
    Statement,
    StatementInput,
    build_statements,
    statement_lines,
)
from app.patients import records
from app.patients.model import PatientDraft
from app.reminders import wording
from tests.unit.test_labels import page_runs, render_first_page

ADDRESS = ["Ada Okafor", "12 Elm St Apt 3", "Springfield IL 62701"]


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id


def statement_pdf(
    clinic: Clinic, statement: Statement, *, envelope: str = "us10", language: str = "en"
) -> bytes:
    out = io.BytesIO()
    item = StatementInput(ADDRESS, "March 10, 2026", statement, language=language)
    build_statements([item], LetterSettings(envelope=envelope), clinic.settings, out)
    return out.getvalue()


def test_rows_run_oldest_first_with_a_running_balance_equal_to_the_ledger(
    clinic: Clinic, ada: str
) -> None:
    ledger.post_charge(clinic, ada, 12000, "Office visit", posted_at="2026-01-05T15:00:00Z")
    ledger.record_payment(clinic, ada, 5000, "card", received_at="2026-01-05T15:30:00Z")
    ledger.post_charge(clinic, ada, 4550, "Lab work", posted_at="2026-02-10T16:00:00Z")
    ledger.record_payment(clinic, ada, 2000, "cash", received_at="2026-03-01T17:00:00Z")

    st = statement_lines(clinic, ada)

    assert [(r.kind, r.amount_cents) for r in st.rows] == [
        ("charge", 12000),
        ("payment", 5000),
        ("charge", 4550),
        ("payment", 2000),
    ]
    assert [r.balance_cents for r in st.rows] == [12000, 7000, 11550, 9550]
    assert st.balance_cents == ledger.balance(clinic, ada).due_cents == 9550
    assert st.rows[0].day == date(2026, 1, 5)  # 15:00 UTC is 9:00 in Chicago


def test_payments_settle_the_oldest_charges_first(clinic: Clinic, ada: str) -> None:
    ledger.post_charge(clinic, ada, 10000, "Visit", posted_at="2026-01-05T15:00:00Z")
    ledger.post_charge(clinic, ada, 3000, "X-ray", posted_at="2026-01-20T15:00:00Z")
    ledger.post_charge(clinic, ada, 2500, "Lab", posted_at="2026-02-02T15:00:00Z")
    ledger.record_payment(clinic, ada, 11000, "check", received_at="2026-02-15T15:00:00Z")

    st = statement_lines(clinic, ada)

    assert [(c.description, c.open_cents) for c in st.open_charges] == [
        ("X-ray", 2000),
        ("Lab", 2500),
    ]
    assert sum(c.open_cents for c in st.open_charges) == st.balance_cents


def test_a_charge_and_payment_at_the_same_moment_show_the_charge_first(
    clinic: Clinic, ada: str
) -> None:
    ledger.record_payment(clinic, ada, 4000, "card", received_at="2026-01-05T15:00:00Z")
    ledger.post_charge(clinic, ada, 4000, "Visit", posted_at="2026-01-05T15:00:00Z")

    st = statement_lines(clinic, ada)

    assert [r.kind for r in st.rows] == ["charge", "payment"]
    assert [r.balance_cents for r in st.rows] == [4000, 0]


def test_demo_patients_statements_equal_the_ledger(demo_clinic: Clinic) -> None:
    ids = [
        row[0]
        for row in demo_clinic.conn.execute(
            "SELECT c.patient_id FROM charge c JOIN payment p ON p.patient_id = c.patient_id "
            "GROUP BY c.patient_id ORDER BY c.patient_id LIMIT 25"
        )
    ]
    assert ids, "the demo clinic has patients with charges and payments"

    for pid in ids:
        st = statement_lines(demo_clinic, pid)
        due = ledger.balance(demo_clinic, pid).due_cents
        assert st.balance_cents == due
        assert st.rows[-1].balance_cents == due
        assert st.charged_cents - st.paid_cents == due
        assert sum(c.open_cents for c in st.open_charges) == max(due, 0)


def test_printed_table_reads_back_with_the_balance_due_in_bold(clinic: Clinic, ada: str) -> None:
    ledger.post_charge(clinic, ada, 12000, "Office visit", posted_at="2026-01-05T15:00:00Z")
    ledger.record_payment(clinic, ada, 5000, "card", received_at="2026-01-06T15:00:00Z")
    st = statement_lines(clinic, ada)

    pdf = statement_pdf(clinic, st)

    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert len(reader.pages) == 1
    for expected in (
        "Statement of account",
        "Date",
        "Description",
        "Charge",
        "Payment",
        "Balance",
        "01/05/2026",
        "Office visit",
        "$120.00",
        "Payment (card)",
        "$50.00",
        "How to pay",
        wording.pay_instructions("en", online=False),
    ):
        assert expected in text, expected
    runs = page_runs(reader.pages[0])
    due = [r for r in runs if r.text.startswith("Balance due")]
    assert due and due[0].bold
    assert "$70.00" in due[0].text or any(r.text == "$70.00" and r.bold for r in runs)


def test_many_rows_split_across_pages_with_the_header_repeated_and_page_numbers(
    clinic: Clinic, ada: str
) -> None:
    for month in range(1, 13):
        for day in (3, 10, 17, 24):
            ledger.post_charge(
                clinic,
                ada,
                2500,
                f"Visit {month}-{day}",
                posted_at=f"2025-{month:02d}-{day:02d}T15:00:00Z",
            )
            ledger.record_payment(
                clinic, ada, 2000, "card", received_at=f"2025-{month:02d}-{day:02d}T16:00:00Z"
            )
    st = statement_lines(clinic, ada)

    reader = PdfReader(io.BytesIO(statement_pdf(clinic, st)))

    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= 3
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text
        if "Visit " in text:  # a page with rows has the header too
            assert re.search(r"Date\s*Description\s*Charge\s*Payment\s*Balance", text), n
    assert "Ada Okafor" in pages[1]  # the continuation header names the recipient
    assert "Balance due: $240.00" in pages[-1]
    joined = "\n".join(pages)
    assert joined.count("Visit ") == 48  # every charge once, none lost at a page break
    assert joined.count("Payment (card)") == 48


def test_the_address_prints_inside_the_window_of_the_chosen_envelope(
    clinic: Clinic, ada: str
) -> None:
    ledger.post_charge(clinic, ada, 12000, "Office visit", posted_at="2026-01-05T15:00:00Z")
    st = statement_lines(clinic, ada)
    for key in ("us10", "din_a"):
        box = ENVELOPES[key].address_box

        runs = page_runs(PdfReader(io.BytesIO(statement_pdf(clinic, st, envelope=key))).pages[0])

        lines = [r for r in runs if r.text in ADDRESS]
        assert [r.text for r in lines] == ADDRESS
        for r in lines:
            assert box.x - 0.01 <= r.x and r.x + r.width <= box.right + 0.01
            assert box.y - 0.01 <= r.baseline - 0.24 * r.size
            assert r.baseline + 0.76 * r.size <= box.top + 0.01


def test_statements_in_spanish_use_spanish_words(clinic: Clinic, ada: str) -> None:
    ledger.post_charge(clinic, ada, 12000, "Consulta", posted_at="2026-01-05T15:00:00Z")
    text = PdfReader(io.BytesIO(statement_pdf(clinic, statement_lines(clinic, ada), language="es")))
    page = text.pages[0].extract_text()

    assert "Estado de cuenta" in page and "Saldo pendiente: $120.00" in page
    assert wording.pay_instructions("es", online=False) in page


def test_several_statements_each_start_on_a_new_page_and_on_odd_pages_with_blank_backs(
    clinic: Clinic, ada: str
) -> None:
    ledger.post_charge(clinic, ada, 12000, "Office visit", posted_at="2026-01-05T15:00:00Z")
    st = statement_lines(clinic, ada)
    items = [StatementInput(ADDRESS, "March 10, 2026", st) for _ in range(3)]

    plain = build_statements(items, LetterSettings(), clinic.settings, io.BytesIO())
    duplex = build_statements(
        items, LetterSettings(blank_backs=True), clinic.settings, io.BytesIO()
    )

    assert (plain.pages, plain.first_page_of) == (3, [1, 2, 3])
    assert (duplex.pages, duplex.first_page_of) == (5, [1, 3, 5])


def test_metadata_names_no_patient_and_no_clinic(clinic: Clinic, ada: str) -> None:
    ledger.post_charge(clinic, ada, 12000, "Office visit", posted_at="2026-01-05T15:00:00Z")

    meta = PdfReader(io.BytesIO(statement_pdf(clinic, statement_lines(clinic, ada)))).metadata or {}

    values = " ".join(str(v) for v in meta.values())
    assert "Okafor" not in values and "Office visit" not in values
    assert clinic.settings.name not in values


def test_an_address_too_long_for_the_window_is_refused_by_number(clinic: Clinic, ada: str) -> None:
    st = statement_lines(clinic, ada)
    item = StatementInput([f"Line {i}" for i in range(14)], "March 10, 2026", st)

    with pytest.raises(InvalidInputError, match=r"^Statement 1 of 1: "):
        build_statements([item], LetterSettings(), clinic.settings, io.BytesIO())


def test_a_statement_renders_for_the_docs(clinic: Clinic, ada: str, tmp_path: Path) -> None:
    clinic.update_settings(address="400 Lake Shore Rd\nSpringfield IL 62704", phone="+12175550142")
    for month in (1, 2, 3):
        ledger.post_charge(
            clinic, ada, 12000, "Office visit", posted_at=f"2026-0{month}-05T15:00:00Z"
        )
        ledger.record_payment(clinic, ada, 8000, "card", received_at=f"2026-0{month}-06T15:00:00Z")
    ledger.post_charge(clinic, ada, 4550, "Lab work", posted_at="2026-03-06T15:30:00Z")
    out = io.BytesIO()
    item = StatementInput(ADDRESS, "March 10, 2026", statement_lines(clinic, ada))
    build_statements([item], LetterSettings(web="lakeside.example/pay"), clinic.settings, out)

    assert render_first_page(out.getvalue(), "statement.png", tmp_path).is_file()
