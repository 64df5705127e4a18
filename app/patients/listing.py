"""The patients list: one filtered, sorted view of every patient, read a page at a time.

Built for 100,000 patients on an encrypted file, where every table row read costs a
page decryption. Measured at 100k (bench-data, `make bench ONLY=listing`):

* Sorts that have an index (name, birth date / age, acquisition source) walk that index
  and stop after one page. Pages are chained by *keyset* (the sort key of the last row
  served), not OFFSET: OFFSET 90,000 on the name index reads 90,000 rows (55 ms), the
  keyset seek reads 200 (0.3 ms). `PatientList` remembers where each page ended, so a
  table that loads page after page, and the CSV export, never skip rows.
* "Last visit" and "next appointment" have no index of their own, and computing them
  for every patient to sort costs a second (one probe into `appointment` per patient).
  Instead the appointments are walked in time order (index on start_at) and a patient is
  emitted at the appointment that is their latest visit (or their earliest upcoming
  one); patients with none follow, in file order. A page then costs a few hundred
  probes. When a selective filter (text, tag, source) leaves at most
  `SNAPSHOT_LIMIT` patients, walking all appointments to find those few is the slow
  way, so those few are sorted once, in full, with a correlated subquery each.
* The text filter goes through the FTS5 index of app/patients/search_index.py, never a
  LIKE scan. Unlike the finder it keeps every match (no top-100, no typo matching): a
  filter shows all patients that contain what was typed. One letter alone would make
  FTS merge every term starting with it, so it means "family name starts with" instead,
  like the tabs of a paper file (and is answered by the name index).
* Empty values (no birth date, never visited, no source) come last in both directions,
  as in a spreadsheet, so the top of the list is always the useful end.

"Last visit" here is the latest fulfilled appointment. Walk-ins logged as a visit count
on the patient's own page (app/patients/summary.py) but cannot be sorted by without an
index on interaction time, so the list leaves them out of the column and the sort alike.
Merged patients (folded into another record) are never listed.

A saved group of patients (app/growth/segments.py) narrows the list to its members,
computed once when the list is made, on the list's local day, so every page, the count
and the export read the same patients. The members cost one segment query (≈0.5 s at
100k for a broad group); a GUI that must not wait computes them elsewhere with
`group_members` and hands them in.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.errors import InvalidInputError, InvalidPhoneError
from app.growth import acquisition, segments
from app.patients.editing import source_key, stored_forms
from app.patients.model import display_name
from app.patients.search import age_on
from app.patients.search_index import name_tokens
from app.patients.validation import (
    date_query_candidates,
    display_phone,
    fold_text,
    normalize_phone,
)
from app.store.writer import utc_text

SORTS = ("name", "birth_date", "age", "last_visit", "next_appointment", "source", "created")
# Statuses as app/patients/summary.py (last visit) and appointments.next_for_patient read them.
_VISITED = "('fulfilled')"
_UPCOMING = "('booked', 'confirmed')"
# A filtered set this small is sorted whole by last visit / next appointment (≈7 µs a
# patient, so ≤ 60 ms once); above it the appointment walk is faster per page.
SNAPSHOT_LIMIT = 8_000
# A group this small is read member by member (an id lookup each) and sorted per page;
# a larger one is tested against while the order's index is walked. An estimate, not a
# measurement: both ways cost a few ms per thousand members.
GROUP_LOOKUP_LIMIT = 2_000
_PHONE_CHARS = re.compile(r"^[\d\s()+./-]+$")


@dataclass(frozen=True)
class PatientListQuery:
    """What the receptionist asked the list to show, and in which order."""

    text: str = ""
    tag: str = ""  # exact tag, '' = any
    source: str = ""  # exact acquisition source, '' = any
    upcoming_only: bool = False  # only patients with a booked or confirmed future visit
    include_deceased: bool = False
    segment_id: str = ""  # a saved group of patients, '' = everyone
    sort: str = "name"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise InvalidInputError("The list cannot be sorted that way.")


@dataclass(frozen=True)
class PatientRow:
    """One line of the list, ready to show or export."""

    id: str
    display_name: str  # "Family, Given (Preferred)"
    birth_date: str | None
    age: int | None
    phone: str  # display form for the clinic's country; '' = none
    email: str
    last_visit: date | None  # clinic's local date
    next_appointment: date | None
    source: str
    tags: str  # "diabetic, interpreter"
    deceased: bool
    source_words: str = ""  # the channel's label, or older free text as written


def sources(clinic: Clinic) -> list[tuple[str, str]]:
    """(value, words) for the source filter: the clinic's channels in their order, then
    other free text still on some patients (read from the index), as written."""
    channels = acquisition.sources(clinic)
    choices = [(s.key, s.label if s.active else f"{s.label} (no longer offered)") for s in channels]
    known = {s.key for s in channels}
    rows = clinic.conn.execute(
        "SELECT DISTINCT acquisition_source FROM patient WHERE acquisition_source != '' "
        "ORDER BY acquisition_source"
    ).fetchall()
    choices += [(str(r[0]), str(r[0])) for r in rows if source_key(str(r[0])) not in known]
    return choices


def tags_in_use(clinic: Clinic) -> list[str]:
    """Tags on any patient, for the filter's choices."""
    rows = clinic.conn.execute(
        "SELECT DISTINCT tag FROM patient_tag ORDER BY tag COLLATE NOCASE, tag"
    ).fetchall()
    return [str(r[0]) for r in rows]


