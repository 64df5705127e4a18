"""The Surveys tab on a real demo clinic: its NPS is the NPS of the stored scores, an answer
recorded at the desk appears in the list, double-click opens the patient, and the kiosk
is opened for a visit chosen on the desk's screen only."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.engagement import surveys
from app.engagement.nps import net_promoter_score
from app.scheduling import appointments
from app.today import clinic_today, clinic_zone
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.campaigns.surveys_tab import SurveysTab, nps_text

NOW = datetime.now(UTC)


def patients(clinic: Clinic, count: int) -> list[tuple[str, str]]:
    """(id, family name) of living patients, in a fixed order."""
    rows = clinic.conn.execute(
        "SELECT id, family_name FROM patient WHERE deceased = 0 AND length(family_name) > 3 "
        "ORDER BY id LIMIT ?",
        (count,),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def answer(clinic: Clinic, score: int, days_ago: int, patient: str | None = None) -> str:
    return surveys.record_answer(
        clinic,
        score=score,
        channel="sms" if patient else "kiosk",
        patient_id=patient,
        comment=f"scored {score}",
        at=NOW - timedelta(days=days_ago),
    ).id


def shown_tab(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> SurveysTab:
    tab = SurveysTab(clinic, bus or DataBus())
    qtbot.addWidget(tab)
    ratio = tab.devicePixelRatioF()
    tab.resize(round(1280 / ratio), round(720 / ratio))
    with qtbot.waitSignal(tab.loaded):
        tab.show()
    return tab


def test_the_nps_shown_is_the_nps_of_the_scores_stored_in_the_last_90_days(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    people = patients(demo_clinic, 6)
    for (patient, _name), score, days_ago in zip(
        people, (10, 9, 9, 7, 3, 8), (1, 5, 20, 40, 60, 80), strict=True
    ):
        answer(demo_clinic, score, days_ago, patient)
    answer(demo_clinic, 0, 2)  # anonymous, from the kiosk: counts too
    answer(demo_clinic, 0, 150)  # too old to count
    # The 90 days are the clinic's calendar days, today included: from local midnight.
    zone = clinic_zone(demo_clinic)
    first_day = clinic_today(demo_clinic) - timedelta(days=89)
    since = datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC)
    scores = [
        int(r[0])
        for r in demo_clinic.conn.execute(
            "SELECT score FROM survey_response WHERE answered_at >= ?",
            (since.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        )
    ]

    tab = shown_tab(qtbot, demo_clinic)

    expected = net_promoter_score(scores)
    assert tab.nps_now == expected
    assert tab.nps_label.text() == nps_text(expected)
    assert f"{len(scores)} answers" in tab.counts_label.text()


def test_an_answer_recorded_at_the_desk_adds_a_row_for_that_patient(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    bus = DataBus()
    (patient, family), *_ = patients(demo_clinic, 1)
    answer(demo_clinic, 8, 3)
    tab = shown_tab(qtbot, demo_clinic, bus)
    before = tab.answers_model.rowCount()

    dialog = tab.record_answer()
    picker = dialog.choose_patient()
    picker.query.setText(family)
    picker.search_now()
    chosen = [picker.results.item(i).data(256)[0] for i in range(picker.results.count())].index(
        patient
    )
    picker.results.setCurrentRow(chosen)
    picker.choose_current()
    dialog.score.setCurrentIndex(dialog.score.findData(5))
    dialog.channel.setCurrentIndex(dialog.channel.findData("email"))
    dialog.comment.setPlainText("Waited 40 minutes")
    with qtbot.waitSignal(tab.loaded):
        assert dialog.save()

    assert tab.answers_model.rowCount() == before + 1
    newest = tab.answers_model.rows[0]
    assert (newest.patient_id, newest.score, newest.channel, newest.comment) == (
        patient,
        5,
        "email",
        "Waited 40 minutes",
    )
    assert tab.answers_model.data(tab.answers_model.index(0, 1)) == "5 · detractor"


def test_saving_without_a_patient_or_a_score_says_so_next_to_each_and_stores_nothing(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    tab = shown_tab(qtbot, demo_clinic)
    dialog = tab.record_answer()
    count = "SELECT count(*) FROM survey_response"
    before = demo_clinic.conn.execute(count).fetchone()[0]

    assert not dialog.save()

    assert dialog.error_text("patient") == "Choose the patient who answered."
    assert dialog.error_text("score") == "Choose the score the patient gave, 0 to 10."
    assert demo_clinic.conn.execute(count).fetchone()[0] == before


def test_opening_an_answer_opens_its_patient(qtbot: QtBot, demo_clinic: Clinic) -> None:
    (patient, _family), *_ = patients(demo_clinic, 1)
    answer_id = answer(demo_clinic, 2, 0, patient)
    tab = shown_tab(qtbot, demo_clinic)
    row = [a.id for a in tab.answers_model.rows].index(answer_id)

    with qtbot.waitSignal(tab.open_patient) as opened:
        tab.answers.open_row.emit(row)

    assert opened.args == [patient]


def test_the_kiosk_opens_for_a_visit_chosen_on_the_desk_and_keeps_its_answer(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    (patient, family), *_ = patients(demo_clinic, 1)
    start = datetime.combine(clinic_today(demo_clinic), time(9), tzinfo=clinic_zone(demo_clinic))
    visit = appointments.book(demo_clinic, patient, start, start + timedelta(minutes=15)).id
    appointments.set_status(demo_clinic, visit, "arrived")
    tab = shown_tab(qtbot, demo_clinic)

    dialog = tab.open_kiosk()
    listed = [dialog.visits.item(i).text() for i in range(dialog.visits.count())]
    dialog.choose_visit(visit)
    kiosk = tab.kiosk
    assert kiosk is not None
    qtbot.waitUntil(kiosk.isVisible)
    with qtbot.waitSignal(tab.loaded):
        kiosk.choose(9)
        kiosk.skip()

    assert any(family in line for line in listed)
    assert family in tab.kiosk_status.text() or "Answer saved" in tab.kiosk_status.text()
    newest = tab.answers_model.rows[0]
    assert (newest.appointment_id, newest.patient_id, newest.channel) == (visit, patient, "kiosk")
    tab.close_kiosk()
    assert not kiosk.isVisible()
    assert tab.kiosk_status.text() == "The kiosk is closed."


def test_nps_by_provider_lists_each_providers_month(qtbot: QtBot, demo_clinic: Clinic) -> None:
    (patient, _family), *_ = patients(demo_clinic, 1)
    start = datetime.combine(
        clinic_today(demo_clinic) - timedelta(days=2), time(10), tzinfo=clinic_zone(demo_clinic)
    )
    provider = demo_clinic.conn.execute("SELECT id FROM provider ORDER BY id LIMIT 1").fetchone()
    visit = appointments.book(
        demo_clinic, patient, start, start + timedelta(minutes=15), provider_id=provider[0]
    ).id
    surveys.record_answer(demo_clinic, score=10, channel="sms", appointment_id=visit)
    tab = shown_tab(qtbot, demo_clinic)

    with qtbot.waitSignal(tab.loaded):
        tab.grouping.setCurrentIndex(tab.grouping.findData("provider"))

    groups = {p.group_id for p in tab.months_model.rows}
    assert provider[0] in groups
    assert not tab.months.isColumnHidden(1)


def test_screenshot_of_the_surveys_tab(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication, tmp_path: Path
) -> None:
    """FRONTDESK_SHOTS_DIR=folder keeps it to look at (run with QT_SCALE_FACTOR=2 too)."""
    folder = Path(os.environ.get("FRONTDESK_SHOTS_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    people = patients(demo_clinic, 40)
    comments = ["", "Friendly staff", "Long wait at check-in", "", "Dr was very thorough"]
    for index, (patient, _name) in enumerate(people):
        surveys.record_answer(
            demo_clinic,
            score=(10, 9, 8, 10, 6, 9, 7, 10, 3, 9, 10, 8, 5)[index % 13],
            channel=("sms", "email", "kiosk", "desk")[index % 4],
            patient_id=patient,
            comment=comments[index % len(comments)],
            at=NOW - timedelta(days=index * 9),
        )
    tab = shown_tab(qtbot, demo_clinic)
    QApplication.processEvents()
    assert tab.grab().save(str(folder / "surveys-tab.png"))
    dialog = tab.record_answer()
    dialog.save()
    QApplication.processEvents()
    assert dialog.grab().save(str(folder / "surveys-record-answer.png"))
    dialog.reject()
    visits = tab.open_kiosk()
    QApplication.processEvents()
    assert visits.grab().save(str(folder / "surveys-kiosk-visits.png"))
    visits.reject()


def test_every_control_of_the_tab_and_its_dialogs_has_a_spoken_name(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    tab = shown_tab(qtbot, demo_clinic)
    record = tab.record_answer()
    visits = tab.open_kiosk()

    assert unnamed_controls(tab) + unnamed_controls(record) + unnamed_controls(visits) == []
