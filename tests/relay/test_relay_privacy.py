"""The relay holds ciphertext only: a patient's name, phone and email sealed by a desk
are nowhere in its database files or its log."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import requests

from tests.support.relay import enroll_device, new_space, running_relay, sealed_batch

PATIENT = {
    "family_name": "Quintanilla-Oyelaran",
    "given_names": "Philippa",
    "phone": "+16125550187",
    "email": "philippa.quintanilla@example.org",
}


def test_the_relay_database_holds_no_plaintext_of_a_sealed_payload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    payload = json.dumps({"table": "patient", "row": PATIENT}).encode()
    with running_relay(tmp_path) as relay:
        desk = new_space(relay.url)
        newcomer = enroll_device(desk)
        envelope = sealed_batch(desk, 1, payload=payload)
        assert requests.post(
            f"{relay.url}/v1/batches", data=envelope, headers=desk.headers, timeout=5
        ).ok
        pulled = requests.get(f"{relay.url}/v1/batches", headers=newcomer.headers, timeout=5)
        assert base64.b64decode(pulled.json()["batches"][0]["envelope"]) == envelope
        tokens = [desk.token, newcomer.token]
    files = [p for p in (tmp_path / "relay").iterdir() if p.is_file()]
    stored = b"".join(p.read_bytes() for p in files)

    assert any(p.name == "relay.db" for p in files)
    for value in PATIENT.values():
        for form in (value.encode(), value.encode("utf-16-le"), value.lower().encode()):
            assert form not in stored, value
        assert value not in caplog.text
    for token in tokens:  # only hashes of tokens are kept
        assert token.encode() not in stored
