"""The window's sync runner on real clinics and the real relay on loopback: rounds off the
GUI thread when asked, after local saves, never two at once, and a clean stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.sync.enrollment import start_space
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, running_relay
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
