"""Net Promoter Score: reading the 0–10 score in a patient's reply, its category, the NPS.

A score read wrongly is worse than one not read: a promoter gets a review request and a
detractor makes a task for the manager. So `parse_score` takes a reply as a score only
when it plainly is one, and everything in doubt goes to the Inbox, where a person reads
it and can record the score by hand. In doubt means:

- two different numbers ("7 or 8", "9, maybe 10") — which one is meant?
- any number that is not a score: out of range ("11", "100"), negative ("-3"), a percent
  ("100%"), a date or time ("12/3", "9:30", "Dec 3", "3rd"), a phone number ("555 0100"),
  a quantity ("10 minutes", "2 weeks"), a decimal ("9.5") or another scale ("5/5",
  "4 out of 5"). "9.5" is refused rather than rounded because the survey asks for whole
  numbers and half points sit on category borders (6.5 is a detractor or a passive
  depending on the rounding); "5/5" is a five-point scale whose top is not our 5, a
  detractor, so it is not read as one.

The same number written twice ("10! Ten!") is one score; "9/10", "8 out of 10" and
"8 de 10" name the scale, which is not a second number. Digits count anywhere in the
reply. Number words (English and Spanish) count only where a score stands — ending a
short clause ("ten", "I'd say ten", "definitely nine, great staff") or naming the scale
("nine out of ten") — because words turn up in prose ("two nurses", "ten minutes late");
"one"/"uno" must stand alone in their clause ("the nicest one" is not a score of 1).
A quoted original below an email reply ("> ..." lines, "On Tue ... wrote:", an Outlook
"-----Original Message-----", a "-- " signature) is not the patient's answer and is
ignored: it carries dates and phone numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from app.errors import InvalidInputError

PROMOTER: Final = "promoter"
PASSIVE: Final = "passive"
DETRACTOR: Final = "detractor"
LOWEST: Final = 0
HIGHEST: Final = 10


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _numbered(words: str) -> dict[str, int]:
    return {word: number for number, word in enumerate(words.split())}


_WORDS: Final = {
    **_numbered("zero one two three four five six seven eight nine ten"),
    **_numbered("cero uno dos tres cuatro cinco seis siete ocho nueve diez"),
}
# Common words of their own too ("the best one", "no one called"): only alone they score.
_ALONE_ONLY: Final = frozenset({"one", "uno"})
# Lead-ins such as "I'd say" or "a solid" are short: a number word after more words is prose.
_MOST_WORDS_BEFORE: Final = 2

# "8 out of 10", "8 of 10", "8 de 10", "8 sobre 10"; "/" is read from the gap between tokens.
_SCALE_WORDS: Final = (("out", "of"), ("of",), ("de",), ("sobre",), ("en",))
_MONTHS: Final = _word_set(
    "jan feb mar apr jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december ene abr ago dic enero febrero marzo "
    "abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre"
)
# A number next to one of these is a quantity, a time or a date, never a score.
_UNITS_AFTER: Final = _MONTHS | _word_set(
    "min mins minute minutes hr hrs hour hours day days week weeks wk wks month months "
    "year years yr yrs am pm o'clock times people kids children dollars bucks pts "
    "minuto minutos hora horas dia dias día días semana semanas mes meses año años ano anos "
    "veces personas niños dolares dólares"
)
_WORDS_BEFORE: Final = _MONTHS | _word_set(
    "at room suite apt unit floor ext extension las before after until by since from on"
)
_SIGNS: Final = frozenset("+−$£€#¥")
_COMPOUND_JOINS: Final = frozenset(".,:/-")

_TOKEN: Final = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)*")
# Keycap digits ("9️⃣") are a digit followed by these two marks; the marks are dropped.
_DROPPED: Final = frozenset("\ufe0f\ufe0e\u20e3")
_KEYCAP_TEN: Final = "\U0001f51f"  # 🔟

# Where the patient's own words end in an email reply.
_QUOTE_HEADER: Final = re.compile(r"^\s*(on|el|le|am)\b.*\b(wrote|escribió|a écrit|schrieb)\s*:")
_WROTE_ALONE: Final = re.compile(r"^\s*.*\b(wrote|escribió|a écrit|schrieb)\s*:\s*$")
_OPENS_HEADER: Final = re.compile(r"^\s*(on|el|le|am)\s")
_QUOTE_RULES: Final = re.compile(r"^\s*(-{3,}\s*original message\s*-{3,}|_{10,}|--\s*)$")

# What is trimmed from the ends of a comment piece: the punctuation around the score.
_TRIM_LEADING: Final = " \t\r\n-–—:;,.!?/)]*~" + "".join(_DROPPED)
_TRIM_TRAILING: Final = " \t\r\n-–—:;,/([*~"
_LEAD_INS: Final = _word_set(
    "i i'd id i'll ill would say give it a an my solid strong easy easily definitely def "
    "defo absolutely totally surely maybe probably about around score rating is was "
    "le doy diría diria yo un una sin duda"
)


def _own_words(text: str) -> str:
    """The reply without the quoted message below it."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    for index, line in enumerate(lines):
        folded = line.casefold()
        if folded.lstrip().startswith(">") or _QUOTE_RULES.match(folded.rstrip("\r\n")):
            break
        if _QUOTE_HEADER.match(folded):
            break
        # Mail programs wrap a long "On <date>, <name> <address>" line before "wrote:".
        following = lines[index + 1].casefold() if index + 1 < len(lines) else ""
        if _OPENS_HEADER.match(folded) and _WROTE_ALONE.match(following):
            break
        kept.append(line)
    return "".join(kept)


