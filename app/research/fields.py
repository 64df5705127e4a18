"""The catalogue of what a research export may hold: fields a manager ticks, and their columns.

Only what Safe Harbor lets through is offered at all. Names, contact details, street
addresses, exact dates, identifiers (MRN, SSN, plan, account, licence numbers), our own
record ids and every free-text field (notes, message texts, comments, reasons) are not in
this catalogue, so no choice can put them in a file. Each column names the Safe Harbor
rule it was shaped by (45 CFR 164.514(b)(2)(i)(A)-(R)); the data dictionary prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PATIENTS_FILE: Final = "patients.csv"
VISITS_FILE: Final = "visits_by_year.csv"
REMINDERS_FILE: Final = "reminders_by_year.csv"
NPS_FILE: Final = "nps.csv"
CAMPAIGNS_FILE: Final = "campaigns_by_year.csv"
CONDITIONS_FILE: Final = "conditions.csv"

SUPPRESSED: Final = "suppressed"
OVER_89: Final = "90+"

RULE_H_R: Final = (
    "(H), (R): the record id is replaced by a random code made for this export only; "
    "it is not derived from the patient and is kept nowhere"
)
RULE_C_YEAR: Final = "(C): dates are reduced to the year"
RULE_C_AGE: Final = "(C): ages over 89 are written 90+ and their year of birth is left out"
RULE_B: Final = "(B): no geography smaller than a state"
RULE_NONE: Final = "not an identifier (a code or a count)"

# The researcher joins the files on this column.
PSEUDONYM_COLUMN: Final = "pseudonym"


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    type: str  # text, integer, year
    allowed: str  # the values it can hold, in words
    rule: str  # the Safe Harbor rule applied


@dataclass(frozen=True)
class Field:
    """One tick box: a patient column, or a whole per-year file."""

    key: str
    group: str
    label: str
    description: str
    file: str
    columns: tuple[Column, ...]
    quasi_identifier: bool = False  # counted in the small-cell report


PSEUDONYM: Final = Column(
    PSEUDONYM_COLUMN,
    "A random code for one patient, the same in every file of this export and different "
    "in every other export",
    "text",
    "16 hexadecimal characters",
    RULE_H_R,
)
YEAR: Final = Column(
    "year", "The calendar year (the clinic's time zone)", "year", "YYYY", RULE_C_YEAR
)

AGE_BANDS: Final = (*(f"{lo}-{lo + 4}" for lo in range(0, 90, 5)), OVER_89)

CATALOGUE: Final[tuple[Field, ...]] = (
    Field(
        "age_band",
        "About the patient",
        "Age group",
        "Age on the day of the export in five-year groups; everyone 90 or older is 90+.",
        PATIENTS_FILE,
        (
            Column(
                "age_band",
                "Age in whole years on the export day, in five-year groups",
                "text",
                ", ".join(AGE_BANDS) + f", blank (no birth date), {SUPPRESSED}",
                RULE_C_AGE,
            ),
        ),
        quasi_identifier=True,
    ),
    Field(
        "birth_year",
        "About the patient",
        "Year of birth",
        "The year only; left out for anyone who is, or turns this year, 90 or older.",
        PATIENTS_FILE,
        (
            Column(
                "birth_year",
                "Year of birth",
                "year",
                f"YYYY, blank (none on record, or 90 or older), {SUPPRESSED}",
                RULE_C_AGE,
            ),
        ),
        quasi_identifier=True,
    ),
    Field(
        "sex",
        "About the patient",
        "Sex",
        "Female, male, other or unknown, as recorded.",
        PATIENTS_FILE,
        (
            Column(
                "sex",
                "Sex as recorded",
                "text",
                f"female, male, other, unknown, {SUPPRESSED}",
                RULE_NONE,
            ),
        ),
        quasi_identifier=True,
    ),
    Field(
        "state",
        "About the patient",
        "State",
        "The US state of the home address (no town, street or county).",
        PATIENTS_FILE,
        (
            Column(
                "state",
                "US state or territory of the patient's main address (USPS code)",
                "text",
                "two-letter USPS code, blank (none, or outside the US)",
                RULE_B + "; the state is kept",
            ),
        ),
    ),
    Field(
        "zip3",
        "About the patient",
        "First three digits of the ZIP code",
        "Only where that area has more than 20,000 people; otherwise 000.",
        PATIENTS_FILE,
        (
            Column(
                "zip3",
                "The first three digits of the main address's ZIP code",
                "text",
                f"three digits; 000 = not shown (see the ZIP3 list below), {SUPPRESSED}",
                "(B): the 3-digit ZIP only where the area has more than 20,000 people; "
                "000 for restricted areas, places with no residents, and unusable ZIPs",
            ),
        ),
        quasi_identifier=True,
    ),
    Field(
        "language",
        "About the patient",
        "Language",
        "The language the patient prefers, as a two- or three-letter code (en, es).",
        PATIENTS_FILE,
        (
            Column(
                "language",
                "Preferred language (ISO 639 code, without region)",
                "text",
                "ISO 639-1 or 639-2 code, blank (none on record)",
                RULE_NONE,
            ),
        ),
    ),
    Field(
        "acquisition_channel",
        "About the patient",
        "How they heard about the clinic",
        "The clinic's channel (Internet search, referral…); anything typed by hand is not "
        "included.",
        PATIENTS_FILE,
        (
            Column(
                "acquisition_channel",
                "The acquisition channel's key",
                "text",
                "a key listed under Channels below; unlisted = typed by hand, not included; "
                "blank = not recorded",
                "(R): free text is never exported; only the clinic's list of channels",
            ),
            Column(
                "acquisition_channel_label",
                "The channel's name in the clinic's list",
                "text",
                "see Channels below",
                "(R): free text is never exported; only the clinic's list of channels",
            ),
        ),
    ),
    Field(
        "registered_year",
        "About the patient",
        "Year registered",
        "The year the patient was first entered at the clinic.",
        PATIENTS_FILE,
        (
            Column(
                "registered_year",
                "Year the patient's record was created",
                "year",
                "YYYY",
                RULE_C_YEAR,
            ),
        ),
    ),
    Field(
        "deceased",
        "About the patient",
        "Deceased",
        "Whether the patient has died (no date).",
        PATIENTS_FILE,
        (
            Column(
                "deceased",
                "Whether the clinic recorded the patient as deceased",
                "text",
                "yes, no",
                "(C): no date of death is exported",
            ),
        ),
    ),
    Field(
        "visits",
        "Visits and messages",
        "Visits by year",
        "Per year: visits attended, missed (no-show) and cancelled.",
        VISITS_FILE,
        (
            PSEUDONYM,
            YEAR,
            Column(
                "fulfilled",
                "Visits attended that year (fulfilled or arrived)",
                "integer",
                "0 or more",
                RULE_NONE,
            ),
            Column("no_show", "Visits missed without notice", "integer", "0 or more", RULE_NONE),
            Column("cancelled", "Visits cancelled", "integer", "0 or more", RULE_NONE),
        ),
    ),
    Field(
        "reminders",
        "Visits and messages",
        "Reminders by year",
        "Per year: appointment reminders received, and visits the patient confirmed by "
        "replying to a text.",
        REMINDERS_FILE,
        (
            PSEUDONYM,
            YEAR,
            Column(
                "reminders_received",
                "Appointment reminders sent to the patient that year",
                "integer",
                "0 or more",
                RULE_NONE,
            ),
            Column(
                "confirmed_by_reply",
                "Visits the patient confirmed by replying to a reminder, counted once, in "
                "the year the reminder was sent",
                "integer",
                "0 or more",
                RULE_NONE,
            ),
        ),
    ),
    Field(
        "campaigns",
        "Visits and messages",
        "Messages and campaigns by year",
        "Per year, kind of message (recall, survey, health tips…) and channel: how many the "
        "patient was sent. Campaign names are not included.",
        CAMPAIGNS_FILE,
        (
            PSEUDONYM,
            YEAR,
            Column(
                "kind",
                "The kind of message programme (not its name, which the clinic typed)",
                "text",
                "appointment, recall, billing, no_show, birthday, survey, review, education, "
                "allergy, reactivation, other",
                "(R): the campaign's own name is free text and is never exported",
            ),
            Column(
                "channel",
                "How it was sent",
                "text",
                "sms, email, letter, call, other",
                RULE_NONE,
            ),
            Column("messages", "Messages sent", "integer", "1 or more", RULE_NONE),
        ),
    ),
    Field(
        "nps",
        "Satisfaction",
        "Satisfaction answers",
        "Each answer to “How likely are you to recommend us?” (0–10) with its year; "
        "comments are never included.",
        NPS_FILE,
        (
            PSEUDONYM,
            YEAR,
            Column("score", "The answer, 0 to 10", "integer", "0-10", RULE_NONE),
            Column(
                "channel",
                "How the answer came",
                "text",
                "sms, email, kiosk, desk",
                "(R): the comment is free text and is never exported",
            ),
        ),
    ),
    Field(
        "conditions",
        "Health",
        "Coded conditions",
        "Diagnoses coded in SNOMED CT or ICD-10 with the year they began; records without "
        "a recognised code are left out.",
        CONDITIONS_FILE,
        (
            PSEUDONYM,
            Column(
                "system",
                "The code system",
                "text",
                "SNOMED-CT, ICD-10-CM, ICD-10",
                RULE_NONE,
            ),
            Column(
                "code",
                "The condition's code in that system",
                "text",
                f"a code of the system, {SUPPRESSED}",
                RULE_NONE,
            ),
            Column(
                "display",
                "The code's name as the record carried it; blank when it held anything "
                "other than words and short numbers (a web address, a long number, a "
                "formula)",
                "text",
                f"text, blank, {SUPPRESSED}",
                "(R): free text is left out, not scrubbed",
            ),
            Column(
                "onset_year",
                "Year the condition began",
                "year",
                "YYYY, blank (not recorded)",
                RULE_C_YEAR,
            ),
            Column(
                "status",
                "Clinical status",
                "text",
                "active, recurrence, relapse, inactive, remission, resolved, blank",
                RULE_NONE,
            ),
        ),
    ),
)

BY_KEY: Final = {f.key: f for f in CATALOGUE}
QUASI_IDENTIFIERS: Final = tuple(f.key for f in CATALOGUE if f.quasi_identifier)
FILE_ORDER: Final = (
    PATIENTS_FILE,
    VISITS_FILE,
    REMINDERS_FILE,
    CAMPAIGNS_FILE,
    NPS_FILE,
    CONDITIONS_FILE,
)


def patient_columns(keys: tuple[str, ...]) -> tuple[Column, ...]:
    """patients.csv's columns for the chosen fields: the pseudonym, then catalogue order."""
    chosen = [f for f in CATALOGUE if f.key in keys and f.file == PATIENTS_FILE]
    return (PSEUDONYM, *(c for f in chosen for c in f.columns))


def files_for(keys: tuple[str, ...]) -> dict[str, tuple[Column, ...]]:
    """Every file the chosen fields write, with its columns, in FILE_ORDER.

    patients.csv is always written: it is the list of the export's people that the other
    files refer to.
    """
    files: dict[str, tuple[Column, ...]] = {PATIENTS_FILE: patient_columns(keys)}
    for f in CATALOGUE:
        if f.key in keys and f.file != PATIENTS_FILE:
            files[f.file] = f.columns
    return {name: files[name] for name in FILE_ORDER if name in files}
