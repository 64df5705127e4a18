"""Reading FHIR resources out of files, folders and zips, one plain dict at a time.

Every problem with the input becomes a SourceItem with a `problem` instead of an
exception, so one bad file or line never stops an import. NDJSON is streamed line by
line in constant memory; whole-document JSON is refused past a size limit, because
parsing it needs several times its size in memory. Zip members are read in memory,
never extracted, so no file named after a patient is ever written to disk.

A `location` names the file as the user gave it (relative to the folder they picked)
plus the line or Bundle entry; it never quotes the file's content. File names can
still hold a patient's name (Synthea names each file after its patient): show
locations to the user, but do not write them to logs.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.importers.fhir.jsontext import (
    JsonTextError,
    Parsed,
    parse_json,
    sniff_encoding,
    to_utf8,
)

MiB = 1024 * 1024

JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
ZIP_SUFFIXES = (".zip",)


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One resource read from the input, or one problem where a resource was expected.

    Exactly one of `resource` and `problem` is set. `warning` notes a repair made while
    reading (another encoding, a duplicated key) on a resource that was still read.
    `full_url` is the Bundle entry's fullUrl, which `urn:uuid:` references point at.
    """

    location: str
    resource: dict[str, Any] | None
    problem: str | None = None
    warning: str | None = None
    full_url: str | None = None


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Sizes past which input is refused rather than risk running out of memory."""

    max_json_bytes: int = 128 * MiB
    max_line_bytes: int = 32 * MiB
    max_zip_total_bytes: int = 8 * 1024 * MiB
    max_zip_ratio: float = 200.0
    # Tiny members compress absurdly well (a file of spaces) yet cannot hurt anyone.
    zip_ratio_floor_bytes: int = 4 * MiB


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file on disk that an import will read, with the kind guessed from its name."""

    path: Path
    name: str
    kind: str  # "json", "ndjson", "zip" or "other"


