"""How hard a passphrase is to guess, in words a person can act on: one estimate for the
strength meter and for the check that refuses weak passphrases, so the two never disagree.

The estimate is zxcvbn's (Dropbox's guess-counting model: dictionaries, names, keyboard
patterns, dates, repeats, l33t), behind a few rules of our own that come first because
their reasons are the clearest to read: the minimum length and the words every guesser
tries first. zxcvbn's scores map to the meter: below 10^8 guesses is refused (a stolen key
file falls within days even at Argon2's pace), up to 10^10 is fair, beyond that strong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_PASSPHRASE_LENGTH = 10
# zxcvbn refuses longer input (its matching is quadratic); characters beyond these only
# make a passphrase stronger, so judging the first ones is on the safe side.
_ESTIMATED_CHARS = 72
_MIN_DISTINCT_CHARS = 5
_FIRST_GUESSES = ("password", "passwort", "123456", "qwerty", "frontdesk", "letmein")
_ACCEPTED_SCORE = 3
_STRONG_SCORE = 4
# The meter fills with the logarithm of the guesses; 10^12 and more reads as full.
_FULL_METER_LOG10 = 12.0

TOO_WEAK = "Too weak"
FAIR = "Fair"
STRONG = "Strong"


@dataclass(frozen=True)
class PassphraseStrength:
    """The verdict on one passphrase: whether it is accepted, a word for it, and why."""

    accepted: bool
    label: str  # TOO_WEAK, FAIR or STRONG
    reason: str  # what to change when refused, a short comment otherwise
    meter: float  # 0.0 empty .. 1.0 full, for a progress bar


def estimate_strength(passphrase: str, context: Sequence[str] = ()) -> PassphraseStrength:
    """Judge a passphrase; `context` holds words a guesser would know (the clinic's and
    the person's names), which count as weak as common words do."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return _refused(
            f"The passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters. "
            "A few unrelated words make a strong one that is easy to remember.",
            meter=min(len(passphrase), MIN_PASSPHRASE_LENGTH) / MIN_PASSPHRASE_LENGTH / 4,
        )
    if len(set(passphrase)) < _MIN_DISTINCT_CHARS:
        return _refused("The passphrase repeats too few different characters.", meter=0.1)
    lowered = passphrase.lower()
    if any(weak in lowered for weak in _FIRST_GUESSES):
        return _refused(
            "The passphrase contains a word that is among the first ones guessed.", meter=0.1
        )
    # Whole names and their words: zxcvbn matches each user input as one dictionary word.
    # Imported here: loading zxcvbn's word lists takes ~80 ms, which every start of the app
    # would pay although only creating a clinic or changing the passphrase needs them.
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    words = [*context, *(word for text in context for word in text.split() if len(word) > 2)]
    result: dict[str, Any] = zxcvbn(passphrase[:_ESTIMATED_CHARS], user_inputs=words)
    score = int(result["score"])
    meter = max(0.1, min(1.0, float(result["guesses_log10"]) / _FULL_METER_LOG10))
    if score < _ACCEPTED_SCORE:
        return _refused(_advice(result["feedback"]), meter=min(meter, 0.45))
    if score < _STRONG_SCORE:
        return PassphraseStrength(
            True, FAIR, "Good enough. One more unusual word would make it strong.", meter
        )
    return PassphraseStrength(True, STRONG, "Hard to guess.", max(meter, 0.9))


def _refused(reason: str, *, meter: float) -> PassphraseStrength:
    return PassphraseStrength(False, TOO_WEAK, reason, meter)


def _advice(feedback: dict[str, Any]) -> str:
    """zxcvbn's own warning says what makes it guessable; its suggestions say what to do."""
    parts = ["This passphrase would be guessed quickly."]
    warning = str(feedback.get("warning") or "").strip()
    if warning:
        parts.append(warning if warning.endswith(".") else warning + ".")
    suggestions = [str(s).strip() for s in feedback.get("suggestions") or [] if str(s).strip()]
    parts.append(suggestions[0] if suggestions else "Add another uncommon word or two.")
    return " ".join(parts)
