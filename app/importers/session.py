"""One import from start to finish: plan the files, preview, run as one undoable batch.

The whole batch is one transaction: a cancelled, failed or dry run leaves nothing
behind, and a finished one is recorded (files, checksums, counts, who, when) so it
can be undone. Other workstations' writes wait while it runs (a few seconds for a
typical export); reading, searching and the rest of the app go on.

File names are shown to the person importing but never logged: Synthea, for one,
names its files after the patients in them.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.audit import log as audit
from app.audit.actions import IMPORT
from app.clinic import Clinic
from app.errors import InvalidInputError
from app.exports.csv_export import atomic_csv, safe_cell
from app.importers.csv.convert import csv_target
from app.importers.csv.dates import DateFormat
from app.importers.csv.plan import CsvFilePlan, RecordStream, plan_file
from app.importers.csv.problems import CsvFileError, EmptyCsvError, RowProblem
from app.importers.csv.profiles import Kind, MissingColumnsError, Profile
from app.importers.csv.rows import CsvRecord
from app.importers.fhir.convert import fhir_target
from app.importers.fhir.mapping import MappedItem, map_item
from app.importers.fhir.model import ImportedAppointment, MappingProblem
from app.importers.fhir.references import ReferenceIndex
from app.importers.fhir.sources import SourceFile, SourceItem, discover, read_source, refusal
from app.importers.targets import (
    KIND_NAMES,
    IdentifierIn,
    ImportProblem,
    Link,
    PhoneIn,
    Target,
    VisitIn,
)
from app.importers.writer import KindCounts, RecordWriter
from app.ops import CancelToken, Progress, no_progress
from app.patients.validation import display_phone
from app.store.writer import new_id, utc_now

__all__ = [
    "ImportFile",
    "ImportPlan",
    "ImportResult",
    "PreviewRow",
    "plan_import",
    "preview",
    "run_import",
    "write_error_report",
]

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".tab", ".psv", ".txt")
SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"

# FHIR resource types → the summary's word for what they become.
FHIR_KINDS = {
    "Patient": "patients",
    "Practitioner": "practitioners",
    "PractitionerRole": "practitioner roles",
    "Organization": "organizations",
    "Location": "locations",
    "Appointment": "appointments",
    "Encounter": "visits",
    "Condition": "conditions",
    "AllergyIntolerance": "allergies",
    "Coverage": "coverages",
}
CSV_KINDS = {
    Kind.PATIENT: "patients",
    Kind.ENCOUNTER: "visits",
    Kind.CONDITION: "conditions",
    Kind.ALLERGY: "allergies",
    Kind.PROVIDER: "practitioners",
    Kind.ORGANIZATION: "organizations",
    Kind.PAYER: "organizations",
}
# Files are read so that what others link to comes first (fewer records wait).
_CSV_ORDER = (Kind.ORGANIZATION, Kind.PAYER, Kind.PROVIDER, Kind.PATIENT)
_FHIR_ORDER = ("Organization", "Location", "Practitioner", "PractitionerRole", "Patient")
# FHIR files up to this much are parsed once (about ten times that in memory while the
# import runs); bigger exports are read twice and stream in bounded memory.
PARSED_ONCE_BYTES = 16 * 1024 * 1024
_CHECK_EVERY = 256  # records between looks at the Cancel button
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_MAX_SKIPPED_TYPES = 200  # FHIR R4 has about 150 resource types


class _DryRunFinishedError(Exception):
    """Raised inside the transaction at the end of a dry run, so it rolls back."""


@dataclass(frozen=True)
class ImportFile:
    """One file of an import as planned: what it seems to be, or why it is refused."""

    path: Path
    name: str
    format: str  # fhir, csv, unknown
    description: str
    csv: CsvFilePlan | None = None
    problem: str | None = None


@dataclass
class ImportPlan:
    files: list[ImportFile]
    csv_profiles: dict[Path, Profile] = field(default_factory=dict)
    csv_date_formats: dict[Path, DateFormat] = field(default_factory=dict)

    @property
    def needs_choices(self) -> list[ImportFile]:
        """CSV files the person must still map, or whose date order must be chosen."""
        waiting = []
        for item in self.files:
            if item.csv is None or item.problem is not None or item.csv.skipped:
                continue
            mapped = item.path in self.csv_profiles or not item.csv.needs_mapping
            profile = self.csv_profiles.get(item.path) or item.csv.profile
            dated = (
                item.path in self.csv_date_formats
                or (profile is not None and profile.date_format is not None)
                or not item.csv.needs_date_choice
            )
            if not mapped or not dated:
                waiting.append(item)
        return waiting

    @property
    def usable(self) -> list[ImportFile]:
        return [f for f in self.files if f.problem is None]


@dataclass(frozen=True)
class PreviewRow:
    file: str
    location: str
    kind: str
    fields: tuple[tuple[str, str], ...]


@dataclass
class ImportResult:
    batch_id: str | None
    dry_run: bool
    counts: dict[str, KindCounts]
    skipped_types: dict[str, int]
    problems: list[ImportProblem]
    reviews: int
    files: int  # every file given, the refused ones included
    seconds: float = 0.0
    files_refused: int = 0
    skipped_files: dict[str, str] = field(default_factory=dict)  # name → why not imported
    problems_not_listed: int = 0  # past the writer's MAX_PROBLEMS

    def totals(self) -> KindCounts:
        total = KindCounts()
        for counts in self.counts.values():
            for name, value in counts.as_dict().items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "dry_run": self.dry_run,
            "files": self.files,
            "files_refused": self.files_refused,
            "counts": {k: c.as_dict() for k, c in self.counts.items() if any(c.as_dict().values())},
            "skipped_types": dict(sorted(self.skipped_types.items())),
            "skipped_files": self.skipped_files,
            "reviews": self.reviews,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "problems_not_listed": self.problems_not_listed,
            "seconds": round(self.seconds, 3),
        }


# --- planning ------------------------------------------------------------------------


def plan_import(
    clinic: Clinic,
    paths: Sequence[str | Path],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportPlan:
    """Look at every file under `paths` and say what each one is.

    A file that cannot be imported is listed with its reason rather than stopping the
    plan; the import takes the others. CSV files are read through once here (to be
    sure of their encoding), so a folder of big exports takes a moment: Cancel works
    between files (OperationCancelledError).
    """
    files: list[ImportFile] = []
    seen: set[Path] = set()
    sources = discover(list(paths))
    for number, source in enumerate(sources, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(number - 1, len(sources), f"Looking at file {number} of {len(sources)}")
        resolved = source.path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        files.append(_plan_file(clinic, source))
    return ImportPlan(files)


def _plan_file(clinic: Clinic, source: SourceFile) -> ImportFile:
    path, name = source.path, source.name
    try:
        path.stat()
    except OSError:
        return ImportFile(path, name, "unknown", "Not found", problem="could not be opened")
    if source.kind in ("json", "ndjson", "zip"):
        description = {
            "json": "FHIR resources (JSON)",
            "ndjson": "FHIR bulk data (NDJSON)",
            "zip": "Zip archive of FHIR files",
        }[source.kind]
        return ImportFile(path, name, "fhir", description, problem=refusal(source))
    if path.suffix.lower() in CSV_SUFFIXES:
        try:
            planned = plan_file(path, day_first=clinic.settings.day_first)
        except EmptyCsvError:
            return ImportFile(path, name, "csv", "CSV", problem="has no rows to import")
        except CsvFileError as exc:
            return ImportFile(path, name, "csv", "CSV", problem=_file_reason(str(exc), path.name))
        if len(planned.sniffed.header) < 2:
            # Every kind of record needs at least an id and a name: this is not a table.
            return ImportFile(
                path,
                name,
                "csv",
                "Text",
                problem="has only one column: it is not a table to import",
            )
        return ImportFile(path, name, "csv", _csv_description(planned), csv=planned)
    return ImportFile(
        path,
        name,
        "unknown",
        "Not an EMR export",
        problem="is not a FHIR file (.json, .ndjson, .zip) or a CSV file (.csv, .txt); skipped",
    )


def _csv_description(planned: CsvFilePlan) -> str:
    if planned.skipped:
        return f"Synthea {planned.table} (not imported)"
    if planned.profile is None:
        return "CSV: choose what each column holds"
    if planned.table:
        return f"Synthea {planned.table} (CSV)"
    return f"{planned.profile.name} (CSV)"


def _file_reason(message: str, file_name: str) -> str:
    """A CsvFileError names the file; the plan shows the name beside the reason already."""
    text = message.replace(file_name, "the file").strip()
    return text[0].lower() + text[1:] if text else "could not be read"


# --- preview -------------------------------------------------------------------------


def preview(clinic: Clinic, plan: ImportPlan, limit: int = 20) -> list[PreviewRow]:
    """The first records as they will be stored, for the person to check before running."""
    rows: list[PreviewRow] = []
    context = _Context.of(clinic)
    for item in plan.usable:
        if len(rows) >= limit:
            break
        if item.format == "csv" and item.csv is not None and not item.csv.skipped:
            if item in plan.needs_choices:
                continue
            targets = _csv_targets(item, plan, context, rows_limit=limit - len(rows))
        elif item.format == "fhir":
            targets = _fhir_preview_targets(item, context, limit - len(rows))
        else:
            continue
        for target, location in targets:
            rows.append(PreviewRow(item.name, location, _kind_of(target), _fields(target, context)))
            if len(rows) >= limit:
                break
    return rows


def _csv_targets(
    item: ImportFile, plan: ImportPlan, context: _Context, *, rows_limit: int
) -> Iterator[tuple[Target, str]]:
    stream = _csv_stream(item, plan, context)
    system = _csv_system(stream.binding.profile)
    produced = 0
    for entry in stream:
        if isinstance(entry, RowProblem):
            continue
        target, _ = _convert_csv(entry, system, item, context)
        if target is not None:
            yield target, target.location
            produced += 1
            if produced >= rows_limit:
                return


def _fhir_preview_targets(
    item: ImportFile, context: _Context, limit: int
) -> Iterator[tuple[Target, str]]:
    source = SourceFile(item.path, item.name, _fhir_kind(item))
    index = ReferenceIndex()
    items = []
    for entry in read_source(source):
        index.add(entry)
        items.append(entry)
        if len(items) >= limit * 10:
            break
    produced = 0
    for entry in items:
        mapped = map_item(entry, index)
        for record in mapped.records:
            target, _ = fhir_target(
                record, zone=context.zone, today=context.today, region=context.region
            )
            if target is not None:
                yield target, target.location
                produced += 1
                if produced >= limit:
                    return


def _fields(target: Target, context: _Context) -> tuple[tuple[str, str], ...]:
    shown: list[tuple[str, str]] = []
    for name in target.__slots__:
        if name in ("location", "keys", "counted_as"):
            continue
        value = getattr(target, name)
        text = _field_text(name, value, context)
        if text:
            shown.append((name.replace("_", " ").capitalize(), text))
    return tuple(shown)


def _field_text(name: str, value: Any, context: _Context) -> str:
    if value is None or value == "" or value == ():
        return ""
    if isinstance(value, Link):
        return value.display  # who it links to is known only once the import runs
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, tuple):
        parts = [_field_text(name, v, context) for v in value]
        return "; ".join(p for p in parts if p)
    if isinstance(value, IdentifierIn):  # the number as people read it, not its URI
        return f"{value.kind} {value.value}".strip()
    if isinstance(value, PhoneIn):  # as the desk writes numbers: (312) 555-0142
        return display_phone(value.number, context.region)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [str(v) for v in dataclasses.astuple(value) if v not in ("", None)]
        return ", ".join(parts)
    if name.endswith("_at") and isinstance(value, str) and value.endswith("Z"):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(context.zone)
        return moment.strftime("%Y-%m-%d %H:%M")
    return str(value)


# --- running ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    zone: ZoneInfo
    today: date
    region: str

    @classmethod
    def of(cls, clinic: Clinic) -> _Context:
        zone = ZoneInfo(clinic.settings.timezone)
        return cls(zone, datetime.now(zone).date(), clinic.settings.region)


class _Run:
    """The state of one running import: counters, problems, progress and cancel."""

    def __init__(self, writer: RecordWriter, progress: Progress, cancel: CancelToken | None):
        self.writer = writer
        self.progress = progress
        self.cancel = cancel
        self.skipped_types: Counter[str] = Counter()
        self.skipped_files: dict[str, str] = {}
        self.records = 0
        self.file_number = 0
        self.file_total = 0
        self._last_report = 0.0

    def tick(self) -> None:
        self.records += 1
        if self.records % _CHECK_EVERY:
            return
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        now = time.monotonic()
        if now - self._last_report >= 0.1:
            self._last_report = now
            self.report()

    def report(self, what: str = "Importing") -> None:
        self.progress(
            self.file_number,
            self.file_total,
            f"{what}: file {min(self.file_number + 1, self.file_total)} of {self.file_total}, "
            f"{self.records:,} records",
        )

    def next_file(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        self.file_number += 1
        self.report()

    def problem(self, location: str, kind: str, reason: str, *, dropped: bool = True) -> None:
        self.writer.note(ImportProblem(location, kind, reason, dropped))
        if dropped and kind != "file":
            self.writer.count(kind).failed += 1


def run_import(
    clinic: Clinic,
    plan: ImportPlan,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportResult:
    """Import every usable file of the plan as one batch (or try it, for a dry run).

    Raises OperationCancelledError when cancelled (nothing of the batch remains) and
    InvalidInputError when a CSV file still needs a mapping or a date choice.
    """
    waiting = plan.needs_choices
    if waiting:
        raise InvalidInputError(
            f"Choose what the columns of {waiting[0].name} hold, and how its dates are "
            "written, before importing."
        )
    with _collector_paused():
        return _run_import(clinic, plan, dry_run=dry_run, progress=progress, cancel=cancel)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while an import runs.

    An import allocates millions of small dicts and records that reference counting
    frees on its own; the collector would walk every live one again and again (a
    quarter of a sample import's time). The import makes no reference cycles worth
    collecting; the pause ends, and the collector catches up, when the import does.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run_import(
    clinic: Clinic,
    plan: ImportPlan,
    *,
    dry_run: bool,
    progress: Progress,
    cancel: CancelToken | None,
) -> ImportResult:
    started = time.monotonic()
    context = _Context.of(clinic)
    batch_id = new_id()
    started_at = utc_now()
    files, checksums, unreadable = _checked_files(plan.usable)
    existing = clinic.conn.execute("SELECT EXISTS (SELECT 1 FROM patient)").fetchone()[0]
    result: ImportResult | None = None
    try:
        with clinic.store.write() as tx:
            first_seq = _last_seq(clinic) + 1
            _open_batch(clinic, batch_id, started_at, first_seq)
            writer = RecordWriter(clinic, tx, batch_id, existing_patients=bool(existing))
            run = _Run(writer, progress, cancel)
            for refused in plan.files:
                if refused.problem is not None:
                    run.problem(refused.name, "file", refused.problem)
            for name, reason in unreadable:
                run.problem(name, "file", reason)
            csv_files = [f for f in files if f.format == "csv"]
            fhir_files = [f for f in files if f.format == "fhir"]
            run.file_total = len(csv_files) + 2 * len(fhir_files)
            _import_csv(run, plan, csv_files, context)
            _import_fhir(run, fhir_files, context)
            run.report("Saving")
            writer.finish()
            result = ImportResult(
                batch_id=None if dry_run else batch_id,
                dry_run=dry_run,
                counts={k: c for k, c in writer.counts.items()},
                skipped_types=dict(run.skipped_types),
                problems=writer.problems,
                reviews=writer.reviews,
                files=len(plan.files),
                skipped_files=run.skipped_files,
                files_refused=len(plan.files) - len(files),
                problems_not_listed=writer.problems_not_listed,
            )
            if dry_run:
                raise _DryRunFinishedError
            _record_batch(clinic, result, batch_id, first_seq, files, checksums)
            audit.record(clinic, IMPORT, target=batch_id, detail=_audit_detail(result))
    except _DryRunFinishedError:
        pass
    assert result is not None  # set before the transaction ended without an exception
    result.seconds = time.monotonic() - started
    log.info(
        "import %s: %d files, %d records, %d problems, %.1f s",
        "dry run" if dry_run else "done",
        result.files,
        run.records,
        len(result.problems),
        result.seconds,
    )
    return result


def _audit_detail(result: ImportResult) -> dict[str, object]:
    """Counts only: the files' names stay out of the audit log (an export's name may
    name a patient); the import's own record keeps them, under the same encryption."""
    return {
        "files": result.files,
        "files_refused": result.files_refused,
        "records": {k: c.as_dict() for k, c in result.counts.items() if any(c.as_dict().values())},
        "problems": len(result.problems) + result.problems_not_listed,
    }


