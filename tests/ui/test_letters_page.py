"""Letters on a real demo clinic: kinds with counts, all ticked and one left out, the batch
previewed page by page from memory, saved as one PDF and printed to a PDF printer (both
read back with pypdf), confirmed printed (the group empties, the messages are sent), a
letter printed again from Printed, a letter that cannot print shown with its reason, and
the area in the main window."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.letters import queue
from app.reminders import outbox
from app.reminders.rules import Rule, Touch, save_rule
from app.today import clinic_today
from app.users import act_as_default_user, add_user
from tests.support.outbox_rows import make_message
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.letters import printing
from ui.letters.page import EMPTY, NOTE, PATIENT, LettersPage, ToPrintView

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)
BODY = "Dear patient,\n\nIt is time for your check-up. Please call us to book.\n\n- Bring your card"


def letter_rule(clinic: Clinic, kind: str, name: str) -> str:
    touch = Touch(days=-7 if kind == "appointment" else 0, at=time(10, 0), channels=("letter",))
    return save_rule(
        clinic, Rule(id="", kind=kind, name=name, touches=(touch,), channels=("letter",))
    ).id


def mailable_patients(clinic: Clinic, count: int) -> list[str]:
    rows = clinic.conn.execute(
        "SELECT DISTINCT a.patient_id FROM address a JOIN patient p ON p.id = a.patient_id "
        "WHERE a.line1 != '' AND a.postal_code != '' AND p.deceased = 0 "
        "AND p.do_not_contact = 0 ORDER BY a.rowid LIMIT ?",
        (count,),
    ).fetchall()
    assert len(rows) == count
    return [str(r[0]) for r in rows]


def waiting(clinic: Clinic, patient_id: str, rule_id: str, hours_ago: int, kind: str) -> str:
    return make_message(
        clinic,
        patient_id,
        rule_id,
        "to_print",
        due_at=NOW - timedelta(hours=hours_ago),
        channel="letter",
        recipient="(the one-line address the sender chose)",
        subject="Time for your check-up",
        body=BODY,
        subject_kind=kind,
    )


@pytest.fixture
def letters(demo_clinic: Clinic) -> dict[str, list[str]]:
    """Five recall letters and two appointment letters waiting to be printed."""
    recall = letter_rule(demo_clinic, "recall", "Recall letters")
    visits = letter_rule(demo_clinic, "appointment", "Appointment letters")
    people = mailable_patients(demo_clinic, 7)
    return {
        "recall": [
            waiting(demo_clinic, p, recall, 10 - n, "recall") for n, p in enumerate(people[:5])
        ],
        "appointment": [
            waiting(demo_clinic, p, visits, 3 - n, "appointment") for n, p in enumerate(people[5:])
        ],
    }


def make_page(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> LettersPage:
    page = LettersPage(clinic, bus or DataBus())
    qtbot.addWidget(page)
    page.resize(1100, 660)
    page.show()
    return page


def choose_group(view: ToPrintView, label: str) -> None:
    row = next(i for i, g in enumerate(view.groups) if g.label == label)
    view.group_list.setCurrentRow(row)


def wait_for_batch(qtbot: QtBot, view: ToPrintView, ids: list[str]) -> None:
    qtbot.waitUntil(lambda: view.batch_ids == tuple(ids) and view.pdf is not None, timeout=15_000)


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


# --- the list ------------------------------------------------------------------------------


def test_kinds_are_listed_with_counts_and_every_letter_is_ticked(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print

    titles = [view.group_list.item(i).text() for i in range(view.group_list.count())]
    assert titles == ["Letters — Appointment reminder (2)", "Letters — Recall (5)"]
    assert page.tabs.tabText(0) == "To print (7)"

    choose_group(view, "Letters — Recall")
    assert view.ticked_ids() == letters["recall"]  # waiting longest first, all ticked
    assert view.ticked_label.text() == "5 of 5 letters ticked to print"
    assert view.letters.isColumnHidden(NOTE)  # nothing in the group has a problem
    wait_for_batch(qtbot, view, letters["recall"])
    assert view.print_button.isEnabled() and view.confirm_button.isEnabled()


def test_the_preview_shows_the_pages_of_the_ticked_letters(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])

    preview = view.preview
    assert view.result is not None
    assert preview.pages == view.result.pages == 5
    assert not preview.image.isNull()
    assert preview.image.width() > 200
    assert not preview.page.pixmap().isNull()
    assert preview.where.text() == "Page 1 of 5"
    # the next letter in the list shows its first page
    view.letters.setCurrentItem(view.letters.topLevelItem(2))
    assert preview.index == 2
    preview.next_button.click()
    assert preview.where.text() == "Page 4 of 5"
    assert view.current_letter_id() == letters["recall"][3]  # the list follows the pages


def test_unticking_a_letter_leaves_it_out_of_the_batch_and_in_the_queue(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])
    left_out = letters["recall"][1]

    view.letters.setCurrentItem(view.letters.topLevelItem(1))
    view.letters.setFocus()
    qtbot.keyClick(view.letters, Qt.Key.Key_Space)

    assert not view.print_button.isEnabled()  # the pages shown are no longer the batch
    kept = [i for i in letters["recall"] if i != left_out]
    wait_for_batch(qtbot, view, kept)
    assert view.preview.pages == 4
    assert view.ticked_label.text() == "4 of 5 letters ticked to print"

    view.confirm_printed()
    assert view.question.box is not None
    assert view.question.box.text() == "Did all 4 letters print correctly?"
    view.question.answer(yes=True)

    assert outbox.get_message(demo_clinic, left_out).state == "to_print"
    assert all(outbox.get_message(demo_clinic, i).state == "sent" for i in kept)
    qtbot.waitUntil(lambda: view.letters.topLevelItemCount() == 1)
    assert view.current_group() is not None
    assert view.current_group().title == "Letters — Recall (1)"  # type: ignore[union-attr]


def test_a_letter_that_cannot_print_shows_why_and_has_no_tick(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    lost = letters["recall"][0]
    patient_id = outbox.get_message(demo_clinic, lost).patient_id
    with demo_clinic.store.write() as tx:
        for (address_id,) in tx.conn.execute(
            "SELECT id FROM address WHERE patient_id = ?", (patient_id,)
        ).fetchall():
            tx.delete("address", address_id)
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")

    item = view.letters.topLevelItem(0)
    assert item.data(PATIENT, Qt.ItemDataRole.UserRole) == lost
    assert not item.flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert not view.letters.isColumnHidden(NOTE)
    assert item.text(NOTE) == "Cannot print"
    view.letters.setCurrentItem(item)
    assert view.letter_problem.isVisible()
    assert view.letter_problem.text().endswith(queue.NO_ADDRESS)
    view.letters.setCurrentItem(view.letters.topLevelItem(1))
    assert not view.letter_problem.isVisible()
    assert view.ticked_ids() == letters["recall"][1:]
    assert view.ticked_label.text() == "4 of 4 letters ticked to print; 1 cannot print"
    wait_for_batch(qtbot, view, letters["recall"][1:])


def test_cancelling_the_preview_stops_it_and_it_can_be_shown_again(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    view = make_page(qtbot, demo_clinic).to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])

    view.build_preview()
    assert view.build_op is not None
    op = view.build_op
    op.cancel.cancel()  # as the progress window's Cancel does
    qtbot.waitUntil(lambda: op.finished, timeout=15_000)

    assert view.pdf is None
    assert view.preview.message.text() == "The preview was stopped."
    assert view.show_preview_button.isVisible()
    assert not view.confirm_button.isEnabled()
    view.show_preview_button.click()
    wait_for_batch(qtbot, view, letters["recall"])


# --- saving, printing, confirming ------------------------------------------------------------


def test_save_as_pdf_writes_the_batch_under_a_name_without_patients(
    qtbot: QtBot,
    demo_clinic: Clinic,
    letters: dict[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])
    offered: list[str] = []
    target = tmp_path / "batch"  # typed without .pdf

    def save_dialog(_parent: QWidget, _title: str, suggested: str, _filter: str) -> tuple[str, str]:
        offered.append(suggested)
        return str(target), "PDF files (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)

    view.save_as_pdf()

    day = clinic_today(demo_clinic).isoformat()
    assert Path(offered[0]).name == f"Frontdesk letters {day}.pdf"
    saved = tmp_path / "batch.pdf"
    assert pdf_pages(saved.read_bytes()) == 5
    assert view.status.text().startswith("Saved 5 letters as batch.pdf.")
    # saving is not printing: nothing is marked yet
    assert all(outbox.get_message(demo_clinic, i).state == "to_print" for i in letters["recall"])


def test_print_sends_every_page_to_the_printer(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))

    dialog = view.print_batch()  # the printer is chosen in Qt's dialog, window-modal
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Print 5 letters"
    dialog.reject()

    op = view.print_to(printer)  # what accepting the dialog does

    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=30_000)
    assert op.error is None
    printed = PdfReader(str(tmp_path / "printed.pdf"))
    assert len(printed.pages) == 5
    width, height = printed.pages[0].mediabox.width, printed.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (612, 792)  # Letter, full page
    assert "sent to the printer" in view.status.text()


@pytest.mark.parametrize(
    ("print_as", "blank_backs", "mode"),
    [
        ("postcard", False, QPrinter.DuplexMode.DuplexShortSide),
        ("postcard", True, QPrinter.DuplexMode.DuplexShortSide),
        ("letter", True, QPrinter.DuplexMode.DuplexLongSide),
        ("letter", False, QPrinter.DuplexMode.DuplexNone),
        ("statement", True, QPrinter.DuplexMode.DuplexLongSide),
    ],
)
def test_postcards_are_two_sided_on_the_short_edge_letters_only_with_blank_backs(
    print_as: str, blank_backs: bool, mode: QPrinter.DuplexMode
) -> None:
    assert printing.duplex_for(print_as, blank_backs) == mode


def test_a_postcard_batch_prints_both_sides_of_every_card(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    rule = save_rule(
        demo_clinic,
        Rule(
            id="",
            kind="recall",
            name="Recall cards",
            touches=(Touch(days=0, at=time(10, 0), channels=("letter",)),),
            channels=("letter",),
            print_format="postcard",
        ),
    )
    short_text = "Hello,\n\nIt is time for your check-up. Please call us to book."
    cards = [
        make_message(
            demo_clinic,
            p,
            rule.id,
            "to_print",
            due_at=NOW - timedelta(hours=2),
            channel="letter",
            recipient="(address)",
            subject="",
            body=short_text,
            subject_kind="recall",
        )
        for p in mailable_patients(demo_clinic, 2)
    ]
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Postcards")
    wait_for_batch(qtbot, view, cards)
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "cards.pdf"))

    op = view.print_to(printer)

    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=30_000)
    assert len(PdfReader(str(tmp_path / "cards.pdf")).pages) == 4  # two sides per card
    assert view.print_button.text() == "P&rint…"  # Alt+P is the Patient menu


def test_confirm_printed_marks_the_batch_sent_and_empties_the_group(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    add_user(demo_clinic, "Dana Reyes", "receptionist")
    act_as_default_user(demo_clinic)
    bus = DataBus()
    page = make_page(qtbot, demo_clinic, bus)
    view = page.to_print
    choose_group(view, "Letters — Appointment reminder")
    wait_for_batch(qtbot, view, letters["appointment"])
    published: list[object] = []
    bus.changed.connect(published.append)

    box = view.confirm_printed()
    assert box is not None
    assert box.text() == "Did all 2 letters print correctly?"
    view.question.answer(yes=True)

    for message_id in letters["appointment"]:
        message = outbox.get_message(demo_clinic, message_id)
        assert message.state == "sent"
        assert message.reason == "Printed by Dana Reyes"
    assert published  # the timeline and Messages hear of it
    titles = [view.group_list.item(i).text() for i in range(view.group_list.count())]
    assert titles == ["Letters — Recall (5)"]
    assert page.tabs.tabText(0) == "To print (5)"
    assert view.status.text() == "2 letters marked as sent."


def test_answering_not_yet_marks_nothing(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    view = make_page(qtbot, demo_clinic).to_print
    choose_group(view, "Letters — Appointment reminder")
    wait_for_batch(qtbot, view, letters["appointment"])
    view.confirm_printed()
    view.question.answer(yes=False)
    assert all(
        outbox.get_message(demo_clinic, i).state == "to_print" for i in letters["appointment"]
    )


def test_a_printed_letter_is_printed_again_from_printed_and_logged(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    first = letters["recall"][0]
    queue.mark_printed(demo_clinic, [first])
    page = make_page(qtbot, demo_clinic)
    page.tabs.setCurrentIndex(1)
    printed = page.printed
    assert printed.list.topLevelItemCount() == 1
    assert printed.current_id() == first
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "again.pdf"))

    dialog = printed.reprint_current()
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    assert "again" not in outbox.history(demo_clinic, first)[-1].reason  # cancelled: not logged

    assert printed.reprint_to(first, printer)  # what accepting the dialog does

    assert len(PdfReader(str(tmp_path / "again.pdf")).pages) == 1
    assert outbox.history(demo_clinic, first)[-1].reason.startswith("Printed again")
    assert outbox.get_message(demo_clinic, first).state == "sent"


# --- the area --------------------------------------------------------------------------------


def test_nothing_to_print_says_so(qtbot: QtBot, clinic: Clinic) -> None:
    page = make_page(qtbot, clinic)
    assert page.to_print.empty.isVisible()
    assert page.to_print.empty.text() == EMPTY
    assert not page.to_print.splitter.isVisible()
    assert page.tabs.tabText(0) == "To print"


def test_every_control_is_named_and_enter_opens_the_patient(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    assert unnamed_controls(page) == []
    opened: list[str] = []
    page.open_patient.connect(opened.append)
    choose_group(view, "Letters — Recall")
    view.letters.setFocus()
    view.letters.setCurrentItem(view.letters.topLevelItem(0))
    qtbot.keyClick(view.letters, Qt.Key.Key_Return)
    assert opened == [outbox.get_message(demo_clinic, letters["recall"][0]).patient_id]


def test_the_letters_area_in_the_main_window_opens_a_patient(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    from ui.main_window import MainWindow

    window = MainWindow(demo_clinic, start_page="Letters")
    qtbot.addWidget(window)
    window.show()
    assert isinstance(window.pages["Letters"], LettersPage)
    assert window.stack.currentWidget() is window.pages["Letters"]
    view = window.letters.to_print
    choose_group(view, "Letters — Recall")
    view.open_button.click()
    assert window.stack.currentWidget() is window.patient_view
    window.close()


def test_screenshot_of_letters_at_1280_by_720(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    """FRONTDESK_SCREENSHOTS=1 also writes docs/screenshots/letters.png for the guide."""
    from ui.main_window import MainWindow

    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    add_user(demo_clinic, "Dana Reyes", "receptionist")
    act_as_default_user(demo_clinic)
    window = MainWindow(demo_clinic, start_page="Letters")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view = window.letters.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, letters["recall"])
    qtbot.wait(200)  # the preview re-renders to its settled width
    image = window.grab()
    assert image.width() >= 1280
    assert image.save(str(out / "letters.png"))
    assert (out / "letters.png").stat().st_size > 10_000
    window.close()
