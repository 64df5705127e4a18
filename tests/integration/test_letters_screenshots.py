"""First pages of real letters rendered to PNG (in memory, with pypdfium2) for the guide.

FRONTDESK_SCREENSHOTS=1 writes docs/screenshots/letter-us10.png and letter-din.png; without
it the pictures go to a temporary folder, so the rendering path is tested on every run.
"""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from app.clinic import Clinic
from app.letters.layout import address_lines
from app.letters.letter import LetterInput, build_letters
from app.letters.letterhead import letter_date
from app.letters.settings import LetterSettings, load_settings, update_settings
from app.patients.model import AddressDraft, PatientDraft
from app.patients.records import create_patient, get_patient
from app.reminders.templates import default_template, render, sample_values

REPO = Path(__file__).resolve().parents[2]


def _logo() -> bytes:
    image = Image.new("RGB", (480, 160), (255, 255, 255))
    for x in range(480):
        for y in range(40, 120):
            if (x // 40) % 2 == 0:
                image.putpixel((x, y), (21, 101, 192))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("envelope", "file_name", "clinic_name", "address", "language"),
    [
        (
            "us10",
            "letter-us10.png",
            "Lakeside Family Clinic",
            AddressDraft(
                line1="12 Elm St",
                line2="Apt 3",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="US",
            ),
            "en",
        ),
        (
            "din_a",
            "letter-din.png",
            "Praxis am See",
            AddressDraft(line1="Hauptstraße 5", city="Berlin", postal_code="10115", country="DE"),
            "es",
        ),
    ],
)
def test_first_page_of_a_letter_renders_for_the_guide(
    clinic: Clinic,
    tmp_path: Path,
    envelope: str,
    file_name: str,
    clinic_name: str,
    address: AddressDraft,
    language: str,
) -> None:
    out_dir = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    region = "US" if envelope == "us10" else "DE"
    clinic.update_settings(
        name=clinic_name,
        address="200 Lake Shore Dr\nChicago IL 60601"
        if region == "US"
        else "Seestraße 1\n10117 Berlin",
        phone="+13125550100" if region == "US" else "+49301234567",
        region=region,
    )
    update_settings(
        clinic,
        envelope=envelope,
        logo_png=_logo(),
        web="www.example-clinic.org",
        closing="",
        signer="",
    )
    created = create_patient(
        clinic,
        PatientDraft(family_name="Παπαδόπουλος", given_names="Ελένη", addresses=(address,)),
    )
    patient = get_patient(clinic, created.id)
    lines = address_lines(patient.addresses[0], "Ελένη Παπαδόπουλος", clinic.settings.region)
    values = sample_values("appointment", language, "letter")
    values["patient_full_name"] = "Ελένη Παπαδόπουλος"
    values["clinic_name"] = clinic_name
    body = render(
        default_template("appointment", "letter", language),
        purpose="appointment",
        kind="letter",
        values=values,
    )
    letter = LetterInput(
        recipient_lines=lines,
        subject="Recordatorio de su cita" if language == "es" else "Your appointment reminder",
        body_text=body,
        date_text=letter_date(date(2026, 3, 2), language),
        language=language,
    )
    pdf = io.BytesIO()
    batch = build_letters([letter], load_settings(clinic), clinic.settings, pdf)
    assert batch.pages == 1

    document = pdfium.PdfDocument(pdf.getvalue())
    try:
        picture = document[0].render(scale=110 / 72).to_pil()
    finally:
        document.close()
    picture.save(out_dir / file_name)
    # Something was drawn: the page is not a blank sheet.
    assert picture.convert("L").getextrema()[0] < 80
    assert isinstance(load_settings(clinic), LetterSettings)
