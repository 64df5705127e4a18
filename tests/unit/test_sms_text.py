"""Segment counting (what a text costs) and reply reading (what a patient meant)."""

from __future__ import annotations

import pytest

from app.reminders.sms_text import (
    REPLY_CONFIRM,
    REPLY_HELP,
    REPLY_OTHER,
    REPLY_STOP,
    Segments,
    count_segments,
)
from app.reminders.sms_text import (
    classify_reply as classify,
)

# --- count_segments ----------------------------------------------------------------------


def test_plain_text_fits_160_in_one_part_and_splits_into_153s() -> None:
    assert count_segments("a" * 160) == Segments("GSM-7", 160, 1, 160)
    assert count_segments("a" * 161) == Segments("GSM-7", 161, 2, 153)
    assert count_segments("a" * 306) == Segments("GSM-7", 306, 2, 153)
    assert count_segments("a" * 307) == Segments("GSM-7", 307, 3, 153)


def test_empty_text_is_no_parts() -> None:
    assert count_segments("") == Segments("GSM-7", 0, 0, 160)


def test_gsm_accents_and_greek_stay_in_seven_bits() -> None:
    text = "Rendez-vous à 9h, Señor Müller, Ærø Øst: ΔΦΓΛΩ ¿¡ £$¥ §@_"
    result = count_segments(text)
    assert (result.encoding, result.characters) == ("GSM-7", len(text))


@pytest.mark.parametrize("char", ["€", "[", "]", "^", "{", "}", "\\", "~", "|"])
def test_extension_characters_count_two(char: str) -> None:
    assert count_segments(char) == Segments("GSM-7", 2, 1, 160)
    assert count_segments("a" * 158 + char) == Segments("GSM-7", 160, 1, 160)
    assert count_segments("a" * 159 + char).segments == 2


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 152 plain + "€" is 154 septets: the € cannot start at septet 153 of part one.
    result = count_segments("a" * 152 + "€" + "a" * 152)
    assert (result.characters, result.segments) == (306, 3)
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


@pytest.mark.parametrize("char", ["ł", "ç", "’", "“", "á", "ş", "中"])
def test_a_character_outside_gsm_turns_the_text_into_ucs2(char: str) -> None:
    assert count_segments("Hello " + char).encoding == "UCS-2"


def test_ucs2_fits_70_in_one_part_and_splits_into_67s() -> None:
    assert count_segments("ł" * 70) == Segments("UCS-2", 70, 1, 70)
    assert count_segments("ł" * 71) == Segments("UCS-2", 71, 2, 67)
    assert count_segments("ł" * 134) == Segments("UCS-2", 134, 2, 67)
    assert count_segments("ł" * 135).segments == 3


def test_emoji_count_two_code_units_and_are_not_split() -> None:
    assert count_segments("👍") == Segments("UCS-2", 2, 1, 70)
    assert count_segments("😀" * 35) == Segments("UCS-2", 70, 1, 70)
    assert count_segments("😀" * 36) == Segments("UCS-2", 72, 2, 67)
    # 66 units + one emoji: the pair moves whole to part two.
    assert count_segments("ł" * 66 + "😀" + "ł" * 66).segments == 3


def test_extension_characters_in_ucs2_count_one() -> None:
    assert count_segments("ł€").characters == 2


# --- classify_reply ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "C",
        "c",
        " C ",
        "C.",
        "Y",
        "y!",
        "YES",
        "yes",
        "Yes!",
        "yes!!!",
        "Yes 👍",
        "👍 yes",
        "YES.\n",
        "confirm",
        "Confirm!",
        "CONFIRMED",
        "confirmed 😊",
        "'yes'",
        "ＹＥＳ",  # full-width letters from some phone keyboards
    ],
)
def test_confirmation_replies(text: str) -> None:
    assert classify(text) == REPLY_CONFIRM


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        " stop ",
        "STOPALL",
        "UNSUBSCRIBE",
        "unsubscribe!",
        "Cancel",
        "END",
        "quit",
        "Quit 😡",
    ],
)
def test_opt_out_replies(text: str) -> None:
    assert classify(text) == REPLY_STOP


@pytest.mark.parametrize("text", ["HELP", "help?", "Help!", "INFO", "info."])
def test_help_replies(text: str) -> None:
    assert classify(text) == REPLY_HELP


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "👍",
        "no",
        "N",
        "ok",
        "yes but can we move it",
        "Yes please, and can I bring my son?",
        "yess",
        "yes yes",
        "Y E S",
        "CC",
        "C1",
        "confirmation",
        "stop by at 3?",
        "stopp",
        "don't stop",
        "I want to cancel my appointment",
        "helpful",
        "information",
        "c'mon",
    ],
)
def test_anything_else_goes_to_a_person(text: str) -> None:
    assert classify(text) == REPLY_OTHER