# --- the text filter as one FTS5 expression ---------------------------------------------


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_expression(text: str, region: str = "US") -> str | None:
    """Every way the finder would read `text`, as prefix matches OR-ed together.

    The same readings as app/patients/search.py (email, birth date in either day order,
    phone digits, name words), but as one complete match set: the finder ranks and
    keeps 100 candidates, the list must hold all of them. None = nothing searchable
    (too few digits, only punctuation): the list then shows nobody.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if not text:
        return None
    if "@" in text:
        return f"other : {_quote(fold_text(text).replace(' ', ''))} *"
    dates = date_query_candidates(text)
    if dates:
        return "other : (" + " OR ".join(_quote("d" + d.strftime("%Y%m%d")) for d in dates) + ")"
    if _PHONE_CHARS.match(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) < 3:
            return None
        terms = [f"{_quote(digits)} *"]
        if len(digits) >= 7:
            # Not a whole number: the digit prefix still finds it.
            with contextlib.suppress(InvalidPhoneError):
                terms.insert(0, _quote(normalize_phone(text, region).lstrip("+")))
        return "other : (" + " OR ".join(terms) + ")"
    words = name_tokens(text)
    if not words:
        return None
    clauses = []
    for word in words:
        column = "{names other}" if any(c.isdigit() for c in word) else "names"
        clauses.append(f"{column} : {_quote(word)} *")
    expression = "(" + " AND ".join(clauses) + ")"
    if " " not in text and any(c in text for c in "._+-"):
        expression += f" OR (other : {_quote(fold_text(text))} *)"
    return expression


# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter:
    sql: str  # conditions on `p` (the patient row), joined with AND
    params: dict[str, Any]
    empty: bool  # the text can match nobody: skip the database


def _filter(
    query: PatientListQuery, now: str, region: str, members: Sequence[str] | None = None
) -> _Filter:
    parts = ["p.merged_into IS NULL"]
    params: dict[str, Any] = {"now": now}
    empty = False
    if members is not None:
        if members:
            # A few members: look each up and sort them. Many: walk the order's index and
            # test membership instead ("+" keeps SQLite from driving by id), else every
            # page would look up and sort the whole group.
            column = "p.id" if len(members) <= GROUP_LOOKUP_LIMIT else "+p.id"
            parts.append(f"{column} IN (SELECT value FROM json_each(:segment))")  # noqa: S608
            params["segment"] = json.dumps(list(members))
        else:
            empty = True  # an empty group: nobody, without asking the database
    if not query.include_deceased:
        parts.append("p.deceased = 0")
    if query.source:
        # A channel also matches the older words that meant it ("Google search").
        parts.append("p.acquisition_source IN (SELECT value FROM json_each(:source))")
        params["source"] = json.dumps(stored_forms(query.source))
    if query.tag:
        parts.append(
            "EXISTS (SELECT 1 FROM patient_tag t WHERE t.patient_id = p.id AND t.tag = :tag)"
        )
        params["tag"] = query.tag
    if query.upcoming_only:
        parts.append(
            "EXISTS (SELECT 1 FROM appointment u WHERE u.patient_id = p.id "  # noqa: S608
            f"AND u.start_at >= :now AND u.status IN {_UPCOMING})"
        )
    text = query.text.strip()
    letter = fold_text(text)
    if len(letter) == 1 and letter.isascii() and letter.isalpha():
        # Both bounds in NOCASE (ASCII case folding), so the name index answers it.
        parts.append(
            "p.family_name >= :letter COLLATE NOCASE AND p.family_name < :after COLLATE NOCASE"
        )
        params["letter"] = letter
        params["after"] = chr(ord(letter) + 1)
    elif text:
        expression = fts_expression(text, region)
        if expression is None:
            empty = True
        else:
            parts.append(
                "p.id IN (SELECT d.patient_id FROM patient_search s "
                "JOIN patient_search_doc d ON d.doc = s.rowid WHERE patient_search MATCH :fts)"
            )
            params["fts"] = expression
    return _Filter(" AND ".join(parts), params, empty)


# --- orders -------------------------------------------------------------------------------
# A page walk yields (patient rowid, cursor key) pairs; the key of the last one is where
# the next page starts. Each order is one or two phases (the second for empty values).


@dataclass(frozen=True)
class _Cursor:
    phase: int = 0
    key: tuple[Any, ...] = ()
    done: bool = False


@dataclass(frozen=True)
class _IndexPhase:
    """Rows of `patient` in the order of `keys` (the last is always p.rowid)."""

    where: str  # extra condition of this phase ('' = none)
    keys: tuple[str, ...]
    descending: bool


def _index_phases(query: PatientListQuery) -> tuple[_IndexPhase, ...]:
    down = query.descending
    if query.sort == "name":
        keys = ("p.family_name COLLATE NOCASE", "p.given_names COLLATE NOCASE", "p.rowid")
        return (_IndexPhase("", keys, down),)
    if query.sort in ("birth_date", "age"):
        # Age ascending is birth date descending (youngest first).
        down = down if query.sort == "birth_date" else not down
        return (
            _IndexPhase("p.birth_date IS NOT NULL", ("p.birth_date", "p.rowid"), down),
            _IndexPhase("p.birth_date IS NULL", ("p.rowid",), False),
        )
    if query.sort == "source":
        return (
            _IndexPhase("p.acquisition_source != ''", ("p.acquisition_source", "p.rowid"), down),
            _IndexPhase("p.acquisition_source = ''", ("p.rowid",), False),
        )
    # created: no index; each page is one scan with a top-N sort (~20 ms at 100k).
    return (_IndexPhase("", ("p.created_at", "p.rowid"), down),)


def _after(keys: tuple[str, ...], descending: bool, count: int) -> str:
    """Rows strictly after the cursor. The first key alone as a range lets SQLite seek
    the index; the row value then settles ties exactly."""
    op, first = ("<", "<=") if descending else (">", ">=")
    marks = ", ".join(f":k{i}" for i in range(count))
    if count == 1:
        return f"{keys[0]} {op} :k0"
    return f"{keys[0]} {first} :k0 AND ({', '.join(keys)}) {op} ({marks})"


class _Walker:
    """Produces patient rowids in the query's order, a chunk at a time."""

    def __init__(self, conn: Any, query: PatientListQuery, filt: _Filter) -> None:
        self._conn = conn
        self._query = query
        self._filter = filt

    def chunk(self, cursor: _Cursor, limit: int) -> tuple[list[int], _Cursor]:
        raise NotImplementedError


