"""Behaviour of the printable Emergency Kit written by app.store.emergency_kit."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pypdf import PdfReader
from reportlab.platypus import BaseDocTemplate

from app.store.emergency_kit import EmergencyKit, write_emergency_kit

RECOVERY_KEY = "K7QM-2XPA-9RTB-HW4N-ZC8D-UE5F-3GYJ-VL6S"
CLINIC_NAME = "Clínica Lakeside"
CLINIC_ID = "3f2b8a1e-9c4d-4e7a-b2f1-0a1b2c3d4e5f"
DATA_FOLDER = "/home/reception/.local/share/Frontdesk"

PageSize = Literal["letter", "a4"]
# Points; A4 is 210 x 297 mm.
PAGE_SIZES: dict[str, tuple[float, float]] = {"letter": (612.0, 792.0), "a4": (595.27, 841.89)}

BASE_KIT = EmergencyKit(
    clinic_name=CLINIC_NAME,
    clinic_id=CLINIC_ID,
    recovery_key=RECOVERY_KEY,
    created_at=datetime.datetime(2024, 6, 1, 14, 30, tzinfo=datetime.UTC),
    data_folder=DATA_FOLDER,
    app_version="0.1.0",
)


def make_kit(**changes: Any) -> EmergencyKit:
    return dataclasses.replace(BASE_KIT, **changes)


def page_text(path: Path) -> str:
    return PdfReader(path).pages[0].extract_text()


@pytest.mark.parametrize("page_size", ["letter", "a4"])
def test_kit_is_a_single_page_of_the_chosen_paper(tmp_path: Path, page_size: PageSize) -> None:
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(), path, page_size=page_size)

    reader = PdfReader(path)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    width, height = PAGE_SIZES[page_size]
    assert float(box.width) == pytest.approx(width, abs=1)
    assert float(box.height) == pytest.approx(height, abs=1)


def test_default_paper_is_letter(tmp_path: Path) -> None:
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(), path)

    box = PdfReader(path).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(PAGE_SIZES["letter"], abs=1)


@pytest.mark.parametrize("page_size", ["letter", "a4"])
def test_kit_shows_key_clinic_and_how_to_use_it(tmp_path: Path, page_size: PageSize) -> None:
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(), path, page_size=page_size)

    text = page_text(path)
    assert "Frontdesk Emergency Kit" in text
    assert RECOVERY_KEY in text  # on one line, exactly as it must be typed
    assert CLINIC_NAME in text
    assert CLINIC_ID in text
    assert "2024-06-01" in text
    assert DATA_FOLDER in text
    assert "recovery key" in text
    assert "Use recovery key" in text
    assert "frontdesk unlock --recovery-key" in text
    assert "Stored at:" in text
    assert "Signed:" in text


def test_date_created_is_the_utc_date(tmp_path: Path) -> None:
    late_evening_in_chicago = datetime.datetime(
        2024, 6, 1, 21, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(created_at=late_evening_in_chicago), path)

    assert "2024-06-02" in page_text(path)


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_kit(created_at=datetime.datetime(2024, 6, 1, 14, 30))


def test_metadata_has_the_title_and_nothing_about_the_clinic(tmp_path: Path) -> None:
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(), path)

    metadata = PdfReader(path).metadata
    assert metadata is not None
    assert metadata.title == "Frontdesk Emergency Kit"
    values = " ".join(str(value) for value in metadata.values())
    for secret_or_private in (RECOVERY_KEY, CLINIC_NAME, CLINIC_ID, DATA_FOLDER):
        assert secret_or_private not in values


@pytest.mark.parametrize("page_size", ["letter", "a4"])
def test_writing_leaves_only_the_kit_in_the_folder(tmp_path: Path, page_size: PageSize) -> None:
    path = tmp_path / "Frontdesk Emergency Kit.pdf"

    write_emergency_kit(make_kit(), path, page_size=page_size)

    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_existing_kit_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "kit.pdf"
    path.write_bytes(b"an old kit")

    write_emergency_kit(make_kit(), path)

    assert RECOVERY_KEY in page_text(path)
    assert [p.name for p in tmp_path.iterdir()] == ["kit.pdf"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kit.pdf"
    path.write_bytes(b"the previous kit")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BaseDocTemplate, "build", fail)

    with pytest.raises(OSError, match="No space left"):
        write_emergency_kit(make_kit(), path)

    assert path.read_bytes() == b"the previous kit"
    assert [p.name for p in tmp_path.iterdir()] == ["kit.pdf"]


def test_very_long_name_and_folder_still_fit_on_one_page(tmp_path: Path) -> None:
    long_name = "Lakeside Family Practice and Walk-in Clinic " * 8
    long_folder = "/srv/" + "nested-folder/" * 40 + "Frontdesk"
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(clinic_name=long_name, data_folder=long_folder), path)

    reader = PdfReader(path)
    assert len(reader.pages) == 1
    assert RECOVERY_KEY in reader.pages[0].extract_text()


def test_markup_characters_in_the_clinic_name_are_printed_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "kit.pdf"

    write_emergency_kit(make_kit(clinic_name="Smith & Jones <Dental>"), path)

    assert "Smith & Jones <Dental>" in page_text(path)
