"""Limits: floods get 429 with Retry-After, oversized bodies 413, malformed requests 4xx."""

from __future__ import annotations

import socket
import uuid

import requests

from tests.support.relay import RunningRelay, new_space, sealed_batch


def test_a_token_past_its_burst_gets_429_with_retry_after(start_relay) -> None:
    relay = start_relay(token_rate=0.01, token_burst=3)
    desk = new_space(relay.url)
    other = new_space(relay.url)

    answers = [
        requests.get(f"{relay.url}/v1/devices", headers=desk.headers, timeout=5) for _ in range(4)
    ]
    others = requests.get(f"{relay.url}/v1/devices", headers=other.headers, timeout=5)

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert others.status_code == 200  # another token has its own bucket


def test_an_address_past_its_burst_gets_429_even_without_a_token(start_relay) -> None:
    relay = start_relay(address_rate=0.01, address_burst=5)

    codes = [requests.get(f"{relay.url}/v1/health", timeout=5).status_code for _ in range(6)]

    assert codes == [200] * 5 + [429]


def test_invite_claims_are_limited_per_address(start_relay) -> None:
    relay = start_relay(claim_rate=0.01, claim_burst=2)
    body = {"device_id": str(uuid.uuid4()), "public_key": "AA==", "proof": "AA=="}

    codes = [
        requests.post(f"{relay.url}/v1/invites/guess{n}/claim", json=body, timeout=5).status_code
        for n in range(3)
    ]

    assert codes == [410, 410, 429]


def test_a_batch_over_the_limit_is_refused_with_413_before_it_is_stored(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    envelope = sealed_batch(desk, 1, payload=bytes(relay.settings.max_batch_bytes))

    answer = requests.post(
        f"{relay.url}/v1/batches", data=envelope, headers=desk.headers, timeout=30
    )

    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    page = requests.get(f"{relay.url}/v1/batches", headers=desk.headers, timeout=5).json()
    assert page["head"] == 0


def test_a_body_sent_without_a_length_is_counted_as_it_arrives(relay: RunningRelay) -> None:
    desk = new_space(relay.url)
    piece = bytes(1024 * 1024)

    def chunked():  # requests sends a generator with Transfer-Encoding: chunked
        for _ in range(6):
            yield piece

    answer = requests.post(
        f"{relay.url}/v1/batches", data=chunked(), headers=desk.headers, timeout=30
    )

    assert answer.status_code == 413


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    relay: RunningRelay,
) -> None:
    desk = new_space(relay.url)
    request = (
        "POST /v1/batches HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{relay.port}\r\n"
        f"Authorization: Bearer {desk.token}\r\n"
        f"Content-Length: {relay.settings.max_batch_bytes + 1}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as conn:
        conn.sendall(request)  # and no body at all
        status_line = conn.makefile("rb").readline()

    assert status_line.split()[1] == b"413"


def test_a_json_body_over_half_a_mib_is_refused_with_413(relay: RunningRelay) -> None:
    desk = new_space(relay.url)

    answer = requests.put(
        f"{relay.url}/v1/keys/k/devices/{desk.device_id}",
        json={"package": "A" * (600 * 1024)},
        headers=desk.headers,
        timeout=10,
    )

    assert answer.status_code == 413


def test_malformed_json_and_wrong_shapes_are_refused_with_4xx_in_the_error_format(
    relay: RunningRelay,
) -> None:
    url = f"{relay.url}/v1/spaces"
    json_header = {"Content-Type": "application/json"}
    cases = [
        requests.post(url, data=b'{"space_id": ', headers=json_header, timeout=5),
        requests.post(url, data=b"\xff\xfe", headers=json_header, timeout=5),
        requests.post(url, json=[1, 2], timeout=5),
        requests.post(url, json={"space_id": "a"}, timeout=5),
        requests.post(url, json={"space_id": "a b", "device_id": "d"}, timeout=5),
        requests.post(url, json={"space_id": 5, "device_id": "d"}, timeout=5),
        requests.post(url, json={"space_id": "a", "device_id": "d", "extra": 1}, timeout=5),
        requests.post(url, data=b"space_id=a", timeout=5),
        requests.delete(url, timeout=5),
        requests.get(f"{relay.url}/v1/nothing-here", timeout=5),
    ]

    assert [c.status_code for c in cases] == [400, 400, 422, 422, 422, 422, 422, 422, 405, 404]
    for case in cases:
        assert set(case.json()) == {"error", "message"}


def test_an_error_message_never_echoes_what_was_sent(relay: RunningRelay) -> None:
    marker = "Margaret-Hollis-555-0142"

    answer = requests.post(
        f"{relay.url}/v1/spaces", json={"space_id": marker + " !", "device_id": marker}, timeout=5
    )

    assert answer.status_code == 422
    assert marker not in answer.text
