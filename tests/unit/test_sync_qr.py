"""The enrollment code's QR picture: a real QR code (level M) that reads back as the code.

No QR reader is installed, so the test reads the matrix itself, the way a scanner does
once it has found the grid: the format bits (error level and mask), the data modules in
the standard's zigzag order, the mask removed, the blocks de-interleaved, the byte-mode
segment decoded. Only two tables come from reportlab (alignment positions and block
sizes, which are the standard's tables); the reading is this file's own.
"""

from __future__ import annotations

import pytest
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.barcode.qrencoder import QRErrorCorrectLevel, QRRSBlock, QRUtil

from app.sync.qr import qr_matrix, version_of

Matrix = tuple[tuple[bool, ...], ...]
CODE = "https://relay.lakeside-clinic.example KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS"


def test_the_picture_reads_back_as_the_code() -> None:
    assert read_qr(qr_matrix(CODE)) == CODE


@pytest.mark.parametrize(
    "text",
    [
        "x",
        "http://127.0.0.1:8765 AAAA-BBBB-CCCC-DDDD-EEEE-FFFF",
        "https://" + "very-long-relay-name." * 12 + "example ABCD-EFGH-JKLM-NPQR-STUV-WXYZ",
        "Zürich relay ✓",
    ],
)
def test_any_text_reads_back_whatever_its_length(text: str) -> None:
    assert read_qr(qr_matrix(text)) == text


def test_the_error_level_is_m() -> None:
    level, _mask = format_info(qr_matrix(CODE))
    assert level == "M"


def test_the_same_text_gives_the_same_picture() -> None:
    assert qr_matrix(CODE) == qr_matrix(CODE)
    assert qr_matrix(CODE) != qr_matrix(CODE.replace("KQ7M", "KQ7N"))


def test_a_finder_pattern_sits_in_three_corners() -> None:
    matrix = qr_matrix(CODE)
    size = len(matrix)
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        block = [row[left : left + 7] for row in matrix[top : top + 7]]
        assert block == [tuple(r) for r in FINDER]
    # the separators around them are light
    assert not any(matrix[7][:8]) and not any(row[7] for row in matrix[:8])


def test_the_size_is_the_smallest_version_that_holds_the_text() -> None:
    matrix = qr_matrix(CODE)
    version = version_of(matrix)
    assert len(matrix) == 17 + 4 * version and all(len(row) == len(matrix) for row in matrix)
    assert capacity(version) >= len(CODE.encode()) > capacity(version - 1)


def test_timing_patterns_alternate() -> None:
    matrix = qr_matrix(CODE)
    size = len(matrix)
    assert [matrix[6][c] for c in range(8, size - 8)] == [c % 2 == 0 for c in range(8, size - 8)]
    assert [matrix[r][6] for r in range(8, size - 8)] == [r % 2 == 0 for r in range(8, size - 8)]


def test_reportlabs_own_widget_draws_the_same_modules() -> None:
    widget = QrCodeWidget(CODE, barLevel="M")
    widget.draw()
    assert tuple(tuple(bool(m) for m in row) for row in widget.qr.modules) == qr_matrix(CODE)


def test_empty_text_has_no_picture() -> None:
    with pytest.raises(ValueError, match="needs some text"):
        qr_matrix("")


# --- a small QR reader ----------------------------------------------------------------

FINDER = [
    [r in (0, 6) or c in (0, 6) or (2 <= r <= 4 and 2 <= c <= 4) for c in range(7)]
    for r in range(7)
]
_LEVEL_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}
_LEVELS = {"L": QRErrorCorrectLevel.L, "M": QRErrorCorrectLevel.M}
_MASKS = [
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
]


def _format_word(level: str, mask: int) -> int:
    data = _LEVEL_BITS[level] << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


def format_info(matrix: Matrix) -> tuple[str, int]:
    """Error level and mask from the copy of the format bits around the top-left finder."""
    positions = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)]
    positions += [(8, 14 - i) for i in range(9, 15)]
    word = sum(1 << i for i, (r, c) in enumerate(positions) if matrix[r][c])
    for level in _LEVEL_BITS:
        for mask in range(8):
            if _format_word(level, mask) == word:
                return level, mask
    raise AssertionError("no valid format information")


def _function_modules(size: int, version: int) -> set[tuple[int, int]]:
    finders: set[tuple[int, int]] = set()
    for top, left in ((0, 0), (0, size - 8), (size - 8, 0)):
        finders |= {(top + r, left + c) for r in range(8) for c in range(8)}
    taken = finders | {(6, i) for i in range(size)} | {(i, 6) for i in range(size)}
    centres = QRUtil.getPatternPosition(version)
    for r in centres:
        for c in centres:
            if (r, c) in finders:
                continue  # no alignment pattern where a finder is
            taken |= {(r + dr, c + dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    taken |= {(8, i) for i in range(9)} | {(i, 8) for i in range(9)}
    taken |= {(8, size - 1 - i) for i in range(8)} | {(size - 1 - i, 8) for i in range(8)}
    if version >= 7:
        taken |= {(size - 11 + a, b) for a in range(3) for b in range(6)}
        taken |= {(b, size - 11 + a) for a in range(3) for b in range(6)}
    return taken


def read_qr(matrix: Matrix) -> str:
    size = len(matrix)
    version = version_of(matrix)
    level, mask = format_info(matrix)
    taken = _function_modules(size, version)
    bits: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        for vert in range(size):
            row = size - 1 - vert if upward else vert
            for col in (right, right - 1):
                if (row, col) not in taken:
                    bits.append(int(matrix[row][col] ^ _MASKS[mask](row, col)))
        right -= 2
    codewords = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits) - 7, 8)]
    blocks = QRRSBlock.getRSBlocks(version, _LEVELS[level])
    data: list[list[int]] = [[] for _ in blocks]
    index = 0
    for i in range(max(b.dataCount for b in blocks)):
        for n, block in enumerate(blocks):
            if i < block.dataCount:
                data[n].append(codewords[index])
                index += 1
    stream = "".join(f"{byte:08b}" for block in data for byte in block)
    assert stream[:4] == "0100", "byte mode"
    length_bits = 8 if version < 10 else 16
    count = int(stream[4 : 4 + length_bits], 2)
    start = 4 + length_bits
    raw = bytes(int(stream[start + 8 * i : start + 8 * i + 8], 2) for i in range(count))
    return raw.decode("utf-8")


def capacity(version: int) -> int:
    """Bytes a version holds at level M in byte mode (0 for "version 0")."""
    if version < 1:
        return 0
    blocks = QRRSBlock.getRSBlocks(version, QRErrorCorrectLevel.M)
    header = 4 + (8 if version < 10 else 16)
    return (sum(b.dataCount for b in blocks) * 8 - header) // 8
