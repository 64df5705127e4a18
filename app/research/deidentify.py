"""A de-identified research export (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

A manager chooses who (a saved group of patients, or everyone) and which fields of the
catalogue (app/research/fields.py); the export writes CSV files, a data dictionary and a
small-cell report into a new folder. How each of the 18 identifiers is handled:

* Nothing leaves that the catalogue does not name. Names, contact details, addresses,
  exact dates, identifiers, insurance, billing, our record ids and all free text are not
  in it, for the patient and for anyone linked to them (household, guarantor, contacts):
  those tables are never read.
* (H, R) The patient id becomes a pseudonym: `secrets.token_hex(8)` per patient per
  export, checked for collisions, held only in a TEMP table in memory (the clinic keeps
  TEMP in memory: temp_store = MEMORY) and dropped at the end; never written, logged or
  derived from the patient (a hash of an id could be reversed by trying every id, and
  would link the same person across exports). Every file is sorted by pseudonym, so the
  row order says nothing about the order patients were registered.
* (C) Dates become years (in the clinic's time zone). Ages over 89 become "90+" and the
  year of birth is left out for them. Top-coding goes by year of birth (anyone who is 90
  or turns 90 this year), so no year left in the files can show an age over 89: with the
  birth year gone, a visit year tells nothing about age.
* (B) State kept; ZIP → ZIP3 or "000" (app/research/zip3.py).
* Condition rows keep only recognised codes (SNOMED CT, ICD-10): a record without one
  may hold typed text.

Set-based: the group's ids go into the TEMP table once; each per-year file is one
GROUP BY over its table, read front to back and joined to the ids, streamed to disk in
pseudonym order; patients and conditions are held in memory (the small-cell report needs
them all before the first row is written) and sorted. Reads run in one read transaction,
so every file describes the same moment. At 100k patients, every field: ~7 s against
~4.5 s for a plain CSV dump of the same rows (`make bench ONLY=research`). The audit
entry is written before the folder appears under its name: an export that was not
recorded does not exist.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.audit.actions import RESEARCH_EXPORT
from app.audit.log import record
from app.clinic import Clinic
from app.engagement.education import (
    ICD10CM_SYSTEM,
    SNOMED_SYSTEM,
    is_icd10cm_code,
    is_snomed_concept_id,
)
from app.errors import ResearchExportError
from app.growth.acquisition import labels as channel_labels
from app.growth.segments import (
    base_language,
    clinic_policy,
    compile_terms,
    get_segment,
    load_segments,
)
from app.ops import CancelToken, Progress, no_progress
from app.reminders.replies import CONFIRM_NOTE
from app.reminders.rules import KINDS as RULE_KINDS
from app.research import dictionary, small_cells
from app.research.fields import (
    AGE_BANDS,
    BY_KEY,
    CAMPAIGNS_FILE,
    CONDITIONS_FILE,
    NPS_FILE,
    OVER_89,
    PATIENTS_FILE,
    QUASI_IDENTIFIERS,
    REMINDERS_FILE,
    SUPPRESSED,
    VISITS_FILE,
    Column,
    files_for,
    patient_columns,
)
from app.research.states import state_code
from app.research.writer import ExportFolder, folder_name
from app.research.zip3 import Zip3Lists, load_zip3_lists
from app.security.permissions import require

PSEUDONYM_BYTES: Final = 8
FIRST_YEAR, LAST_YEAR = 1900, 2200
_BATCH: Final = 5000
_YEAR_RE: Final = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_LANGUAGE_RE: Final = re.compile(r"[a-z]{2,3}")
UNLISTED_CHANNEL: Final = "unlisted"

# Code systems a condition may come with → the name written, and how its codes look.
CONDITION_SYSTEMS: Final = {
    SNOMED_SYSTEM: ("SNOMED-CT", is_snomed_concept_id),
    ICD10CM_SYSTEM: ("ICD-10-CM", is_icd10cm_code),
    "urn:oid:2.16.840.1.113883.6.90": ("ICD-10-CM", is_icd10cm_code),
    "http://hl7.org/fhir/sid/icd-10": ("ICD-10", is_icd10cm_code),
}
CONDITION_STATUSES: Final = frozenset(
    {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
)
MESSAGE_CHANNELS: Final = frozenset({"sms", "email", "letter", "call"})
NPS_CHANNELS: Final = frozenset({"sms", "email", "kiosk", "desk"})
# A message without its rule (removed since) is known by what it was about.
_SUBJECT_TO_KIND: Final = {"balance": "billing", "pollen": "allergy"}
_MAX_DISPLAY: Final = 160
_TERM_RE: Final = re.compile(r"[\w ()\[\],.'/&+;:-]*[^\W\d_][\w ()\[\],.'/&+;:-]*")
_LONG_NUMBER_RE: Final = re.compile(r"\d{3,}")


@dataclass(frozen=True)
class ResearchRequest:
    """What the manager chose. `segment_id` None = every patient (merged records aside)."""

    fields: tuple[str, ...]
    segment_id: str | None = None
    k: int = small_cells.DEFAULT_K
    suppress: bool = False


@dataclass(frozen=True)
class ResearchResult:
    folder: Path
    rows: dict[str, int]  # file name → data rows
    patients: int
    small_groups: int
    patients_in_small_groups: int
    condition_rows_in_small_groups: int
    suppressed: bool
    seconds: float
    files: tuple[str, ...] = field(default=())


# --- checking ---------------------------------------------------------------------------


def check_request(request: ResearchRequest) -> None:
    """Refuse a request that cannot make an export, in words the manager understands."""
    if not request.fields:
        raise ResearchExportError(
            "No fields are chosen, so there is nothing to export. Tick at least one field."
        )
    unknown = [key for key in request.fields if key not in BY_KEY]
    if unknown:
        raise ResearchExportError(
            "A chosen field cannot be exported (it may come from a newer Frontdesk): "
            + ", ".join(sorted(unknown))
        )
    k = request.k
    if (
        not isinstance(k, int)
        or isinstance(k, bool)
        or not (small_cells.MIN_K <= k <= small_cells.MAX_K)
    ):
        raise ResearchExportError(
            f"The small-group size must be a whole number from {small_cells.MIN_K} to "
            f"{small_cells.MAX_K} (11 is usual)."
        )


# --- the values a researcher may see ----------------------------------------------------


def birth_facts(birth_date: str | None, today: date) -> tuple[str, str]:
    """(age band, birth year) as exported: ("90+", "") for anyone 90 or turning 90 this
    year; ("", "") without a readable birth date."""
    found = _YEAR_RE.match(birth_date or "")
    if found is None:
        return "", ""
    year = int(found.group(1))
    if today.year - year >= 90:
        return OVER_89, ""
    # As the patients list reads a partial date: a year alone from 1 July, a month from the 1st.
    month = int(found.group(2)) if found.group(2) else 7
    day = int(found.group(3)) if found.group(3) else 1
    age = today.year - year - ((today.month, today.day) < (month, day))
    if age < 0:
        return "", ""
    return AGE_BANDS[min(age // 5, len(AGE_BANDS) - 1)], str(year)


def language_code(language: str) -> str:
    code = base_language(language or "")
    return code if _LANGUAGE_RE.fullmatch(code) else ""


def channel_of(source: str, names: dict[str, str]) -> tuple[str, str]:
    """(key, label) of a listed channel; hand-typed text (older records) is not exported."""
    key = (source or "").strip()
    if not key:
        return "", ""
    if key in names:
        return key, names[key]
    return UNLISTED_CHANNEL, ""


def condition_code(system: str, code: str) -> tuple[str, str] | None:
    """(system name, code) for a recognised code, else None (the row is left out)."""
    known = CONDITION_SYSTEMS.get((system or "").strip())
    if known is None:
        return None
    name, valid = known
    text = (code or "").strip()
    if name != "SNOMED-CT":
        text = text.upper()
    return (name, text) if valid(text) else None


def _year_of(text: str | None, today: date) -> str:
    found = _YEAR_RE.match(text or "")
    if found is None or not FIRST_YEAR <= int(found.group(1)) <= today.year:
        return ""
    return found.group(1)


def condition_display(text: str) -> str:
    """The condition's name as the record carried it, only when it reads as a term:
    words, short numbers ("type 2") and plain punctuation. Anything else (a web address,
    an email, a long number, a formula) is blank: the name came from the EMR or was
    typed, and free text is never scrubbed, only left out."""
    words = " ".join((text or "").split())
    if len(words) > _MAX_DISPLAY or not _TERM_RE.fullmatch(words) or _LONG_NUMBER_RE.search(words):
        return ""
    if any(mark in words.casefold() for mark in ("www", "http", ".com", ".org", ".net")):
        return ""
    return words


# --- the run ----------------------------------------------------------------------------


_SUBJECT_TABLE: Final = "research_subject"
_EDGE_RE: Final = re.compile(r"\d\d-\d\dT\d\d:\d\d:\d\dZ")


@dataclass(frozen=True)
class YearEdges:
    """Where the clinic's local year begins, as the UTC month-day-time it falls on.

    West of UTC a local year starts after UTC midnight ("01-01T06:00:00Z" in Chicago):
    earlier times belong to the year before. East of UTC it starts the UTC evening
    before ("12-31T23:00:00Z" in Berlin): later times belong to the next year. Comparing
    text is cheap enough for every visit row; the offset is the one at this year's new
    year, so a zone that changed its offset at new year long ago shifts a few old
    rows by a year, which a year-level export can bear.
    """

    before: str = ""  # times of a UTC year earlier than this: the year before
    after: str = "99"  # times of a UTC year from this on: the next year

    def sql(self, column: str) -> str:
        return (
            f"(CAST(substr({column}, 1, 4) AS INTEGER) - (substr({column}, 6) < '{self.before}')"
            f" + (substr({column}, 6) >= '{self.after}'))"
        )


def year_edges(zone: ZoneInfo, year: int) -> YearEdges:
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(ZoneInfo("UTC"))
    edge = start.strftime("%m-%dT%H:%M:%SZ")
    if not _EDGE_RE.fullmatch(edge):  # only our own digits ever reach the SQL text
        raise ValueError("unexpected year edge")
    if start.year == year:
        return YearEdges(before=edge) if edge != "01-01T00:00:00Z" else YearEdges()
    return YearEdges(after=edge)


def _member_sql(clinic: Clinic, segment_id: str | None, today: date) -> tuple[str, list[Any]]:
    if segment_id is None:
        return "SELECT p.id FROM patient p WHERE p.merged_into IS NULL", []
    segment = get_segment(clinic, segment_id)
    return compile_terms(segment.terms, today=today, policy=clinic_policy(clinic))


def _new_pseudonyms(count: int) -> list[str]:
    """Random codes, none twice. Which patient gets which does not matter: the codes
    are random, so handing them out in the order of the ids reveals nothing."""
    made: set[str] = set()
    while len(made) < count:
        made.add(secrets.token_hex(PSEUDONYM_BYTES))
    return list(made)


def _fill_subjects(clinic: Clinic, sql: str, params: list[Any]) -> int:
    conn = clinic.conn
    conn.execute(f"DROP TABLE IF EXISTS temp.{_SUBJECT_TABLE}")
    conn.execute(
        f"CREATE TEMP TABLE {_SUBJECT_TABLE} "
        "(id TEXT PRIMARY KEY, pseudonym TEXT NOT NULL) WITHOUT ROWID"
    )
    ids = [str(r[0]) for r in conn.execute(sql, params).fetchall()]
    conn.executemany(
        f"INSERT INTO temp.{_SUBJECT_TABLE} (id, pseudonym) VALUES (?, ?)",  # noqa: S608
        zip(ids, _new_pseudonyms(len(ids)), strict=True),
    )
    return len(ids)


def _drop_temp(clinic: Clinic) -> None:
    clinic.conn.execute(f"DROP TABLE IF EXISTS temp.{_SUBJECT_TABLE}")


# Each statement reads its table front to back (NOT INDEXED, the table first: CROSS JOIN
# keeps that order) and finds the patient in the in-memory TEMP table. Seeking each
# patient's rows through an index instead visits the pages in random order, and every
# page read is a page decrypted: at 100k, 9 s instead of 2 s for the visits.
_S: Final = f"CROSS JOIN temp.{_SUBJECT_TABLE} s"


def _statements(edges: YearEdges) -> dict[str, str]:
    return {
        "patients": (
            "SELECT s.pseudonym, p.birth_date, p.sex, p.language, p.acquisition_source,"  # noqa: S608
            f" {edges.sql('p.created_at')}, p.deceased, p.id FROM patient p {_S} ON s.id = p.id"
        ),
        "addresses": (
            "SELECT patient_id, region, postal_code, country, rank FROM address NOT INDEXED"
        ),
        VISITS_FILE: (
            f"SELECT s.pseudonym, {edges.sql('a.start_at')} AS year,"  # noqa: S608
            " sum(a.status IN ('fulfilled', 'arrived')), sum(a.status = 'noshow'),"
            " sum(a.status = 'cancelled')"
            f" FROM appointment a NOT INDEXED {_S} ON s.id = a.patient_id"
            " WHERE a.status IN ('fulfilled', 'arrived', 'noshow', 'cancelled')"
            " AND a.start_at IS NOT NULL"
            " GROUP BY s.pseudonym, year ORDER BY s.pseudonym, year"
        ),
        # A visit confirmed by reply counts in the year its reminder was sent, once
        # however many reminders it had; a reply confirms only a visit a reminder asked about.
        REMINDERS_FILE: (
            f"SELECT s.pseudonym, {edges.sql('o.sent_at')} AS year, count(*),"  # noqa: S608
            " count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM appointment_status h"
            "  WHERE h.appointment_id = o.subject_id AND h.status = 'confirmed'"
            "  AND h.note = ?) THEN o.subject_id END)"
            f" FROM outbox o NOT INDEXED {_S} ON s.id = o.patient_id"
            " WHERE o.subject_kind = 'appointment' AND o.state = 'sent'"
            " AND o.sent_at IS NOT NULL"
            " GROUP BY s.pseudonym, year ORDER BY s.pseudonym, year"
        ),
        CAMPAIGNS_FILE: (
            f"SELECT s.pseudonym, {edges.sql('o.sent_at')} AS year, o.rule_id,"  # noqa: S608
            " o.subject_kind, o.channel, count(*)"
            f" FROM outbox o NOT INDEXED {_S} ON s.id = o.patient_id"
            " WHERE o.state = 'sent' AND o.sent_at IS NOT NULL"
            " GROUP BY s.pseudonym, year, o.rule_id, o.subject_kind, o.channel"
            " ORDER BY s.pseudonym, year"
        ),
        NPS_FILE: (
            f"SELECT s.pseudonym, {edges.sql('r.answered_at')} AS year, r.score,"  # noqa: S608
            f" r.channel FROM survey_response r NOT INDEXED {_S} ON s.id = r.patient_id"
            " ORDER BY s.pseudonym, year, r.score"
        ),
        CONDITIONS_FILE: (
            "SELECT s.pseudonym, c.system, c.code, c.display, c.onset,"  # noqa: S608
            f" c.clinical_status FROM condition c NOT INDEXED {_S} ON s.id = c.patient_id"
        ),
    }


def _rows(clinic: Clinic, sql: str, params: Sequence[Any], cancel: CancelToken) -> Iterator[Any]:
    cursor = clinic.conn.execute(sql, params)
    while batch := cursor.fetchmany(_BATCH):
        cancel.raise_if_cancelled()
        yield from batch


@dataclass
class _Patients:
    columns: tuple[Column, ...]
    rows: list[list[str]]
    qi_names: tuple[str, ...]
    qi_values: dict[str, tuple[str, ...]]


def _main_addresses(
    clinic: Clinic, sql: str, cancel: CancelToken
) -> dict[str, tuple[str, str, str]]:
    """patient id → (region, postal code, country) of the address ranked first."""
    best: dict[str, tuple[int, tuple[str, str, str]]] = {}
    for patient_id, region, postal, country, rank in _rows(clinic, sql, (), cancel):
        found = best.get(patient_id)
        if found is None or rank < found[0]:
            best[patient_id] = (rank, (region or "", postal or "", country or ""))
    return {k: v[1] for k, v in best.items()}


def _read_patients(
    clinic: Clinic,
    sql: dict[str, str],
    keys: tuple[str, ...],
    today: date,
    zips: Zip3Lists,
    names: dict[str, str],
    cancel: CancelToken,
) -> _Patients:
    columns = patient_columns(keys)
    wanted = [c.name for c in columns]
    qi_names = tuple(k for k in QUASI_IDENTIFIERS if k in keys)
    rows: list[list[str]] = []
    qi_values: dict[str, tuple[str, ...]] = {}
    addresses = _main_addresses(clinic, sql["addresses"], cancel)
    no_address = ("", "", "")
    for r in _rows(clinic, sql["patients"], (), cancel):
        pseudonym, birth, sex, language, source, registered, deceased, patient_id = r
        region, postal, country = addresses.get(patient_id, no_address)
        band, year = birth_facts(birth, today)
        key, label = channel_of(source, names)
        us = country.strip().upper() in ("", "US", "USA")
        values = {
            "pseudonym": pseudonym,
            "age_band": band,
            "birth_year": year,
            "sex": sex if sex in ("female", "male", "other", "unknown") else "unknown",
            "state": state_code(region) if us else "",
            "zip3": zips.zip3(postal, country),
            "language": language_code(language),
            "acquisition_channel": key,
            "acquisition_channel_label": label,
            "registered_year": str(registered) if registered else "",
            "deceased": "yes" if deceased else "no",
        }
        rows.append([values[name] for name in wanted])
        qi_values[pseudonym] = tuple(values[name] for name in qi_names)
    rows.sort(key=lambda row: row[0])
    return _Patients(columns, rows, qi_names, qi_values)


@dataclass
class _Conditions:
    rows: list[tuple[str, str, str, str, str, str]]
    left_out: int


def _read_conditions(clinic: Clinic, sql: str, today: date, cancel: CancelToken) -> _Conditions:
    rows: list[tuple[str, str, str, str, str, str]] = []
    left_out = 0
    for pseudonym, system, code, display, onset, status in _rows(clinic, sql, (), cancel):
        coded = condition_code(system, code)
        if coded is None:
            left_out += 1
            continue
        state = (status or "").strip().lower()
        rows.append(
            (
                pseudonym,
                coded[0],
                coded[1],
                condition_display(display),
                _year_of(onset, today),
                state if state in CONDITION_STATUSES else "",
            )
        )
    rows.sort(key=lambda row: (row[0], row[1], row[2], row[4]))
    return _Conditions(rows, left_out)


def _campaign_rows(clinic: Clinic, sql: str, cancel: CancelToken) -> Iterator[tuple[object, ...]]:
    """Sent messages per pseudonym, year, kind and channel; the rule's kind, never its name."""
    kinds = {
        str(rule_id): str(kind)
        for rule_id, kind in clinic.conn.execute("SELECT id, kind FROM reminder_rule")
    }
    group: tuple[str, int] | None = None
    counts: dict[tuple[str, str], int] = {}
    for pseudonym, year, rule_id, subject_kind, channel, n in _rows(clinic, sql, (), cancel):
        if (pseudonym, year) != group:
            if group is not None:
                yield from ((*group, *key, counts[key]) for key in sorted(counts))
            group, counts = (pseudonym, year), {}
        kind = kinds.get(rule_id) or _SUBJECT_TO_KIND.get(subject_kind, subject_kind)
        key = (
            kind if kind in RULE_KINDS else "other",
            channel if channel in MESSAGE_CHANNELS else "other",
        )
        counts[key] = counts.get(key, 0) + int(n)
    if group is not None:
        yield from ((*group, *key, counts[key]) for key in sorted(counts))


