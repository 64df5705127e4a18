"""Sealed sync envelopes: what the relay can read, and everything it cannot do unnoticed."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import EnvelopeError
from app.store.keys import key_fingerprint, new_data_key
from app.sync.envelope import check_sequence, open_envelope, read_header, seal

CLINIC = str(uuid.uuid4())
DEVICE = str(uuid.uuid4())
KEY = new_data_key()
KEYS = {key_fingerprint(KEY): KEY}


def _envelope(payload: bytes = b'{"changes": []}', seq: int = 1) -> bytes:
    return seal(KEY, CLINIC, DEVICE, seq, str(uuid.uuid4()), payload)


@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=2**53))
def test_what_is_sealed_opens_unchanged_with_its_header(payload: bytes, seq: int) -> None:
    batch = str(uuid.uuid4())
    header, opened = open_envelope(
        seal(KEY, CLINIC, DEVICE, seq, batch, payload), KEYS, clinic_id=CLINIC
    )
    assert opened == payload
    assert (header.clinic_id, header.device_id, header.seq, header.batch_id) == (
        CLINIC,
        DEVICE,
        seq,
        batch,
    )
    assert header.key_id == key_fingerprint(KEY)


def test_the_relay_reads_the_header_but_not_the_payload() -> None:
    secret = b"Okafor, Ada; +1 612 555 0101"
    envelope = _envelope(secret)
    assert read_header(envelope).device_id == DEVICE
    assert secret not in envelope and b"Okafor" not in envelope
    assert KEY not in envelope
    # The same payload sealed twice never looks the same (fresh nonce).
    assert _envelope(secret) != envelope


@given(st.data())
def test_any_changed_byte_is_refused(data: st.DataObject) -> None:
    envelope = bytearray(_envelope(b"payload that matters"))
    where = data.draw(st.integers(min_value=0, max_value=len(envelope) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    envelope[where] ^= flip
    with pytest.raises(EnvelopeError):
        open_envelope(bytes(envelope), KEYS, clinic_id=CLINIC)


def test_a_header_rewritten_by_the_relay_breaks_the_seal() -> None:
    """Passing device A's batch off as device B's, or renumbering it, is noticed."""
    envelope = _envelope(seq=7)
    forged = envelope.replace(DEVICE.encode(), str(uuid.uuid4()).encode())
    with pytest.raises(EnvelopeError, match="altered"):
        open_envelope(forged, KEYS, clinic_id=CLINIC)
    renumbered = envelope.replace(b'"seq":7', b'"seq":8')
    with pytest.raises(EnvelopeError, match="altered"):
        open_envelope(renumbered, KEYS, clinic_id=CLINIC)


def test_another_clinic_s_batch_and_an_unknown_key_are_refused_in_words() -> None:
    with pytest.raises(EnvelopeError, match="another clinic"):
        open_envelope(_envelope(), KEYS, clinic_id=str(uuid.uuid4()))
    newer = new_data_key()
    sealed_with_newer = seal(newer, CLINIC, DEVICE, 1, "b1", b"x")
    with pytest.raises(EnvelopeError, match="does not have"):
        open_envelope(sealed_with_newer, KEYS, clinic_id=CLINIC)
    # After a key change a device holding both keys reads old and new envelopes.
    both = {**KEYS, key_fingerprint(newer): newer}
    assert open_envelope(sealed_with_newer, both, clinic_id=CLINIC)[1] == b"x"
    assert open_envelope(_envelope(b"old"), both, clinic_id=CLINIC)[1] == b"old"


@pytest.mark.parametrize(
    "junk",
    [b"", b"FDSE", b"not an envelope at all", b"FDSE\x02\x00\x02{}" + bytes(40)],
)
def test_junk_is_refused_not_crashed_on(junk: bytes) -> None:
    with pytest.raises(EnvelopeError):
        open_envelope(junk, KEYS, clinic_id=CLINIC)


def test_sequence_next_is_applied_repeats_are_ignored_gaps_are_refused() -> None:
    header = read_header(_envelope(seq=5))
    assert check_sequence(4, header) is True
    assert check_sequence(5, header) is False  # delivered again: harmless
    assert check_sequence(9, header) is False  # an old one replayed
    with pytest.raises(EnvelopeError, match="out of order"):
        check_sequence(2, header)


def test_the_envelope_key_is_not_the_database_key() -> None:
    from app.sync.envelope import envelope_key

    assert envelope_key(KEY) != KEY and len(envelope_key(KEY)) == 32
