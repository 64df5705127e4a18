"""Hearing that the computer's own screen locked, where the operating system tells a program.

Windows and macOS tell every program; Linux tells through the desktop's screen saver
service on the session bus (KDE, GNOME, Xfce and others name it differently) or through
systemd-logind on the system bus, and some desktops tell nobody. Each way in fails
quietly: a missing service is logged once and the idle lock still protects the desk.
`supported()` says whether this desktop can tell, so Settings can say so plainly.

Only ctypes and Qt: no pywin32 or pyobjc to install and keep up to date.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from typing import Final

from PySide6.QtCore import (
    SLOT,
    QAbstractNativeEventFilter,
    QByteArray,
    QCoreApplication,
    QObject,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

# --- Windows ---------------------------------------------------------------------------
WM_WTSSESSION_CHANGE: Final = 0x02B1
WTS_CONSOLE_DISCONNECT: Final = 0x2
WTS_REMOTE_DISCONNECT: Final = 0x4
WTS_SESSION_LOCK: Final = 0x7
WM_POWERBROADCAST: Final = 0x0218
PBT_APMSUSPEND: Final = 0x0004
NOTIFY_FOR_THIS_SESSION: Final = 0
WINDOWS_EVENT_TYPE: Final = b"windows_generic_MSG"


class WindowsMsg(ctypes.Structure):
    """The Win32 MSG structure, spelled with fixed-size types so it can be built anywhere
    (the decoding is tested on Linux with a constructed message)."""

    _fields_ = (
        ("hwnd", ctypes.c_void_p),
        ("message", ctypes.c_uint32),
        ("wParam", ctypes.c_size_t),  # WPARAM = UINT_PTR
        ("lParam", ctypes.c_ssize_t),  # LPARAM = LONG_PTR
        ("time", ctypes.c_uint32),
        ("pt_x", ctypes.c_int32),
        ("pt_y", ctypes.c_int32),
        ("lPrivate", ctypes.c_uint32),
    )


def windows_lock_reason(message: int, wparam: int) -> str | None:
    """Why a window message means the desk is being left, or None for any other message."""
    if message == WM_WTSSESSION_CHANGE:
        if wparam == WTS_SESSION_LOCK:
            return "lock"
        if wparam in (WTS_CONSOLE_DISCONNECT, WTS_REMOTE_DISCONNECT):
            return "disconnect"  # fast user switching or a remote session taken over
    if message == WM_POWERBROADCAST and wparam == PBT_APMSUSPEND:
        return "suspend"  # a laptop lid closed: lock before it sleeps, not after it wakes
    return None


def decode_windows_event(event_type: bytes, message_address: int) -> str | None:
    """The reason (see windows_lock_reason) carried by a native event, reading the MSG at
    the address Qt hands the native event filter."""
    if event_type != WINDOWS_EVENT_TYPE or not message_address:
        return None
    msg = WindowsMsg.from_address(message_address)
    return windows_lock_reason(int(msg.message), int(msg.wParam))


def _as_bytes(event_type: QByteArray | bytes | bytearray | memoryview) -> bytes:
    if isinstance(event_type, QByteArray):
        return bytes(event_type.data())
    return bytes(event_type)


class _WindowsFilter(QAbstractNativeEventFilter):
    def __init__(self, listener: ScreenLockListener) -> None:
        super().__init__()
        self._listener = listener

    def nativeEventFilter(  # noqa: N802 - Qt's name
        self,
        eventType: QByteArray | bytes | bytearray | memoryview,  # noqa: N803 - Qt's name
        message: int,
    ) -> object:
        reason = decode_windows_event(_as_bytes(eventType), int(message))
        if reason is not None:
            self._listener.notice(reason)
        return False, 0  # PySide6: (handled, result); never take the message from Qt


# --- macOS -----------------------------------------------------------------------------
MAC_LOCK_NOTIFICATION: Final = "com.apple.screenIsLocked"
_CF_STRING_ENCODING_UTF8: Final = 0x08000100
_CF_DELIVER_IMMEDIATELY: Final = 4
_MacCallback = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)


def mac_lock_reason(notification_name: str) -> str | None:
    return "lock" if notification_name == MAC_LOCK_NOTIFICATION else None


# --- Linux (D-Bus) ---------------------------------------------------------------------
# (service, object path, interface) of the screen savers that send ActiveChanged(bool).
SCREENSAVER_SERVICES: Final = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.freedesktop.ScreenSaver", "/ScreenSaver", "org.freedesktop.ScreenSaver"),  # KDE
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("org.xfce.ScreenSaver", "/org/xfce/ScreenSaver", "org.xfce.ScreenSaver"),
    ("org.mate.ScreenSaver", "/org/mate/ScreenSaver", "org.mate.ScreenSaver"),
)
LOGIN1: Final = "org.freedesktop.login1"


class ScreenLockListener(QObject):
    """Emits `screen_locked` when the computer's screen locks, the session is switched away
    or the computer goes to sleep. Create one per main window; `close()` when it closes."""

    screen_locked = Signal(str)  # the reason: lock, disconnect, suspend, screensaver

    def __init__(
        self,
        window: QWidget | None = None,
        parent: QObject | None = None,
        *,
        session_bus: object | None = None,
        system_bus: object | None = None,
    ) -> None:
        super().__init__(parent)
        self._supported = False
        self._closed = False
        self._win_filter: _WindowsFilter | None = None
        self._hwnd = 0
        self._mac: tuple[ctypes.CDLL, int, object, ctypes.c_int] | None = None
        self._buses: list[object] = []
        if sys.platform == "win32":
            self._start_windows(window)
        elif sys.platform == "darwin":
            self._start_mac()
        else:
            self._start_dbus(session_bus, system_bus)

    def supported(self) -> bool:
        """Whether this computer tells Frontdesk when its screen locks."""
        return self._supported

    def notice(self, reason: str) -> None:
        """A platform said the desk is being left; tell the listeners on the GUI thread."""
        if not self._closed:
            self.screen_locked.emit(reason)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._win_filter is not None:
            app = QCoreApplication.instance()
            if app is not None:
                app.removeNativeEventFilter(self._win_filter)
            if self._hwnd:
                try:
                    ctypes.windll.wtsapi32.WTSUnRegisterSessionNotification(self._hwnd)  # type: ignore[attr-defined]
                except OSError as exc:
                    log.info("screen lock: could not unregister (%s)", type(exc).__name__)
        if self._mac is not None:
            cf, center, _callback, observer = self._mac
            cf.CFNotificationCenterRemoveEveryObserver(center, ctypes.byref(observer))
            self._mac = None

    # --- Windows ---
    def _start_windows(self, window: QWidget | None) -> None:
        app = QCoreApplication.instance()
        if app is None:
            return
        self._win_filter = _WindowsFilter(self)
        app.installNativeEventFilter(self._win_filter)
        # Suspend messages reach every top-level window; session changes only a window
        # that asked for them.
        if window is None:
            log.info("screen lock: no window to register for session changes")
            return
        try:
            hwnd = int(window.winId())
            ok = ctypes.windll.wtsapi32.WTSRegisterSessionNotification(  # type: ignore[attr-defined]
                hwnd, NOTIFY_FOR_THIS_SESSION
            )
        except (OSError, AttributeError) as exc:
            log.info("screen lock: session notifications unavailable (%s)", type(exc).__name__)
            return
        if ok:
            self._hwnd = hwnd
            self._supported = True
        else:
            log.info("screen lock: Windows refused session notifications")

    # --- macOS ---
    def _start_mac(self) -> None:
        path = ctypes.util.find_library("CoreFoundation")
        if not path:
            log.info("screen lock: CoreFoundation not found")
            return
        try:
            cf = ctypes.cdll.LoadLibrary(path)
            cf.CFNotificationCenterGetDistributedCenter.restype = ctypes.c_void_p
            cf.CFStringCreateWithCString.restype = ctypes.c_void_p
            cf.CFStringCreateWithCString.argtypes = (
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_uint32,
            )
            cf.CFNotificationCenterAddObserver.argtypes = (
                ctypes.c_void_p,
                ctypes.c_void_p,
                _MacCallback,
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_long,
            )
            cf.CFNotificationCenterRemoveEveryObserver.argtypes = (
                ctypes.c_void_p,
                ctypes.c_void_p,
            )
            center = cf.CFNotificationCenterGetDistributedCenter()
            name = cf.CFStringCreateWithCString(
                None, MAC_LOCK_NOTIFICATION.encode(), _CF_STRING_ENCODING_UTF8
            )
        except (OSError, AttributeError) as exc:
            log.info("screen lock: CoreFoundation unusable (%s)", type(exc).__name__)
            return

        def delivered(_center: int, _observer: int, _name: int, _obj: int, _info: int) -> None:
            # Arrives on the main run loop, inside Qt's event dispatch: only schedule.
            QTimer.singleShot(0, lambda: self.notice("lock"))

        callback = _MacCallback(delivered)
        observer = ctypes.c_int(1)  # any stable address identifies this observer
        cf.CFNotificationCenterAddObserver(
            center, ctypes.byref(observer), callback, name, None, _CF_DELIVER_IMMEDIATELY
        )
        # The callback and observer must outlive this call: CoreFoundation keeps only
        # the raw pointers.
        self._mac = (cf, center, callback, observer)
        self._supported = True

    # --- Linux ---
    def _start_dbus(self, session_bus: object | None, system_bus: object | None) -> None:
        if session_bus is None and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            # No desktop session (a server, CI): Qt's D-Bus thread is never started, so it
            # cannot meet the window's own start-up (a hang was seen creating a field).
            log.info("screen lock: no session bus")
            return
        try:
            from PySide6.QtDBus import QDBusConnection
        except ImportError:
            log.info("screen lock: Qt D-Bus support is not installed")
            return
        session = session_bus if session_bus is not None else QDBusConnection.sessionBus()
        system = system_bus if system_bus is not None else QDBusConnection.systemBus()
        assert isinstance(session, QDBusConnection) and isinstance(system, QDBusConnection)
        self._buses = [session, system]
        found: list[str] = []
        if session.isConnected():
            for service, path, interface in SCREENSAVER_SERVICES:
                session.connect(  # type: ignore[call-overload]  # PySide6 takes the slot as str; its stub says bytes
                    service,
                    path,
                    interface,
                    "ActiveChanged",
                    self,
                    SLOT("_screensaver_active(bool)"),
                )
            registered = session.interface()
            for service in {s for s, _p, _i in SCREENSAVER_SERVICES}:
                if registered is not None and registered.isServiceRegistered(service).value():
                    found.append(service)
        else:
            log.info("screen lock: no session bus")
        if system.isConnected() and self._connect_login1(system):
            found.append(LOGIN1)
        self._supported = bool(found)
        if not found:
            log.info("screen lock: no screen saver or login service on this desktop")

    def _connect_login1(self, system: object) -> bool:
        from PySide6.QtDBus import QDBus, QDBusConnection, QDBusInterface

        assert isinstance(system, QDBusConnection)
        registered = system.interface()
        if registered is None or not registered.isServiceRegistered(LOGIN1).value():
            return False
        manager = QDBusInterface(
            LOGIN1, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", system
        )
        manager.setTimeout(2000)
        reply = manager.call(QDBus.CallMode.Block, "GetSession", _session_id())
        arguments = reply.arguments()
        session_path = ""
        if arguments:
            first = arguments[0]
            session_path = first.path() if hasattr(first, "path") else str(first)
        if session_path:
            system.connect(  # type: ignore[call-overload]  # PySide6 takes the slot as str; its stub says bytes
                LOGIN1,
                session_path,
                "org.freedesktop.login1.Session",
                "Lock",
                self,
                SLOT("_login1_lock()"),
            )
        else:
            log.info("screen lock: logind does not know this session")
        system.connect(  # type: ignore[call-overload]  # PySide6 takes the slot as str; its stub says bytes
            LOGIN1,
            "/org/freedesktop/login1",
            "org.freedesktop.login1.Manager",
            "PrepareForSleep",
            self,
            SLOT("_prepare_for_sleep(bool)"),
        )
        return True

    @Slot(bool)
    def _screensaver_active(self, active: bool) -> None:
        if active:
            self.notice("screensaver")

    @Slot()
    def _login1_lock(self) -> None:
        self.notice("lock")

    @Slot(bool)
    def _prepare_for_sleep(self, starting: bool) -> None:
        if starting:
            self.notice("suspend")


def _session_id() -> str:
    # logind resolves "auto" to the caller's session (or the seat's display session when
    # the caller runs outside one, as a program started from a desktop launcher may).
    return os.environ.get("XDG_SESSION_ID") or "auto"


def supported() -> bool:
    """Whether this computer tells Frontdesk when its screen locks (for the Settings note)."""
    if sys.platform == "win32":
        return True  # every Windows desktop sends session-change messages
    listener = ScreenLockListener()
    try:
        return listener.supported()
    finally:
        listener.close()
        listener.deleteLater()
