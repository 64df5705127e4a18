"""NPS survey replies: which real-world replies read as a 0–10 score, and the NPS figure."""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.engagement.nps import category, comment_of, net_promoter_score, parse_score
from app.errors import InvalidInputError

SCORES = [
    ("10", 10),
    ("10!", 10),
    (" 9 ", 9),
    ("9/10", 9),
    ("8 out of 10", 8),
    ("I'd say 8", 8),
    ("I\u2019d say 8", 8),  # the curly apostrophe phones type
    ("ten", 10),
    ("Ten!!", 10),
    ("nine", 9),
    ("diez", 10),
    ("nueve", 9),
    ("8 de 10", 8),
    ("a solid 7", 7),
    ("7.", 7),
    ("🔟", 10),
    ("9️⃣", 9),
    ("10 😊", 10),
    ("definitely 10, great staff", 10),
    ("0", 0),
    ("10/10", 10),
    ("nine out of ten", 9),
    ("10! Ten!", 10),
    ("One", 1),
    ("９", 9),  # full-width, from a Japanese or Chinese keyboard
]

NOT_SCORES = [
    "7 or 8",
    "11",
    "-3",
    "100%",
    "my visit on 12/3 was fine",
    "call me at 555 0100",
    "C",
    "STOP",
    "",
    "9.5",
    "5/5",
    "4 out of 5",
    "9:30",
    "see you at 3",
    "waited 10 minutes",
    "ten minutes late, otherwise fine",
    "the two nurses were lovely",
    "the nicest one",
    "3 de diciembre",
    "10am",
]


@pytest.mark.parametrize(("reply", "score"), SCORES)
def test_reply_reads_as_its_score(reply: str, score: int) -> None:
    assert parse_score(reply) == score


@pytest.mark.parametrize("reply", NOT_SCORES)
def test_reply_that_is_not_plainly_a_score_goes_to_the_inbox(reply: str) -> None:
    assert parse_score(reply) is None


def test_half_point_is_not_rounded_onto_a_category_border() -> None:
    assert parse_score("6.5") is None
    assert parse_score("9.5") is None


def test_five_point_scale_top_is_not_read_as_a_detractor_five() -> None:
    assert parse_score("5/5") is None
    assert parse_score("5 out of 5") is None


def test_quoted_email_below_the_reply_is_ignored() -> None:
    reply = (
        "9, the nurse was lovely\n"
        "\n"
        "On Tue, Dec 1, 2026 at 9:00 AM Sunrise Clinic <front@clinic.example> wrote:\n"
        "> How likely are you to recommend us? Reply 0-10.\n"
        "> Questions? Call 555 0100.\n"
    )
    assert parse_score(reply) == 9
    assert comment_of(reply, 9) == "the nurse was lovely"


def test_quote_header_wrapped_before_wrote_is_ignored() -> None:
    reply = (
        "8\n"
        "On Tue, Dec 1, 2026 at 9:00 AM Sunrise Family Clinic\n"
        "<front@clinic.example> wrote:\n"
        "> Your visit on 12/1 at 9:00\n"
    )
    assert parse_score(reply) == 8


def test_outlook_original_message_and_signature_are_ignored() -> None:
    outlook = "10\r\n-----Original Message-----\r\nFrom: Clinic\r\nSent: 12/1/2026 9:00\r\n"
    signed = "7\n-- \nJane\n555-0100\n"
    assert parse_score(outlook) == 10
    assert parse_score(signed) == 7


def test_reply_whose_only_number_is_quoted_is_not_a_score() -> None:
    assert parse_score("thanks!\n> Reply with a number from 0 to 10") is None


@pytest.mark.parametrize(
    ("reply", "score", "comment"),
    [
        ("9 - the nurse was lovely", 9, "the nurse was lovely"),
        ("definitely 10, great staff", 10, "great staff"),
        ("8 out of 10, the wait was long.", 8, "the wait was long."),
        ("I'd say 8", 8, ""),
        ("10!", 10, ""),
        ("Great staff, 10", 10, "Great staff"),
        ("  7  ", 7, ""),
    ],
)
def test_comment_is_the_patients_words_without_the_score(
    reply: str, score: int, comment: str
) -> None:
    assert comment_of(reply, score) == comment


