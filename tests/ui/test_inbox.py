"""The Inbox page on a demo clinic with replies that came through the real reply handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QScrollBar, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.reminders import replies
from app.reminders.sms_channel import InboundSms
from app.store.changes import Changes
from app.store.writer import utc_text
from ui.bus import DataBus
from ui.messages.inbox import EMPTY_TEXT, InboxPage

NOW = datetime.now(UTC).replace(microsecond=0)
UNKNOWN = "+13125550142"


def _phones(clinic: Clinic, count: int) -> list[tuple[str, str, str]]:
    """(patient id, name, E.164) of demo patients with a phone only they have."""
    rows = clinic.conn.execute(
        "SELECT c.patient_id, p.family_name || ', ' || p.given_names, c.value "
        "FROM contact_point c JOIN patient p ON p.id = c.patient_id "
        "WHERE c.kind = 'phone' AND p.preferred_name = '' AND p.merged_into IS NULL "
        "AND (SELECT count(*) FROM contact_point d WHERE d.kind = 'phone' "
        "     AND d.value = c.value) = 1 "
        "ORDER BY p.id LIMIT ?",
        (count,),
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def _receive(clinic: Clinic, ref: str, sender: str, body: str, minutes_ago: int) -> None:
    at = utc_text(NOW - timedelta(minutes=minutes_ago))
    replies.handle_inbound(clinic, InboundSms(ref, sender, body, at), None, now=NOW)


@pytest.fixture
def patients(demo_clinic: Clinic) -> list[tuple[str, str, str]]:
    found = _phones(demo_clinic, 3)
    assert len(found) == 3
    return found


@pytest.fixture
def filled(demo_clinic: Clinic, patients: list[tuple[str, str, str]]) -> Clinic:
    (_a, _an, a_phone), (_b, _bn, b_phone), (_c, _cn, c_phone) = patients
    _receive(demo_clinic, "SMin1", a_phone, "Can we move it to Thursday afternoon?", 200)
    _receive(demo_clinic, "SMin2", b_phone, "STOP", 120)
    _receive(demo_clinic, "SMin5", b_phone, "cancel", 100)
    _receive(demo_clinic, "SMin3", UNKNOWN, "Who is this? I don't know any clinic.", 60)
    _receive(
        demo_clinic,
        "SMin4",
        c_phone,
        "Yes that's fine but my daughter will bring me, she needs the parking code and "
        "I also wanted to ask whether the bloodwork can be done on the same visit",
        15,
    )
    return demo_clinic


def _page(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> InboxPage:
    page = InboxPage(clinic, bus or DataBus(), now=NOW)
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_the_inbox_lists_the_replies_waiting_for_a_person_newest_first(
    qtbot: QtBot, filled: Clinic, patients: list[tuple[str, str, str]]
) -> None:
    page = _page(qtbot, filled)
    senders = [page.model.data(page.model.index(r, 1)) for r in range(page.model.rowCount())]
    texts = [page.model.data(page.model.index(r, 2)) for r in range(page.model.rowCount())]
    assert senders == [
        patients[2][1],
        "(312) 555-0142 (not on file)",
        patients[1][1],
        patients[0][1],
    ]
    assert texts[2:] == ["cancel", "Can we move it to Thursday afternoon?"]
    assert page.summary.text() == "4 replies waiting for a person"
    assert page.table.isVisible() and not page.empty.isVisible()
    page.grab().save("/tmp/inbox.png")


def test_show_handled_adds_the_replies_frontdesk_dealt_with(qtbot: QtBot, filled: Clinic) -> None:
    page = _page(qtbot, filled)
    page.show_handled.setChecked(True)
    assert page.model.rowCount() == 5
    stop = next(r for r in page.model.rows if r.body == "STOP")
    assert stop.handled and stop.action == replies.STOPPED
    assert page.summary.text() == "4 replies waiting for a person · 1 handled shown"
    page.table.selectRow(page.model.rows.index(stop))
    assert page.done_button.text() == "&Back to the Inbox"
    assert replies.STOPPED in page.detail.toPlainText()
    page.grab().save("/tmp/inbox-handled.png")


def test_enter_on_a_reply_opens_its_patient(
    qtbot: QtBot, filled: Clinic, patients: list[tuple[str, str, str]]
) -> None:
    page = _page(qtbot, filled)
    page.table.setFocus()
    page.table.selectRow(3)
    with qtbot.waitSignal(page.open_patient) as opened:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert opened.args == [patients[0][0]]


def test_a_reply_from_an_unknown_number_cannot_open_a_patient(qtbot: QtBot, filled: Clinic) -> None:
    page = _page(qtbot, filled)
    page.table.selectRow(1)
    assert not page.open_button.isEnabled()
    assert page.done_button.isEnabled()
    with qtbot.assertNotEmitted(page.open_patient):
        qtbot.keyClick(page.table, Qt.Key.Key_Return)


def test_mark_as_done_takes_the_reply_off_and_tells_the_other_views(
    qtbot: QtBot, filled: Clinic
) -> None:
    bus = DataBus()
    page = _page(qtbot, filled, bus)
    page.table.selectRow(0)
    chosen = page.current_item()
    assert chosen is not None
    with qtbot.waitSignal(bus.changed) as published:
        qtbot.mouseClick(page.done_button, Qt.MouseButton.LeftButton)
    assert published.args[0].touches("inbound_message")
    assert chosen.id not in [i.id for i in page.model.rows]
    assert page.model.rowCount() == 3 and replies.open_count(filled) == 3
    assert page.current_item() is not None  # the next one is ready for the next Alt+D


def test_the_page_reloads_when_a_poll_stores_a_new_reply(
    qtbot: QtBot, filled: Clinic, patients: list[tuple[str, str, str]]
) -> None:
    bus = DataBus()
    page = _page(qtbot, filled, bus)
    item = replies.handle_inbound(
        filled,
        InboundSms("SMin9", patients[1][2], "running 10 min late", utc_text(NOW)),
        None,
        now=NOW,
    )
    assert page.model.rows[0].id != item.id
    bus.publish(Changes(frozenset({"inbound_message"})))
    assert page.model.rows[0].id == item.id


def test_an_empty_inbox_says_what_appears_here(qtbot: QtBot, demo_clinic: Clinic) -> None:
    page = _page(qtbot, demo_clinic)
    assert page.empty.isVisible() and page.empty.text() == EMPTY_TEXT
    assert not page.table.isVisible()
    assert page.summary.text() == "No replies waiting for a person"
    page.grab().save("/tmp/inbox-empty.png")


def test_every_control_has_an_accessible_name(qtbot: QtBot, filled: Clinic) -> None:
    page = _page(qtbot, filled)
    controls = [
        w
        for w in page.findChildren(QWidget)
        if w.isVisible()
        and (isinstance(w, QAbstractButton) or w.focusPolicy() != Qt.FocusPolicy.NoFocus)
        and not w.objectName().startswith("qt_")
        and not isinstance(w, QScrollBar)
        and w is not page.table.viewport()
    ]
    assert {page.table, page.show_handled, page.open_button, page.done_button} <= set(controls)
    assert [type(w).__name__ for w in controls if not w.accessibleName()] == []