class _IndexWalker(_Walker):
    def __init__(self, conn: Any, query: PatientListQuery, filt: _Filter) -> None:
        super().__init__(conn, query, filt)
        self._phases = _index_phases(query)

    def chunk(self, cursor: _Cursor, limit: int) -> tuple[list[int], _Cursor]:
        ids: list[int] = []
        while len(ids) < limit and not cursor.done:
            phase = self._phases[cursor.phase]
            conditions = [self._filter.sql]
            if phase.where:
                conditions.append(phase.where)
            params = dict(self._filter.params)
            if cursor.key:
                conditions.append(_after(phase.keys, phase.descending, len(cursor.key)))
                params.update({f"k{i}": v for i, v in enumerate(cursor.key)})
            direction = " DESC" if phase.descending else ""
            order = ", ".join(k + direction for k in phase.keys)
            want = limit - len(ids)
            params["limit"] = want
            rows = self._conn.execute(
                f"SELECT {', '.join(phase.keys)} FROM patient p "  # noqa: S608 - fixed names
                f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT :limit",
                params,
            ).fetchall()
            ids.extend(int(r[-1]) for r in rows)
            if len(rows) == want:
                cursor = _Cursor(cursor.phase, tuple(rows[-1]))
            elif cursor.phase + 1 < len(self._phases):
                cursor = _Cursor(cursor.phase + 1)
            else:
                cursor = _Cursor(cursor.phase, done=True)
        return ids, cursor


