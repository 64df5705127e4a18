"""One Frontdesk per person and data folder: a second start brings the first forward.

Two copies on one clinic would each hold the database open and each send the day's
reminders. The first copy listens on a local socket (a named pipe on Windows) named
for the user and data folder; a second copy that reaches it asks it to come forward
and quits. The name is a hash, so no folder or user name shows in the socket list.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 500
_MESSAGE = b"raise\n"


def server_name(home: Path) -> str:
    digest = hashlib.sha256(f"{getpass.getuser()}\0{home.resolve()}".encode()).hexdigest()
    return f"frontdesk-{digest[:24]}"


def ask_running_copy(home: Path) -> bool:
    """True when another copy answered (it will come forward): this one should quit."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(home))
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(_MESSAGE)
    socket.waitForBytesWritten(CONNECT_MS)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """Listens for later copies; `raise_requested` when one starts."""

    raise_requested = Signal()

    def __init__(self, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        name = server_name(home)
        if not self.server.listen(name):
            # A socket left by a copy that crashed (Unix keeps the file): clear and retry.
            QLocalServer.removeServer(name)
            self.server.listen(name)
        self.server.newConnection.connect(self._connected)

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def _connected(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.disconnected.connect(socket.deleteLater)
            self.raise_requested.emit()

    def close(self) -> None:
        self.server.close()