@dataclass(frozen=True)
class _Folded:
    """Folded text (NFKC, casefolded, keycaps as digits) that remembers where each
    character came from, so a comment can be cut from the patient's own spelling."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Where the folded characters [start, end) were in the text before folding."""
        return self.starts[start], self.ends[end - 1]


def _fold(text: str) -> _Folded:
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        if char in _DROPPED:
            continue
        folded = " 10 " if char == _KEYCAP_TEN else unicodedata.normalize("NFKC", char).casefold()
        # Curly apostrophes are how phones type "I'd".
        folded = folded.replace("\u2019", "'").replace("\u02bc", "'")
        for piece in folded:
            pieces.append(piece)
            starts.append(index)
            ends.append(index + 1)
    return _Folded("".join(pieces), tuple(starts), tuple(ends))


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def is_digits(self) -> bool:
        return self.text[0].isdigit()


@dataclass(frozen=True)
class _Reading:
    """The scores found (value and folded span, scale included) and whether any
    number that is not a score was seen."""

    scores: tuple[tuple[int, int, int], ...]
    other_numbers: bool

    @property
    def score(self) -> int | None:
        values = {value for value, _start, _end in self.scores}
        if self.other_numbers or len(values) != 1:
            return None
        return values.pop()


class _Reader:
    """One left-to-right pass over the tokens of a folded reply."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.scores: list[tuple[int, int, int]] = []
        self.other_numbers = False

    def gap(self, left: int, right: int) -> str:
        """The characters between token `left` and token `right` (-1 / len: the ends)."""
        start = self.tokens[left].end if left >= 0 else 0
        end = self.tokens[right].start if right < len(self.tokens) else len(self.text)
        return self.text[start:end]

    def value(self, index: int) -> int | None:
        if not 0 <= index < len(self.tokens):
            return None
        token = self.tokens[index].text
        if token.isdigit():
            return int(token) if len(token) <= 2 else HIGHEST + 1
        return _WORDS.get(token)

    def word(self, index: int) -> str:
        return self.tokens[index].text if 0 <= index < len(self.tokens) else ""

    def scale_after(self, index: int) -> tuple[int, int | None] | None:
        """(last token of the scale, its top) when a scale follows token `index`."""
        if self.gap(index, index + 1).strip() == "/" and self.value(index + 1) is not None:
            return index + 1, self.value(index + 1)
        for words in _SCALE_WORDS:
            following = [self.word(index + 1 + k) for k in range(len(words))]
            if tuple(following) != words:
                continue
            gaps = [self.gap(index + k, index + 1 + k) for k in range(len(words) + 1)]
            if all(g.isspace() for g in gaps):
                top = self.value(index + len(words) + 1)
                if top is not None:
                    return index + len(words) + 1, top
        return None

    def read(self) -> _Reading:
        index = 0
        while index < len(self.tokens):
            token = self.tokens[index]
            if token.is_digits:
                index = self.read_digits(index)
            elif token.text in _WORDS:
                index = self.read_word(index)
            else:
                index += 1
        return _Reading(tuple(self.scores), self.other_numbers)

    def read_digits(self, index: int) -> int:
        before = self.gap(index - 1, index)
        # "9.5", "12/3", "9:30", "555-0100", "1,000": digits joined by one mark.
        last = index
        while (
            last + 1 < len(self.tokens)
            and self.tokens[last + 1].is_digits
            and len(gap := self.gap(last, last + 1)) == 1
            and gap in _COMPOUND_JOINS
        ):
            last += 1
        if last == index + 1 and self.gap(index, last) == "/" and self.value(last) == HIGHEST:
            return self.take(index, last, top=HIGHEST, before=before)
        if last > index:
            self.other_numbers = True
            return last + 1
        scale = self.scale_after(index)
        if scale is not None:
            return self.take(index, scale[0], top=scale[1], before=before)
        return self.take(index, index, top=HIGHEST, before=before)

    def take(self, index: int, last: int, *, top: int | None, before: str) -> int:
        """Record token `index` (its scale ending at `last`) as a score if nothing around it
        says it is something else; return the next token to read."""
        value = self.value(index)
        after_gap = self.gap(last, last + 1)
        joined_before = before == "" and index > 0  # "room3", "a1"
        joined_after = after_gap == "" and last + 1 < len(self.tokens)  # "3rd", "10am"
        # A hyphen is a minus sign unless it joins two words ("great-10" is no "-10").
        signed = bool(before) and (
            before[-1] in _SIGNS or (before[-1] == "-" and (index == 0 or len(before) > 1))
        )
        unit_after = (
            self.word(last + 1) in _UNITS_AFTER
            or (self.word(last + 1) in ("of", "de") and self.word(last + 2) in _MONTHS)
        ) and after_gap.strip() in ("", "-")
        word_before = self.word(index - 1) in _WORDS_BEFORE and before.isspace()
        if (
            value is None
            or value > HIGHEST
            or top != HIGHEST
            or joined_before
            or joined_after
            or signed
            or after_gap.lstrip().startswith("%")
            or unit_after
            or word_before
        ):
            self.other_numbers = True
        else:
            self.scores.append((value, self.tokens[index].start, self.tokens[last].end))
        return last + 1

    def read_word(self, index: int) -> int:
        scale = self.scale_after(index)
        last = scale[0] if scale is not None else index
        if self.stands_as_score(index, last):
            before = self.gap(index - 1, index)
            return self.take(index, last, top=HIGHEST if scale is None else scale[1], before=before)
        return index + 1  # prose: "two nurses", "ten minutes late"

    def stands_as_score(self, index: int, last: int) -> bool:
        ends_clause = last + 1 >= len(self.tokens) or not self.gap(last, last + 1).isspace()
        first = index
        while first > 0 and self.gap(first - 1, first).isspace():
            first -= 1
        words_before = index - first
        most = 0 if self.tokens[index].text in _ALONE_ONLY else _MOST_WORDS_BEFORE
        return ends_clause and words_before <= most


def _read(text: str) -> tuple[str, _Folded, _Reading]:
    own = unicodedata.normalize("NFC", _own_words(text))
    folded = _fold(own)
    return own, folded, _Reader(folded.text).read()


def parse_score(text: str) -> int | None:
    """The 0–10 score in a reply, or None when the reply is not plainly one (Inbox)."""
    return _read(text)[2].score


def category(score: int) -> str:
    """Promoter (9–10), passive (7–8) or detractor (0–6), as NPS defines them."""
    if not LOWEST <= score <= HIGHEST:
        raise InvalidInputError("A score is a whole number from 0 to 10.")
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR


def net_promoter_score(scores: Iterable[int]) -> float | None:
    """Percent promoters minus percent detractors (−100 to 100); None with no scores."""
    counts = {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0}
    for score in scores:
        counts[category(score)] += 1
    total = sum(counts.values())
    if total == 0:
        return None
    # Exact arithmetic, rounded once: the report shows the same figure as a hand count.
    return float(Fraction(100 * (counts[PROMOTER] - counts[DETRACTOR]), total))


def comment_of(text: str, score: int) -> str:
    """The patient's words around the score, trimmed: the optional survey comment.

    "9 - the nurse was lovely" gives "the nurse was lovely"; a lead-in before the score
    ("I'd say", "a solid") is not a comment, but words before it are ("Great staff, 10").
    When the reply does not read as `score` (a person recorded it from the Inbox), the
    whole reply is the comment.
    """
    own, folded, reading = _read(text)
    if reading.score != score:
        return _trim(own)
    cuts = [folded.original_span(start, end) for _value, start, end in reading.scores]
    pieces: list[str] = []
    at = 0
    for start, end in cuts:
        pieces.append(own[at:start])
        at = end
    pieces.append(own[at:])
    if _is_lead_in(pieces[0]):
        pieces[0] = ""
    return " ".join(p for p in (_trim(piece) for piece in pieces) if p)


def _is_lead_in(text: str) -> bool:
    words = _TOKEN.findall(_fold(text).text)
    return all(word in _LEAD_INS for word in words)


def _trim(text: str) -> str:
    return text.lstrip(_TRIM_LEADING).rstrip(_TRIM_TRAILING).strip()
