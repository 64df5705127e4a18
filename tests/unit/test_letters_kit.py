"""The Emergency Kit prints through the shared letters layout: any script, one page."""

from __future__ import annotations

import datetime
from pathlib import Path

from pypdf import PdfReader

from app.store.emergency_kit import EmergencyKit, write_emergency_kit


def test_kit_prints_a_clinic_name_in_greek_and_cyrillic_with_the_embedded_font(
    tmp_path: Path,
) -> None:
    name = "Κλινική Αθηνά · Клиника Здоровье"
    kit = EmergencyKit(
        clinic_name=name,
        clinic_id="3f2b8a1e-9c4d-4e7a-b2f1-0a1b2c3d4e5f",
        recovery_key="K7QM-2XPA-9RTB-HW4N-ZC8D-UE5F-3GYJ-VL6S",
        created_at=datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC),
        data_folder="/home/reception/Frontdesk",
        app_version="0.1.0",
    )
    path = tmp_path / "kit.pdf"
    write_emergency_kit(kit, path, page_size="a4")
    reader = PdfReader(path)
    assert len(reader.pages) == 1
    assert name in reader.pages[0].extract_text()
    fonts = {
        str(f["/BaseFont"])
        for f in reader.pages[0]["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert any("DejaVuSans" in f for f in fonts)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
