"""What the benchmark groups share: paths, the cached demo clinic, realistic queries."""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tests.bench._report import log

REPO_ROOT = Path(__file__).resolve().parents[2]
# Gitignored; big clinics are built once and reused while their marker matches.
BENCH_DATA = REPO_ROOT / "bench-data"
PASSPHRASE = "bench passphrase 4711"  # a throw-away clinic of made-up people
# A fixed reference day, so a seed names one clinic and one set of queries for ever.
TODAY = date(2025, 1, 15)
# 2: schema-2 indexes, clinic-local demo schedule; 3: charge_posted; 4: open subject_kind;
# 5: acquisition channel keys; 6: engagement history (reminders sent, surveys, leads, spend);
# 7: schema-7 report indexes, confirmations noted as the reply reader notes them;
# 8: consent index covers the decision
MARKER_FORMAT = 8


def no_keyring() -> None:
    """Benchmarks never touch the OS keyring (and so never ask for a password)."""
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())


# --- the cached demo clinic ------------------------------------------------------------


def _marker(patients: int, seed: int) -> dict[str, Any]:
    from app.store.migrations import latest_version

    return {
        "format": MARKER_FORMAT,
        "schema_version": latest_version(),
        "patients": patients,
        "seed": seed,
        "today": TODAY.isoformat(),
    }


def demo_clinic(patients: int, seed: int) -> Path:
    """The folder of a demo clinic of this size and seed, built on first use.

    It is reused while its marker matches (schema version, seed, size, day): a clinic
    half built when a run was stopped has no marker and is built again.
    """
    home = BENCH_DATA / f"demo-{patients}-seed{seed}"
    marker_file = home / "bench-marker.json"
    wanted = _marker(patients, seed)
    if marker_file.is_file():
        try:
            found = json.loads(marker_file.read_text("utf-8"))
        except ValueError:
            found = None
        if isinstance(found, dict) and {k: found.get(k) for k in wanted} == wanted:
            log(f"reusing {home.relative_to(REPO_ROOT)} (built in {found.get('build_s', '?')} s)")
            return home
        if isinstance(found, dict) and _only_schema_behind(found, wanted):
            # The same made-up people: the migrations bring it up to date in seconds, as
            # they would a clinic's own database, instead of minutes of building.
            _upgrade(home, found, wanted, marker_file)
            return home
        log(f"{home.relative_to(REPO_ROOT)} is stale ({found}); rebuilding")
    _build(home, patients, seed, wanted, marker_file)
    return home


