"""The passphrase estimate: the meter's words and the refusals come from one judgement."""

from __future__ import annotations

import pytest

from app.errors import WeakPassphraseError
from app.store.keys import check_passphrase_strength
from app.store.passphrase_strength import FAIR, STRONG, TOO_WEAK, estimate_strength


def test_a_few_unrelated_words_are_strong() -> None:
    strength = estimate_strength("harbour lanterns at dusk")
    assert strength.accepted
    assert strength.label == STRONG
    assert strength.meter >= 0.9


def test_short_passphrase_is_refused_with_the_minimum_length() -> None:
    strength = estimate_strength("tulip")
    assert not strength.accepted
    assert strength.label == TOO_WEAK
    assert "at least 10 characters" in strength.reason


def test_common_password_pattern_is_refused_with_zxcvbns_reason() -> None:
    strength = estimate_strength("qwertyuiop12")
    assert not strength.accepted
    assert "guessed" in strength.reason


def test_keyboard_walk_and_year_is_too_weak_even_when_long_enough() -> None:
    strength = estimate_strength("asdfghjkl2024")
    assert not strength.accepted
    assert strength.reason.startswith("This passphrase would be guessed quickly.")


def test_the_clinics_own_name_counts_as_a_guessable_word() -> None:
    name = "Lakeside Family Practice"
    assert estimate_strength("Lakeside Family Practice 1").accepted is True
    assert estimate_strength("Lakeside Family Practice 1", context=[name]).accepted is False


def test_a_middling_passphrase_is_accepted_as_fair() -> None:
    strength = estimate_strength("summer2024!!")
    assert strength.accepted
    assert strength.label == FAIR


def test_meter_grows_as_the_passphrase_grows() -> None:
    meters = [estimate_strength(text).meter for text in ("ha", "harbour", "harbour lanterns 7")]
    assert meters == sorted(meters) and meters[0] < meters[-1]


def test_very_long_passphrases_are_judged_without_error() -> None:
    assert estimate_strength("harbour lanterns at dusk " * 20).accepted


def test_core_check_refuses_exactly_what_the_meter_calls_too_weak() -> None:
    for text in ("short", "aaaaaaaaaaaa", "mypassword2024", "qwertyuiop12", "harbour lanterns"):
        strength = estimate_strength(text)
        if strength.accepted:
            check_passphrase_strength(text)
        else:
            with pytest.raises(WeakPassphraseError) as refused:
                check_passphrase_strength(text)
            assert str(refused.value) == strength.reason