@dataclass(frozen=True)
class _Event:
    """How one appointment-walked column is defined."""

    statuses: str
    # How the walk tests the status: "+a.status" keeps SQLite off the (status, start_at)
    # index where two statuses would make it sort every upcoming appointment (0.9 s)
    # instead of reading appointment_start in order (3 ms).
    walk_status: str
    window: str  # the appointment's place relative to :now
    first: str  # which of a patient's qualifying appointments counts (ORDER BY)
    natural_desc: bool  # True when "the one that counts" is the latest


_LAST_VISIT = _Event(
    _VISITED, "a.status", "start_at <= :now", "b.start_at DESC, b.rowid DESC", True
)
_NEXT = _Event(_UPCOMING, "+a.status", "start_at >= :now", "b.start_at, b.rowid", False)


class _AppointmentWalker(_Walker):
    """Walks appointments in time order; a patient appears at the one that counts."""

    def __init__(self, conn: Any, query: PatientListQuery, filt: _Filter) -> None:
        super().__init__(conn, query, filt)
        self._event = _LAST_VISIT if query.sort == "last_visit" else _NEXT
        # "Upcoming only" sorted by next appointment: nobody lacks one, skip phase two.
        self._phases = 1 if query.upcoming_only and query.sort == "next_appointment" else 2

    def _walk(self, cursor: _Cursor, want: int) -> list[tuple[Any, ...]]:
        e = self._event
        down = self._query.descending
        params = dict(self._filter.params)
        params["limit"] = want
        conditions = [
            f"{e.walk_status} IN {e.statuses}",
            f"a.{e.window}",
            self._filter.sql,
            # Only the appointment that counts for this patient (ties broken by rowid).
            "a.rowid = (SELECT b.rowid FROM appointment b "  # noqa: S608 - constant fragments
            f"WHERE b.patient_id = a.patient_id AND b.status IN {e.statuses} "
            f"AND b.{e.window} ORDER BY {e.first} LIMIT 1)",
        ]
        if cursor.key:
            conditions.append(_after(("a.start_at", "a.rowid"), down, 2))
            params.update({"k0": cursor.key[0], "k1": cursor.key[1]})
        direction = " DESC" if down else ""
        return list(
            self._conn.execute(
                "SELECT a.start_at, a.rowid, p.rowid FROM appointment a "  # noqa: S608
                "JOIN patient p ON p.id = a.patient_id "
                f"WHERE {' AND '.join(conditions)} "
                f"ORDER BY a.start_at{direction}, a.rowid{direction} LIMIT :limit",
                params,
            ).fetchall()
        )

    def _without(self, cursor: _Cursor, want: int) -> list[tuple[Any, ...]]:
        e = self._event
        params = dict(self._filter.params)
        params["limit"] = want
        conditions = [
            self._filter.sql,
            "NOT EXISTS (SELECT 1 FROM appointment b WHERE b.patient_id = p.id "  # noqa: S608
            f"AND b.status IN {e.statuses} AND b.{e.window})",
        ]
        if cursor.key:
            conditions.append("p.rowid > :k0")
            params["k0"] = cursor.key[0]
        return list(
            self._conn.execute(
                "SELECT p.rowid, p.rowid FROM patient p "  # noqa: S608 - fixed fragments
                f"WHERE {' AND '.join(conditions)} ORDER BY p.rowid LIMIT :limit",
                params,
            ).fetchall()
        )

    def chunk(self, cursor: _Cursor, limit: int) -> tuple[list[int], _Cursor]:
        ids: list[int] = []
        while len(ids) < limit and not cursor.done:
            want = limit - len(ids)
            if cursor.phase == 0:
                rows = self._walk(cursor, want)
                key_of: tuple[int, ...] = (0, 1)
            else:
                rows = self._without(cursor, want)
                key_of = (0,)
            ids.extend(int(r[-1]) for r in rows)
            if len(rows) == want:
                cursor = _Cursor(cursor.phase, tuple(rows[-1][i] for i in key_of))
            elif cursor.phase + 1 < self._phases:
                cursor = _Cursor(cursor.phase + 1)
            else:
                cursor = _Cursor(cursor.phase, done=True)
        return ids, cursor


