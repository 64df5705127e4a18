"""The QR picture of an enrollment code, as rows of dark/light modules the screen draws.

reportlab (already needed for letters) carries a complete QR encoder, so no new
dependency is added for it. Error correction M (15 % of the modules may be lost)
because the code is read off a screen by a phone or webcam: glare and a finger on the
corner are the usual damage, and M keeps the picture small enough for one screen.
The matrix has no quiet zone: whoever draws it leaves four light modules around it.
"""

from __future__ import annotations

from reportlab.graphics.barcode import qrencoder

QUIET_ZONE = 4  # light modules to leave on every side when drawing


def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The modules of the smallest QR code (level M) holding `text`; True = dark.

    The same text always gives the same matrix (the mask is chosen by the standard's
    penalty rules, not at random), so a test or a printed copy can compare pictures.
    """
    if not text:
        raise ValueError("a QR code needs some text")
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    # Byte mode with the text as UTF-8: every scanner reads it, whatever the letters.
    code.addData(qrencoder.QR8bitByte(text.encode("utf-8")))
    code.make()
    return tuple(tuple(bool(dark) for dark in row) for row in code.modules)


def version_of(matrix: tuple[tuple[bool, ...], ...]) -> int:
    """The QR version (1–40) a matrix of this size is: 21 modules for 1, +4 each."""
    return (len(matrix) - 17) // 4
