"""Letters for the demo clinic's patients: real address rows through address_lines into
the window of each envelope, read back from the PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from app.clinic import Clinic
from app.letters.envelopes import ENVELOPES
from app.letters.layout import address_lines
from app.letters.letter import LetterInput, build_letters
from app.letters.settings import LetterSettings
from app.patients.records import get_patient
from app.reminders.reach import full_name


@pytest.mark.parametrize("key", sorted(ENVELOPES))
def test_demo_patients_letters_have_their_whole_address_in_the_window(
    demo_clinic: Clinic, key: str
) -> None:
    ids = [
        row[0]
        for row in demo_clinic.conn.execute(
            "SELECT DISTINCT patient_id FROM address ORDER BY patient_id LIMIT 40"
        )
    ]
    inputs = []
    for pid in ids:
        patient = get_patient(demo_clinic, pid)
        lines = address_lines(patient.addresses[0], full_name(patient), "US")
        inputs.append(LetterInput(lines, "Reminder", "Dear patient,\n\nSee you soon.", "March 1"))
    out = io.BytesIO()
    batch = build_letters(inputs, LetterSettings(envelope=key), demo_clinic.settings, out)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    assert len(reader.pages) == batch.pages == len(inputs)
    box = ENVELOPES[key].address_box
    for item, first in zip(inputs, batch.first_page_of, strict=True):
        seen: list[str] = []

        def visit(text: str, cm: list[float], tm: list[float], _fd: object, _s: float) -> None:
            if text.strip() and box.x - 0.01 <= tm[4] < box.right and box.y <= tm[5] <= box.top:
                seen.append(text.strip())  # noqa: B023 - used at once, inside the loop

        reader.pages[first - 1].extract_text(visitor_text=visit)
        assert " ".join(seen).split() == " ".join(item.recipient_lines).split()
