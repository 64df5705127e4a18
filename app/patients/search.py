"""The one search box: finds a patient by name, birth date, phone, email or record number.

Ranked exact before prefix before fuzzy, deceased and merged patients last, and fast
enough to run on every keystroke (FTS5 prefix indexes; fuzzy only when needed).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime

from rapidfuzz import fuzz, process

from app.errors import InvalidPhoneError
from app.patients.model import display_name
from app.patients.search_index import name_tokens
from app.patients.validation import date_query_candidates, fold_text, normalize_phone
from app.store.database import Connection
from app.store.writer import utc_now

_PHONE_CHARS = re.compile(r"^[\d\s()+./-]+$")
_EXACT, _PREFIX, _FUZZY = 3, 2, 1
# Candidates fetched per FTS query before ranking: five result pages' worth. A name
# shared by thousands ("Kim") shows 20 of them either way and the person types on;
# fetching more only made the slowest searches slower (p99 10 ms → 4 ms at 100k).
_CANDIDATES = 100
_MIN_FUZZY_LEN = 3


@dataclass(frozen=True)
class SearchResult:
    """What the receptionist needs to pick the right person from a list."""

    patient_id: str
    display_name: str
    birth_date: str | None
    age: int | None
    phone: str | None
    next_appointment: str | None  # UTC ISO start of the next booked or confirmed visit
    deceased: bool
    merged: bool
    match: str  # "exact", "prefix" or "fuzzy"


@dataclass(frozen=True)
class _Query:
    fts: str
    strength: int


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def age_on(birth_date: str | None, today: date) -> int | None:
    if not birth_date:
        return None
    try:
        year = int(birth_date[:4])
        month = int(birth_date[5:7]) if len(birth_date) >= 7 else 7
        day = int(birth_date[8:10]) if len(birth_date) >= 10 else 1
    except ValueError:
        return None
    return today.year - year - ((today.month, today.day) < (month, day))


def first_phones(conn: Connection, patient_ids: list[str]) -> dict[str, str]:
    """Each patient's first-ranked phone, for a short list of patients (a result page)."""
    marks = ",".join("?" for _ in patient_ids)
    rows = conn.execute(
        "SELECT patient_id, value FROM contact_point "
        # "+kind": steer SQLite to the patient_id index; the (kind, value) index would
        # walk every phone in the clinic (73 ms at 100k patients). Rank 1 comes last
        # and so wins in the dict.
        f"WHERE +kind = 'phone' AND patient_id IN ({marks}) ORDER BY rank DESC",
        patient_ids,
    ).fetchall()
    return dict(rows)