def _last_seq(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0])


def _checksum(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _checked_files(
    planned: list[ImportFile],
) -> tuple[list[ImportFile], dict[Path, tuple[str, int]], list[tuple[str, str]]]:
    """The files still readable since the plan, with their checksums and sizes; the
    others (moved, deleted, locked by a sync tool) become problems, not a failure."""
    files, checksums, unreadable = [], {}, []
    for item in planned:
        try:
            checksums[item.path] = _checksum(item.path)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            unreadable.append((item.name, f"could not be read any more ({why}); it was skipped"))
            continue
        files.append(item)
    return files, checksums, unreadable


def _open_batch(clinic: Clinic, batch_id: str, started_at: str, first_seq: int) -> None:
    """The batch row comes first: what the import changes is kept for undo under it."""
    clinic.conn.execute(
        "INSERT INTO import_batch (id, started_at, status, created_by, first_seq) "
        "VALUES (?, ?, 'done', ?, ?)",
        (batch_id, started_at, clinic.acting_user_id or "", first_seq),
    )


def _record_batch(
    clinic: Clinic,
    result: ImportResult,
    batch_id: str,
    first_seq: int,
    files: Iterable[ImportFile],
    checksums: dict[Path, tuple[str, int]],
) -> None:
    conn = clinic.conn
    last_seq = _last_seq(clinic)
    summary = {k: c.as_dict() for k, c in result.counts.items() if any(c.as_dict().values())}
    conn.execute(
        "UPDATE import_batch SET finished_at = ?, last_seq = ?, summary = ? WHERE id = ?",
        (
            utc_now(),
            last_seq if last_seq >= first_seq else None,
            json.dumps({"counts": summary, "skipped_types": result.skipped_types}),
            batch_id,
        ),
    )
    conn.executemany(
        "INSERT INTO import_file (id, batch_id, name, sha256, size, format) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(new_id(), batch_id, f.name, *checksums[f.path], f.format) for f in files],
    )


# --- CSV -------------------------------------------------------------------------------


def _csv_rank(item: ImportFile, plan: ImportPlan) -> int:
    profile = plan.csv_profiles.get(item.path) or (item.csv.profile if item.csv else None)
    if profile is None:
        return len(_CSV_ORDER)
    return _CSV_ORDER.index(profile.kind) if profile.kind in _CSV_ORDER else len(_CSV_ORDER)


def _csv_stream(item: ImportFile, plan: ImportPlan, context: _Context) -> RecordStream:
    assert item.csv is not None
    return RecordStream(
        item.csv,
        profile=plan.csv_profiles.get(item.path),
        date_format=plan.csv_date_formats.get(item.path),
        region=context.region,
        today=context.today,
    )


def _csv_system(profile: Profile) -> str:
    """Where a CSV file's ids come from: Synthea's ids equal its FHIR ids."""
    if profile.source_system == "synthea":
        return SYNTHEA_SYSTEM
    return profile.source_system or f"csv:{profile.name}"


def _convert_csv(
    record: CsvRecord, system: str, item: ImportFile, context: _Context
) -> tuple[Target | None, list[ImportProblem]]:
    return csv_target(
        record,
        system=system,
        zone=context.zone,
        today=context.today,
        region=context.region,
        file_name=item.name,
    )


def _import_csv(run: _Run, plan: ImportPlan, files: list[ImportFile], context: _Context) -> None:
    for item in sorted(files, key=lambda f: _csv_rank(f, plan)):
        run.next_file()
        assert item.csv is not None
        if item.csv.skipped:
            run.skipped_files[item.name] = f"Synthea {item.csv.table}: not kept by Frontdesk"
            continue
        try:
            stream = _csv_stream(item, plan, context)
        except (MissingColumnsError, InvalidInputError) as exc:
            run.problem(item.name, "file", _file_reason(str(exc), item.path.name))
            continue
        kind = CSV_KINDS[stream.binding.profile.kind]
        try:
            _take_csv(run, stream, item, kind, context)
        except (CsvFileError, OSError) as exc:
            # Changed on disk since the plan (another encoding further on, a sync tool):
            # what was read stays in the batch, and the file says where it stopped.
            why = exc.strerror if isinstance(exc, OSError) else None
            reason = _file_reason(str(exc), item.path.name) if why is None else why
            run.problem(item.name, "file", f"could not be read to its end: {reason}")


def _take_csv(
    run: _Run, stream: RecordStream, item: ImportFile, kind: str, context: _Context
) -> None:
    system = _csv_system(stream.binding.profile)
    for entry in stream:
        run.tick()
        if isinstance(entry, RowProblem):
            where = f"{item.name}, line {entry.line}"
            reason = f"{entry.field}: {entry.reason}" if entry.field else entry.reason
            run.problem(where, kind, reason, dropped=entry.severity == "error")
            continue
        target, problems = _convert_csv(entry, system, item, context)
        _take(run, target, problems, kind)


# --- FHIR ------------------------------------------------------------------------------


def _fhir_kind(item: ImportFile) -> str:
    return {"FHIR bulk data (NDJSON)": "ndjson", "Zip archive of FHIR files": "zip"}.get(
        item.description, "json"
    )


def _import_fhir(run: _Run, files: list[ImportFile], context: _Context) -> None:
    if not files:
        return
    sources = [SourceFile(f.path, f.name, _fhir_kind(f)) for f in files]
    index = ReferenceIndex()
    rank: dict[str, int] = {}
    # A small export (most clinics') is parsed once and its resources kept for pass two;
    # a big one is read twice, so memory stays bounded whatever the size.
    keep = _fits_in_memory(sources)
    kept: dict[str, list[SourceItem]] = {}
    for source in sources:  # pass one: the reference index, and which file holds what
        run.next_file()
        best = len(_FHIR_ORDER)
        items: list[SourceItem] = []
        for item in read_source(source):
            run.tick()
            index.add(item)
            if keep:
                items.append(item)
            kind = item.resource.get("resourceType") if item.resource else None
            if kind in _FHIR_ORDER:
                best = min(best, _FHIR_ORDER.index(str(kind)))
        rank[source.name] = best
        if keep:
            kept[source.name] = items
    run.records = 0
    for source in sorted(sources, key=lambda s: rank[s.name]):  # pass two: write
        run.next_file()
        again = kept.pop(source.name) if keep else read_source(source)
        for item in again:
            run.tick()
            _take_fhir(run, map_item(item, index), context)


def _fits_in_memory(sources: list[SourceFile]) -> bool:
    """True when the files are small enough to keep parsed between the two passes (a
    zip's unpacked size is not known up front, so a zip is always read twice)."""
    total = 0
    for source in sources:
        if source.kind == "zip":
            return False
        try:
            total += source.path.stat().st_size
        except OSError:
            return False  # read_source names the problem in pass one
    return total <= PARSED_ONCE_BYTES


def _take_fhir(run: _Run, mapped: MappedItem, context: _Context) -> None:
    if mapped.source_problem is not None:
        run.problem(mapped.location, "file", mapped.source_problem)
        return
    if mapped.skipped_type is not None:
        # The name comes from the file: only a well-formed type name is kept (the batch's
        # summary holds no file content), and only so many distinct ones.
        kind = mapped.skipped_type
        if not _TYPE_NAME.match(kind) or (
            kind not in run.skipped_types and len(run.skipped_types) >= _MAX_SKIPPED_TYPES
        ):
            kind = "other types"
        run.skipped_types[kind] += 1
        return
    kind = FHIR_KINDS.get(mapped.resource_type or "", "records")
    for problem in mapped.problems:
        run.problem(
            problem.location, _problem_kind(problem), problem.reason, dropped=problem.dropped
        )
    for record in mapped.records:
        target, problems = fhir_target(
            record, zone=context.zone, today=context.today, region=context.region
        )
        if isinstance(target, VisitIn) and isinstance(record, ImportedAppointment):
            target = dataclasses.replace(target, counted_as="appointments")
        _take(run, target, problems, FHIR_KINDS.get(record.key.type, kind))


def _problem_kind(problem: MappingProblem) -> str:
    return FHIR_KINDS.get(problem.resource_type, "records")


def _take(run: _Run, target: Target | None, problems: list[ImportProblem], kind: str) -> None:
    dropped = False
    for problem in problems:
        run.problem(problem.location, kind, problem.reason, dropped=problem.dropped)
        dropped = dropped or problem.dropped
    if target is not None:
        run.writer.add(target)
    elif not dropped:
        run.writer.count(kind).skipped += 1


# --- the error report -----------------------------------------------------------------


def write_error_report(result: ImportResult, path: Path) -> None:
    """Every problem of an import as a CSV a spreadsheet opens: where, what, why.

    The reasons never quote the files' content; the locations name the files, which is
    why the report is written only where the person chooses to save it (0600, whole or
    not at all, cells that can never run as formulas: a file may be named "=cmd|...").
    """
    with atomic_csv(path) as writer:
        writer.writerow(["Where", "Kind", "Problem", "Record left out"])
        for problem in result.problems:
            writer.writerow(
                [
                    safe_cell(problem.location),
                    safe_cell(problem.kind),
                    safe_cell(problem.reason),
                    "yes" if problem.dropped else "no",
                ]
            )


def _kind_of(target: Target) -> str:
    if isinstance(target, VisitIn):
        return target.counted_as
    return KIND_NAMES[type(target)]