def discover(paths: Iterable[str | Path] | str | Path) -> list[SourceFile]:
    """List the files under the given files and folders (folders recursively, sorted).

    Hidden files and folders (a leading dot, as .DS_Store) are left out; everything
    else is listed, so a file the importer cannot read is reported rather than missed.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[SourceFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in relative.parts):
                    name = f"{path.name}/{relative.as_posix()}"
                    found.append(SourceFile(child, name, kind_of(child.name)))
        else:
            found.append(SourceFile(path, path.name, kind_of(path.name)))
    return found


def kind_of(name: str) -> str:
    """The kind of FHIR file a name suggests: json, ndjson, zip or other."""
    lower = name.lower()
    if lower.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    return "other"


def read_resources(
    paths: Iterable[str | Path] | str | Path, limits: ReadLimits | None = None
) -> Iterator[SourceItem]:
    """Yield every resource (or problem) in the given files, folders and zips, in order."""
    for source in discover(paths):
        yield from read_source(source, limits)


def read_source(source: SourceFile, limits: ReadLimits | None = None) -> Iterator[SourceItem]:
    """Yield the resources (or problems) of one file on disk."""
    limits = limits or ReadLimits()
    name = source.name
    try:
        if not source.path.is_file():
            yield _problem(name, "was not found or is not a file")
            return
        size = source.path.stat().st_size
        if source.kind == "zip":
            yield from _read_zip(source.path, name, limits)
        elif source.kind in ("json", "ndjson"):
            yield from _read_stream(lambda: source.path.open("rb"), name, size, source.kind, limits)
        else:
            yield _problem(name, "is not a .json, .ndjson or .zip file; it was skipped")
    except OSError as exc:
        yield _problem(name, f"could not be read ({exc.strerror or type(exc).__name__})")
    except RecursionError:  # a parser's own stack: damaged or hostile nesting
        yield _problem(name, "is nested too deeply to be a FHIR export; it was skipped")


def read_bytes(name: str, data: bytes, limits: ReadLimits | None = None) -> Iterator[SourceItem]:
    """Yield the resources of a document held in memory (a test, a download, a zip member)."""
    limits = limits or ReadLimits()
    kind = kind_of(name)
    if kind == "other":
        kind = "json"
    yield from _read_stream(lambda: io.BytesIO(data), name, len(data), kind, limits)


# --- files ----------------------------------------------------------------------


Opener = Callable[[], IO[bytes]]


def refusal(source: SourceFile, limits: ReadLimits | None = None) -> str | None:
    """Why the whole file will be refused, when that is plain without reading it all
    (empty, or one JSON document over the size limit); None otherwise.

    The import plan asks first, so a 2 GB file is refused in an instant instead of
    being checksummed and read twice only to be turned away.
    """
    limits = limits or ReadLimits()
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        return f"could not be read ({exc.strerror or type(exc).__name__})"
    if size == 0:
        return "is empty"
    if source.kind != "json" or size <= limits.max_json_bytes:
        return None
    if _first_line_is_resource(lambda: source.path.open("rb"), limits):
        return None
    return _too_large(size, limits)


def _too_large(size: int, limits: ReadLimits) -> str:
    return (
        f"is {_size(size)}, too large to read as one JSON document (the limit is "
        f"{_size(limits.max_json_bytes)}); export it as NDJSON, one resource per line"
    )


def _read_stream(
    opener: Opener, name: str, size: int, kind: str, limits: ReadLimits
) -> Iterator[SourceItem]:
    if size == 0:
        yield _problem(name, "is empty")
        return
    if kind == "ndjson":
        yield from _read_ndjson(opener, name, size, limits)
        return
    if size > limits.max_json_bytes:
        if _first_line_is_resource(opener, limits):
            yield from _read_ndjson(opener, name, size, limits)
        else:
            yield _problem(name, _too_large(size, limits))
        return
    with opener() as stream:
        raw = stream.read()
    yield from _read_document(raw, name, limits)


def _read_document(raw: bytes, name: str, limits: ReadLimits) -> Iterator[SourceItem]:
    try:
        data, warning = to_utf8(raw)
        parsed = parse_json(data)
    except JsonTextError as exc:
        if _looks_like_ndjson(raw):
            yield from _read_ndjson(lambda: io.BytesIO(raw), name, len(raw), limits)
        else:
            yield _problem(name, str(exc))
        return
    notes = "; ".join(n for n in (warning, parsed.warning) if n) or None
    yield from _walk_document(parsed.value, name, notes)


def _looks_like_ndjson(raw: bytes) -> bool:
    """True when a .json file really holds several one-line resources (NDJSON by mistake)."""
    data, _ = to_utf8(raw[: 4 * MiB])
    first, sep, rest = data.partition(b"\n")
    if not sep or not rest.strip():
        return False
    try:
        value = parse_json(first).value
    except JsonTextError:
        return False
    return isinstance(value, dict) and "resourceType" in value


def _first_line_is_resource(opener: Opener, limits: ReadLimits) -> bool:
    """True when the file starts with a one-line resource followed by more lines (NDJSON).

    Reads at most one line's worth: a huge file without newlines is answered after
    `max_line_bytes`, not after reading all of it.
    """
    with opener() as stream:
        head = stream.read(4)
        encoding, skip = sniff_encoding(head)
        buffered = io.BufferedReader(_Prefixed(head[skip:], stream), buffer_size=1024 * 1024)
        readline: Callable[[int], Any] = buffered.readline
        if encoding != "utf-8":
            readline = io.TextIOWrapper(buffered, encoding=encoding, errors="replace").readline
        first: Any = b""
        for _ in range(_BLANK_LINES_BEFORE_GIVING_UP):
            first = readline(limits.max_line_bytes + 1)
            if not first or first.strip():
                break
        if not first or len(first) > limits.max_line_bytes or not readline(1):
            return False
        try:
            value = parse_json(first).value
        except JsonTextError:
            return False
        return isinstance(value, dict) and "resourceType" in value


_BLANK_LINES_BEFORE_GIVING_UP = 1000


def _read_ndjson(opener: Opener, name: str, size: int, limits: ReadLimits) -> Iterator[SourceItem]:
    yielded_any = False
    with opener() as stream:
        for number, line in _lines(stream, limits.max_line_bytes):
            location = f"{name} line {number}"
            if line is None:
                yield _problem(location, f"is longer than {_size(limits.max_line_bytes)}")
                continue
            try:
                parsed = parse_json(line)
            except JsonTextError as exc:
                if not yielded_any and number == 1 and size <= limits.max_json_bytes:
                    # A pretty-printed resource saved as .ndjson reads fine as a whole.
                    whole = _parse_whole(opener)
                    if whole is not None:
                        yield from _walk_document(whole.value, name, whole.warning)
                        return
                yield _problem(location, str(exc))
                yielded_any = True
                continue
            yielded_any = True
            value = parsed.value
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                yield from _walk_document(value, location, parsed.warning)
            else:
                yield _resource_item(value, location, parsed.warning, None)
    if not yielded_any:
        yield _problem(name, "has no resources (only blank lines)")


def _parse_whole(opener: Opener) -> Parsed | None:
    with opener() as stream:
        raw = stream.read()
    try:
        data, warning = to_utf8(raw)
        parsed = parse_json(data)
    except JsonTextError:
        return None
    notes = "; ".join(n for n in (warning, parsed.warning) if n) or None
    return Parsed(parsed.value, notes)


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | str | None]]:
    """Yield (line number, line) for non-blank lines; None for a line over the limit.

    Reads with readline(limit) so a file with no newlines at all costs `limit` bytes of
    memory at most, not its size.
    """
    head = stream.read(4)
    encoding, skip = sniff_encoding(head)
    rest = head[skip:]
    buffered = io.BufferedReader(_Prefixed(rest, stream), buffer_size=1024 * 1024)
    if encoding == "utf-8":
        yield from _split(buffered.readline, limit)
    else:
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="replace")
        yield from _split(text.readline, limit)


def _split(readline: Callable[[int], Any], limit: int) -> Iterator[tuple[int, Any]]:
    number = 0
    while True:
        line = readline(limit + 1)
        if not line:
            return
        number += 1
        newline = "\n" if isinstance(line, str) else b"\n"
        if len(line) > limit and not line.endswith(newline):
            while True:  # skip the rest of the long line without keeping it
                more = readline(limit)
                if not more or more.endswith(newline):
                    break
            yield number, None
            continue
        if line.strip():
            yield number, line


class _Prefixed(io.RawIOBase):
    """A stream that first gives back bytes already read (the encoding sniff), then the rest."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


