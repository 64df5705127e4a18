"""The kiosk on a real demo clinic: a score pressed is stored with the visit the desk chose,
the patient's name never reaches the kiosk, an idle comment step still keeps the score, and
only staff can leave it."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.directory import add_location
from app.scheduling import appointments
from app.today import clinic_today, clinic_zone
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.kiosk.window import KioskWindow


def seen_visit(clinic: Clinic) -> tuple[str, str, str, str]:
    """A visit of today, seen: (appointment id, patient id, family name, given names)."""
    patient_id, family, given = clinic.conn.execute(
        "SELECT id, family_name, given_names FROM patient WHERE deceased = 0 "
        "AND length(family_name) > 3 ORDER BY id LIMIT 1"
    ).fetchone()
    start = datetime.combine(clinic_today(clinic), time(9), tzinfo=clinic_zone(clinic))
    visit = appointments.book(clinic, patient_id, start, start + timedelta(minutes=20)).id
    appointments.set_status(clinic, visit, "fulfilled")
    return visit, patient_id, family, given


def open_kiosk(qtbot: QtBot, clinic: Clinic) -> KioskWindow:
    kiosk = KioskWindow(clinic, DataBus())
    qtbot.addWidget(kiosk)
    kiosk.open()
    qtbot.waitUntil(kiosk.isActiveWindow)
    return kiosk


def as_on_a_1280_by_720_screen(qtbot: QtBot, kiosk: KioskWindow) -> None:
    """The offscreen screen is 800×600; at 200 % a 1280×720 screen is 640×360 logical."""
    ratio = kiosk.devicePixelRatioF()
    width, height = round(1280 / ratio), round(720 / ratio)
    kiosk.showNormal()
    kiosk.resize(width, height)
    qtbot.waitUntil(lambda: kiosk.size().width() == width and kiosk.size().height() == height)
    QApplication.processEvents()


class NewAnswers:
    """The answers stored since it was made (the demo clinic has answers of its own)."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.before = {r[0] for r in clinic.conn.execute("SELECT id FROM survey_response")}

    def __call__(self) -> list[tuple[object, ...]]:
        rows = self.clinic.conn.execute(
            "SELECT id, score, comment, channel, patient_id, appointment_id "
            "FROM survey_response ORDER BY created_at, rowid"
        ).fetchall()
        return [tuple(r[1:]) for r in rows if r[0] not in self.before]


def texts_of(window: QWidget) -> str:
    """Every word the kiosk could show or speak: texts, tips and accessible names."""
    words = [window.windowTitle(), window.accessibleName()]
    for widget in [window, *window.findChildren(QWidget)]:
        words += [widget.accessibleName(), widget.accessibleDescription(), widget.toolTip()]
        if isinstance(widget, QLabel | QAbstractButton):
            words.append(widget.text())
        if isinstance(widget, QPlainTextEdit):
            words += [widget.toPlainText(), widget.placeholderText()]
    return "\n".join(words)


