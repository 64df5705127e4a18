"""`python -m relay serve`: the one command an administrator runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _relay_command(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_serve_command_answers_on_its_port_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    database = tmp_path / "clinic-relay.db"
    process = _relay_command(
        "--port",
        str(port),
        env={"RELAY_DATABASE_URL": f"sqlite:///{database}", "RELAY_REGISTRATION_KEY": "k"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the relay did not start"
                time.sleep(0.1)
        unregistered = requests.post(
            f"http://127.0.0.1:{port}/v1/spaces",
            json={"space_id": "s", "device_id": "d"},
            timeout=5,
        )
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)

    assert health.json()["status"] == "ok"
    assert unregistered.status_code == 403  # the key came from RELAY_REGISTRATION_KEY
    assert database.exists()
    assert process.returncode == 0
    assert "clinic-relay.db" in output


def test_a_database_url_it_cannot_use_is_refused_in_words(tmp_path: Path) -> None:
    process = _relay_command("--database", "mysql://somewhere/relay")

    output, _ = process.communicate(timeout=20)

    assert process.returncode == 2
    assert "sqlite:///" in output
    assert "Traceback" not in output


def test_ctrl_c_answers_a_pull_that_waits_and_stops_at_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.relay import new_space

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = _relay_command(
        "--port", str(port), "--database", f"sqlite:///{tmp_path / 'relay.db'}"
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    requests.get(f"{url}/v1/health", timeout=1)
                    break
                except requests.ConnectionError:
                    assert process.poll() is None, process.stdout.read() if process.stdout else ""
                    assert time.monotonic() < deadline, "the relay did not start"
                    time.sleep(0.1)
            desk = new_space(url)
            waiting = pool.submit(
                requests.get,
                f"{url}/v1/batches",
                params={"after": 0, "wait": 30},
                headers=desk.headers,
                timeout=15,  # a pull that kept waiting its 30 s fails the test
            )
            time.sleep(0.5)  # the pull is on its way (an answer before the stop is fine too)
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=15)
        answer = waiting.result()

    assert answer.status_code == 200
    assert answer.json() == {"batches": [], "more": False, "head": 0}
    assert process.returncode == 0