# --- documents and Bundles ------------------------------------------------------


# Bundles in bundles and arrays in arrays, as deep as a real export nests them (a
# transaction of batches); deeper is damage or an attack on the reader's stack.
MAX_NESTING = 16


def _walk_document(
    value: Any, location: str, warning: str | None, depth: int = 0
) -> Iterator[SourceItem]:
    if depth > MAX_NESTING:
        yield _problem(location, "is nested too deeply to be a FHIR export; it was skipped")
        return
    if isinstance(value, list):
        # Not FHIR, but some tools save a plain array of resources; read them all.
        for index, element in enumerate(value, start=1):
            yield from _walk_document(element, f"{location} item {index}", warning, depth + 1)
        return
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        yield from _walk_bundle(value, location, warning, depth + 1)
        return
    yield _resource_item(value, location, warning, None)


def _walk_bundle(
    bundle: dict[str, Any], location: str, warning: str | None, depth: int
) -> Iterator[SourceItem]:
    if depth > MAX_NESTING:
        yield _problem(location, "is nested too deeply to be a FHIR export; it was skipped")
        return
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        yield _problem(location, "is a Bundle whose entries are not a list")
        return
    for index, entry in enumerate(entries, start=1):
        here = f"{location} entry {index}"
        if not isinstance(entry, dict):
            yield _problem(here, "is not a Bundle entry (not a JSON object)")
            continue
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        full_url = full_url if isinstance(full_url, str) and full_url else None
        if resource is None:
            yield _problem(here, _why_no_resource(entry))
        elif isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            yield from _walk_bundle(resource, here, warning, depth + 1)
        else:
            yield _resource_item(resource, here, warning, full_url)