def _nps_rows(clinic: Clinic, sql: str, cancel: CancelToken) -> Iterator[tuple[object, ...]]:
    for pseudonym, year, score, channel in _rows(clinic, sql, (), cancel):
        yield pseudonym, year, score, channel if channel in NPS_CHANNELS else ""


def _suppress_patients(patients: _Patients, cells: small_cells.SmallCells) -> None:
    where = [i for i, c in enumerate(patients.columns) if c.name in patients.qi_names]
    for row in patients.rows:
        if row[0] in cells.flagged_patients:
            for i in where:
                row[i] = SUPPRESSED


def _condition_output(
    conditions: _Conditions, patients: _Patients, cells: small_cells.SmallCells, suppress: bool
) -> Iterable[tuple[str, ...]]:
    for pseudonym, system, code, display, onset, status in conditions.rows:
        cell = (patients.qi_values.get(pseudonym, ()), (system, code))
        if suppress and cell in cells.small_condition_cells:
            yield pseudonym, system, SUPPRESSED, SUPPRESSED, onset, status
        else:
            yield pseudonym, system, code, display, onset, status


def _local_now(clinic: Clinic, now: datetime | None) -> datetime:
    zone = ZoneInfo(clinic.settings.timezone)
    return (now or datetime.now(zone)).astimezone(zone)


