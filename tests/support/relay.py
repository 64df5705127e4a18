"""The real relay, served by uvicorn on loopback in a background thread, for tests.

Use it as a context manager anywhere:

    from tests.support.relay import running_relay, new_space

    with running_relay(tmp_path) as relay:          # SQLite in tmp_path/relay/relay.db
        space = new_space(relay.url)                 # a space and its first device
        requests.get(f"{relay.url}/v1/devices", headers=space.headers, timeout=5)

or as the pytest fixtures `relay` (a RunningRelay) and `relay_url` (its base URL, no
trailing slash), after `from tests.support.relay import relay, relay_url  # noqa: F401`.

`running_relay(tmp_path, **settings)` passes settings on to relay.settings.Settings,
e.g. `registration_key="k"`, `token_rate=1, token_burst=3`, `clock=ManualClock()`, or
`database_url="postgresql://…"` (then `.database_path` is None). Rate limits are OFF
unless a test passes them (tests and benchmarks send far more than a desk would);
everything else is the relay's default. Starting takes well under half a second.

Helpers: new_space() registers a space and returns its first device's TestSpace (url,
ids, token, .headers); enroll_device() adds a device to it through a real invite;
sealed_batch() makes a real envelope (app/sync/envelope.seal) for a TestSpace's device;
ManualClock is a clock a test moves by hand (invite expiry, sender leases).

The handle can `stop()` the relay (a relay that is down: connections are refused)
and `start()` it again on the same port and database, as a real restart would.
Nothing is mocked: the same app, storage, limits and uvicorn as `python -m relay
serve`, over real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI

from relay.app import create_app
from relay.server import RelayServer
from relay.settings import Settings

_START_TIMEOUT = 10.0
_NO_RATE_LIMITS: dict[str, Any] = {"token_rate": 0, "address_rate": 0, "claim_rate": 0}


class RunningRelay:
    """A relay answering on http://127.0.0.1:<port> until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_path: Path | None = settings.sqlite_path()
        self._socket: socket.socket | None = None
        self._server: RelayServer | None = None
        self._thread: threading.Thread | None = None
        self._app: FastAPI | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def waiting_pulls(self) -> int:
        """Pulls waiting for a batch right now (GET /v1/batches with `wait`)."""
        return 0 if self._app is None else int(self._app.state.waits.waiting)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Serve (again): on a free port the first time, on the same port after stop()."""
        if self.running:
            return
        # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets whose
        # proto says TCP; with proto 0 every small answer waited 40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        self._socket = sock
        self._app = create_app(self.settings)
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            backlog=512,
        )
        server = RelayServer(config)  # as `python -m relay serve`: waiting pulls end first
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="relay", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test relay did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop answering: afterwards connections to .url are refused."""
        if self._server is not None and self._thread is not None and self._app is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._app.state.storage.close()  # already closed unless it hung
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


@contextmanager
def running_relay(tmp_path: Path, **settings: Any) -> Iterator[RunningRelay]:
    """Start the real relay (SQLite file tmp_path/relay/relay.db unless database_url is given)
    on 127.0.0.1 and a free port; stop it when the block ends."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'relay' / 'relay.db'}",
        **_NO_RATE_LIMITS,
        **settings,
    }
    relay = RunningRelay(Settings(**values))
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


@dataclass(frozen=True)
class TestSpace:
    """A space on a test relay and its first device's credentials."""

    __test__ = False  # not a pytest test class

    url: str
    space_id: str
    device_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_space(
    relay_url: str,
    space_id: str | None = None,
    device_id: str | None = None,
    registration_key: str | None = None,
) -> TestSpace:
    """Register a space (random ids unless given) and return its first device's token."""
    space_id = space_id or str(uuid.uuid4())
    device_id = device_id or str(uuid.uuid4())
    headers = {"X-Relay-Registration": registration_key} if registration_key else {}
    answer = requests.post(
        f"{relay_url}/v1/spaces",
        json={"space_id": space_id, "device_id": device_id},
        headers=headers,
        timeout=10,
    )
    answer.raise_for_status()
    return TestSpace(relay_url, space_id, device_id, answer.json()["token"])


def enroll_device(space: TestSpace, device_id: str | None = None) -> TestSpace:
    """A second (third…) device of the same space, through a real invite and claim."""
    device_id = device_id or str(uuid.uuid4())
    invite_id = uuid.uuid4().hex[:10]
    requests.post(
        f"{space.url}/v1/invites",
        json={"invite_id": invite_id, "expires_in": 600},
        headers=space.headers,
        timeout=10,
    ).raise_for_status()
    claimed = requests.post(
        f"{space.url}/v1/invites/{invite_id}/claim",
        json={"device_id": device_id, "public_key": "cHVibGlj", "proof": "cHJvb2Y="},
        timeout=10,
    )
    claimed.raise_for_status()
    return TestSpace(space.url, space.space_id, device_id, claimed.json()["token"])


class ManualClock:
    """A clock the test moves by hand: `running_relay(tmp_path, clock=clock)` makes the
    relay's invite expiry, sender lease and snapshot clean-up follow it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TEST_DATA_KEY = bytes(range(32))


def sealed_batch(
    space: TestSpace,
    seq: int,
    payload: bytes = b"changes",
    batch_id: str | None = None,
    data_key: bytes = TEST_DATA_KEY,
) -> bytes:
    """A real envelope (app/sync/envelope.seal) from this device, as a desk would push it."""
    from app.sync.envelope import seal

    return seal(
        data_key, space.space_id, space.device_id, seq, batch_id or uuid.uuid4().hex, payload
    )


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RunningRelay]:
    """A relay on SQLite in this test's tmp_path, rate limits off."""
    with running_relay(tmp_path) as running:
        yield running


@pytest.fixture
def relay_url(relay: RunningRelay) -> str:
    """The base URL of this test's relay, e.g. http://127.0.0.1:41234."""
    return relay.url
