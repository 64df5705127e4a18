"""The data dictionary of an export (dictionary.json and dictionary.md): every column written.

It tells the researcher what each column means, its type and values, which Safe Harbor
rule shaped it, which ZIP3 lists were applied, and what was removed. It names no patient
and holds no value from the data other than the clinic's list of channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from app.research.fields import Column
from app.research.zip3 import Zip3Lists

STANDARD: Final = "HIPAA Safe Harbor, 45 CFR 164.514(b)(2)"

REMOVED: Final = (
    (
        "A",
        "Names",
        "not exported: patients, relatives, household members, guarantors, "
        "emergency contacts, employers, providers",
    ),
    (
        "B",
        "Geography smaller than a state",
        "street, town, county and full ZIP code not "
        "exported; state kept; ZIP code reduced to its first 3 digits, or 000",
    ),
    (
        "C",
        "Dates (except year) and ages over 89",
        "years only; ages 90 and over as 90+ with no year of birth",
    ),
    ("D", "Telephone numbers", "not exported"),
    ("E", "Fax numbers", "not exported"),
    ("F", "Email addresses", "not exported"),
    ("G", "Social Security numbers", "not exported"),
    (
        "H",
        "Medical record numbers",
        "not exported; the record is known only by a pseudonym made for this export",
    ),
    ("I", "Health plan beneficiary numbers", "not exported (no insurance data)"),
    ("J", "Account numbers", "not exported (no billing data)"),
    ("K", "Certificate and licence numbers", "not exported"),
    ("L", "Vehicle identifiers and licence plates", "not exported"),
    ("M", "Device identifiers and serial numbers", "not exported"),
    ("N", "Web addresses (URLs)", "not exported"),
    ("O", "IP addresses", "not exported"),
    ("P", "Biometric identifiers", "not exported"),
    ("Q", "Full-face photographs and comparable images", "not exported"),
    (
        "R",
        "Any other unique identifying number, characteristic or code",
        "Frontdesk's "
        "record ids, message ids, text-service ids and free text (notes, messages, "
        "comments, reasons, campaign names) are not exported",
    ),
)


@dataclass(frozen=True)
class DictionaryFacts:
    """What the dictionary says beyond the catalogue: this export's own facts."""

    export_date: str  # the day of the export, YYYY-MM-DD
    population: str  # "every patient" or "a saved group of patients"
    files: Mapping[str, tuple[tuple[Column, ...], int]]  # file → (columns, data rows)
    zip3: Zip3Lists
    channels: Mapping[str, str]  # key → label
    k: int
    suppressed: bool
    conditions_left_out: int


def as_json(facts: DictionaryFacts) -> dict[str, object]:
    return {
        "title": "Frontdesk de-identified research export",
        "standard": STANDARD,
        "export_date": facts.export_date,
        "population": facts.population,
        "join_on": "pseudonym",
        "files": {
            name: {
                "rows": rows,
                "columns": [
                    {
                        "name": c.name,
                        "meaning": c.meaning,
                        "type": c.type,
                        "allowed_values": c.allowed,
                        "safe_harbor_rule": c.rule,
                    }
                    for c in columns
                ],
            }
            for name, (columns, rows) in facts.files.items()
        },
        "zip3_lists": [
            {
                "file": s.file,
                "source": s.source,
                "census_year": s.census_year,
                "retrieved": s.retrieved,
                "restricted_codes": s.codes,
            }
            for s in facts.zip3.sources
        ],
        "zip3_written_as_000": sorted(facts.zip3.restricted | facts.zip3.unpopulated),
        "channels": dict(facts.channels),
        "small_cells": {"k": facts.k, "suppressed": facts.suppressed},
        "condition_records_left_out": facts.conditions_left_out,
        "identifiers_removed": [
            {"rule": f"164.514(b)(2)(i)({letter})", "identifier": what, "handling": how}
            for letter, what, how in REMOVED
        ],
    }


def as_markdown(facts: DictionaryFacts) -> str:
    lines = [
        "# Data dictionary: Frontdesk de-identified research export",
        "",
        f"De-identified under {STANDARD}. Exported {facts.export_date}; "
        f"{facts.population}. The files join on the `pseudonym` column, a random code "
        "made for this export only: another export of the same clinic gives the same "
        "person another code, and no record of which code is whom was kept.",
        "",
    ]
    for name, (columns, rows) in facts.files.items():
        lines += [
            f"## {name} ({rows:,} rows)",
            "",
            "| Column | Meaning | Type | Values | Safe Harbor rule |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{c.name}` | {_md(c.meaning)} | {c.type} | {_md(c.allowed)} | {_md(c.rule)} |"
            for c in columns
        ]
        lines.append("")
    zip_lists = "; ".join(
        f"{s.file}: {s.source} (Census {s.census_year}, retrieved {s.retrieved}, "
        f"{s.codes} restricted codes)"
        for s in facts.zip3.sources
    )
    hidden = ", ".join(sorted(facts.zip3.restricted | facts.zip3.unpopulated))
    lines += [
        "## ZIP3 lists used",
        "",
        zip_lists,
        "",
        f"Written as 000: {hidden}; and any ZIP code that is not a US five-digit code.",
        "",
        "## Channels",
        "",
        "| Key | Name |",
        "|---|---|",
        *(f"| `{_md(k)}` | {_md(v)} |" for k, v in facts.channels.items() if k),
        "| `unlisted` | typed by hand; not included |",
        "",
        "## Small cells",
        "",
        f"Groups under k = {facts.k} are listed in small_cells.md; "
        + ("they were suppressed." if facts.suppressed else "they were not suppressed."),
        "",
    ]
    if facts.conditions_left_out:
        lines += [
            f"{facts.conditions_left_out:,} condition records had no recognised SNOMED CT or "
            "ICD-10 code and were left out.",
            "",
        ]
    lines += ["## Identifiers removed", "", "| Rule | Identifier | Handling |", "|---|---|---|"]
    lines += [
        f"| 164.514(b)(2)(i)({letter}) | {what} | {_md(how)} |" for letter, what, how in REMOVED
    ]
    lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
