"""uvicorn's server for the relay: at a stop, the pulls that wait answer first.

uvicorn stops by refusing new connections, then waiting for the requests under way to
finish. A pull that waits for a batch (a long-poll, relay/waits.py) would hold that up
for as long as it was asked to wait (up to 30 s), so the relay's own server wakes every
waiting pull first: each answers at once with what it has, and the stop goes on.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from relay.waits import Waits


class RelayServer(uvicorn.Server):
    """`uvicorn.Server` for a relay application made by `relay.app.create_app`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        app = config.app
        self._waits: Waits | None = app.state.waits if isinstance(app, FastAPI) else None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._waits is not None:
            self._waits.close()
        await super().shutdown(sockets)
