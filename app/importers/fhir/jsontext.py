"""Turning the bytes of a FHIR JSON document into Python values, with plain-worded errors.

orjson does the parsing because imports are large and it is several times faster than
the standard library. It already keeps the last value of a duplicated key (as most
JSON readers do), so duplicates need no special care on the fast path. It refuses a
few things the standard library accepts (lone surrogate escapes such as "\\ud800");
for those the slow path re-reads with the standard library, keeps the last value of
duplicated keys, replaces broken characters and says so in a warning.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

import orjson

_UTF8_BOM = codecs.BOM_UTF8
_UTF32_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"))
_UTF16_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


class JsonTextError(ValueError):
    """The bytes are not JSON we can read; the message names the line, never the content."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed JSON value and, when it needed repair, a warning saying what was done."""

    value: Any
    warning: str | None = None


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """Return (encoding, bytes of byte-order mark to skip) from the first bytes of a file.

    FHIR JSON must be UTF-8, but Windows tools save UTF-16 with a BOM; reading it is
    kinder than refusing, and a BOM makes the guess certain. Without a BOM, NUL bytes
    beside the first ASCII character give UTF-16 away.
    """
    if head.startswith(_UTF8_BOM):
        return "utf-8", len(_UTF8_BOM)
    for bom, name in _UTF32_BOMS:
        if head.startswith(bom):
            return name, len(bom)
    for bom, name in _UTF16_BOMS:
        if head.startswith(bom):
            return name, len(bom)
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le", 0
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be", 0
    return "utf-8", 0


def to_utf8(raw: bytes) -> tuple[bytes, str | None]:
    """Return UTF-8 bytes without BOM, and a warning when the file was in another encoding."""
    encoding, skip = sniff_encoding(raw[:4])
    if encoding == "utf-8":
        return raw[skip:], None
    try:
        text = raw[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise JsonTextError(
            f"looks like {encoding.upper()} text but is damaged at byte {exc.start + skip}; "
            "FHIR files must be saved as UTF-8"
        ) from None
    return text.encode("utf-8", "surrogatepass"), f"was saved as {encoding.upper()}, not UTF-8"


def parse_json(data: bytes | str) -> Parsed:
    """Parse one JSON document, raising JsonTextError with a message fit for the user."""
    try:
        return Parsed(orjson.loads(data))
    except orjson.JSONDecodeError as fast_error:
        return _parse_slowly(data, fast_error)


def _parse_slowly(data: bytes | str, fast_error: orjson.JSONDecodeError) -> Parsed:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonTextError(
                f"is not UTF-8 text (bad byte at position {exc.start}); "
                "FHIR files must be saved as UTF-8"
            ) from None
    else:
        text = data
    if not text.strip():
        raise JsonTextError("is empty")
    notes: list[str] = []
    try:
        value = json.loads(
            text,
            object_pairs_hook=lambda pairs: _last_wins(pairs, notes),
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise JsonTextError(_describe(text, exc)) from None
    except RecursionError:
        raise JsonTextError("is nested too deeply to be a FHIR resource") from None
    except _ConstantError:
        raise JsonTextError("contains NaN or Infinity, which JSON does not allow") from None
    repaired = _replace_surrogates(value)
    if repaired is not value:
        notes.append("broken characters were replaced")
    del fast_error  # the slow path's message is better: it knows about truncation
    return Parsed(repaired, "; ".join(dict.fromkeys(notes)) or None)


class _ConstantError(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _ConstantError(name)


def _last_wins(pairs: list[tuple[str, Any]], notes: list[str]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        notes.append("a key appeared twice in one object; the last value was kept")
    return result


def _replace_surrogates(value: Any) -> Any:
    """Replace lone surrogates (not storable as UTF-8); an unchanged value is returned as is."""
    if isinstance(value, str):
        if not any("\ud800" <= ch <= "\udfff" for ch in value):
            return value
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, list):
        items = [_replace_surrogates(v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = [(_replace_surrogates(k), _replace_surrogates(v)) for k, v in value.items()]
        old = value.items()
        if any(nk is not k or nv is not v for (nk, nv), (k, v) in zip(pairs, old, strict=True)):
            return dict(pairs)
        return value
    return value


def _describe(text: str, exc: json.JSONDecodeError) -> str:
    stripped = text.rstrip()
    first = text.lstrip()[:1]
    if first not in ("{", "["):
        return "is not JSON (it does not start with { or [)"
    unclosed = exc.msg.startswith("Unterminated string") and '"' not in text[exc.pos + 1 :]
    if exc.pos >= len(stripped) or unclosed:
        return "ends in the middle of the JSON (the file looks cut short)"
    return f"is damaged JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
