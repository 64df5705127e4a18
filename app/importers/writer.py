"""Writing imported records inside one transaction: identity, re-import, links, review.

Each record is recognised by its identity keys (source_record, and for patients also
their stored identifiers); its own key (a resource id, a CSV row's id) comes first. A
record its source brought before with the same content (fingerprint, per key) is left
alone, so importing one file twice changes nothing; one whose content changed applies
only what changed in the source since (the values per key), so corrections made at the
desk stay; the earlier values go to import_undo, and a patient gets a timeline note
naming what changed. New records are buffered and written in bulk (insert_many),
because row-by-row inserts with their journal would make a 100,000-patient import
several times slower.

A record links to others by key (an encounter to its patient). Kinds are flushed in
KIND_NAMES order, so a link is looked up after its target was written; a link whose
target has not been read yet waits until the end of the import, then fails with a
reason if it still cannot be found.

Imported patients who look like somebody already here (same name and birth date,
same phone or email) but share no identifier are created as they are and queued for
merge review: the import never merges on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.clinic import Clinic
from app.importers.targets import (
    KIND_NAMES,
    TABLES,
    AllergyIn,
    ConditionIn,
    ImportProblem,
    Key,
    Link,
    LocationIn,
    OrganizationIn,
    PatientIn,
    ProviderIn,
    RoleIn,
    Target,
    VisitIn,
)
from app.patients.duplicates import SIMILAR_NAME, name_score, similar_patients
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import bump_version
from app.patients.validation import fold_text
from app.store.writer import Tx, new_id, utc_now

__all__ = ["CHUNK", "MAX_PROBLEMS", "KindCounts", "RecordWriter"]

CHUNK = 2000  # records per bulk write: big enough to amortise, small enough for memory
MAX_PROBLEMS = 10_000  # listed one by one; more are counted (a report nobody reads to the end)

# Keys that only name a record within one reading (no id in the file): they link
# records of this import but are never stored, since a later import cannot repeat them.
_TRANSIENT_PREFIX = "@"

# Tables a link may point at; their keys stay in memory for the batch (they are few:
# patients, not their visits).
_LINKED_TABLES = ("organization", "location", "provider", "patient")

# The identifiers a front desk needs: record numbers that find the chart in the EMR.
# Government numbers (social security, driver's licence, passport, tax) are left in
# the EMR: Frontdesk never uses them, and a copy is one more place they could leak.
KEPT_IDENTIFIER_KINDS = frozenset({"", "MR", "MRN", "PI", "PT", "MB", "AN", "PN"})

_PATIENT_FIELDS = {
    "family_name": "family name",
    "given_names": "given names",
    "preferred_name": "preferred name",
    "birth_date": "birth date",
    "sex": "sex",
    "language": "language",
    "deceased": "deceased",
    "deceased_date": "date of death",
}


@dataclass
class KindCounts:
    """What happened to the records of one kind (patients, visits...)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
        }


@dataclass
class _Found:
    """One stored (or just written) row and the keys known to name it, each with the
    fingerprint its source had at its last import. One object per row per batch, so
    every key found for a row agrees on what is already stored."""

    row_id: str
    digests: dict[Key, str] = field(default_factory=dict)
    imported: dict[Key, str] = field(default_factory=dict)  # key → the source's values (JSON)

    def stored_digest(self, own: Key | None, keys: list[Key]) -> str | None:
        """What the record's own source last brought in; None when it never did."""
        if own is not None:
            return self.digests.get(own)
        return next((self.digests[k] for k in keys if k in self.digests), None)

    def last_values(self, own: Key | None, keys: list[Key]) -> dict[str, Any] | None:
        """The columns as the record's source last gave them; None when not known (a
        first import by this source, or one made before Frontdesk kept them)."""
        candidates = [own] if own is not None else keys
        text = next((self.imported[k] for k in candidates if self.imported.get(k)), "")
        return dict(json.loads(text)) if text else None


def fingerprint(record: Target) -> str:
    """A short digest of everything the record would store: unchanged → same digest.

    `location` is left out: the same patient read from a renamed file is unchanged.
    """
    values = [getattr(record, name) for name in record.__slots__ if name != "location"]
    return hashlib.blake2b(repr(values).encode(), digest_size=12).hexdigest()


def _stored_keys(keys: Iterable[Key]) -> list[Key]:
    return [
        k for k in dict.fromkeys(keys) if k[0] and k[1] and not k[1].startswith(_TRANSIENT_PREFIX)
    ]