class PatientSearch:
    """Holds what makes repeated searches fast (the fuzzy vocabulary) for one connection."""

    def __init__(self, conn: Connection, *, region: str = "US") -> None:
        self._conn = conn
        self._region = region
        self._vocab: list[str] = []
        self._vocab_version: int | None = None
        self._lock = threading.Lock()

    # --- building FTS queries -------------------------------------------------------

    def _queries(self, text: str) -> list[_Query]:
        text = text.strip()
        if not text:
            return []
        if "@" in text:
            term = fold_text(text).replace(" ", "")
            return [
                _Query(f"other : {_quote(term)}", _EXACT),
                _Query(f"other : {_quote(term)} *", _PREFIX),
            ]
        dates = date_query_candidates(text)
        if dates:
            tokens = " OR ".join(_quote("d" + d.strftime("%Y%m%d")) for d in dates)
            return [_Query(f"other : ({tokens})", _EXACT)]
        if _PHONE_CHARS.match(text):
            return self._number_queries(text)
        words = name_tokens(text)
        if not words:
            return []
        exact = " AND ".join(self._term(w, prefix=False) for w in words)
        prefix = " AND ".join(self._term(w, prefix=True) for w in words)
        queries = [_Query(exact, _EXACT), _Query(prefix, _PREFIX)]
        if " " not in text and any(c in text for c in "._+-"):
            # The start of an email address or a record number with punctuation
            # ("sunny.side", "A-1234"): match the whole typed word in `other` too.
            whole = _quote(fold_text(text))
            queries += [_Query(f"other : {whole}", _EXACT), _Query(f"other : {whole} *", _PREFIX)]
        return queries

    @staticmethod
    def _term(word: str, *, prefix: bool) -> str:
        star = " *" if prefix else ""
        # Words with digits may be record numbers as well as Synthea-style names.
        column = "{names other}" if any(c.isdigit() for c in word) else "names"
        return f"{column} : {_quote(word)}{star}"

    def _number_queries(self, text: str) -> list[_Query]:
        digits = re.sub(r"\D", "", text)
        if len(digits) < 3:
            return []
        queries = [_Query(f"other : {_quote(digits)}", _EXACT)]
        if len(digits) >= 7:
            try:
                e164 = normalize_phone(text, self._region)
                queries.insert(0, _Query(f"other : {_quote(e164.lstrip('+'))}", _EXACT))
            except InvalidPhoneError:
                pass  # not a full phone number: the digit queries below still apply
        queries.append(_Query(f"other : {_quote(digits)} *", _PREFIX))
        return queries

    # --- fuzzy -----------------------------------------------------------------------

    def _vocabulary(self) -> list[str]:
        # Every write that can change the index also adds change rows, so the journal's
        # last sequence number tells whether the vocabulary may be stale.
        version = self._conn.execute("SELECT max(seq) FROM change").fetchone()[0]
        with self._lock:
            if version != self._vocab_version:
                self._vocab = [
                    r[0]
                    for r in self._conn.execute(
                        "SELECT term FROM patient_search_vocab WHERE col = 'names'"
                    )
                ]
                self._vocab_version = version
            return self._vocab

    def _fuzzy_query(self, text: str) -> _Query | None:
        if "@" in text or _PHONE_CHARS.match(text.strip()):
            return None
        words = [w for w in name_tokens(text) if not any(c.isdigit() for c in w)]
        if not words or all(len(w) < _MIN_FUZZY_LEN for w in words):
            return None
        vocab = self._vocabulary()
        clauses = []
        for word in words:
            if len(word) < _MIN_FUZZY_LEN:
                clauses.append(self._term(word, prefix=True))
                continue
            close = process.extract(word, vocab, scorer=fuzz.ratio, score_cutoff=72, limit=8)
            if not close:
                return None
            clauses.append("names : (" + " OR ".join(_quote(str(c[0])) for c in close) + ")")
        return _Query(" AND ".join(clauses), _FUZZY)

    # --- running ---------------------------------------------------------------------

    def _match(self, query: _Query, limit: int) -> list[tuple[str, int]]:
        rows = self._conn.execute(
            "SELECT d.patient_id FROM patient_search s "
            "JOIN patient_search_doc d ON d.doc = s.rowid WHERE patient_search MATCH ? LIMIT ?",
            (query.fts, limit),
        ).fetchall()
        return [(r[0], query.strength) for r in rows]

    def search(
        self, text: str, limit: int = 20, *, today: date | None = None
    ) -> list[SearchResult]:
        # Pasted text can carry control characters (NUL, tabs from a spreadsheet).
        text = "".join(ch if ch.isprintable() else " " for ch in text)
        strengths: dict[str, int] = {}
        for query in self._queries(text):
            for patient_id, strength in self._match(query, _CANDIDATES):
                strengths[patient_id] = max(strength, strengths.get(patient_id, 0))
        if len(strengths) < limit:
            fuzzy = self._fuzzy_query(text)
            if fuzzy is not None:
                for patient_id, strength in self._match(fuzzy, _CANDIDATES):
                    strengths.setdefault(patient_id, strength)
        if not strengths:
            return []
        return self._results(text, strengths, limit, today or datetime.now(UTC).date())

    def _results(
        self, query_text: str, strengths: dict[str, int], limit: int, today: date
    ) -> list[SearchResult]:
        ids = list(strengths)
        marks = ",".join("?" for _ in ids)
        rows = self._conn.execute(
            "SELECT id, family_name, given_names, preferred_name, birth_date, deceased, "
            f"merged_into IS NOT NULL FROM patient WHERE id IN ({marks})",
            ids,
        ).fetchall()
        words = name_tokens(query_text)

        def family_first(family: str) -> bool:
            # Front desks ask for the family name first, so a hit there outranks a
            # given-name hit of the same strength ("mar" → Martin before Marco Choi).
            tokens = name_tokens(family)
            return not any(t.startswith(w) for w in words for t in tokens)

        rows.sort(
            key=lambda r: (
                bool(r[5]) or bool(r[6]),
                -strengths[r[0]],
                family_first(r[1]),
                fold_text(r[1]),
                fold_text(r[2]),
                r[0],
            )
        )
        top = rows[:limit]
        top_ids = [r[0] for r in top]
        marks = ",".join("?" for _ in top_ids)
        phones = first_phones(self._conn, top_ids)
        now = utc_now()
        upcoming = dict(
            self._conn.execute(
                "SELECT patient_id, min(start_at) FROM appointment "
                f"WHERE patient_id IN ({marks}) AND start_at >= ? "
                "AND status IN ('booked', 'confirmed') GROUP BY patient_id",
                (*top_ids, now),
            ).fetchall()
        )
        names = {_EXACT: "exact", _PREFIX: "prefix", _FUZZY: "fuzzy"}
        return [
            SearchResult(
                patient_id=r[0],
                display_name=display_name(r[1], r[2], r[3]),
                birth_date=r[4],
                age=age_on(r[4], today),
                phone=phones.get(r[0]),
                next_appointment=upcoming.get(r[0]),
                deceased=bool(r[5]),
                merged=bool(r[6]),
                match=names[strengths[r[0]]],
            )
            for r in top
        ]
