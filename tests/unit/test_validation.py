"""Behaviour of the input cleaning and checking in app.patients.validation."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InvalidDateError, InvalidEmailError, InvalidInputError, InvalidPhoneError
from app.patients.validation import (
    date_query_candidates,
    fold_text,
    luhn_valid,
    mask_card_numbers,
    normalize_email,
    normalize_phone,
    parse_birth_date,
    phone_search_keys,
)

TODAY = date(2024, 6, 1)


def assert_no_echo(error: InvalidInputError, typed: str) -> None:
    """The message must not repeat what was typed: it may end up on screen or in a log."""
    message = str(error)
    assert message
    assert typed.strip() not in message
    for digits in re.findall(r"[0-9]{3,}", typed):
        assert digits not in message


def luhn_reference(digits: str) -> bool:
    """Textbook Luhn, written differently from the code under test on purpose."""
    doubled = "".join(str(int(ch) * 2) if i % 2 else ch for i, ch in enumerate(reversed(digits)))
    return sum(int(ch) for ch in doubled) % 10 == 0


def with_check_digit(body: str) -> str:
    """The body plus the one digit that makes it pass Luhn."""
    for check in "0123456789":
        if luhn_reference(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


# --- phones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "(650) 253-0000",
        "650-253-0000",
        "650.253.0000",
        "650 253 0000",
        "6502530000",
        "1 650 253 0000",
        "1-650-253-0000",
        "+1 (650) 253-0000",
        "+16502530000",
        "  (650)253-0000  ",
    ],
)
def test_us_phone_in_any_format_normalizes_to_e164(typed: str) -> None:
    assert normalize_phone(typed) == "+16502530000"


def test_number_with_country_code_keeps_its_country_whatever_the_clinic_region() -> None:
    assert normalize_phone("+44 20 7946 0958", "US") == "+442079460958"
    assert normalize_phone("+44 20 7946 0958", "DE") == "+442079460958"


def test_number_dialled_from_the_us_with_international_prefix_is_understood() -> None:
    assert normalize_phone("011 44 20 7946 0958") == "+442079460958"


def test_national_number_is_read_in_the_clinics_region() -> None:
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("030 1234567", "de") == "+49301234567"


def test_normalized_phone_normalizes_to_itself() -> None:
    once = normalize_phone("(650) 253-0000")
    assert normalize_phone(once) == once
    assert normalize_phone(once, "GB") == once


@pytest.mark.parametrize(
    ("typed", "region", "message"),
    [
        ("", "US", "The phone number is empty."),
        ("   ", "US", "The phone number is empty."),
        ("1-800-FLOWERS", "US", "This phone number contains letters; type digits only."),
        ("call 650 253 0000", "US", "This phone number contains letters; type digits only."),
        ("650#253#0000", "US", "This phone number contains characters that are not allowed."),
        ("()--", "US", "This phone number has no digits."),
        ("12", "US", "This phone number has too few digits."),
        ("650253000012345", "US", "This phone number has too many digits."),
        ("253-0000", "US", "This phone number is missing its area code."),
        ("555-555-5555", "US", "This phone number does not exist in its country."),
        ("+999 123 456", "US", "This phone number has a country code that does not exist."),
        ("301 234 567", "ZZ", "This phone number needs its country code, starting with +."),
    ],
)
def test_bad_phone_is_refused_with_a_reason_that_does_not_repeat_it(
    typed: str, region: str, message: str
) -> None:
    with pytest.raises(InvalidPhoneError) as caught:
        normalize_phone(typed, region)
    assert str(caught.value) == message
    if typed.strip():
        assert_no_echo(caught.value, typed)


def test_phone_error_is_an_input_error_callers_can_catch_as_value_error() -> None:
    with pytest.raises(ValueError, match="too few digits"):
        normalize_phone("12")


@given(st.integers(min_value=0, max_value=9999), st.sampled_from(["{} {} {}", "({}) {}-{}"]))
def test_any_valid_us_number_round_trips_through_e164(line: int, shape: str) -> None:
    typed = shape.format("650", "253", f"{line:04d}")
    e164 = normalize_phone(typed)
    assert e164 == f"+1650253{line:04d}"
    assert normalize_phone(e164) == e164


def test_phone_search_keys_cover_international_national_and_last_four() -> None:
    assert phone_search_keys("+16502530000") == ["16502530000", "6502530000", "0000"]


def test_phone_search_keys_keep_the_italian_leading_zero() -> None:
    assert phone_search_keys("+390212345678") == ["390212345678", "0212345678", "5678"]


def test_phone_search_keys_are_deduplicated_in_order() -> None:
    assert phone_search_keys("1234") == ["1234"]
    assert phone_search_keys("") == []


def test_stored_phone_that_no_longer_parses_still_gets_digit_keys() -> None:
    assert phone_search_keys("5551234") == ["5551234", "1234"]


# --- emails ----------------------------------------------------------------------------


def test_email_is_trimmed_and_lowercased_whole() -> None:
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"


def test_email_with_plus_tag_and_subdomain_is_accepted() -> None:
    assert normalize_email("j.doe+clinic@mail.example.co.uk") == "j.doe+clinic@mail.example.co.uk"


def test_internationalised_domain_is_accepted_and_stored_readable() -> None:
    assert normalize_email("anna@Bücher.DE") == "anna@bücher.de"
    assert normalize_email("anna@xn--bcher-kva.de") == "anna@bücher.de"


def test_non_ascii_local_part_is_accepted() -> None:
    assert normalize_email("José@example.com") == "josé@example.com"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "The email address is empty."),
        ("margaret holloway@example.com", "This email address contains spaces."),
        ("margaret.holloway.example.com", "This email address has no @ sign."),
        ("margaret@@example.com", "This email address has more than one @ sign."),
        ("@example.com", "This email address is missing the part before the @."),
        ("margaret.holloway@", "This email address is missing the part after the @."),
        ("margaret.holloway@localhost", "The part after the @ needs a dot, as in example.com."),
        ("margaret..holloway@example.com", "two dots in a row"),
        (".margaret@example.com", "cannot start or end with a dot"),
        ("margaret(holloway)@example.com", "contains characters that are not allowed"),
        ("margaret@exa_mple.com", "The part after the @ is not a valid domain name."),
        ("margaret@-example.com", "The part after the @ is not a valid domain name."),
        ("margaret@example..com", "The part after the @ is not a valid domain name."),
        ("margaret@example.com.", "The part after the @ is not a valid domain name."),
        ("margaret@10.0.0.1", "The part after the @ is not a valid domain name."),
        ("m" * 65 + "@example.com", "at most 64 characters"),
    ],
)
def test_bad_email_is_refused_with_a_reason_that_does_not_repeat_it(
    typed: str, message: str
) -> None:
    with pytest.raises(InvalidEmailError) as caught:
        normalize_email(typed)
    assert message in str(caught.value)
    assert "margaret" not in str(caught.value)
    assert "holloway" not in str(caught.value)


_LOCAL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-",
    min_size=1,
    max_size=20,
)
_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)


@given(_LOCAL, st.lists(_LABEL, min_size=1, max_size=3), st.sampled_from(["com", "org", "de"]))
def test_normalized_email_normalizes_to_itself(local: str, labels: list[str], tld: str) -> None:
    once = normalize_email(f" {local}@{'.'.join([*labels, tld])} ")
    assert once == once.lower()
    assert normalize_email(once) == once


# --- birth dates -----------------------------------------------------------------------


def test_iso_birth_date_is_returned_as_iso() -> None:
    assert parse_birth_date("1975-03-04", today=TODAY) == "1975-03-04"
    assert parse_birth_date(" 1975-3-4 ", today=TODAY) == "1975-03-04"


def test_year_only_and_year_month_birth_dates_stay_partial() -> None:
    assert parse_birth_date("1975", today=TODAY) == "1975"
    assert parse_birth_date("1975-3", today=TODAY) == "1975-03"


def test_slashed_date_is_month_first_unless_the_clinic_writes_day_first() -> None:
    assert parse_birth_date("3/4/1975", today=TODAY) == "1975-03-04"
    assert parse_birth_date("3/4/1975", today=TODAY, day_first=True) == "1975-04-03"


def test_dotted_date_is_always_day_first() -> None:
    assert parse_birth_date("03.04.1975", today=TODAY) == "1975-04-03"
    assert parse_birth_date("3.4.1975", today=TODAY, day_first=True) == "1975-04-03"


def test_thirty_first_of_february_is_refused_with_reason() -> None:
    for typed, day_first in [("2/31/1980", False), ("31/02/1980", True), ("31.02.1980", False)]:
        with pytest.raises(InvalidDateError, match="day does not exist in that month") as caught:
            parse_birth_date(typed, today=TODAY, day_first=day_first)
        assert_no_echo(caught.value, typed)


def test_twenty_ninth_of_february_is_accepted_in_a_leap_year_only() -> None:
    assert parse_birth_date("2000-02-29", today=TODAY) == "2000-02-29"
    with pytest.raises(InvalidDateError, match="day does not exist"):
        parse_birth_date("1900-02-29", today=TODAY)


def test_day_first_date_typed_month_first_explains_the_order() -> None:
    with pytest.raises(InvalidDateError, match=r"month/day/year") as caught:
        parse_birth_date("13/2/1980", today=TODAY)
    assert_no_echo(caught.value, "13/2/1980")


@pytest.mark.parametrize("typed", ["3/4/75", "03.04.75"])
def test_two_digit_year_is_refused_with_reason(typed: str) -> None:
    with pytest.raises(InvalidDateError, match="four digits") as caught:
        parse_birth_date(typed, today=TODAY)
    assert "19xx or 20xx" in str(caught.value)
    assert_no_echo(caught.value, typed)


@pytest.mark.parametrize("typed", ["2024-06-02", "6/2/2024", "2024-07", "2025", "1/1/2999"])
def test_birth_date_in_the_future_is_refused(typed: str) -> None:
    with pytest.raises(InvalidDateError, match="in the future") as caught:
        parse_birth_date(typed, today=TODAY)
    assert_no_echo(caught.value, typed)


def test_birth_date_of_today_is_accepted() -> None:
    assert parse_birth_date("2024-06-01", today=TODAY) == "2024-06-01"
    assert parse_birth_date("2024-06", today=TODAY) == "2024-06"
    assert parse_birth_date("2024", today=TODAY) == "2024"


@pytest.mark.parametrize("typed", ["1879-12-31", "1879", "1066-10", "12/31/1879"])
def test_birth_date_before_1880_is_refused(typed: str) -> None:
    with pytest.raises(InvalidDateError, match="before 1880") as caught:
        parse_birth_date(typed, today=TODAY)
    assert_no_echo(caught.value, typed)


def test_first_of_january_1880_is_accepted() -> None:
    assert parse_birth_date("1880-01-01", today=TODAY) == "1880-01-01"


@pytest.mark.parametrize("typed", ["1975-13", "1975-00-10", "1975-13-01"])
def test_month_out_of_range_is_refused(typed: str) -> None:
    with pytest.raises(InvalidDateError, match="between 1 and 12") as caught:
        parse_birth_date(typed, today=TODAY)
    assert_no_echo(caught.value, typed)


@pytest.mark.parametrize("typed", ["yesterday", "3-4-1962", "1962/03/04", "19620304", "3/4"])
def test_text_that_is_not_a_date_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(InvalidDateError, match="3/14/1975 or 1975-03-14") as caught:
        parse_birth_date(typed, today=TODAY)
    assert_no_echo(caught.value, typed)
    with pytest.raises(InvalidDateError, match="14/3/1975"):
        parse_birth_date(typed, today=TODAY, day_first=True)


def test_empty_birth_date_is_refused() -> None:
    with pytest.raises(InvalidDateError, match="empty"):
        parse_birth_date("  ", today=TODAY)


_PAST = st.dates(min_value=date(1880, 1, 1), max_value=TODAY)


@given(_PAST)
def test_any_plausible_birth_date_round_trips_in_every_accepted_form(day: date) -> None:
    iso = day.isoformat()
    y, m, d = day.year, day.month, day.day
    assert parse_birth_date(iso, today=TODAY) == iso
    assert parse_birth_date(f"{m}/{d}/{y}", today=TODAY) == iso
    assert parse_birth_date(f"{d}/{m}/{y}", today=TODAY, day_first=True) == iso
    assert parse_birth_date(f"{d:02d}.{m:02d}.{y}", today=TODAY) == iso
    assert parse_birth_date(iso, today=TODAY, day_first=True) == iso


# --- dates typed into search -----------------------------------------------------------


def test_ambiguous_slashed_date_searches_us_reading_first_then_european() -> None:
    assert date_query_candidates("3/4/1975") == [date(1975, 3, 4), date(1975, 4, 3)]


def test_dashed_day_month_year_searches_like_slashes() -> None:
    assert date_query_candidates("3-4-1975") == [date(1975, 3, 4), date(1975, 4, 3)]


def test_dotted_search_date_is_day_first_only() -> None:
    assert date_query_candidates("03.04.1975") == [date(1975, 4, 3)]


def test_iso_search_date_has_one_meaning() -> None:
    assert date_query_candidates("1975-03-04") == [date(1975, 3, 4)]


def test_impossible_reading_of_a_search_date_is_dropped() -> None:
    assert date_query_candidates("13/2/1980") == [date(1980, 2, 13)]
    assert date_query_candidates("2/13/1980") == [date(1980, 2, 13)]


def test_same_day_and_month_gives_one_candidate() -> None:
    assert date_query_candidates("3/3/1975") == [date(1975, 3, 3)]


@pytest.mark.parametrize(
    "typed", ["", "smith", "3/4/75", "31/31/1980", "1975", "1975-03", "555-1234", "2/30/1980"]
)
def test_search_text_that_is_not_a_full_date_gives_no_candidates(typed: str) -> None:
    assert date_query_candidates(typed) == []


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_search_finds_a_date_however_it_is_written(day: date) -> None:
    y, m, d = day.year, day.month, day.day
    for typed in [
        day.isoformat(),
        f"{m}/{d}/{y}",
        f"{d}/{m}/{y}",
        f"{d}-{m}-{y}",
        f"{d:02d}.{m:02d}.{y}",
        f" {m:02d}/{d:02d}/{y} ",
    ]:
        candidates = date_query_candidates(typed)
        assert day in candidates
        assert 1 <= len(candidates) <= 2


# --- card numbers ----------------------------------------------------------------------


def test_card_number_in_note_is_masked_but_phone_is_not() -> None:
    note = "Paid by card 4111 1111 1111 1111, call back on 650-253-0000 or +44 20 7946 0958."
    assert mask_card_numbers(note) == (
        "Paid by card •••• •••• •••• 1111, call back on 650-253-0000 or +44 20 7946 0958."
    )


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("4111111111111111", "••••••••••••1111"),
        ("4111-1111-1111-1111", "••••-••••-••••-1111"),
        ("5555 5555 5555 4444", "•••• •••• •••• 4444"),
        ("3782 822463 10005", "•••• •••••• •0005"),
        ("378282246310005", "•••••••••••0005"),
        ("30569309025904", "••••••••••5904"),
        ("4222222222222", "•••••••••2222"),
        ("6011 1111 1111 1117", "•••• •••• •••• 1117"),
    ],
)
def test_test_card_numbers_keep_only_their_last_four_digits_and_separators(
    typed: str, masked: str
) -> None:
    assert mask_card_numbers(typed) == masked


def test_card_followed_by_expiry_digits_is_still_masked() -> None:
    assert mask_card_numbers("4111 1111 1111 1111 12 25") == "•••• •••• •••• 1111 12 25"
    assert mask_card_numbers("card 4111 1111 1111 1111 exp 12/25") == (
        "card •••• •••• •••• 1111 exp 12/25"
    )


def test_two_cards_in_one_note_are_both_masked() -> None:
    assert mask_card_numbers("4111111111111111 5555555555554444") == (
        "••••••••••••1111 ••••••••••••4444"
    )


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",
        "ref 1234567890123",
        "claim 12345678901234567890123",
        "MRN 0000 0000 0000",
        "4111  1111  1111  1111",
        "41111111111111110",
    ],
)
def test_digit_runs_that_are_not_card_numbers_are_left_alone(text: str) -> None:
    assert mask_card_numbers(text) == text


def test_luhn_valid_international_phone_after_plus_is_not_mistaken_for_a_card() -> None:
    phone = with_check_digit("49301234567")  # 12 digits: 13 with the check digit
    text = f"mobile +{phone[:2]} {phone[2:4]} {phone[4:]}"
    assert luhn_valid(phone)
    assert mask_card_numbers(text) == text


def test_masking_already_masked_text_changes_nothing() -> None:
    once = mask_card_numbers("card 4111-1111-1111-1111 thanks")
    assert mask_card_numbers(once) == once


def _groups_spans(text: str) -> list[str]:
    """Every whole-group digit string of 13–19 digits a card could hide in."""
    found: list[str] = []
    for run in re.finditer(r"[0-9]+(?:[ -][0-9]+)*", text):
        groups = re.split(r"[ -]", run.group())
        after_plus = run.start() > 0 and text[run.start() - 1] == "+"
        for i in range(len(groups)):
            for j in range(i + 1, len(groups) + 1):
                digits = "".join(groups[i:j])
                if 13 <= len(digits) <= 19 and not (i == 0 and after_plus):
                    found.append(digits)
    return found


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    digits = with_check_digit(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    if not sep:
        return digits
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=length - 1), max_size=5)))
    pieces = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
    return sep.join(pieces)


_NOTE_PIECES = st.one_of(
    card_numbers(),
    st.text(alphabet="0123456789", min_size=1, max_size=20),
    st.sampled_from([" ", "-", "  ", "+", "/", ", ", "call ", "card ", "•", "\n"]),
)
_NOTES = st.lists(_NOTE_PIECES, max_size=12).map("".join)


@settings(max_examples=400)
@given(_NOTES)
def test_masking_leaves_no_luhn_valid_card_run_and_is_idempotent(note: str) -> None:
    masked = mask_card_numbers(note)
    assert not [d for d in _groups_spans(masked) if luhn_reference(d)]
    assert mask_card_numbers(masked) == masked
    assert len(masked) == len(note)
    for before, after in zip(note, masked, strict=True):
        assert after == before or (before in "0123456789" and after == "•")


@given(card_numbers(), st.sampled_from(["", "Card: ", "paid with "]))
def test_every_card_number_loses_all_but_its_last_four_digits(card: str, prefix: str) -> None:
    masked = mask_card_numbers(prefix + card)
    digits = re.sub(r"[^0-9]", "", card)
    assert re.sub(r"[^0-9]", "", masked) == digits[-4:]
    assert masked.startswith(prefix)


@given(st.text(alphabet="abc ,.-/+0123456789", max_size=60))
def test_text_with_no_card_length_run_is_never_changed(text: str) -> None:
    if not _groups_spans(text):
        assert mask_card_numbers(text) == text


# --- Luhn ------------------------------------------------------------------------------


def test_luhn_accepts_test_cards_and_refuses_a_typo() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("79927398710")


@pytest.mark.parametrize("text", ["", "4111 1111 1111 1111", "4111-1111", "abc", "١٢٣"])
def test_luhn_refuses_anything_but_plain_digits(text: str) -> None:
    assert not luhn_valid(text)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_agrees_with_the_textbook_definition(digits: str) -> None:
    assert luhn_valid(digits) == luhn_reference(digits)


@given(st.text(alphabet="0123456789", min_size=1, max_size=25), st.data())
def test_luhn_catches_any_single_digit_typo(body: str, data: st.DataObject) -> None:
    number = with_check_digit(body)
    assert luhn_valid(number)
    where = data.draw(st.integers(min_value=0, max_value=len(number) - 1))
    typo = data.draw(st.sampled_from([c for c in "0123456789" if c != number[where]]))
    assert not luhn_valid(number[:where] + typo + number[where + 1 :])


# --- folding names ---------------------------------------------------------------------


def test_accents_and_case_are_folded_for_name_matching() -> None:
    assert fold_text("José ÁLVAREZ") == fold_text("jose alvarez") == "jose alvarez"
    assert fold_text("Zoë Brontë") == "zoe bronte"
    assert fold_text("Dvořák") == "dvorak"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Sørensen", "sorensen"),
        ("Ærø", "aero"),
        ("Đorđević", "dordevic"),
        ("Łukasz Wałęsa", "lukasz walesa"),
        ("Yıldız", "yildiz"),
        ("İstanbul", "istanbul"),
        ("Œuvre", "oeuvre"),
    ],
)
def test_letters_without_a_separate_accent_are_folded_too(name: str, folded: str) -> None:
    assert fold_text(name) == folded


def test_whitespace_is_collapsed_and_trimmed() -> None:
    assert fold_text("  Mary \t Ann\n  Smith ") == "mary ann smith"
    assert fold_text("Mary\u00a0Ann") == "mary ann"


def test_compatibility_forms_fold_to_plain_letters() -> None:
    assert fold_text("ﬁnn") == "finn"
    assert fold_text("ＪＯＳＥ") == "jose"


@settings(max_examples=1000)
@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    once = fold_text(text)
    assert fold_text(once) == once


@given(st.text())
def test_folded_text_has_no_accents_capitals_or_double_spaces(text: str) -> None:
    folded = fold_text(text)
    assert not any(unicodedata.combining(ch) for ch in folded)
    assert folded == folded.casefold()
    assert "  " not in folded
    assert folded == folded.strip()