class RecordWriter:
    """Writes the records of one import batch into an open transaction.

    `existing_patients` says whether the clinic had patients before this batch; only
    then is each new patient compared with them for merge review (a first import
    into an empty clinic has nobody to be confused with).
    """

    def __init__(self, clinic: Clinic, tx: Tx, batch_id: str, *, existing_patients: bool) -> None:
        self.clinic = clinic
        self.tx = tx
        self.conn = tx.conn
        self.batch_id = batch_id
        self.counts: dict[str, KindCounts] = {name: KindCounts() for name in KIND_NAMES.values()}
        self.problems: list[ImportProblem] = []
        self.problems_not_listed = 0  # past MAX_PROBLEMS: counted, not kept
        self.reviews = 0
        self._check_duplicates = existing_patients
        self._now = utc_now()
        self._user = clinic.acting_user_id or ""
        self._pending: dict[type[Target], list[Target]] = {kind: [] for kind in KIND_NAMES}
        self._deferred: list[Target] = []
        self._ids: dict[tuple[str, Key], str] = {}  # (table, key) → row id, linked tables only
        # What this batch wrote to the linked tables, by key: they are looked up far
        # more often than they are written, and are few (patients, not their visits).
        self._known: dict[tuple[str, Key], _Found] = {}
        self._rows: dict[tuple[str, str], _Found] = {}  # (table, row id) → its one entry
        # (row id, source system) a record of this batch already decided: a second
        # record of the same source is a duplicate; another source's adds to the row.
        # Kept as hashes: one per visit of a bulk export, so each byte counts.
        self._settled: set[int] = set()
        self._created_patients: set[str] = set()
        self._batch_people: dict[tuple[str, str, str], str] = {}  # folded names + birth → id
        self._reviews: list[dict[str, Any]] = []  # written with the chunk that found them
        self._reviewed: set[tuple[str, str]] = set()
        self._empty = {t: self._table_is_new(t) for t in TABLES.values()}

    # --- intake ---------------------------------------------------------------

    def add(self, record: Target) -> None:
        """Queue one record; writes happen in bulk as queues fill."""
        queue = self._pending[type(record)]
        queue.append(record)
        if len(queue) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Write everything queued, in link order (targets before the records naming them)."""
        for kind in KIND_NAMES:
            queue = self._pending[kind]
            if queue:
                self._pending[kind] = []
                self._write_any(kind, queue)

    def _write_any(
        self, kind: type[Target], records: list[Target], *, last_try: bool = False
    ) -> None:
        if kind is RoleIn:
            self._write_roles([r for r in records if isinstance(r, RoleIn)], last_try=last_try)
        else:
            self._write_kind(kind, records, last_try=last_try)

    def finish(self) -> None:
        """Write what is left, then the records whose link targets came later."""
        self.flush()
        waiting, self._deferred = self._deferred, []
        for kind in KIND_NAMES:
            records = [r for r in waiting if type(r) is kind]
            if records:
                self._write_any(kind, records, last_try=True)

    def count(self, kind: str) -> KindCounts:
        return self.counts.setdefault(kind, KindCounts())

    def note(self, problem: ImportProblem) -> None:
        """Keep a problem for the summary; past MAX_PROBLEMS only count it, so a file of a
        million broken lines cannot fill the memory with their messages."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.problems_not_listed += 1

    def fail(self, location: str, kind: str, reason: str) -> None:
        self.count(kind).failed += 1
        self.note(ImportProblem(location, kind, reason))

    # --- one kind -------------------------------------------------------------

    def _write_kind(
        self, kind: type[Target], records: list[Target], *, last_try: bool = False
    ) -> None:
        table = TABLES[kind]
        found = self._lookup(table, records)
        pending = _Pending()
        for record in records:
            row = self._row(record, last_try=last_try)
            if row is None:
                continue
            digest = fingerprint(record)
            keys = _stored_keys(record.keys) or [(f"content:{table}", digest)]
            own = _own_key(record, keys)
            name = count_name(record)
            match = self._match(keys, found)
            shared_with = None
            if match is not None and self._belongs_to_another(table, match, own, row):
                # Matched only through an identifier of a row another record of the same
                # source owns (two patients given one MRN): no proof they are one person.
                shared_with, match = match.row_id, None
            if match is None:
                self._create(table, record, row, keys, digest, found, pending)
                if shared_with is not None:
                    self._shared_identifier(table, record, name, pending.last_id, shared_with)
                continue
            if match.row_id in pending.rows:  # another source's record of a row just made
                self._flush_pending(table, pending)
            self._remember(table, record.keys, match)
            # What the source said before, read before its new keys are stored with it.
            stored = match.stored_digest(own, keys)
            last = match.last_values(own, keys)
            values = _values_json(row)
            if self._claim_keys(table, match, keys, (digest, values), found, pending.sources):
                self.note(
                    ImportProblem(
                        record.location,
                        name,
                        "its identifiers point at two different records already in Frontdesk; "
                        "it was matched by the first one",
                        dropped=False,
                    )
                )
            self._apply(table, record, row, match, keys, (stored, last, digest), name)
        self._flush_pending(table, pending)
        self._write_reviews()

    def _create(
        self,
        table: str,
        record: Target,
        row: dict[str, Any],
        keys: list[Key],
        digest: str,
        found: dict[Key, _Found],
        pending: _Pending,
    ) -> None:
        row_id = new_id()
        pending.rows[row_id] = {"id": row_id, **row}
        pending.last_id = row_id
        # Keys another row already owns stay with it (an MRN shared by two patients).
        mine = [k for k in keys if k not in found]
        values = _values_json(row)
        entry = _Found(row_id, dict.fromkeys(mine, digest), dict.fromkeys(mine, values))
        self._settled.add(hash((row_id, _source_of(record, keys))))
        self._remember(table, record.keys, entry, only=mine)
        for key in mine:
            found[key] = entry
            pending.sources.append(self._source_row(table, key, row_id, digest, values))
        self.count(count_name(record)).created += 1
        if isinstance(record, PatientIn):
            self._created_patients.add(row_id)
            pending.patients.append((row_id, record))

    def _claim_keys(
        self,
        table: str,
        match: _Found,
        keys: list[Key],
        record: tuple[str, str],
        found: dict[Key, _Found],
        sources: list[dict[str, Any]],
    ) -> bool:
        """Store the record's keys the row does not have yet, with its digest and values;
        True when one of them already names another row (it stays there)."""
        digest, values = record
        claimed = False
        for key in keys:
            if key in match.digests:
                continue
            other = found.get(key)
            if other is not None and other.row_id != match.row_id:
                claimed = True
                continue
            sources.append(self._source_row(table, key, match.row_id, digest, values))
            match.digests[key] = digest
            match.imported[key] = values
            found[key] = match
        return claimed

    def _apply(
        self,
        table: str,
        record: Target,
        row: dict[str, Any],
        match: _Found,
        keys: list[Key],
        digests: tuple[str | None, dict[str, Any] | None, str],
        name: str,
    ) -> None:
        """A record of a stored row: unchanged, updated, or a second copy in this import.
        `digests`: what its source brought last time (digest, values) and its digest now."""
        stored, last, digest = digests
        settled = hash((match.row_id, _source_of(record, keys)))
        if stored == digest:
            self._settled.add(settled)
            self.count(name).unchanged += 1
        elif settled in self._settled:
            # Two records of one source in one import with one identity and different
            # details (an example file and a bundle both holding "Patient/example"): the
            # first read wins, so importing the same files again changes nothing.
            self.count(name).skipped += 1
            self.note(
                ImportProblem(
                    record.location,
                    name,
                    "another record in this import has the same identity but different "
                    "details; the first one was kept",
                )
            )
        else:
            self._settled.add(settled)
            changed = self._update(table, match.row_id, row, record, last)
            self._set_fingerprint(table, match, keys, digest, _values_json(row))
            self.count(name).updated += 1 if changed else 0
            self.count(name).unchanged += 0 if changed else 1

    def _belongs_to_another(
        self, table: str, match: _Found, own: Key | None, row: Mapping[str, Any]
    ) -> bool:
        """True when a patient was matched only through an identifier of a row that another
        record of the same source owns, and the two do not look like one person: two
        patients given one MRN. (The same person under a new resource id, after an EMR
        moved servers, matches. For practitioners and places an NPI or id decides.)"""
        if table != "patient" or own is None or own in match.digests:
            return False
        if self._same_person(match.row_id, row):
            return False
        if any(k[0] == own[0] and k != own for k in match.digests):
            return True
        if self._empty[table]:
            return False
        hit = self.conn.execute(
            "SELECT 1 FROM source_record WHERE tbl = ? AND row_id = ? AND system = ? "
            "AND value <> ? LIMIT 1",
            (table, match.row_id, own[0], own[1]),
        ).fetchone()
        return hit is not None

    def _same_person(self, row_id: str, row: Mapping[str, Any]) -> bool:
        stored = self.tx.current("patient", row_id, ["family_name", "given_names", "birth_date"])
        if stored is None or stored["birth_date"] != row["birth_date"]:
            return False
        score = name_score(
            row["family_name"], row["given_names"], stored["family_name"], stored["given_names"]
        )
        return score >= SIMILAR_NAME

    def _shared_identifier(
        self, table: str, record: Target, name: str, row_id: str, other: str
    ) -> None:
        self.note(
            ImportProblem(
                record.location,
                name,
                "shares an identifier with another record; both were kept"
                + (", and listed for merge review" if table == "patient" else ""),
                dropped=False,
            )
        )
        if table == "patient":
            self._queue_review(row_id, other, "same identifier")

    def _flush_pending(self, table: str, pending: _Pending) -> None:
        """Write the rows made so far in this chunk (in bulk), with their keys and parts."""
        self._insert_rows(table, list(pending.rows.values()))
        self._insert_sources(pending.sources)
        if pending.sources and table not in _LINKED_TABLES:
            self._empty[table] = False  # later chunks must see what this one stored
        if pending.patients:
            self._write_patient_parts(pending.patients)
        pending.rows, pending.sources, pending.patients = {}, [], []

    def _write_roles(self, roles: list[RoleIn], *, last_try: bool) -> None:
        """A role's keys become the practitioner's; its specialty fills an empty one."""
        sources: list[dict[str, Any]] = []
        for role in roles:
            provider_id = self.resolve(role.provider)
            if provider_id is None:
                if not last_try and role.provider.key is not None:
                    self._deferred.append(role)
                else:
                    self.fail(
                        role.location,
                        "practitioner roles",
                        "its practitioner is not in this import",
                    )
                continue
            entry = self._known.get(("provider", role.provider.key)) if role.provider.key else None
            linked = False
            for key in _stored_keys(role.keys):
                # A key already naming someone (this practitioner or another) is left.
                if self._ids.get(("provider", key)) is None and (
                    self.resolve(Link("provider", key)) is None
                ):
                    digest = entry.stored_digest(role.provider.key, []) or "" if entry else ""
                    sources.append(self._source_row("provider", key, provider_id, digest, ""))
                    linked = True
            for key in role.keys:
                self._ids[("provider", key)] = provider_id
            current = self.tx.current("provider", provider_id, ["specialty"])
            counts = self.count("practitioner roles")
            if role.specialty and current is not None and not current["specialty"]:
                self._keep_for_undo("provider", provider_id, current)
                self.tx.update("provider", provider_id, {"specialty": role.specialty})
                counts.updated += 1
            elif linked:  # seen for the first time: the practitioner is now known by it
                counts.created += 1
            else:
                counts.unchanged += 1
        self._insert_sources(sources)

    def _set_fingerprint(
        self, table: str, match: _Found, keys: list[Key], digest: str, values: str
    ) -> None:
        """Store the new digest and values on the record's own keys (through the writer,
        so sync sees it; undo restores it). Other sources' keys keep their own."""
        for key in keys:
            if match.digests.get(key) == digest and match.imported.get(key) == values:
                continue
            match.digests[key] = digest
            match.imported[key] = values
            hit = self.conn.execute(
                "SELECT id, fingerprint, imported FROM source_record "
                "WHERE tbl = ? AND system = ? AND value = ? AND row_id = ?",
                (table, key[0], key[1], match.row_id),
            ).fetchone()
            if hit is not None and (hit[1], hit[2]) != (digest, values):
                self._keep_for_undo(
                    "source_record", hit[0], {"fingerprint": hit[1], "imported": hit[2]}
                )
                self.tx.update("source_record", hit[0], {"fingerprint": digest, "imported": values})

    def _keep_for_undo(self, table: str, row_id: str, before: Mapping[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO import_undo (batch_id, tbl, row_id, before) VALUES (?, ?, ?, ?)",
            (self.batch_id, table, row_id, json.dumps(dict(before))),
        )

    def _insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.tx.insert_many(table, rows)

    def _insert_sources(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.tx.insert_many("source_record", rows)

    def _source_row(
        self, table: str, key: Key, row_id: str, digest: str, values: str
    ) -> dict[str, Any]:
        return {
            "id": new_id(),
            "tbl": table,
            "system": key[0],
            "value": key[1],
            "row_id": row_id,
            "fingerprint": digest,
            "imported": values,
        }

    # --- identity ---------------------------------------------------------------

    def _table_is_new(self, table: str) -> bool:
        """True when no earlier import wrote this table: lookups can stay in memory."""
        row = self.conn.execute(
            "SELECT 1 FROM source_record WHERE tbl = ? LIMIT 1", (table,)
        ).fetchone()
        if row is not None:
            return False
        if table == "patient":
            return self.conn.execute("SELECT 1 FROM patient_identifier LIMIT 1").fetchone() is None
        return True

    def _lookup(self, table: str, records: list[Target]) -> dict[Key, _Found]:
        """Stored rows for the keys of these records: one query per chunk, not per record.
        Every key of one row maps to the same _Found (the batch's own, when it has one)."""
        found: dict[Key, _Found] = {}
        keys = list(
            dict.fromkeys(
                k
                for r in records
                for k in (_stored_keys(r.keys) or [(f"content:{table}", fingerprint(r))])
            )
        )
        if table in _LINKED_TABLES:
            for key in keys:
                entry = self._known.get((table, key))
                if entry is not None:
                    found[key] = entry
            keys = [k for k in keys if k not in found]
        if not keys or self._empty[table]:
            return found
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS import_keys (system TEXT, value TEXT)")
        self.conn.execute("DELETE FROM temp.import_keys")
        self.conn.executemany("INSERT INTO temp.import_keys VALUES (?, ?)", keys)
        rows = self.conn.execute(
            "SELECT s.system, s.value, s.row_id, s.fingerprint, s.imported "
            "FROM temp.import_keys k "
            "JOIN source_record s ON s.tbl = ? AND s.system = k.system AND s.value = k.value",
            (table,),
        ).fetchall()
        by_row: dict[str, _Found] = {}

        def entry_for(row_id: str) -> _Found:
            known = self._rows.get((table, row_id))
            return known if known is not None else by_row.setdefault(row_id, _Found(row_id))

        for system, value, row_id, digest, imported in rows:
            entry = entry_for(row_id)
            entry.digests.setdefault((system, value), digest)
            entry.imported.setdefault((system, value), imported)
            found[(system, value)] = entry
        if table == "patient":
            # A record number typed at the desk, or stored by another import, is the
            # same patient too (patient_identifier is unique per system and value).
            for system, value, row_id in self.conn.execute(
                "SELECT i.system, i.value, i.patient_id FROM temp.import_keys k "
                "JOIN patient_identifier i ON i.system = k.system AND i.value = k.value"
            ).fetchall():
                found.setdefault((system, value), entry_for(row_id))
        return found

    @staticmethod
    def _match(keys: list[Key], found: dict[Key, _Found]) -> _Found | None:
        for key in keys:
            match = found.get(key)
            if match is not None:
                return match
        return None

    def _remember(
        self, table: str, keys: Iterable[Key], entry: _Found, *, only: list[Key] | None = None
    ) -> None:
        """Links of this batch may name the row by any of the record's keys (transient
        ones too); `only` leaves out the keys another row owns."""
        if table not in _LINKED_TABLES:
            return
        self._rows[(table, entry.row_id)] = entry
        for key in keys:
            if only is not None and key not in only and not key[1].startswith(_TRANSIENT_PREFIX):
                continue
            self._ids[(table, key)] = entry.row_id
            self._known[(table, key)] = entry

    def resolve(self, link: Link | None) -> str | None:
        """The row id a link points at: in this batch, or stored by an earlier import."""
        if link is None or link.key is None:
            return None
        row_id = self._ids.get((link.table, link.key))
        if row_id is not None or link.key[1].startswith(_TRANSIENT_PREFIX):
            return row_id
        if link.table not in _LINKED_TABLES:
            return None
        # Joined with the row itself: a key left by an undone import names nothing.
        sql = (
            "SELECT s.row_id FROM source_record s "  # noqa: S608 - one of _LINKED_TABLES
            f"JOIN {link.table} t ON t.id = s.row_id "
            "WHERE s.tbl = ? AND s.system = ? AND s.value = ?"
        )
        hit = self.conn.execute(sql, (link.table, *link.key)).fetchone()
        if hit is None and link.table == "patient":
            hit = self.conn.execute(
                "SELECT patient_id FROM patient_identifier WHERE system = ? AND value = ?",
                link.key,
            ).fetchone()
        if hit is not None:
            self._ids[(link.table, link.key)] = str(hit[0])
            return str(hit[0])
        return None

    # --- rows -----------------------------------------------------------------

    def _row(self, record: Target, *, last_try: bool) -> dict[str, Any] | None:
        """The stored columns of a record (without id), or None when it must wait or fail."""
        if isinstance(record, RoleIn):
            raise TypeError("practitioner roles are written by _write_roles")
        if isinstance(record, PatientIn):
            return _patient_row(record, self._now)
        if isinstance(record, ProviderIn):
            return {
                "family_name": record.family_name,
                "given_names": record.given_names,
                "title": record.title,
                "specialty": record.specialty,
                "npi": record.npi,
                "active": int(record.active),
            }
        if isinstance(record, LocationIn):
            return {
                "name": record.name,
                "line1": record.line1,
                "city": record.city,
                "region": record.region,
                "postal_code": record.postal_code,
                "country": record.country,
                "phone": record.phone,
                "active": int(record.active),
            }
        if isinstance(record, OrganizationIn):
            return {
                "name": record.name,
                "kind": record.kind,
                "phone": record.phone,
                "line1": record.line1,
                "city": record.city,
                "region": record.region,
                "postal_code": record.postal_code,
                "country": record.country,
                "active": int(record.active),
            }
        patient_id = self.resolve(record.patient)
        if patient_id is None:
            if not last_try and record.patient.key is not None:
                self._deferred.append(record)
            else:
                self.fail(record.location, count_name(record), _missing_patient(record.patient))
            return None
        if isinstance(record, VisitIn):
            return {
                "patient_id": patient_id,
                "provider_id": self.resolve(record.provider),
                "location_id": self.resolve(record.place),
                "start_at": record.start_at,
                "end_at": record.end_at,
                "kind": record.kind,
                "reason": " · ".join(t for t in (record.reason, record.note) if t),
                "status": record.status,
                "created_at": self._now,
            }
        if isinstance(record, ConditionIn):
            return {
                "patient_id": patient_id,
                "system": record.system,
                "code": record.code,
                "display": record.display,
                "onset": record.onset,
                "abated": record.abated,
                "clinical_status": record.clinical_status,
            }
        if isinstance(record, AllergyIn):
            return {
                "patient_id": patient_id,
                "system": record.system,
                "code": record.code,
                "display": record.display,
                "category": record.category,
                "kind": record.kind,
                "criticality": record.criticality,
                "clinical_status": record.clinical_status,
                "reactions": record.reactions,
                "onset": record.onset,
                "abated": record.abated,
            }
        return {
            "patient_id": patient_id,
            "payer_id": self.resolve(record.payer),
            "payer_name": record.payer.display if record.payer else "",
            "member_id": record.member_id,
            "plan": record.plan,
            "relationship": record.relationship,
            "status": record.status,
            "start_on": record.start_on,
            "end_on": record.end_on,
        }

    def _update(
        self,
        table: str,
        row_id: str,
        row: Mapping[str, Any],
        record: Target,
        last: Mapping[str, Any] | None,
    ) -> bool:
        """Apply a changed record, keeping the old values for undo; a patient's timeline
        says what changed (field names only, never the values). False when the stored
        row already holds it all (the source changed only in what Frontdesk keeps not).

        With `last` (what the source said the time before), only the columns the source
        changed since are applied: a correction made at the desk in between stays.
        """
        values = {c: v for c, v in row.items() if c not in _NOT_COMPARED}
        if last is not None:
            values = {c: v for c, v in values.items() if c not in last or last[c] != v}
        # Read even when no column changed in the source: a patient may gain a phone.
        current = self.tx.current(table, row_id, list(values) or ["id"])
        if current is None:  # the row was deleted since: leave it deleted
            return False
        before = {c: v for c, v in current.items() if c in values and v != values[c]}
        changed_words = [_PATIENT_FIELDS.get(c, c) for c in before]
        if isinstance(record, PatientIn):
            changed_words += self._add_patient_parts(row_id, record)
        if before:
            self._keep_for_undo(table, row_id, before)
            self.tx.update(table, row_id, {c: values[c] for c in before})
        if isinstance(record, PatientIn) and changed_words:
            version, updated_at = self.conn.execute(
                "SELECT version, updated_at FROM patient WHERE id = ?", (row_id,)
            ).fetchone()
            self._keep_for_undo(table, row_id, {"version": version, "updated_at": updated_at})
            # A form open on this patient now sees that its copy is stale.
            bump_version(self.tx, row_id)
            self.tx.insert(
                "interaction",
                {
                    "patient_id": row_id,
                    "kind": "note",
                    "subject": "Details updated by an import",
                    "body": "Changed: " + ", ".join(dict.fromkeys(changed_words)) + ".",
                    "occurred_at": self._now,
                    "recorded_by": self._user,
                },
            )
        return bool(before) or bool(changed_words)

    # --- a patient's phones, emails, addresses and identifiers ------------------

    def _write_patient_parts(self, created: list[tuple[str, PatientIn]]) -> None:
        contacts: list[dict[str, Any]] = []
        addresses: list[dict[str, Any]] = []
        identifiers: list[dict[str, Any]] = []
        for patient_id, record in created:
            contacts += _contact_rows(patient_id, record, set())
            addresses += _address_rows(patient_id, record.addresses, 1)
            identifiers += self._identifier_rows(patient_id, record)
            self._review_if_alike(patient_id, record)
        self._insert_rows("contact_point", contacts)
        self._insert_rows("address", addresses)
        self._insert_rows("patient_identifier", identifiers)

    def _identifier_rows(self, patient_id: str, record: PatientIn) -> list[dict[str, Any]]:
        rows = []
        for ident in dict.fromkeys(record.identifiers):
            if ident.kind.upper() not in KEPT_IDENTIFIER_KINDS:
                continue
            owner = self._identifier_owner(ident.system, ident.value)
            if owner is None:
                self._ids[("identifier", (ident.system, ident.value))] = patient_id
                rows.append(
                    {
                        "id": new_id(),
                        "patient_id": patient_id,
                        "system": ident.system,
                        "value": ident.value,
                        "kind": ident.kind,
                    }
                )
            elif owner != patient_id and (patient_id, owner) not in self._reviewed:
                self.note(
                    ImportProblem(
                        record.location,
                        "patients",
                        "an identifier of this patient already belongs to another patient; "
                        "it was left out and both are listed for merge review",
                        dropped=False,
                    )
                )
                self._queue_review(patient_id, owner, "same identifier")
        return rows

    def _identifier_owner(self, system: str, value: str) -> str | None:
        owner = self._ids.get(("identifier", (system, value)))
        if owner is not None or self._empty["patient"]:
            return owner
        hit = self.conn.execute(
            "SELECT patient_id FROM patient_identifier WHERE system = ? AND value = ?",
            (system, value),
        ).fetchone()
        return str(hit[0]) if hit else None

    def _add_patient_parts(self, patient_id: str, record: PatientIn) -> list[str]:
        """On re-import: add phones, emails, addresses and identifiers the patient does not
        have yet. Nothing is removed: a number missing from a newer export may still be
        the one the clinic reaches them on."""
        have = {
            (kind, value)
            for kind, value in self.conn.execute(
                "SELECT kind, value FROM contact_point WHERE patient_id = ?", (patient_id,)
            )
        }
        words: list[str] = []
        contacts = _contact_rows(patient_id, record, have)
        for row in contacts:
            self.tx.insert("contact_point", row)
            words.append("phone" if row["kind"] == "phone" else "email")
        stored = {
            tuple(r)
            for r in self.conn.execute(
                "SELECT line1, city, postal_code FROM address WHERE patient_id = ?", (patient_id,)
            )
        }
        rank = 1 + len(stored)
        new_addresses = [
            a for a in record.addresses if (a.line1, a.city, a.postal_code) not in stored
        ]
        for row in _address_rows(patient_id, new_addresses, rank):
            self.tx.insert("address", row)
            words.append("address")
        for row in self._identifier_rows(patient_id, record):
            self.tx.insert("patient_identifier", row)
            words.append("identifier")
        return words

    # --- merge review -----------------------------------------------------------

    def _review_if_alike(self, patient_id: str, record: PatientIn) -> None:
        person = (
            fold_text(record.family_name),
            fold_text(record.given_names),
            record.birth_date or "",
        )
        if person[2] and (person[0] or person[1]):
            twin = self._batch_people.setdefault(person, patient_id)
            if twin != patient_id:
                self._queue_review(patient_id, twin, "same name and birth date")
        if not self._check_duplicates:
            return
        draft = PatientDraft(
            family_name=record.family_name,
            given_names=record.given_names,
            birth_date=record.birth_date or "",
        )
        for candidate in similar_patients(self.clinic, _with_contacts(draft, record), limit=3):
            if candidate.patient_id not in self._created_patients:
                self._queue_review(patient_id, candidate.patient_id, candidate.reason)

    def _queue_review(self, patient_id: str, candidate_id: str, reason: str) -> None:
        pair = (patient_id, candidate_id)
        if pair in self._reviewed:
            return
        self._reviewed.add(pair)
        self._reviews.append(
            {
                "id": new_id(),
                "patient_id": patient_id,
                "candidate_id": candidate_id,
                "reason": reason,
                "batch_id": self.batch_id,
                "status": "open",
                "created_at": self._now,
            }
        )
        self.reviews += 1

    def _write_reviews(self) -> None:
        reviews, self._reviews = self._reviews, []
        self._insert_rows("merge_review", reviews)


# --- plain helpers -----------------------------------------------------------------


def _patient_row(record: PatientIn, now: str) -> dict[str, Any]:
    return {
        "family_name": record.family_name,
        "given_names": record.given_names,
        "preferred_name": record.preferred_name,
        "birth_date": record.birth_date,
        "sex": record.sex,
        "language": record.language,
        "deceased": int(record.deceased),
        "deceased_date": record.deceased_date,
        "created_at": now,
        "updated_at": now,
    }


def _contact_rows(
    patient_id: str, record: PatientIn, have: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    rows = []
    pairs = [("phone", p.number, p.use) for p in record.phones]
    pairs += [("email", e, "home") for e in record.emails]
    ranks: Counter[str] = Counter(kind for kind, _ in have)
    for kind, value, use in pairs:
        if (kind, value) in have:
            continue
        have.add((kind, value))
        ranks[kind] += 1
        rows.append(
            {
                "id": new_id(),
                "patient_id": patient_id,
                "kind": kind,
                "value": value,
                "use": use,
                "rank": ranks[kind],
                "verified": 0,
            }
        )
    return rows


def _address_rows(
    patient_id: str, addresses: Iterable[Any], first_rank: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id(),
            "patient_id": patient_id,
            "use": a.use,
            "line1": a.line1,
            "line2": a.line2,
            "city": a.city,
            "region": a.region,
            "postal_code": a.postal_code,
            "country": a.country,
            "rank": rank,
        }
        for rank, a in enumerate(addresses, start=first_rank)
    ]


def _with_contacts(draft: PatientDraft, record: PatientIn) -> PatientDraft:
    return PatientDraft(
        family_name=draft.family_name,
        given_names=draft.given_names,
        birth_date=draft.birth_date,
        phones=tuple(PhoneDraft(p.number) for p in record.phones),
        emails=record.emails,
    )


def _missing_patient(link: Link) -> str:
    if link.key is None:
        return "it does not say which patient it belongs to"
    return "its patient is neither in this import nor already in Frontdesk"


@dataclass
class _Pending:
    """Rows of one chunk not written yet (they go in bulk), with their keys and parts."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    patients: list[tuple[str, PatientIn]] = field(default_factory=list)
    last_id: str = ""


_NOT_COMPARED = ("id", "created_at", "updated_at")


def _values_json(row: Mapping[str, Any]) -> str:
    """The columns a record gave, as stored on its source keys for the next re-import."""
    values = {c: v for c, v in row.items() if c not in _NOT_COMPARED}
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


def _own_key(record: Target, keys: list[Key]) -> Key | None:
    """The record's own key in its source (converters put it first), when it is stored:
    a FHIR resource id, a CSV row's id. None for a record without an id of its own."""
    if record.keys and keys and keys[0] == record.keys[0]:
        return keys[0]
    return None


def _source_of(record: Target, keys: list[Key]) -> str:
    own = _own_key(record, keys)
    return own[0] if own is not None else ""


def count_name(record: Target) -> str:
    """The summary's word for a record: its kind, or "appointments" for booked visits."""
    if isinstance(record, VisitIn):
        return record.counted_as
    return KIND_NAMES[type(record)]
