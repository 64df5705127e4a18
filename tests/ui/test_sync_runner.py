"""The window's sync runner on real clinics and the real relay on loopback: rounds off the
GUI thread when asked, after local saves, never two at once, a clean stop; what another
workstation saved reaching the open views — by itself, woken by the watcher, no thread
left behind; a removed workstation told so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient, update_patient
from app.store.changes import Changes
from app.store.keys import new_data_key
from app.sync.devices import revoke_device
from app.sync.enrollment import start_space
from app.sync.service import sync_once
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import join
from tests.support.relay import RunningRelay, running_relay
from tests.support.sync_relay_desks import push_as
from ui.bus import DataBus
from ui.main_window import MainWindow
from ui.sync.runner import SyncRunner


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    with running_relay(tmp_path) as running:
        yield running


@pytest.fixture
def runner(qtbot: QtBot, clinic: Clinic) -> Iterator[SyncRunner]:
    bus = DataBus()
    made = SyncRunner(clinic, bus)
    yield made
    made.stop()


def test_without_sync_no_round_runs_and_the_state_is_off(runner: SyncRunner) -> None:
    assert runner.sync_now() is False
    assert not runner.running
    assert runner.last_status is not None and runner.last_status.state == "off"


def test_sync_now_runs_a_round_off_the_gui_thread_and_reports_the_state(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, runner: SyncRunner
) -> None:
    start_space(clinic, relay.url)
    assert runner.sync_now() is True
    assert runner.running
    assert runner.sync_now() is False  # never two at once: one more follows instead
    qtbot.waitUntil(lambda: runner.rounds >= 2, timeout=20_000)
    qtbot.waitUntil(lambda: not runner.running, timeout=20_000)
    assert runner.last_status is not None and runner.last_status.state != "off"


def test_a_local_save_asks_for_a_round_a_moment_later(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, runner: SyncRunner
) -> None:
    start_space(clinic, relay.url)
    created = create_patient(clinic, PatientDraft("Okafor", "Ada"))
    runner.bus.publish(created.changes)
    runner.bus.publish(created.changes)  # a burst of saves is one round
    qtbot.waitUntil(lambda: runner.rounds == 1, timeout=20_000)
    qtbot.wait(1500)
    assert runner.rounds == 1


def test_a_stopped_runner_starts_nothing(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, runner: SyncRunner
) -> None:
    start_space(clinic, relay.url)
    runner.sync_now()
    runner.stop()
    assert not runner.running
    assert runner.sync_now() is False
    created = create_patient(clinic, PatientDraft("Okafor", "Ada"))
    runner.bus.publish(created.changes)
    qtbot.wait(1500)
    assert not runner.running


def test_the_window_starts_its_runner_and_stops_it_when_closed(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_runner.rounds >= 1, timeout=20_000)
    assert window.sync_status.isVisible()
    assert window.sync_status.text()
    window.close()
    assert window.sync_runner.stopped and not window.sync_runner.running


def test_what_another_workstation_saved_appears_in_the_open_views(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, tmp_path: Path
) -> None:
    start_space(clinic, relay.url)
    assert sync_once(clinic).status.state == "synced"  # leaves the starting copy
    desk_b, _joined = join(clinic, tmp_path / "desk-b")
    try:
        window = MainWindow(desk_b, start_page="Patients")
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.sync_runner.rounds >= 1, timeout=20_000)
        heard: list[Changes] = []
        window.bus.changed.connect(heard.append)

        # Desk A (the clinic's first computer) adds a patient and sends it.
        created = create_patient(clinic, PatientDraft("Okafor", "Ada"))
        assert sync_once(clinic).pushed >= 1

        window.sync_runner.sync_now()
        qtbot.waitUntil(
            lambda: window.patients.model.row_of(created.id) is not None, timeout=20_000
        )
        assert any(c.touches("patient") for c in heard)
        qtbot.waitUntil(lambda: window.sync_status.text().startswith("Synced"), timeout=20_000)
    finally:
        window.sync_runner.stop()
        desk_b.close()


def test_a_removed_workstation_says_so_in_the_status_bar(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, tmp_path: Path
) -> None:
    start_space(clinic, relay.url)
    assert sync_once(clinic).status.state == "synced"  # leaves the starting copy
    desk_b, _joined = join(clinic, tmp_path / "desk-b")
    try:
        window = MainWindow(desk_b)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.sync_runner.rounds >= 1, timeout=20_000)
        revoke_device(clinic, desk_b.store.device_id)
        window.sync_runner.sync_now()
        qtbot.waitUntil(
            lambda: (
                window.sync_status.text()
                == "Sync stopped: this workstation was removed — ask an administrator"
            ),
            timeout=20_000,
        )
        assert window.settings.sync.state_label.text().startswith("This workstation was removed")
    finally:
        window.sync_runner.stop()
        desk_b.close()


def _sync_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("sync-round", "sync-watch")]


def test_an_edit_saved_on_another_workstation_appears_in_the_open_view_by_itself(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, tmp_path: Path
) -> None:
    start_space(clinic, relay.url)
    assert sync_once(clinic).status.state == "synced"  # leaves the starting copy
    patient = create_patient(clinic, PatientDraft("Okafor", "Ada"))
    assert sync_once(clinic).pushed >= 1
    desk_b, _joined = join(clinic, tmp_path / "desk-b")
    try:
        window = MainWindow(desk_b, start_page="Patients")
        qtbot.addWidget(window)
        window.show()
        model = window.patients.model
        qtbot.waitUntil(lambda: model.row_of(patient.id) is not None, timeout=20_000)
        qtbot.waitUntil(lambda: relay.waiting_pulls == 1, timeout=20_000)  # B's watcher

        # Desk A (the clinic's first computer) renames her and sends it; B does nothing:
        # its next timed round is minutes away.
        update_patient(clinic, patient.id, {"family_name": "Okafor-Bello"})
        assert sync_once(clinic).pushed == 1

        def renamed() -> bool:
            row = model.row_of(patient.id)
            return row is not None and model.row(row).display_name.startswith("Okafor-Bello")

        qtbot.waitUntil(renamed, timeout=20_000)
        assert desk_b.conn.execute(
            "SELECT family_name FROM patient WHERE id = ?", (patient.id,)
        ).fetchone() == ("Okafor-Bello",)
    finally:
        window.sync_runner.stop()
        desk_b.close()
    assert _sync_threads() == []


def test_the_watcher_waits_while_sync_is_on_and_stops_with_the_runner_leaving_no_thread(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, runner: SyncRunner
) -> None:
    assert not runner.watching  # sync off: nothing to wait for
    start_space(clinic, relay.url)
    runner.start(delay_ms=0)
    qtbot.waitUntil(lambda: runner.rounds >= 1, timeout=20_000)
    qtbot.waitUntil(lambda: relay.waiting_pulls == 1, timeout=20_000)
    assert runner.watching

    runner.stop()

    assert not runner.watching and not runner.running
    assert _sync_threads() == []
    qtbot.waitUntil(lambda: relay.waiting_pulls == 0, timeout=20_000)  # it hung up


def test_a_closed_window_leaves_no_sync_thread_behind(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay
) -> None:
    start_space(clinic, relay.url)
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sync_runner.watching, timeout=20_000)
    qtbot.waitUntil(lambda: relay.waiting_pulls == 1, timeout=20_000)

    window.close()

    assert _sync_threads() == []


def test_news_that_a_round_cannot_take_in_pauses_the_watcher_instead_of_looping(
    qtbot: QtBot, clinic: Clinic, relay: RunningRelay, tmp_path: Path
) -> None:
    start_space(clinic, relay.url)
    assert sync_once(clinic).status.state == "synced"
    desk_b, _joined = join(clinic, tmp_path / "desk-b")
    runner = SyncRunner(desk_b, DataBus())
    try:
        runner.start(delay_ms=0)
        qtbot.waitUntil(lambda: runner.rounds >= 1 and not runner.running, timeout=20_000)
        qtbot.waitUntil(lambda: relay.waiting_pulls == 1, timeout=20_000)
        rounds = runner.rounds

        # A batch sealed with a key no desk has: news for B's watcher, and B's round
        # refuses it (the cursor stays), so the news is still there after the round.
        push_as(clinic, b"changes", data_key=new_data_key())
        qtbot.waitUntil(lambda: runner.rounds == rounds + 1, timeout=20_000)
        qtbot.wait(3_000)  # less than the watcher's first pause

        assert runner.rounds == rounds + 1  # one round, then a pause: no round after round
        assert runner.last_status is not None and runner.last_status.state == "error"
    finally:
        runner.stop()
        desk_b.close()
    assert _sync_threads() == []
