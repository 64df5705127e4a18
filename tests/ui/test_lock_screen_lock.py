"""Hearing the computer's screen lock: Linux through a real (private) D-Bus session bus;
Windows and macOS through their message decoding, fed constructed messages."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ui.security import screen_lock
from ui.security.screen_lock import ScreenLockListener, WindowsMsg

QtDBus = pytest.importorskip("PySide6.QtDBus", reason="this PySide6 has no Qt D-Bus module")
DBUS_DAEMON = shutil.which("dbus-daemon")


@pytest.fixture
def private_bus() -> Iterator[str]:
    """A session bus of our own, so no desktop's real screen saver is involved."""
    if DBUS_DAEMON is None:
        pytest.skip("dbus-daemon is not installed on this computer")
    daemon = subprocess.Popen(
        [DBUS_DAEMON, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    try:
        yield address
    finally:
        # Qt keeps named connections for the whole process: close ours before the bus
        # goes, so no later test's event loop meets a connection to a dead daemon.
        for name in NAMED_CONNECTIONS:
            QtDBus.QDBusConnection.disconnectFromBus(name)
        daemon.terminate()
        daemon.wait(timeout=10)


NAMED_CONNECTIONS = (
    "frontdesk-listener",
    "frontdesk-fake-desktop",
    "frontdesk-listener-gnome",
    "frontdesk-fake-gnome",
    "frontdesk-listener-bare",
    "frontdesk-listener-win",
    "frontdesk-no-system",
)


def no_system_bus() -> object:
    return QtDBus.QDBusConnection.connectToBus("unix:path=/nonexistent/bus", "frontdesk-no-system")


def active_changed(path: str, interface: str, active: bool) -> object:
    message = QtDBus.QDBusMessage.createSignal(path, interface, "ActiveChanged")
    message.setArguments([active])
    return message


def test_a_screen_saver_turning_on_locks(qtbot: QtBot, private_bus: str) -> None:
    ours = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-listener")
    desktop = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-fake-desktop")
    assert desktop.registerService("org.freedesktop.ScreenSaver")
    listener = ScreenLockListener(session_bus=ours, system_bus=no_system_bus())
    assert listener.supported()
    heard: list[str] = []
    listener.screen_locked.connect(heard.append)

    # Turning off (unlocking) is not a reason to lock.
    desktop.send(
        active_changed("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver", False)
    )
    with qtbot.waitSignal(listener.screen_locked, timeout=5000):
        desktop.send(
            active_changed("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver", True)
        )
    assert heard == ["screensaver"]
    listener.close()


def test_gnome_s_screen_saver_is_heard_too(qtbot: QtBot, private_bus: str) -> None:
    ours = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-listener-gnome")
    desktop = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-fake-gnome")
    assert desktop.registerService("org.gnome.ScreenSaver")
    listener = ScreenLockListener(session_bus=ours, system_bus=no_system_bus())
    assert listener.supported()
    with qtbot.waitSignal(listener.screen_locked, timeout=5000) as blocker:
        desktop.send(active_changed("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver", True))
    assert blocker.args == ["screensaver"]
    listener.close()


def test_a_desktop_without_a_screen_saver_says_it_cannot_tell(private_bus: str) -> None:
    ours = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-listener-bare")
    listener = ScreenLockListener(session_bus=ours, system_bus=no_system_bus())
    assert not listener.supported()
    listener.close()


def test_without_any_bus_the_listener_is_quietly_unsupported() -> None:
    nowhere = QtDBus.QDBusConnection.connectToBus("unix:path=/nonexistent/session", "fd-none")
    listener = ScreenLockListener(session_bus=nowhere, system_bus=no_system_bus())
    assert not listener.supported()
    listener.close()


def windows_message(message: int, wparam: int) -> WindowsMsg:
    return WindowsMsg(hwnd=0x1234, message=message, wParam=wparam, lParam=0, time=1)


@pytest.mark.parametrize(
    ("message", "wparam", "reason"),
    [
        (0x02B1, 0x7, "lock"),  # WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK
        (0x02B1, 0x2, "disconnect"),  # WTS_CONSOLE_DISCONNECT
        (0x02B1, 0x8, None),  # WTS_SESSION_UNLOCK
        (0x0218, 0x4, "suspend"),  # WM_POWERBROADCAST, PBT_APMSUSPEND
        (0x0218, 0x12, None),  # PBT_APMRESUMEAUTOMATIC
        (0x0100, 0x7, None),  # WM_KEYDOWN with the same wParam
    ],
)
def test_windows_messages_read_from_the_address_qt_hands_over(
    message: int, wparam: int, reason: str | None
) -> None:
    msg = windows_message(message, wparam)
    assert screen_lock.decode_windows_event(b"windows_generic_MSG", ctypes.addressof(msg)) == reason


def test_other_native_event_kinds_are_not_read_as_windows_messages() -> None:
    msg = windows_message(0x02B1, 0x7)
    assert screen_lock.decode_windows_event(b"xcb_generic_event_t", ctypes.addressof(msg)) is None
    assert screen_lock.decode_windows_event(b"windows_generic_MSG", 0) is None


def test_macos_lock_notification_name() -> None:
    assert screen_lock.mac_lock_reason("com.apple.screenIsLocked") == "lock"
    assert screen_lock.mac_lock_reason("com.apple.screenIsUnlocked") is None


def test_the_native_filter_passes_windows_lock_messages_on_and_keeps_none(
    qtbot: QtBot, private_bus: str
) -> None:
    from PySide6.QtCore import QByteArray

    ours = QtDBus.QDBusConnection.connectToBus(private_bus, "frontdesk-listener-win")
    listener = ScreenLockListener(session_bus=ours, system_bus=no_system_bus())
    native = screen_lock._WindowsFilter(listener)
    msg = windows_message(0x02B1, 0x7)
    with qtbot.waitSignal(listener.screen_locked, timeout=1000) as blocker:
        handled = native.nativeEventFilter(
            QByteArray(b"windows_generic_MSG"), ctypes.addressof(msg)
        )
    assert handled == (False, 0)  # Qt still gets every message
    assert blocker.args == ["lock"]
    listener.close()
