"""Text-message arithmetic and reply reading: how many parts a text costs, what a reply means."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# GSM 03.38: phones and carriers pack these into 7 bits, so a part holds 160 of them.
# One character outside this table (a "ł", an emoji) turns the whole text into UCS-2,
# which holds only 70 per part: the template editor shows this so nobody pays triple
# for a curly quote.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table goes out as ESC + character: two septets each.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_7 = "GSM-7"
UCS_2 = "UCS-2"

_SINGLE = {GSM_7: 160, UCS_2: 70}
# A long text is split into parts that each lose room to the header that joins them.
_CONCATENATED = {GSM_7: 153, UCS_2: 67}


@dataclass(frozen=True)
class Segments:
    """What a text costs: `characters` in the units the network counts.

    For GSM-7 that is septets (an extension character such as € counts 2); for UCS-2
    it is UTF-16 code units (an emoji counts 2). `per_segment` is the room in each part
    at this length: 160/70 while the text fits in one, 153/67 once it is split.
    """

    encoding: str
    characters: int
    segments: int
    per_segment: int


def _unit_sizes(text: str) -> tuple[str, list[int]]:
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        return GSM_7, [2 if ch in _GSM_EXTENSION else 1 for ch in text]
    return UCS_2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> Segments:
    """How many SMS parts `text` is sent as; an empty text is no parts."""
    encoding, sizes = _unit_sizes(text)
    total = sum(sizes)
    single = _SINGLE[encoding]
    if total <= single:
        return Segments(encoding, total, 1 if total else 0, single)
    # Phones never split an escape pair or a surrogate pair across parts, so a part can
    # end one unit short; packing character by character counts what is really sent.
    room = _CONCATENATED[encoding]
    segments, used = 1, 0
    for size in sizes:
        if used + size > room:
            segments += 1
            used = 0
        used += size
    return Segments(encoding, total, segments, room)


REPLY_CONFIRM = "confirm"
REPLY_STOP = "stop"
REPLY_HELP = "help"
REPLY_OTHER = "other"

_KEYWORDS = {
    **dict.fromkeys(("c", "y", "yes", "confirm", "confirmed"), REPLY_CONFIRM),
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit"), REPLY_STOP),
    **dict.fromkeys(("help", "info"), REPLY_HELP),
}


def _core_word(text: str) -> str:
    # NFKC turns full-width and styled letters into plain ones; what is left after
    # trimming everything that is not a letter or digit from both ends must be one word.
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and not folded[start].isalnum():
        start += 1
    while end > start and not folded[end - 1].isalnum():
        end -= 1
    return folded[start:end]


def classify_reply(text: str) -> str:
    """Confirm, stop, help or other: only a reply that is one keyword counts as a keyword.

    "Yes 👍" confirms, but "yes but can we move it" is a question for a person, so it
    goes to the Inbox (other) rather than being taken as a confirmation.
    """
    return _KEYWORDS.get(_core_word(text), REPLY_OTHER)
