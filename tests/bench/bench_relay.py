"""The sync relay under 200 concurrent devices pushing and pulling on loopback.

One relay process (`python -m relay serve`, SQLite, its defaults but rate limits off:
every device here shares the address 127.0.0.1), 200 devices in 50 clinics of four.
Each device has its own keep-alive connection and, for a bounded time, repeats a
round: push its next sealed batch (2 KiB of payload), pull the batches after the last
cursor it saw (its colleagues' and its own), then wait 0.5-1.5 s. That is one edit a
second from every desk at once, far busier than a front desk, and about 400 requests a
second in all. The run stops by itself after BENCH_RELAY_SECONDS (20).

Baseline, in the same run against the same relay with the same devices and pacing:
each round is two GET /v1/health instead (no token, no database), so the ratio is what
authentication, storage and the envelope cost over the bare HTTP round trip under the
same load. Figures: push and pull latency p50 and p99 (ms), and requests per second.
Any refused push or pull fails the group: the relay must hold the load, not shed it.

Then the wake-up: every one of the 200 devices keeps a pull waiting on the relay
(`wait=`, as a desk's watcher does), and one device of each clinic pushes a batch every
0.5-1.5 s on a second connection, for BENCH_RELAY_SECONDS / 2. Figure: from a push sent
to each of its clinic's four waiting pulls answering with it (ms, p50 and p99); baseline:
the push's own round trip (sent to acknowledged) in the same phase, so the ratio is what
waking 200 waiting pulls adds to a push.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.bench._report import Emit, log, percentile
from tests.support.relay import TestSpace, enroll_device, new_space, sealed_batch

PER_CLINIC = 4
DEVICES = int(os.environ.get("BENCH_RELAY_DEVICES", "200")) // PER_CLINIC * PER_CLINIC
SECONDS = float(os.environ.get("BENCH_RELAY_SECONDS", "20"))
BASELINE_SECONDS = SECONDS / 2
WAKE_SECONDS = SECONDS / 2
THINK = (0.5, 1.5)  # seconds a device waits between rounds
PAYLOAD = 2048
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Samples:
    push: list[float] = field(default_factory=list)
    pull: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    wake: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    requests: int = 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _relay_process(folder: Path) -> Iterator[str]:
    """`python -m relay serve` in a process of its own (so the load's threads do not
    share its interpreter), answering on a free loopback port."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RELAY_RATE_LIMIT": "0",
        "RELAY_ADDRESS_RATE_LIMIT": "0",
        "RELAY_CLAIM_RATE_LIMIT": "0",
    }
    command = [sys.executable, "-m", "relay", "serve", "--port", str(port)]
    command += ["--database", f"sqlite:///{folder / 'relay.db'}"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the relay did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _enroll(url: str) -> list[TestSpace]:
    devices: list[TestSpace] = []
    while len(devices) < DEVICES:
        size = min(PER_CLINIC, DEVICES - len(devices))
        first = new_space(url)
        devices += [first] + [enroll_device(first) for _ in range(size - 1)]
    return devices


class Connection:
    """One device's keep-alive HTTP/1.1 connection, spoken by hand on asyncio streams:
    200 of them in one event loop cost the load far less than 200 threads of requests,
    so the figures are the relay's, not the load generator's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def request(
        self, method: str, path: str, token: str | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body:
            head += "Content-Type: application/octet-stream\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


Round = Callable[[Connection, TestSpace, dict[str, int], Samples], Awaitable[None]]


async def _sync_round(
    conn: Connection, device: TestSpace, state: dict[str, int], out: Samples
) -> None:
    state["seq"] += 1
    envelope = sealed_batch(device, state["seq"], payload=os.urandom(PAYLOAD))
    started = time.perf_counter()
    status, _ = await conn.request("POST", "/v1/batches", device.token, envelope)
    out.push.append((time.perf_counter() - started) * 1000)
    if status != 201:
        out.failures.append(f"push {status}")
    started = time.perf_counter()
    status, body = await conn.request(
        "GET", f"/v1/batches?after={state['after']}&limit=100", device.token
    )
    out.pull.append((time.perf_counter() - started) * 1000)
    if status != 200:
        out.failures.append(f"pull {status}")
    else:
        batches = json.loads(body)["batches"]
        if batches:
            state["after"] = batches[-1]["cursor"]
    out.requests += 2


async def _health_round(
    conn: Connection, device: TestSpace, state: dict[str, int], out: Samples
) -> None:
    for _ in range(2):
        started = time.perf_counter()
        status, _ = await conn.request("GET", "/v1/health")
        out.health.append((time.perf_counter() - started) * 1000)
        if status != 200:
            out.failures.append(f"health {status}")
    out.requests += 2


async def _load_async(
    devices: list[TestSpace], seconds: float, one_round: Round, states: list[dict[str, int]]
) -> tuple[Samples, float]:
    out = Samples()
    connections = [await Connection.open(device.url) for device in devices]
    began = time.perf_counter()
    stop_at = time.monotonic() + seconds

    async def device_loop(index: int) -> None:
        rng = random.Random(index)
        await asyncio.sleep(rng.uniform(*THINK))  # not all at once
        while time.monotonic() < stop_at:
            try:
                await one_round(connections[index], devices[index], states[index], out)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                out.failures.append(type(error).__name__)
                return
            await asyncio.sleep(rng.uniform(*THINK))

    await asyncio.gather(*(device_loop(i) for i in range(len(devices))))
    elapsed = time.perf_counter() - began
    for conn in connections:
        conn.close()
    return out, elapsed


def _load(
    devices: list[TestSpace], seconds: float, one_round: Round, states: list[dict[str, int]]
) -> tuple[Samples, float]:
    """Every device repeating rounds on its own connection until the time is up."""
    return asyncio.run(_load_async(devices, seconds, one_round, states))


async def _wake_async(
    devices: list[TestSpace], seconds: float, states: list[dict[str, int]]
) -> Samples:
    out = Samples()
    sent_at: dict[str, float] = {}  # batch id → when its push was sent
    stop_at = time.monotonic() + seconds

    async def waiting(index: int) -> None:
        device, conn = devices[index], await Connection.open(devices[index].url)
        after = states[index]["head"]
        try:
            while time.monotonic() < stop_at:
                path = f"/v1/batches?after={after}&limit=100&wait=5"
                status, body = await conn.request("GET", path, device.token)
                answered = time.perf_counter()
                if status != 200:
                    out.failures.append(f"waiting pull {status}")
                    return
                batches = json.loads(body)["batches"]
                for batch in batches:
                    sent = sent_at.get(batch["batch_id"])
                    if sent is not None:
                        out.wake.append((answered - sent) * 1000)
                if batches:
                    after = batches[-1]["cursor"]
        finally:
            conn.close()

    async def pushing(index: int) -> None:
        device, conn = devices[index], await Connection.open(devices[index].url)
        rng = random.Random(index)
        try:
            while True:
                await asyncio.sleep(rng.uniform(*THINK))
                if time.monotonic() > stop_at - 1:  # the last waits still see theirs
                    return
                states[index]["seq"] += 1
                batch_id = uuid.uuid4().hex
                envelope = sealed_batch(
                    device, states[index]["seq"], os.urandom(PAYLOAD), batch_id=batch_id
                )
                sent_at[batch_id] = started = time.perf_counter()
                status, _ = await conn.request("POST", "/v1/batches", device.token, envelope)
                out.push.append((time.perf_counter() - started) * 1000)
                if status != 201:
                    out.failures.append(f"push {status}")
        finally:
            conn.close()

    firsts = [i for i, d in enumerate(devices) if i == 0 or d.space_id != devices[i - 1].space_id]
    await asyncio.gather(
        *(waiting(i) for i in range(len(devices))),
        *(pushing(i) for i in firsts),
    )
    return out


def _wake(devices: list[TestSpace], seconds: float, states: list[dict[str, int]]) -> Samples:
    """Every device with a pull waiting, one per clinic pushing, until the time is up."""
    for device, state in zip(devices, states, strict=True):
        page = requests.get(
            f"{device.url}/v1/batches",
            params={"after": 0, "limit": 1},
            headers=device.headers,
            timeout=10,
        )
        state["head"] = page.json()["head"]
    return asyncio.run(_wake_async(devices, seconds, states))


def run(emit: Emit) -> None:
    folder = Path(tempfile.mkdtemp(prefix="frontdesk-bench-relay-"))
    try:
        with _relay_process(folder) as url:
            devices = _enroll(url)
            log(f"relay: {len(devices)} devices enrolled; health for {BASELINE_SECONDS:.0f} s")
            states = [{"seq": 0, "after": 0} for _ in devices]
            health, health_seconds = _load(devices, BASELINE_SECONDS, _health_round, states)
            log(f"relay: push and pull rounds for {SECONDS:.0f} s")
            sync, sync_seconds = _load(devices, SECONDS, _sync_round, states)
            log(f"relay: every device's pull waiting, pushes waking them, {WAKE_SECONDS:.0f} s")
            wake = _wake(devices, WAKE_SECONDS, states)
        size = (folder / "relay.db").stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    failures = health.failures + sync.failures + wake.failures
    if failures:
        raise RuntimeError(f"{len(failures)} refused or failed requests, e.g. {failures[:5]}")
    log(
        f"relay: {len(sync.push):,} pushes, {len(sync.pull):,} pulls, "
        f"{len(health.health):,} health checks; database {size / 1e6:.1f} MB"
    )
    log(f"relay: {len(wake.push):,} pushes woke {len(wake.wake):,} waiting pulls")
    if len(wake.wake) < PER_CLINIC * len(wake.push):  # every clinic holds PER_CLINIC devices
        raise RuntimeError(f"{len(wake.push)} pushes reached only {len(wake.wake)} waiting pulls")
    n = len(devices)
    health_p50, health_p99 = percentile(health.health, 50), percentile(health.health, 99)
    emit(f"relay push p50, {n} devices", percentile(sync.push, 50), "ms", health_p50)
    emit(f"relay push p99, {n} devices", percentile(sync.push, 99), "ms", health_p99)
    emit(f"relay pull p50, {n} devices", percentile(sync.pull, 50), "ms", health_p50)
    emit(f"relay pull p99, {n} devices", percentile(sync.pull, 99), "ms", health_p99)
    push_p50 = percentile(wake.push, 50)
    emit(
        f"relay wake-up of a waiting pull p50, {n} waiting",
        percentile(wake.wake, 50),
        "ms",
        push_p50,
    )
    emit(
        f"relay wake-up of a waiting pull p99, {n} waiting",
        percentile(wake.wake, 99),
        "ms",
        push_p50,
    )
    emit(
        f"relay requests per second, {n} devices",
        sync.requests / sync_seconds,
        "req/s",
        health.requests / health_seconds,
    )