class _SnapshotWalker(_Walker):
    """A small filtered set sorted whole, once; pages are slices of it."""

    def __init__(self, conn: Any, query: PatientListQuery, filt: _Filter) -> None:
        super().__init__(conn, query, filt)
        e = _LAST_VISIT if query.sort == "last_visit" else _NEXT
        pick = "max" if e.natural_desc else "min"
        direction = " DESC" if query.descending else ""
        rows = conn.execute(
            f"SELECT p.rowid, (SELECT {pick}(b.start_at) FROM appointment b "  # noqa: S608
            f"WHERE b.patient_id = p.id AND b.status IN {e.statuses} AND b.{e.window}) AS k "
            f"FROM patient p WHERE {filt.sql} "
            f"ORDER BY k IS NULL, k{direction}, p.rowid{direction}",
            filt.params,
        ).fetchall()
        self.ids = [int(r[0]) for r in rows]

    def chunk(self, cursor: _Cursor, limit: int) -> tuple[list[int], _Cursor]:
        start = cursor.key[0] if cursor.key else 0
        ids = self.ids[start : start + limit]
        end = start + len(ids)
        return ids, _Cursor(0, (end,), done=end >= len(self.ids))


class _NoneWalker(_Walker):
    def chunk(self, cursor: _Cursor, limit: int) -> tuple[list[int], _Cursor]:
        return [], _Cursor(done=True)


# --- the list -----------------------------------------------------------------------------


@dataclass
class _Pages:
    cursors: dict[int, _Cursor] = field(default_factory=lambda: {0: _Cursor()})


def group_members(clinic: Clinic, segment_id: str, today: date) -> list[str]:
    """The patients of a saved group on `today` (the list's local day).

    Raises RecordNotFoundError, in plain words, when the group was removed.
    """
    segment = segments.get_segment(clinic, segment_id)
    return segments.patient_ids(clinic, segment.terms, today=today)


