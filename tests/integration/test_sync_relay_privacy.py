"""The relay learns nothing: a whole demo clinic synced through it (the starting snapshot
and batches full of names, phones and emails) leaves none of them in the relay's files
or log, in any of the forms people write them."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.patients.records import update_patient
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401
from tests.support.sync_desks import domain_state
from tests.support.sync_relay_desks import first_desk, join_desk, settle

# Shorter words could turn up by chance in megabytes of ciphertext (a given 5-byte string
# about once in 10^12 positions; six bytes are safe by far).
MIN_WORD = 6


def _plaintext_in(stored: bytes, texts: set[str], phones: set[str]) -> list[str]:
    """Which of these names, emails and phones appear in `stored`: UTF-8 or UTF-16, any
    case, a phone written any way (+1 312 555 0142, (312) 555-0142, 312.555.0142…).
    One regex pass collects every run of the characters they are made of (ciphertext has
    few and short ones) and the values are looked for in those runs: thousands of scans
    of the whole file would take a minute."""
    haystack = stored.lower()
    text_chars = rb"[a-z0-9@._+'\-]"
    runs = set(re.findall(text_chars + rb"{%d,}" % MIN_WORD, haystack))
    runs |= {
        r.replace(b"\x00", b"") for r in re.findall(rb"(?:" + text_chars + rb"\x00){6,}", haystack)
    }
    digits = {re.sub(rb"\D", b"", r) for r in re.findall(rb"[0-9() .+\-]{7,}", haystack)}
    found: list[str] = []
    for value in sorted(texts):
        folded = value.lower()
        if folded.isascii():
            if any(folded.encode() in run for run in runs):
                found.append(value)
        elif folded.encode() in haystack or folded.encode("utf-16-le") in haystack:
            found.append(value)
    for value in sorted(phones):
        bare = re.sub(r"\D", "", value).encode()
        if any(bare[-10:] in run for run in digits):
            found.append(value)
    return found


def test_a_synced_demo_clinic_leaves_no_name_phone_or_email_in_the_relay(
    demo_clinic: Clinic,
    relay: RunningRelay,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    desk_a = first_desk(demo_clinic, relay.url)
    desk_b = join_desk(desk_a, tmp_path / "desk-b")
    try:
        people = desk_a.conn.execute(
            "SELECT id, family_name, given_names FROM patient ORDER BY id"
        ).fetchall()
        contacts = desk_a.conn.execute(
            "SELECT patient_id, kind, value FROM contact_point"
        ).fetchall()
        # Batches that carry every name, phone and email again (the snapshot carried them once).
        for patient_id, _family, given in people:
            update_patient(desk_a, patient_id, {"preferred_name": given})
        with desk_a.store.write() as tx:  # the demo has quirky emails: written as they are
            for patient_id, kind, value in contacts:
                tx.insert("contact_point", {"patient_id": patient_id, "kind": kind, "value": value})
        settle(desk_a, desk_b)
        assert domain_state(desk_a) == domain_state(desk_b)
    finally:
        desk_b.close()
    assert relay.database_path is not None
    folder = relay.database_path.parent
    stored = b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())
    assert len(stored) > 1 << 20  # the snapshot and the batches are in there, sealed

    words = {w for _id, family, given in people for w in f"{family} {given}".split()}
    words = {w for w in words if len(w) >= MIN_WORD}
    emails = {value for _p, kind, value in contacts if kind == "email"}
    phones = {value for _p, kind, value in contacts if kind == "phone"}
    assert len(words) > 50 and len(emails) > 50 and len(phones) > 50
    found = _plaintext_in(stored, words | emails, phones)
    assert found == []
    logged = caplog.text
    assert [value for value in words | emails | phones if value in logged] == []


def test_the_search_finds_what_is_planted_in_ciphertext() -> None:
    noise = bytes(range(256)) * 4
    planted = (
        noise
        + b"Okafor-Lindqvist"
        + noise
        + "philippa@example.org".encode("utf-16-le")
        + noise
        + b"(312) 555-0142"
        + noise
    )
    texts = {"Lindqvist", "philippa@example.org", "Nowhere-Found"}
    phones = {"+13125550142", "+16125550187"}
    assert _plaintext_in(planted, texts, phones) == [
        "Lindqvist",
        "philippa@example.org",
        "+13125550142",
    ]
