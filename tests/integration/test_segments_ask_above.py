"""The clinic's own number of patients above which a campaign asks before it starts."""

from __future__ import annotations

import json

import pytest

from app.clinic import Clinic, put_setting
from app.engagement.audience import Audience, needs_confirmation
from app.errors import InvalidInputError
from app.growth import segments


def _stored(clinic: Clinic) -> str | None:
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (segments.ASK_ABOVE_SETTING,)
    ).fetchone()
    return None if row is None else str(row[0])


def test_a_clinic_that_never_chose_asks_above_the_default(clinic: Clinic) -> None:
    assert segments.ask_above(clinic) == segments.DEFAULT_ASK_ABOVE == 500
    assert _stored(clinic) is None


@pytest.mark.parametrize("n", [1, 250, 12_000, segments.MAX_ASK_ABOVE])
def test_the_number_saved_is_the_number_read_back(clinic: Clinic, n: int) -> None:
    changes = segments.save_ask_above(clinic, n)
    assert changes.touches("setting")
    assert segments.ask_above(clinic) == n
    assert json.loads(_stored(clinic) or "null") == n


def test_saving_again_replaces_the_number(clinic: Clinic) -> None:
    segments.save_ask_above(clinic, 40)
    segments.save_ask_above(clinic, 41)
    assert segments.ask_above(clinic) == 41
    rows = clinic.conn.execute(
        "SELECT count(*) FROM setting WHERE id = ?", (segments.ASK_ABOVE_SETTING,)
    ).fetchone()
    assert rows[0] == 1


@pytest.mark.parametrize("bad", [0, -5, segments.MAX_ASK_ABOVE + 1, True, 2.5, "300", None])
def test_a_number_out_of_range_or_not_whole_is_refused_and_nothing_changes(
    clinic: Clinic, bad: object
) -> None:
    segments.save_ask_above(clinic, 300)
    with pytest.raises(InvalidInputError, match="from 1 to 1,000,000"):
        segments.save_ask_above(clinic, bad)  # type: ignore[arg-type]
    assert segments.ask_above(clinic) == 300


@pytest.mark.parametrize("written", ['"lots"', "0", "2000000", "true", "12.5", "{not json"])
def test_a_stored_value_that_makes_no_sense_reads_as_the_default(
    clinic: Clinic, written: str
) -> None:
    with clinic.store.write() as tx:
        put_setting(tx, segments.ASK_ABOVE_SETTING, written)
    assert segments.ask_above(clinic) == segments.DEFAULT_ASK_ABOVE


def test_the_saved_number_decides_when_warn_size_asks(clinic: Clinic) -> None:
    segments.save_ask_above(clinic, 100)
    limit = segments.ask_above(clinic)
    assert segments.warn_size(101, 10_000, ask_above=limit) is not None
    assert segments.warn_size(100, 10_000, ask_above=limit) is None


def test_a_campaign_asks_above_the_clinics_own_number(clinic: Clinic) -> None:
    three = Audience(matched=3, reachable=3, blocked={}, patient_ids=("a", "b", "c"))
    assert needs_confirmation(clinic, three) is None  # under the default of 500
    segments.save_ask_above(clinic, 2)
    question = needs_confirmation(clinic, three)
    assert question is not None and "3 patients" in question
