"""Settings ▸ Letters stored in the clinic: images checked, scaled, refused with the reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from app.clinic import Clinic
from app.errors import InvalidInputError
from app.letters.settings import (
    MAX_IMAGE_PIXELS,
    LetterSettings,
    check_image,
    load_settings,
    read_image_file,
    save_settings,
    update_settings,
)


def image_bytes(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(out, format=fmt)
    return out.getvalue()


def test_a_new_clinic_prints_for_us10_without_logo(clinic: Clinic) -> None:
    assert load_settings(clinic) == LetterSettings()


def test_settings_round_trip_with_images(clinic: Clinic) -> None:
    logo = image_bytes((300, 100))
    signature = image_bytes((200, 60), "JPEG")
    wanted = LetterSettings(
        envelope="din_b",
        logo_png=logo,
        web="www.example-clinic.de",
        closing="Mit freundlichen Grüßen",
        signer="Dr. Anna Weiß",
        signature_png=signature,
        blank_backs=True,
    )
    changes = save_settings(clinic, wanted)
    assert "setting" in changes.tables
    assert load_settings(clinic) == wanted


def test_a_huge_logo_is_scaled_down_once_when_saved(clinic: Clinic) -> None:
    update_settings(clinic, logo_png=image_bytes((4000, 1000)))
    stored = load_settings(clinic).logo_png
    assert stored is not None
    with Image.open(io.BytesIO(stored)) as image:
        assert max(image.size) == MAX_IMAGE_PIXELS
        assert image.size[0] / image.size[1] == pytest.approx(4, rel=0.01)


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="PNG or JPEG"):
        save_settings(clinic, LetterSettings(logo_png=b"%PDF-1.4 not a picture"))
    assert load_settings(clinic).logo_png is None


def test_other_image_formats_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInputError, match="must be a PNG or JPEG"):
        check_image(image_bytes((10, 10), "GIF"), "signature")


def test_a_file_over_2_mb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "logo.png"
    big.write_bytes(image_bytes((10, 10)) + b"\0" * (2 * 1024 * 1024))
    with pytest.raises(InvalidInputError, match="larger than 2 MB"):
        read_image_file(big)


def test_unknown_envelope_is_refused(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="envelope"):
        save_settings(clinic, LetterSettings(envelope="c4"))