def local_today(clinic: Clinic, now: datetime) -> date:
    """The clinic's day at `now`: the day a list made at `now` reads ages and groups on."""
    return now.astimezone(ZoneInfo(clinic.settings.timezone)).date()


class PatientList:
    """One query against one clinic, at one moment: counts, pages and streams its rows.

    Keep one per query while a table shows it: it remembers where each page ended, so
    the next page is a seek, not a skip. `now` pins "upcoming" and "last visit" for the
    life of the list, so its pages agree with each other. With a group
    (`query.segment_id`) the members are computed here unless given as `members`
    (`group_members` of the same group on the list's day); a removed group raises
    RecordNotFoundError.
    """

    def __init__(
        self,
        clinic: Clinic,
        query: PatientListQuery,
        *,
        now: datetime | None = None,
        members: Sequence[str] | None = None,
    ) -> None:
        self._conn = clinic.conn
        self._region = clinic.settings.region
        self._zone = ZoneInfo(clinic.settings.timezone)
        self._source_names = acquisition.labels(clinic)
        moment = now or datetime.now(UTC)
        self._now = utc_text(moment)
        self._today = moment.astimezone(self._zone).date()
        self.query = query
        if not query.segment_id:
            members = None
        elif members is None:
            members = group_members(clinic, query.segment_id, self._today)
        self._members = members
        self._filter = _filter(query, self._now, self._region, members)
        self._walker = self._choose_walker()
        self._pages = _Pages()
        self._count: int | None = None

    def _choose_walker(self) -> _Walker:
        if self._filter.empty:
            return _NoneWalker(self._conn, self.query, self._filter)
        if self.query.sort in ("last_visit", "next_appointment"):
            estimate = self._estimate()
            if estimate is not None and estimate <= SNAPSHOT_LIMIT:
                return _SnapshotWalker(self._conn, self.query, self._filter)
            return _AppointmentWalker(self._conn, self.query, self._filter)
        return _IndexWalker(self._conn, self.query, self._filter)

    def _estimate(self) -> int | None:
        """An upper bound of the filtered set from the cheap, selective filters only
        (each is one index or FTS count); None when nothing narrows it."""
        bounds: list[int] = []
        params = self._filter.params
        if "fts" in params:
            bounds.append(
                self._scalar(
                    "SELECT count(*) FROM patient_search WHERE patient_search MATCH ?",
                    (params["fts"],),
                )
            )
        if "letter" in params:
            bounds.append(
                self._scalar(
                    "SELECT count(*) FROM patient WHERE family_name >= ? COLLATE NOCASE "
                    "AND family_name < ? COLLATE NOCASE",
                    (params["letter"], params["after"]),
                )
            )
        if self.query.tag:
            bounds.append(
                self._scalar("SELECT count(*) FROM patient_tag WHERE tag = ?", (self.query.tag,))
            )
        if self._members is not None:
            bounds.append(len(self._members))
        if self.query.source:
            bounds.append(
                self._scalar(
                    "SELECT count(*) FROM patient WHERE acquisition_source IN "
                    "(SELECT value FROM json_each(?))",
                    (json.dumps(stored_forms(self.query.source)),),
                )
            )
        return min(bounds) if bounds else None

    def _scalar(self, sql: str, params: tuple[Any, ...]) -> int:
        return int(self._conn.execute(sql, params).fetchone()[0])

    def count(self) -> int:
        """How many patients the list holds. One scan of the filtered patients: ~15 ms at
        100k, more with "upcoming only" (a probe per patient), so the desk runs it off
        the GUI thread."""
        if self._count is None:
            if isinstance(self._walker, _NoneWalker):
                self._count = 0
            elif isinstance(self._walker, _SnapshotWalker):
                self._count = len(self._walker.ids)
            else:
                self._count = self._scalar_named(
                    f"SELECT count(*) FROM patient p WHERE {self._filter.sql}"  # noqa: S608
                )
        return self._count

    def _scalar_named(self, sql: str) -> int:
        return int(self._conn.execute(sql, self._filter.params).fetchone()[0])

    def page(self, offset: int, limit: int) -> list[PatientRow]:
        """Rows offset..offset+limit-1 in order; seeks from the nearest page end seen."""
        if offset < 0 or limit < 0:
            raise InvalidInputError("A page starts at row 0 or later.")
        cursors = self._pages.cursors
        start = max(o for o in cursors if o <= offset)
        cursor = cursors[start]
        while start < offset and not cursor.done:
            skipped, cursor = self._walker.chunk(cursor, min(offset - start, 1000))
            start += len(skipped)
            cursors[start] = cursor
        if start < offset or cursor.done:
            return []
        ids, cursor = self._walker.chunk(cursor, limit)
        cursors[start + len(ids)] = cursor
        return self._rows(ids)

    def batches(self, size: int = 500) -> Iterator[list[PatientRow]]:
        """Every row in order, `size` at a time, for streaming to a file."""
        cursor = _Cursor()
        while not cursor.done:
            ids, cursor = self._walker.chunk(cursor, size)
            if ids:
                yield self._rows(ids)

    def _rows(self, rowids: list[int]) -> list[PatientRow]:
        if not rowids:
            return []
        marks = ",".join("?" for _ in rowids)
        rows = self._conn.execute(
            "SELECT p.rowid, p.id, p.family_name, p.given_names, p.preferred_name, "  # noqa: S608
            "p.birth_date, p.deceased, p.acquisition_source, "
            # "+kind": use the patient_id index, not the clinic-wide (kind, value) one.
            "(SELECT c.value FROM contact_point c WHERE c.patient_id = p.id "
            " AND +c.kind = 'phone' ORDER BY c.rank, c.id LIMIT 1), "
            "(SELECT c.value FROM contact_point c WHERE c.patient_id = p.id "
            " AND +c.kind = 'email' ORDER BY c.rank, c.id LIMIT 1), "
            "(SELECT max(a.start_at) FROM appointment a WHERE a.patient_id = p.id "
            f" AND a.status IN {_VISITED} AND a.start_at <= ?), "
            "(SELECT min(a.start_at) FROM appointment a WHERE a.patient_id = p.id "
            f" AND a.status IN {_UPCOMING} AND a.start_at >= ?), "
            "(SELECT group_concat(tag, ', ') FROM "
            " (SELECT t.tag FROM patient_tag t WHERE t.patient_id = p.id ORDER BY t.tag)) "
            f"FROM patient p WHERE p.rowid IN ({marks})",
            (self._now, self._now, *rowids),
        ).fetchall()
        by_rowid = {int(r[0]): r for r in rows}
        return [self._row(by_rowid[i]) for i in rowids if i in by_rowid]

    def _local_date(self, utc_text: str | None) -> date | None:
        if not utc_text:
            return None
        moment = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
        return moment.astimezone(self._zone).date()

    def _row(self, r: tuple[Any, ...]) -> PatientRow:
        return PatientRow(
            id=str(r[1]),
            display_name=display_name(r[2], r[3], r[4]),
            birth_date=r[5],
            age=age_on(r[5], self._today),
            phone=display_phone(r[8], self._region) if r[8] else "",
            email=r[9] or "",
            last_visit=self._local_date(r[10]),
            next_appointment=self._local_date(r[11]),
            source=r[7],
            source_words=self._source_names.get(source_key(r[7]), r[7]),
            tags=r[12] or "",
            deceased=bool(r[6]),
        )


def count(clinic: Clinic, query: PatientListQuery) -> int:
    return PatientList(clinic, query).count()


def page(clinic: Clinic, query: PatientListQuery, offset: int, limit: int) -> list[PatientRow]:
    """One page without keeping state: fine for a first page; a table that loads page
    after page should keep a `PatientList` so each page starts where the last ended."""
    return PatientList(clinic, query).page(offset, limit)