def test_comment_of_a_reply_recorded_by_hand_is_the_whole_reply() -> None:
    # "9.5" goes to the Inbox; the receptionist records 9 and keeps what was written.
    assert comment_of("  9.5, lovely nurse ", 9) == "9.5, lovely nurse"


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_category_follows_the_nps_bands(score: int, expected: str) -> None:
    assert category(score) == expected


@pytest.mark.parametrize("score", [-1, 11])
def test_category_refuses_a_score_off_the_scale(score: int) -> None:
    with pytest.raises(InvalidInputError):
        category(score)


def test_nps_of_a_known_set() -> None:
    # 5 promoters, 3 passives, 2 detractors of 10: 50 % - 20 %.
    assert net_promoter_score([10, 9, 9, 10, 9, 8, 7, 7, 3, 0]) == 30.0


def test_nps_of_no_scores_is_none() -> None:
    assert net_promoter_score([]) is None


def test_nps_refuses_a_score_off_the_scale() -> None:
    with pytest.raises(InvalidInputError):
        net_promoter_score([9, 12])


# --- properties -------------------------------------------------------------------------------

# Marks that do not change what a bare number means. Left out on purpose: "-" and "+"
# (a sign), "%" (a percent), "/" ":" (a date or time), "$" "#" (money, a number).
_SURROUNDINGS = st.text(alphabet=" \t\n!?.,;()\"'*~…😊👍🙏", max_size=6)


@given(score=st.integers(0, 10), before=_SURROUNDINGS, after=_SURROUNDINGS)
def test_any_score_in_digits_with_punctuation_around_reads_as_itself(
    score: int, before: str, after: str
) -> None:
    assert parse_score(f"{before}{score}{after}") == score


_ENGLISH = re.findall(r"\w+", "zero one two three four five six seven eight nine ten")
_SPANISH = re.findall(r"\w+", "cero uno dos tres cuatro cinco seis siete ocho nueve diez")
_NUMBER_WORDS = {word: value for words in (_ENGLISH, _SPANISH) for value, word in enumerate(words)}


# Real words around where a score would be, mixed with any other text.
_PROSE = st.lists(
    st.one_of(
        st.sampled_from(["I'd", "say", "out", "of", "de", "a", "solid", "C", "STOP", "nurse"]),
        st.sampled_from(["/", "-", "%", ":", "minutes", "at", "Dec", "😊", "🙂", "\n> ", "wrote:"]),
        st.text(alphabet=st.characters(exclude_categories=("Nd", "Nl", "No", "Cs")), max_size=8),
    ),
    max_size=8,
).map(" ".join)


@given(text=_PROSE)
def test_text_without_digits_or_number_words_is_never_a_score(text: str) -> None:
    folded = unicodedata.normalize("NFKC", text).casefold()
    assume("🔟" not in text and not re.search(r"\d", folded))
    assume(not _NUMBER_WORDS.keys() & set(re.findall(r"[^\W\d_]+", folded)))
    assert parse_score(text) is None


@given(
    word=st.sampled_from(sorted(_NUMBER_WORDS)), case=st.sampled_from(["lower", "upper", "title"])
)
def test_number_word_alone_reads_as_its_value(word: str, case: str) -> None:
    assert parse_score(f"{getattr(word, case)()}!") == _NUMBER_WORDS[word]


@given(scores=st.lists(st.integers(0, 10), max_size=60))
def test_nps_is_percent_promoters_minus_percent_detractors(scores: list[int]) -> None:
    result = net_promoter_score(scores)
    if not scores:
        assert result is None
        return
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    textbook = 100 * promoters / len(scores) - 100 * detractors / len(scores)
    assert result is not None
    assert -100.0 <= result <= 100.0
    assert result == pytest.approx(textbook)
    assert result == float(Fraction(100 * (promoters - detractors), len(scores)))
