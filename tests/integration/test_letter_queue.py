"""The print queue on a real clinic: letters waiting in the outbox are grouped by what they
print as, built into one PDF (read back with pypdf), confirmed printed once however many
desks confirm, printed again with a history row, and a letter whose patient lost the
address stays waiting with the reason instead of breaking the batch."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta

import pytest
from pypdf import PdfReader

from app.billing.ledger import post_charge, record_payment
from app.clinic import Clinic
from app.errors import InvalidInputError
from app.letters import queue
from app.letters.letterhead import letter_date
from app.letters.settings import update_settings
from app.ops import CancelToken, OperationCancelledError
from app.patients.model import AddressDraft, PatientDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.reminders.rules import Rule, Touch, save_rule
from app.today import clinic_today
from app.users import act_as_default_user, add_user
from tests.support.outbox_rows import make_message

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
LETTER_BODY = (
    "Dear {name},\n\nIt is time for your check-up. Please call us to book.\n\n- Bring your card"
)


def rule(clinic: Clinic, kind: str, name: str, print_format: str = "letter") -> str:
    days = {"appointment": -7, "billing": 30, "recall": 0}.get(kind, 1)
    touch = Touch(days=days, at=time(10, 0), channels=("letter",))
    made = Rule(
        id="",
        kind=kind,
        name=name,
        touches=(touch,),
        channels=("letter",),
        print_format=print_format,
    )
    return save_rule(clinic, made).id


def patient(
    clinic: Clinic, given: str, family: str, *, address: bool = True, language: str = ""
) -> str:
    addresses = (
        (
            AddressDraft(
                line1="12 Elm Street",
                line2="Apt 3",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="US",
            ),
        )
        if address
        else ()
    )
    draft = PatientDraft(
        family_name=family, given_names=given, addresses=addresses, language=language
    )
    return create_patient(clinic, draft).id


def waiting_letter(
    clinic: Clinic,
    patient_id: str,
    rule_id: str,
    *,
    hours_ago: int = 1,
    body: str = "",
    subject_kind: str = "recall",
) -> str:
    name = clinic.conn.execute(
        "SELECT given_names FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()[0]
    return make_message(
        clinic,
        patient_id,
        rule_id,
        "to_print",
        due_at=NOW - timedelta(hours=hours_ago),
        channel="letter",
        recipient="Name, 12 Elm Street, Apt 3, Springfield IL 62701",
        subject="Time for your check-up",
        body=body or LETTER_BODY.format(name=name),
        subject_kind=subject_kind,
    )


@pytest.fixture
def rules(clinic: Clinic) -> dict[str, str]:
    return {
        "recall": rule(clinic, "recall", "Recall letters"),
        "appointment": rule(clinic, "appointment", "Appointment letters"),
        "postcard": rule(clinic, "recall", "Recall postcards", print_format="postcard"),
    }


def pdf_of(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def page_text(reader: PdfReader, number: int) -> str:
    """The text of page `number` (1-based), spaces squeezed."""
    return " ".join(reader.pages[number - 1].extract_text().split())


# --- grouping ------------------------------------------------------------------------------


def test_waiting_letters_are_grouped_by_what_they_print_as(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ada = patient(clinic, "Ada", "Okafor")
    ben = patient(clinic, "Ben", "Novak")
    cy = patient(clinic, "Cy", "Lindqvist")
    first = waiting_letter(clinic, ada, rules["recall"], hours_ago=5)
    second = waiting_letter(clinic, ben, rules["recall"], hours_ago=2)
    visit = waiting_letter(clinic, cy, rules["appointment"], subject_kind="appointment")
    card = waiting_letter(clinic, ben, rules["postcard"], body="See you soon for your check-up.")
    # not waiting: sent, and a text
    make_message(clinic, ada, rules["recall"], "sent", due_at=NOW, channel="letter")
    make_message(clinic, ada, rules["recall"], "sent", due_at=NOW, channel="sms")

    groups = queue.waiting(clinic)

    assert [(g.label, g.print_as) for g in groups] == [
        ("Letters — Appointment reminder", "letter"),
        ("Letters — Recall", "letter"),
        ("Postcards", "postcard"),
    ]
    assert [g.title for g in groups] == [
        "Letters — Appointment reminder (1)",
        "Letters — Recall (2)",
        "Postcards (1)",
    ]
    recall = groups[1]
    assert [m.id for m in recall.messages] == [first, second]  # waiting longest first
    assert recall.messages[0].patient_name == "Ada Okafor"
    assert recall.messages[0].rule_name == "Recall letters"
    assert all(m.printable for g in groups for m in g.messages)
    assert groups[0].messages[0].id == visit
    assert groups[2].messages[0].id == card
    assert queue.count_waiting(clinic) == 4


def test_billing_notices_print_as_statements_and_a_paid_bill_is_not_printable(
    clinic: Clinic,
) -> None:
    billing = rule(clinic, "billing", "Balance letters")
    owes = patient(clinic, "Dora", "Keller")
    paid = patient(clinic, "Emil", "Berg")
    for who in (owes, paid):
        post_charge(clinic, who, 12_500, "Check-up", posted_at="2026-10-01T15:00:00Z")
    record_payment(clinic, paid, 12_500, "card")
    waiting_letter(clinic, owes, billing, subject_kind="balance")
    settled = waiting_letter(clinic, paid, billing, subject_kind="balance")

    (group,) = queue.waiting(clinic)

    assert (group.label, group.print_as) == ("Statements", "statement")
    problems = {m.id: m.problem for m in group.messages}
    assert problems[settled] == queue.PAID
    assert len(group.printable) == 1


def test_a_patient_whose_address_was_removed_stays_waiting_with_the_reason(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ada = patient(clinic, "Ada", "Okafor")
    ben = patient(clinic, "Ben", "Novak")
    kept = waiting_letter(clinic, ada, rules["recall"])
    lost = waiting_letter(clinic, ben, rules["recall"])
    (address_id,) = clinic.conn.execute(
        "SELECT id FROM address WHERE patient_id = ?", (ben,)
    ).fetchone()
    with clinic.store.write() as tx:
        tx.delete("address", address_id)

    (group,) = queue.waiting(clinic)

    problems = {m.id: m.problem for m in group.messages}
    assert problems == {kept: "", lost: queue.NO_ADDRESS}
    assert [m.id for m in group.printable] == [kept]
    # asked to print it anyway, the batch is refused with the reason, and nothing is lost
    with pytest.raises(InvalidInputError, match="No postal address"):
        queue.build_batch(clinic, [kept, lost], io.BytesIO())
    assert outbox.get_message(clinic, lost).state == "to_print"
    # the rest print
    result = queue.build_batch(clinic, [kept], io.BytesIO())
    assert result.first_page_of == {kept: 1}


# --- one PDF -------------------------------------------------------------------------------


def test_a_batch_is_one_pdf_with_each_letter_on_its_own_first_page(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    people = [
        patient(clinic, "Ada", "Okafor"),
        patient(clinic, "Σοφία", "Παπαδοπούλου"),
        patient(clinic, "Борис", "Иванов"),
    ]
    long_body = "Dear Boris,\n\n" + "\n\n".join(
        f"Paragraph {n}: please read this part of the letter about your check-up." * 3
        for n in range(30)
    )
    ids = [
        waiting_letter(clinic, people[0], rules["recall"]),
        waiting_letter(clinic, people[1], rules["recall"]),
        waiting_letter(clinic, people[2], rules["recall"], body=long_body),
    ]
    out = io.BytesIO()

    result = queue.build_batch(clinic, ids, out)

    reader = pdf_of(out.getvalue())
    assert result.pages == len(reader.pages)
    assert result.pages > 3  # the long letter runs over
    assert list(result.first_page_of) == ids
    assert result.first_page_of[ids[0]] == 1
    assert result.first_page_of[ids[1]] == 2
    assert result.first_page_of[ids[2]] == 3
    assert "Ada Okafor" in page_text(reader, 1)
    assert "Σοφία Παπαδοπούλου" in page_text(reader, 2)
    assert "Борис Иванов" in page_text(reader, 3)
    assert "12 Elm Street" in page_text(reader, 1)
    # the metadata names no patient
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    for name in ("Okafor", "Παπαδοπούλου", "Иванов"):
        assert name not in meta


def long_body(greeting: str, sentence: str) -> str:
    """A letter body that runs onto a second page."""
    return f"{greeting}\n\n" + "\n\n".join(sentence * 3 for _ in range(30))


def test_each_letter_is_dated_and_numbered_in_the_language_of_its_text(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    # The body was written from the patient's language template; the date line, the page
    # numbers and the continuation header follow it, not the clinic's language. A patient
    # whose language has no letter template (German here) got the clinic's English text,
    # so English dates and page numbers too.
    spanish = patient(clinic, "Ana", "García", language="es-MX")
    english = patient(clinic, "Ada", "Okafor")
    german = patient(clinic, "Jörg", "Schmidt", language="de")
    ids = [
        waiting_letter(
            clinic,
            spanish,
            rules["recall"],
            body=long_body("Estimada Ana:", "Es momento de su revisión; llámenos para una cita. "),
        ),
        waiting_letter(
            clinic,
            english,
            rules["recall"],
            body=long_body("Dear Ada,", "It is time for your check-up; call us to book. "),
        ),
        waiting_letter(
            clinic,
            german,
            rules["recall"],
            body=long_body("Dear Jörg,", "It is time for your check-up; call us to book. "),
        ),
    ]
    out = io.BytesIO()

    result = queue.build_batch(clinic, ids, out)

    reader = pdf_of(out.getvalue())
    today = clinic_today(clinic)
    es_date, en_date = letter_date(today, "es"), letter_date(today, "en")
    assert " de " in es_date and " de " not in en_date
    firsts = [result.first_page_of[i] for i in ids]
    ana_first, ana_second = page_text(reader, firsts[0]), page_text(reader, firsts[0] + 1)
    assert es_date in ana_first and en_date not in ana_first
    assert "Página 1 de 2" in ana_first and "Page 1" not in ana_first
    assert "Página 2 de 2" in ana_second
    assert es_date in ana_second  # the continuation header
    for first in firsts[1:]:
        page_one, page_two = page_text(reader, first), page_text(reader, first + 1)
        assert en_date in page_one and es_date not in page_one
        assert "Page 1 of 2" in page_one and "Página" not in page_one and "Seite" not in page_one
        assert "Page 2 of 2" in page_two and en_date in page_two


def test_a_statement_is_dated_in_the_patients_language(clinic: Clinic) -> None:
    billing = rule(clinic, "billing", "Balance letters")
    ana = patient(clinic, "Ana", "García", language="es")
    post_charge(clinic, ana, 12_500, "Revisión", posted_at="2026-10-01T15:00:00Z")
    notice = waiting_letter(clinic, ana, billing, subject_kind="balance")
    out = io.BytesIO()

    queue.build_batch(clinic, [notice], out)

    text = page_text(pdf_of(out.getvalue()), 1)
    assert letter_date(clinic_today(clinic), "es") in text
    assert "Estado de cuenta" in text


def test_blank_backs_start_every_letter_on_an_odd_page(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ids = [
        waiting_letter(clinic, patient(clinic, given, "Okafor"), rules["recall"])
        for given in ("Ada", "Bea", "Cal")
    ]
    out = io.BytesIO()

    result = queue.build_batch(clinic, ids, out, blank_backs=True)

    assert [result.first_page_of[i] for i in ids] == [1, 3, 5]
    reader = pdf_of(out.getvalue())
    assert "Bea Okafor" in page_text(reader, 3)
    assert page_text(reader, 2) == ""  # the blank back


def test_the_setting_for_blank_backs_is_used_when_the_caller_does_not_say(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    update_settings(clinic, blank_backs=True)
    ids = [
        waiting_letter(clinic, patient(clinic, given, "Okafor"), rules["recall"])
        for given in ("Ada", "Bea")
    ]
    result = queue.build_batch(clinic, ids, io.BytesIO())
    assert [result.first_page_of[i] for i in ids] == [1, 3]


def test_postcards_print_address_side_and_message_side(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ids = [
        waiting_letter(
            clinic,
            patient(clinic, given, "Novak"),
            rules["postcard"],
            body="It is time for your check-up. Call us to book.",
        )
        for given in ("Ada", "Ben")
    ]
    out = io.BytesIO()

    result = queue.build_batch(clinic, ids, out)

    assert result.pages == 4
    assert [result.first_page_of[i] for i in ids] == [1, 3]
    reader = pdf_of(out.getvalue())
    assert "Ben Novak" in page_text(reader, 3)
    assert "check-up" in page_text(reader, 4)


def test_a_postcard_whose_words_do_not_fit_is_not_printable(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    too_long = "Please come and see us for your check-up soon. " * 80
    card = waiting_letter(clinic, patient(clinic, "Ada", "Novak"), rules["postcard"], body=too_long)
    (group,) = queue.waiting(clinic)
    (message,) = group.messages
    assert message.id == card
    assert message.problem  # the reason, from the postcard layout


def test_letters_postcards_and_statements_do_not_mix_in_one_batch(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ada = patient(clinic, "Ada", "Okafor")
    letter = waiting_letter(clinic, ada, rules["recall"])
    card = waiting_letter(clinic, ada, rules["postcard"], body="See you soon.")
    with pytest.raises(InvalidInputError, match="separate batches"):
        queue.build_batch(clinic, [letter, card], io.BytesIO())


def test_building_reports_progress_and_can_be_cancelled(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    ids = [
        waiting_letter(clinic, patient(clinic, f"Ada{n}", "Okafor"), rules["recall"])
        for n in range(3)
    ]
    seen: list[tuple[int, int]] = []
    queue.build_batch(
        clinic, ids, io.BytesIO(), progress=lambda done, total, _what: seen.append((done, total))
    )
    assert seen[-1] == (3, 3)

    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(OperationCancelledError):
        queue.prepare(clinic, ids).write(io.BytesIO(), cancel=cancelled)


# --- confirming ----------------------------------------------------------------------------


def test_confirming_marks_each_letter_sent_once_with_who_printed_it(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    add_user(clinic, "Dana Reyes", "receptionist")
    act_as_default_user(clinic)
    ids = [
        waiting_letter(clinic, patient(clinic, given, "Okafor"), rules["recall"])
        for given in ("Ada", "Bea")
    ]

    changes = queue.mark_printed(clinic, ids)

    assert changes.touches("outbox")
    for message_id in ids:
        message = outbox.get_message(clinic, message_id)
        assert message.state == "sent"
        assert message.sent_at is not None
        assert message.reason == "Printed by Dana Reyes"
        assert outbox.history(clinic, message_id)[-1].reason == "Printed by Dana Reyes"
    assert queue.waiting(clinic) == []

    # a second desk confirming the same batch changes nothing
    stamps = {i: outbox.get_message(clinic, i).sent_at for i in ids}
    again = queue.mark_printed(clinic, ids)
    assert not again.touches("outbox")
    for message_id in ids:
        assert outbox.get_message(clinic, message_id).sent_at == stamps[message_id]
        assert [e.state for e in outbox.history(clinic, message_id)].count("sent") == 1


def test_printed_letters_are_listed_newest_first(clinic: Clinic, rules: dict[str, str]) -> None:
    first = waiting_letter(clinic, patient(clinic, "Ada", "Okafor"), rules["recall"])
    second = waiting_letter(clinic, patient(clinic, "Bea", "Okafor"), rules["recall"])
    queue.mark_printed(clinic, [first])
    queue.mark_printed(clinic, [second])
    assert [m.id for m in queue.printed(clinic)] == [second, first]


def test_a_printed_letter_can_be_printed_again_and_that_is_logged(
    clinic: Clinic, rules: dict[str, str]
) -> None:
    add_user(clinic, "Dana Reyes", "receptionist")
    act_as_default_user(clinic)
    ada = patient(clinic, "Ada", "Okafor")
    letter = waiting_letter(clinic, ada, rules["recall"])
    with pytest.raises(InvalidInputError, match="printed can be printed again"):
        queue.reprint(clinic, letter, io.BytesIO())
    queue.mark_printed(clinic, [letter])
    sent_at = outbox.get_message(clinic, letter).sent_at
    out = io.BytesIO()

    result = queue.reprint(clinic, letter, out)

    assert result.pages == 1
    assert result.first_page_of == {letter: 1}
    assert "Ada Okafor" in page_text(pdf_of(out.getvalue()), 1)
    message = outbox.get_message(clinic, letter)
    assert (message.state, message.sent_at) == ("sent", sent_at)
    last = outbox.history(clinic, letter)[-1]
    assert (last.state, last.reason) == ("sent", "Printed again by Dana Reyes")
    assert result.changes.touches("outbox_event")


def test_statements_print_for_billing_notices_with_the_balance(clinic: Clinic) -> None:
    billing = rule(clinic, "billing", "Balance letters")
    dora = patient(clinic, "Dora", "Keller")
    post_charge(clinic, dora, 12_500, "Check-up", posted_at="2026-10-01T15:00:00Z")
    record_payment(clinic, dora, 2_500, "card")
    notice = waiting_letter(clinic, dora, billing, subject_kind="balance")
    out = io.BytesIO()

    result = queue.build_batch(clinic, [notice], out)

    assert result.first_page_of == {notice: 1}
    text = page_text(pdf_of(out.getvalue()), 1)
    assert "Dora Keller" in text
    assert "100.00" in text  # what is still due