def _only_schema_behind(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    same = all(found.get(k) == v for k, v in wanted.items() if k != "schema_version")
    version = found.get("schema_version")
    return same and isinstance(version, int) and version < wanted["schema_version"]


def _upgrade(home: Path, found: dict[str, Any], wanted: dict[str, Any], marker_file: Path) -> None:
    from app.store import lifecycle

    no_keyring()
    log(f"upgrading {home.relative_to(REPO_ROOT)} from schema {found['schema_version']}")
    started = time.perf_counter()
    opened = lifecycle.unlock(home, passphrase=PASSPHRASE, use_keyring=False)
    try:
        opened.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        opened.conn.close()
    log(f"upgraded in {time.perf_counter() - started:.1f} s")
    marker_file.write_text(json.dumps({**found, **wanted}), "utf-8")


def _build(home: Path, patients: int, seed: int, marker: dict[str, Any], marker_file: Path) -> None:
    from app.clinic import create_clinic
    from app.demo.generator import generate

    no_keyring()
    building = home.with_name(home.name + ".building")
    for stale in (building, home):
        if stale.exists():
            shutil.rmtree(stale)
    building.parent.mkdir(parents=True, exist_ok=True)
    log(f"building a {patients:,}-patient demo clinic (seed {seed}); this takes a while once")
    last = [0.0]

    def progress(done: int, total: int, what: str) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or done == total:
            last[0] = now
            log(f"  {what}: {done:,}/{total:,}")

    created = create_clinic("Bench demo clinic", PASSPHRASE, building, use_keyring=False)
    started = time.perf_counter()
    with created.clinic as clinic:
        generate(clinic, patients, seed, today=TODAY, progress=progress, engagement=True)
        # Everything into the database file before the folder is renamed and reopened:
        # a bench opened right after a build once read the tables empty.
        clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    elapsed = time.perf_counter() - started
    log(f"built in {elapsed:.1f} s")
    building.rename(home)
    marker_file.write_text(json.dumps({**marker, "build_s": round(elapsed, 1)}), "utf-8")


# --- realistic queries ---------------------------------------------------------------

QUERY_KINDS = (
    "family_prefix",  # "Gonz", "schm": the first 3-6 letters of a family name
    "given_family",  # "Maria Gonzalez"
    "family_given",  # "Gonzalez Maria" / "Gonzalez, Maria"
    "typo_swap",  # "Gonzlaez": two neighbouring letters swapped
    "typo_drop",  # "Gonzlez": one letter missing
    "dob_us",  # 3/14/1975
    "dob_dotted",  # 14.03.1975
    "dob_iso",  # 1975-03-14
    "phone_paren",  # (612) 555-1234
    "phone_dotted",  # 612.555.1234
    "phone_last4",  # 1234
    "email",  # maria.gonzalez12@example.com
    "mrn",  # MRN0000123
)


@dataclass(frozen=True)
class Query:
    kind: str
    text: str


@dataclass(frozen=True)
class _Person:
    family: str
    given: str
    birth_date: str | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    identifiers: tuple[str, ...]


def _load_people(conn: Any, rowids: list[int]) -> list[_Person]:
    people = []
    for rowid in rowids:
        row = conn.execute(
            "SELECT id, family_name, given_names, birth_date FROM patient WHERE rowid = ?",
            (rowid,),
        ).fetchone()
        if row is None:
            continue
        contacts = conn.execute(
            "SELECT kind, value FROM contact_point WHERE patient_id = ? ORDER BY rank, id",
            (row[0],),
        ).fetchall()
        identifiers = conn.execute(
            "SELECT value FROM patient_identifier WHERE patient_id = ? ORDER BY id", (row[0],)
        ).fetchall()
        people.append(
            _Person(
                family=row[1],
                given=row[2],
                birth_date=row[3],
                phones=tuple(v for k, v in contacts if k == "phone"),
                emails=tuple(v for k, v in contacts if k == "email"),
                identifiers=tuple(v for (v,) in identifiers),
            )
        )
    return people


def _maybe_lower(rng: random.Random, text: str) -> str:
    return text.lower() if rng.random() < 0.3 else text


def _typo(rng: random.Random, word: str, *, swap: bool) -> str | None:
    if len(word) < 4:
        return None
    if swap:
        spots = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
        if not spots:
            return None
        i = rng.choice(spots)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    i = rng.randrange(1, len(word))
    return word[:i] + word[i + 1 :]


def _query_for(rng: random.Random, kind: str, person: _Person) -> str | None:
    family, given = person.family, person.given.split()[0] if person.given else ""
    if kind == "family_prefix":
        letters = "".join(ch for ch in family if ch.isalpha())
        if len(letters) < 3:
            return None
        return _maybe_lower(rng, family[: rng.randint(3, min(6, len(family)))])
    if kind == "given_family":
        return _maybe_lower(rng, f"{given} {family}") if given else None
    if kind == "family_given":
        sep = ", " if rng.random() < 0.4 else " "
        return _maybe_lower(rng, f"{family}{sep}{given}") if given else None
    if kind in ("typo_swap", "typo_drop"):
        typo = _typo(rng, family, swap=kind == "typo_swap")
        if typo is None:
            return None
        # Half the time only the (misspelt) family name, half with the given name too.
        return f"{given} {typo}" if given and rng.random() < 0.5 else typo
    if kind.startswith("dob_"):
        if not person.birth_date or len(person.birth_date) != 10:
            return None
        born = date.fromisoformat(person.birth_date)
        if kind == "dob_us":
            return f"{born.month}/{born.day}/{born.year}"
        if kind == "dob_dotted":
            return f"{born.day:02d}.{born.month:02d}.{born.year}"
        return born.isoformat()
    if kind.startswith("phone_"):
        national = [p[2:] for p in person.phones if p.startswith("+1") and len(p) == 12]
        if not national:
            return None
        n = national[0]
        if kind == "phone_paren":
            return f"({n[:3]}) {n[3:6]}-{n[6:]}"
        if kind == "phone_dotted":
            return f"{n[:3]}.{n[3:6]}.{n[6:]}"
        return n[-4:]
    if kind == "email":
        return person.emails[0] if person.emails else None
    if kind == "mrn":
        return person.identifiers[0] if person.identifiers else None
    raise ValueError(kind)


def make_queries(conn: Any, count: int = 1000, seed: int = 20250115) -> list[Query]:
    """`count` queries as a receptionist types them, drawn from the clinic's own data.

    The kinds take turns, so every kind has the same share; each query picks a random
    patient who can answer it (children have no phone, for example). The same data
    and seed give the same queries.
    """
    rng = random.Random(seed)
    total = int(conn.execute("SELECT max(rowid) FROM patient").fetchone()[0] or 0)
    if total == 0:
        raise ValueError("the clinic has no patients to make queries from")
    pool = _load_people(conn, rng.sample(range(1, total + 1), min(total, count * 3)))
    queries: list[Query] = []
    cursor = 0
    while len(queries) < count:
        kind = QUERY_KINDS[len(queries) % len(QUERY_KINDS)]
        for _ in range(len(pool)):
            person = pool[cursor % len(pool)]
            cursor += 1
            text = _query_for(rng, kind, person)
            if text:
                queries.append(Query(kind, text))
                break
        else:
            raise ValueError(f"no patient can answer a {kind} query")
    return queries


def save_queries(queries: list[Query], path: Path) -> None:
    path.write_text(json.dumps([[q.kind, q.text] for q in queries], ensure_ascii=False), "utf-8")


def load_queries(path: Path) -> list[Query]:
    return [Query(kind, text) for kind, text in json.loads(path.read_text("utf-8"))]