def export_research(
    clinic: Clinic,
    request: ResearchRequest,
    out_dir: Path,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    now: datetime | None = None,
) -> ResearchResult:
    """Write the de-identified export into a new folder inside `out_dir`; see the module."""
    require(clinic, "research.export")
    check_request(request)
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    moment = _local_now(clinic, now)
    today = moment.date()
    keys = tuple(k for k in BY_KEY if k in request.fields)  # catalogue order, no repeats
    files = files_for(keys)
    steps = 3 + len(files)
    zips = load_zip3_lists()
    names = {k: v for k, v in channel_labels(clinic).items() if k}
    sql, params = _member_sql(clinic, request.segment_id, today)
    conn = clinic.conn
    own_read = not conn.in_transaction
    name = folder_name(moment)
    rows: dict[str, int] = {}
    try:
        if own_read:
            conn.execute("BEGIN")
        progress(0, steps, "Choosing the patients")
        patients_count = _fill_subjects(clinic, sql, params)
        if patients_count == 0:
            raise ResearchExportError(
                "That group has no patients at the moment, so there is nothing to export. "
                "Choose another group."
            )
        progress(1, steps, f"Reading {patients_count:,} patients")
        sql_of = _statements(year_edges(ZoneInfo(clinic.settings.timezone), today.year))
        patients = _read_patients(clinic, sql_of, keys, today, zips, names, cancel)
        conditions = (
            _read_conditions(clinic, sql_of[CONDITIONS_FILE], today, cancel)
            if CONDITIONS_FILE in files
            else _Conditions([], 0)
        )
        cells = small_cells.find_small_cells(
            request.k,
            patients.qi_names,
            patients.qi_values,
            ((r[0], (r[1], r[2])) for r in conditions.rows),
        )
        if request.suppress:
            _suppress_patients(patients, cells)
        with ExportFolder(out_dir, name) as folder:
            streams: dict[str, Iterable[Sequence[object]]] = {
                PATIENTS_FILE: patients.rows,
                VISITS_FILE: _rows(clinic, sql_of[VISITS_FILE], (), cancel),
                REMINDERS_FILE: _rows(clinic, sql_of[REMINDERS_FILE], (CONFIRM_NOTE,), cancel),
                CAMPAIGNS_FILE: _campaign_rows(clinic, sql_of[CAMPAIGNS_FILE], cancel),
                NPS_FILE: _nps_rows(clinic, sql_of[NPS_FILE], cancel),
                CONDITIONS_FILE: _condition_output(conditions, patients, cells, request.suppress),
            }
            for step, (file_name, columns) in enumerate(files.items(), start=2):
                cancel.raise_if_cancelled()
                progress(step, steps, f"Writing {file_name}")
                rows[file_name] = folder.csv(file_name, columns, streams[file_name])
            if own_read:
                conn.execute("COMMIT")
                own_read = False
            progress(steps - 1, steps, "Writing the data dictionary")
            facts = dictionary.DictionaryFacts(
                export_date=today.isoformat(),
                population="every patient"
                if request.segment_id is None
                else "a saved group of patients",
                files={f: (files[f], rows[f]) for f in files},
                zip3=zips,
                channels=names,
                k=request.k,
                suppressed=request.suppress,
                conditions_left_out=conditions.left_out,
            )
            folder.text("dictionary.json", _json(dictionary.as_json(facts)))
            folder.text("dictionary.md", dictionary.as_markdown(facts))
            folder.text(
                "small_cells.json",
                _json(small_cells.report_json(cells, suppressed=request.suppress)),
            )
            folder.text(
                "small_cells.md", small_cells.report_markdown(cells, suppressed=request.suppress)
            )
            cancel.raise_if_cancelled()
            record(
                clinic,
                RESEARCH_EXPORT,
                target=name,
                detail={
                    "segment_id": request.segment_id or "everyone",
                    "fields": list(keys),
                    "rows": rows,
                    "patients": patients_count,
                    "folder": name,
                    "k": request.k,
                    "suppressed": request.suppress,
                    "small_groups": cells.groups,
                },
            )
            final = folder.finish()
    finally:
        if own_read and conn.in_transaction:
            conn.execute("ROLLBACK")
        _drop_temp(clinic)
    progress(steps, steps, "Done")
    return ResearchResult(
        folder=final,
        rows=rows,
        patients=patients_count,
        small_groups=cells.groups,
        patients_in_small_groups=len(cells.flagged_patients),
        condition_rows_in_small_groups=cells.condition_rows_flagged,
        suppressed=request.suppress,
        seconds=time.perf_counter() - started,
        files=(*files, "dictionary.json", "dictionary.md", "small_cells.json", "small_cells.md"),
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def parse_fields(text: str) -> tuple[str, ...]:
    """ "sex, zip3,visits" → the field keys; "all" = the whole catalogue."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if names == ("all",):
        return tuple(BY_KEY)
    return names


def segment_id_by_name(clinic: Clinic, name: str) -> str:
    """A saved group's id by its name (any case), for the command line."""
    wanted = " ".join(name.split()).casefold()
    segments = load_segments(clinic)
    for segment in segments:
        if segment.name.casefold() == wanted:
            return segment.id
    known = ", ".join(s.name for s in segments) or "none yet"
    raise ResearchExportError(f"No saved group has that name. The saved groups: {known}.")
