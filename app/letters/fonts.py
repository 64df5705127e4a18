"""The TrueType font every printout embeds, so any Latin, Greek or Cyrillic name prints.

The PDF standard fonts (Helvetica & co.) only cover Latin-1: "Παπαδόπουλος" or "Иванова"
would print as black boxes on the one page that has to reach the patient. DejaVu Sans
(Bitstream Vera licence, see resources/fonts/LICENSE-DejaVu.txt) covers all three
scripts; reportlab embeds only the glyphs a document uses, so a letter stays small.

Registration happens once per process: reportlab keeps fonts in a global registry, and
parsing a 750 kB TrueType file for every letter would cost more than laying it out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from reportlab import rl_config
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from app.store.paths import resource_root

REGULAR: Final = "FrontdeskSans"
BOLD: Final = "FrontdeskSans-Bold"
MONO: Final = "Courier"
"""The recovery key's monospaced face: its letters and digits are ASCII only, so the
standard font suffices and keeps its familiar typewriter look."""
MONO_BOLD: Final = "Courier-Bold"

_FILES: Final = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_lock = threading.Lock()


@dataclass(frozen=True)
class FontSet:
    """The reportlab names of the registered faces, for ParagraphStyle and Canvas.setFont."""

    regular: str
    bold: str


FONTS: Final = FontSet(regular=REGULAR, bold=BOLD)


def font_dir() -> Path:
    """resources/fonts in the checkout or the installed bundle (packaging ships it)."""
    return resource_root() / "resources" / "fonts"


def register() -> FontSet:
    """Register DejaVu Sans and its bold once per process; later calls only return names.

    The family mapping makes `<b>` in paragraph markup pick the bold file rather than
    reportlab's fake bold of the standard fonts.
    """
    registered = pdfmetrics.getRegisteredFontNames()
    if REGULAR in registered and BOLD in registered:
        return FONTS
    # Binary page streams instead of ASCII85 text: a 7-bit mail-transport relic that makes
    # every PDF a quarter larger and costs a third of a 1,000-letter batch's writing time.
    # Process-wide on purpose (a reportlab setting): every printout here is a local file.
    rl_config.useA85 = 0
    with _lock:  # the print preview and a batch may build PDFs on two threads
        registered = pdfmetrics.getRegisteredFontNames()
        for name, file_name in _FILES.items():
            if name not in registered:
                pdfmetrics.registerFont(TTFont(name, str(font_dir() / file_name)))
        for italic in (0, 1):  # no italic face ships; italic markup falls back upright
            addMapping(REGULAR, 0, italic, REGULAR)
            addMapping(REGULAR, 1, italic, BOLD)
    return FONTS


def text_width(text: str, font: str, size: float) -> float:
    """The width in points that `text` takes in a registered font: what fitting measures.

    Measured once per text and font, then scaled: fitting an address tries a dozen sizes,
    and reportlab's pure-Python TrueType measuring would be most of a batch's cost.
    """
    return _em_width(text, font) * size


@lru_cache(maxsize=8192)
def _em_width(text: str, font: str) -> float:
    return float(pdfmetrics.stringWidth(text, font, 1.0))