def test_pressing_7_then_skip_stores_one_kiosk_answer_for_the_visit_and_no_name_shows(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    stored = NewAnswers(demo_clinic)
    visit, patient, family, given = seen_visit(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)

    kiosk.ask_for(visit)
    seen = [texts_of(kiosk)]
    qtbot.keyClick(kiosk, Qt.Key.Key_7)
    seen.append(texts_of(kiosk))
    qtbot.mouseClick(kiosk.skip_button, Qt.MouseButton.LeftButton)
    seen.append(texts_of(kiosk))

    assert stored() == [(7, "", "kiosk", patient, visit)]
    for words in seen:
        assert family not in words
        assert given.split()[0] not in words
    assert kiosk.stack.currentWidget() is kiosk.thanks_page


def test_a_comment_step_left_idle_stores_the_score_without_comment_and_starts_again(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    stored = NewAnswers(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)
    kiosk.comment_timer.setInterval(50)  # instead of a minute
    kiosk.thanks_timer.setInterval(50)

    qtbot.mouseClick(kiosk.score_buttons[4], Qt.MouseButton.LeftButton)
    assert kiosk.stack.currentWidget() is kiosk.comment_page
    qtbot.waitUntil(lambda: kiosk.stack.currentWidget() is kiosk.question_page)

    assert stored() == [(4, "", "kiosk", None, None)]


def test_a_sent_comment_is_kept_and_the_next_patient_answers_without_the_visit(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    stored = NewAnswers(demo_clinic)
    visit, patient, _family, _given = seen_visit(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)
    kiosk.ask_for(visit)

    qtbot.keyClick(kiosk, Qt.Key.Key_T)  # ten
    qtbot.keyClicks(kiosk.comment, "Lovely nurses")
    qtbot.mouseClick(kiosk.send_button, Qt.MouseButton.LeftButton)
    kiosk.reset()  # as the thank-you timer does
    qtbot.keyClick(kiosk, Qt.Key.Key_9)
    qtbot.mouseClick(kiosk.skip_button, Qt.MouseButton.LeftButton)

    assert stored() == [
        (10, "Lovely nurses", "kiosk", patient, visit),
        (9, "", "kiosk", None, None),
    ]


def test_changing_the_score_keeps_the_visit_for_the_new_score(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    stored = NewAnswers(demo_clinic)
    visit, patient, _family, _given = seen_visit(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)
    kiosk.ask_for(visit)

    qtbot.keyClick(kiosk, Qt.Key.Key_2)
    qtbot.mouseClick(kiosk.back_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(kiosk, Qt.Key.Key_8)
    qtbot.mouseClick(kiosk.skip_button, Qt.MouseButton.LeftButton)

    assert stored() == [(8, "", "kiosk", patient, visit)]


def test_escape_does_not_close_the_kiosk_but_ctrl_shift_q_does(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    stored = NewAnswers(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)

    qtbot.keyClick(kiosk, Qt.Key.Key_Escape)
    qtbot.keyClick(kiosk.comment if kiosk.comment.isVisible() else kiosk, Qt.Key.Key_Escape)
    assert kiosk.isVisible()

    with qtbot.waitSignal(kiosk.left):
        qtbot.keyClick(
            kiosk,
            Qt.Key.Key_Q,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert not kiosk.isVisible()
    assert stored() == []


def test_every_score_button_has_a_spoken_name_and_a_big_target(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    kiosk = open_kiosk(qtbot, demo_clinic)
    as_on_a_1280_by_720_screen(qtbot, kiosk)

    names = [b.accessibleName() for b in kiosk.score_buttons]

    assert names == [f"{n} out of 10" for n in range(11)]
    # At least WCAG's 44 px, and at 100 % a fat-finger size of about 2.5 cm.
    smallest = 44 if kiosk.devicePixelRatioF() > 1 else 90
    assert all(min(b.height(), b.width()) >= smallest for b in kiosk.score_buttons)


def test_screenshots_of_the_kiosk(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication, tmp_path: Path
) -> None:
    """FRONTDESK_SHOTS_DIR=folder keeps them to look at (run with QT_SCALE_FACTOR=2 too)."""
    folder = Path(os.environ.get("FRONTDESK_SHOTS_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    kiosk = open_kiosk(qtbot, demo_clinic)
    as_on_a_1280_by_720_screen(qtbot, kiosk)
    QApplication.processEvents()
    assert kiosk.grab().save(str(folder / "kiosk-question.png"))
    qtbot.keyClick(kiosk, Qt.Key.Key_6)
    QApplication.processEvents()
    assert kiosk.grab().save(str(folder / "kiosk-comment.png"))
    qtbot.mouseClick(kiosk.skip_button, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert kiosk.grab().save(str(folder / "kiosk-thanks.png"))


def test_holding_the_staff_corner_leaves_the_kiosk_and_a_tap_does_not(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    kiosk = open_kiosk(qtbot, demo_clinic)
    kiosk.leave_button._timer.setInterval(200)  # instead of 3 seconds

    qtbot.mouseClick(kiosk.leave_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    assert kiosk.isVisible()

    with qtbot.waitSignal(kiosk.left):
        qtbot.mousePress(kiosk.leave_button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(kiosk.leave_button, Qt.MouseButton.LeftButton)
    assert not kiosk.isVisible()


def test_every_control_of_every_kiosk_step_has_a_spoken_name(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    kiosk = open_kiosk(qtbot, demo_clinic)
    missing = unnamed_controls(kiosk)
    kiosk.choose(5)
    missing += unnamed_controls(kiosk)
    kiosk.skip()
    missing += unnamed_controls(kiosk)

    assert missing == []


def test_tab_then_enter_answers_like_a_touch(qtbot: QtBot, demo_clinic: Clinic) -> None:
    stored = NewAnswers(demo_clinic)
    kiosk = open_kiosk(qtbot, demo_clinic)

    kiosk.score_buttons[8].setFocus()
    qtbot.keyClick(kiosk.score_buttons[8], Qt.Key.Key_Return)
    kiosk.skip_button.setFocus()
    qtbot.keyClick(kiosk.skip_button, Qt.Key.Key_Return)

    assert stored() == [(8, "", "kiosk", None, None)]


def test_an_answer_with_no_visit_is_placed_at_the_clinics_one_location(
    qtbot: QtBot, clinic: Clinic
) -> None:
    place = add_location(clinic, "Main Street office").id
    kiosk = open_kiosk(qtbot, clinic)
    kiosk.ask_for(None)
    qtbot.keyClick(kiosk, Qt.Key.Key_9)
    kiosk.skip()
    rows = clinic.conn.execute("SELECT patient_id, location_id FROM survey_response").fetchall()
    assert [tuple(r) for r in rows] == [(None, place)]


def test_with_two_locations_an_answer_with_no_visit_stays_unplaced(
    qtbot: QtBot, clinic: Clinic
) -> None:
    add_location(clinic, "Main Street office")
    add_location(clinic, "Riverside office")
    kiosk = open_kiosk(qtbot, clinic)
    kiosk.ask_for(None)
    qtbot.keyClick(kiosk, Qt.Key.Key_4)
    kiosk.skip()
    rows = clinic.conn.execute("SELECT patient_id, location_id FROM survey_response").fetchall()
    assert [tuple(r) for r in rows] == [(None, None)]
