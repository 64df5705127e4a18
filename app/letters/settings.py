"""The clinic's choices for printed mail: envelope standard, logo, closing, signature, duplex.

Stored as one `letters.settings` row in the encrypted clinic (images base64 inside it), so
every workstation prints the same letterhead and the logo never sits as a loose file.
Images are checked when chosen, not when a batch of 300 letters is printing: PNG or JPEG
only, at most 2 MB, and anything larger than a letterhead needs is scaled down once here.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from PIL import Image, UnidentifiedImageError

from app.clinic import Clinic, put_setting
from app.errors import InvalidInputError
from app.letters.envelopes import DEFAULT_ENVELOPE, ENVELOPES
from app.store.changes import Changes

SETTING: Final = "letters.settings"
MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 1600
"""Longest side kept: 1600 px is 400 dpi across a 4 in logo box, sharper than any office
printer, while a 6000 px photo would make every letter of a batch megabytes heavier."""
_FORMATS: Final = {"PNG": "PNG", "JPEG": "JPEG"}
_IMAGE_FIELDS: Final = ("logo_png", "signature_png")
_TEXT_LIMITS: Final = {"web": 200, "closing": 120, "signer": 200}


@dataclass(frozen=True)
class LetterSettings:
    """What Settings ▸ Letters holds. Empty texts mean "use the default in the letter's
    language" (closing) or "the clinic's name" (signer)."""

    envelope: str = DEFAULT_ENVELOPE  # a key of app.letters.envelopes.ENVELOPES
    logo_png: bytes | None = None  # PNG or JPEG bytes (the name is historical: both allowed)
    web: str = ""
    closing: str = ""
    signer: str = ""
    signature_png: bytes | None = None
    blank_backs: bool = False  # duplex: every letter starts on the front of a sheet


def check_image(data: bytes, what: str = "logo") -> bytes:
    """The image ready to store: PNG or JPEG, at most 2 MB, scaled down when very large.

    Raises InvalidInputError with the reason (shown next to the field in Settings).
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(
            f"The {what} file is larger than 2 MB. Choose a smaller PNG or JPEG image."
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, on images big enough to be a decompression bomb.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidInputError(
            f"The {what} is not a picture Frontdesk can read. Choose a PNG or JPEG image."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInputError(
            f"The {what} image has too many pixels. Choose a smaller PNG or JPEG image."
        ) from None
    if kind not in _FORMATS:
        raise InvalidInputError(f"The {what} must be a PNG or JPEG image.")
    if max(image.size) <= MAX_IMAGE_PIXELS:
        return data
    image.thumbnail((MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format=_FORMATS[kind], optimize=True)
    return out.getvalue()


def read_image_file(path: Path, what: str = "logo") -> bytes:
    """Read and check an image the manager chose; the size is checked before reading it all."""
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            raise InvalidInputError(
                f"The {what} file is larger than 2 MB. Choose a smaller PNG or JPEG image."
            )
        data = path.read_bytes()
    except OSError:
        raise InvalidInputError(f"The {what} file could not be read.") from None
    return check_image(data, what)


def check_settings(settings: LetterSettings) -> LetterSettings:
    """The settings as they will be stored (images scaled), or InvalidInputError."""
    if settings.envelope not in ENVELOPES:
        raise InvalidInputError("Choose an envelope from the list.")
    for name, limit in _TEXT_LIMITS.items():
        if len(getattr(settings, name)) > limit:
            label = {"web": "web address", "closing": "closing", "signer": "signer"}[name]
            raise InvalidInputError(f"The {label} can be at most {limit} characters.")
    checked: dict[str, Any] = {}
    for name, what in zip(_IMAGE_FIELDS, ("logo", "signature"), strict=True):
        value = getattr(settings, name)
        if value is not None:
            checked[name] = check_image(value, what)
    return replace(settings, **checked)


def _encode(settings: LetterSettings) -> str:
    values = asdict(settings)
    for name in _IMAGE_FIELDS:
        data = values[name]
        values[name] = base64.b64encode(data).decode("ascii") if data else None
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def _decode(text: str) -> LetterSettings:
    values: dict[str, Any] = json.loads(text)
    known = {f.name for f in fields(LetterSettings)}
    kept = {k: v for k, v in values.items() if k in known}
    for name in _IMAGE_FIELDS:
        encoded = kept.get(name)
        try:
            kept[name] = base64.b64decode(encoded, validate=True) if encoded else None
        except (binascii.Error, ValueError, TypeError):
            kept[name] = None  # a damaged image prints no image rather than no letters
    settings = LetterSettings(**kept)
    if settings.envelope not in ENVELOPES:  # written by a newer version
        settings = replace(settings, envelope=DEFAULT_ENVELOPE)
    return settings


def load_settings(clinic: Clinic) -> LetterSettings:
    row = clinic.conn.execute("SELECT value FROM setting WHERE id = ?", (SETTING,)).fetchone()
    if row is None:
        return LetterSettings()
    return _decode(row[0])


def save_settings(clinic: Clinic, settings: LetterSettings) -> Changes:
    """Check and store; raises InvalidInputError with the reason and stores nothing then."""
    checked = check_settings(settings)
    with clinic.store.write() as tx:
        put_setting(tx, SETTING, _encode(checked))
    return tx.changes


def update_settings(clinic: Clinic, **values: Any) -> LetterSettings:
    """Change some settings, keeping the rest as stored; returns what was stored."""
    settings = check_settings(replace(load_settings(clinic), **values))
    save_settings(clinic, settings)
    return settings