def _why_no_resource(entry: dict[str, Any]) -> str:
    request = entry.get("request")
    if isinstance(request, dict) and isinstance(request.get("method"), str):
        method = request["method"].upper()[:10]
        return f"has no resource (a {method} request); there is nothing to import"
    if "response" in entry:
        return "has only a server response and no resource; there is nothing to import"
    return "has no resource; there is nothing to import"


def _resource_item(
    value: Any, location: str, warning: str | None, full_url: str | None
) -> SourceItem:
    if not isinstance(value, dict):
        return _problem(location, "is JSON but not a FHIR resource (not a JSON object)")
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return _problem(location, "is JSON but not a FHIR resource (it has no resourceType)")
    return SourceItem(location, value, None, warning, full_url)


def _problem(location: str, problem: str) -> SourceItem:
    return SourceItem(location, None, problem)


def _size(count: int) -> str:
    if count >= 1024 * MiB:
        return f"{count / (1024 * MiB):.1f} GB"
    if count >= MiB:
        return f"{count / MiB:.0f} MB"
    return f"{count / 1024:.0f} KB"


# --- zips -----------------------------------------------------------------------


def _read_zip(path: Path, name: str, limits: ReadLimits) -> Iterator[SourceItem]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile):
        yield _problem(name, "is not a zip file that can be opened")
        return
    with archive:
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and not any(part.startswith(".") for part in info.filename.split("/"))
        ]
        total = sum(info.file_size for info in members)
        # Each big member is checked on its own below; the small ones it lets through
        # must not add up to a bomb together (a 12 KB zip of many 4 MB members).
        small = sum(i.file_size for i in members if i.file_size <= limits.zip_ratio_floor_bytes)
        packed = max(path.stat().st_size, 1)
        if small > limits.zip_ratio_floor_bytes and small / packed > limits.max_zip_ratio:
            yield _problem(
                name,
                f"unpacks to {small / packed:.0f} times its size, more than the "
                f"{limits.max_zip_ratio:.0f} to 1 allowed; it was not read (it may be a zip bomb)",
            )
            return
        if total > limits.max_zip_total_bytes:
            yield _problem(
                name,
                f"unpacks to {_size(total)}, more than the {_size(limits.max_zip_total_bytes)} "
                "allowed; it was not read (it may be a zip bomb)",
            )
            return
        for info in members:
            member = f"{name}/{info.filename}"
            yield from _read_member(archive, info, member, limits)


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, limits: ReadLimits
) -> Iterator[SourceItem]:
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.zip_ratio_floor_bytes and ratio > limits.max_zip_ratio:
        yield _problem(
            member,
            f"is compressed {ratio:.0f} to 1, more than the {limits.max_zip_ratio:.0f} to 1 "
            "allowed; it was not read (it may be a zip bomb)",
        )
        return
    if info.flag_bits & 0x1:
        yield _problem(member, "is encrypted; unzip it with its password first")
        return
    kind = kind_of(info.filename)
    if kind == "zip":
        yield _problem(member, "is a zip inside the zip; unzip the outer one first")
        return
    if kind == "other" and info.filename.lower().endswith((".csv", ".tsv")):
        # The CSV reader works on files (it sniffs, then streams); unpacking patient
        # data to a temporary file is what Frontdesk never does, so the person unzips.
        yield _problem(member, "is a CSV file inside a zip; unzip it and import the folder")
        return
    if kind == "other":
        yield _problem(member, "is not a .json or .ndjson file; it was skipped")
        return
    try:
        yield from _read_stream(lambda: archive.open(info), member, info.file_size, kind, limits)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        yield _problem(member, f"is damaged inside the zip ({type(exc).__name__})")
