"""Where new patients come from: channels, enquiries (leads), spend per channel, and reports.

Definitions the reports share (the same for every figure, so they add up):

* A patient's **start** is the moment they became a patient of this clinic: their
  FIRST fulfilled visit when they have one, else the day their record was created.
  Not simply `created_at`: an import creates every record on the import day, so a
  practice that moved to Frontdesk would otherwise see years of patients "arrive" in
  one month; and a record typed in before the first visit (a booking by phone) is
  not yet a patient won. Patients merged into another record are not counted (their
  survivor is).
* A **month** is a calendar month in the clinic's time zone; "2025-03" runs from local
  midnight on 1 March to local midnight on 1 April, whatever the UTC offset did.
* A patient's **source** is `patient.acquisition_source` as stored: a channel key, or
  older free text (labelled as written), or "" (labelled "Not recorded").
* A lead counts in the month it was received. It **booked** when it ever reached booked
  or first visit, **came** (first visit) when it reached first visit or its patient has a
  fulfilled visit (so converting a lead early and never moving it again still counts),
  and is **lost** when that is its status now. The rate is came / leads.
* **Revenue in the first year** is the sum of payments received from the day of the
  patient's start (UTC date) to the same date 12 months later, exclusive; patients
  whose year is not over yet are counted and reported as such, not left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.clinic import Clinic, put_setting
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients.records import bump_version, check_version
from app.patients.validation import normalize_email, normalize_phone
from app.store.changes import Changes, Created
from app.store.writer import Tx, utc_now, utc_text

SOURCES_SETTING = "growth.sources"
LEAD_STATUSES = ("new", "contacted", "booked", "first_visit", "lost")
# The pipeline in order; a move goes forward along it (skipping is fine: someone who
# books on their first call goes from new straight to booked), never back.
_PIPELINE = ("new", "contacted", "booked", "first_visit")
_OPEN = frozenset({"new", "contacted", "booked"})
NOT_RECORDED = "Not recorded"
MAX_SPEND_CENTS = 100_000_000  # a million a month on one channel is a typing slip
_MAX_MONTHS = 240
_MAX_LABEL = 60
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Source:
    """One answer to "How did you hear about us?". The key is stored on patients, leads
    and spend and never changes; the label may be renamed; a retired source is no longer
    offered but keeps its label for the patients who came through it."""

    key: str
    label: str
    active: bool = True


DEFAULT_SOURCES = (
    Source("search", "Internet search"),
    Source("maps", "Maps (Google, Apple)"),
    Source("patient_referral", "Referred by a patient"),
    Source("physician_referral", "Referred by a doctor"),
    Source("insurance_directory", "Insurance directory"),
    Source("social", "Social media"),
    Source("walk_in", "Walked in"),
    Source("website", "Clinic website"),
    Source("event", "Community event"),
    Source("other", "Other"),
)


@dataclass(frozen=True)
class LeadDraft:
    """An enquiry as the receptionist types it."""

    family_name: str = ""
    given_names: str = ""
    phone: str = ""
    email: str = ""
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Lead:
    id: str
    family_name: str
    given_names: str
    phone: str
    email: str
    source: str
    status: str
    note: str
    patient_id: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Spend:
    source: str
    month: str
    cents: int


@dataclass(frozen=True)
class NewPatients:
    month: str
    source: str
    label: str
    count: int


@dataclass(frozen=True)
class LeadConversion:
    source: str
    label: str
    leads: int
    booked: int
    first_visit: int
    lost: int

    @property
    def rate(self) -> float | None:
        """Leads that came for a first visit, as a fraction of all leads."""
        return self.first_visit / self.leads if self.leads else None


@dataclass(frozen=True)
class CostPerPatient:
    month: str
    source: str
    label: str
    spend_cents: int
    new_patients: int

    @property
    def cost_cents(self) -> int | None:
        """Spend per new patient, rounded to the cent; None when nobody came."""
        if not self.new_patients:
            return None
        return (self.spend_cents + self.new_patients // 2) // self.new_patients


@dataclass(frozen=True)
class FirstYearRevenue:
    source: str
    label: str
    patients: int
    payments_cents: int
    still_in_first_year: int  # patients whose 12 months are not over: their figure grows

    @property
    def average_cents(self) -> int | None:
        if not self.patients:
            return None
        return (self.payments_cents + self.patients // 2) // self.patients


# --- channels ------------------------------------------------------------------------


def sources(clinic: Clinic) -> list[Source]:
    """The clinic's channels, in the order the desk offers them (retired ones included)."""
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (SOURCES_SETTING,)
    ).fetchone()
    if row is None:
        return list(DEFAULT_SOURCES)
    return [
        Source(str(item["key"]), str(item["label"]), bool(item.get("active", True)))
        for item in json.loads(row[0])
    ]


def active_sources(clinic: Clinic) -> list[Source]:
    return [s for s in sources(clinic) if s.active]


def labels(clinic: Clinic) -> dict[str, str]:
    """Key → label for every channel ever configured, plus "" → "Not recorded"."""
    found = {s.key: s.label for s in sources(clinic)}
    found[""] = NOT_RECORDED
    return found


def _label(names: dict[str, str], key: str) -> str:
    # Older records hold free text ("Google search"): shown as written.
    return names.get(key, key)


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")[:40] or "source"


def save_sources(clinic: Clinic, new: Sequence[Source]) -> Changes:
    """Save the channel list: add (a Source with key "" gets one made from its label),
    rename (same key, new label), retire (active=False), reorder.

    A channel that patients, leads or spend already use cannot be dropped from the list,
    only retired: its label is what their reports show.
    """
    current = sources(clinic)
    taken = {s.key for s in current} | {s.key for s in new if s.key}
    cleaned: list[Source] = []
    seen_keys: set[str] = set()
    seen_labels: set[str] = set()
    for item in new:
        label = " ".join(item.label.split())
        if not label:
            raise InvalidInputError("Every channel needs a name.")
        if len(label) > _MAX_LABEL:
            raise InvalidInputError(f"A channel name of at most {_MAX_LABEL} characters, please.")
        if label.casefold() in seen_labels:
            raise InvalidInputError("Two channels have the same name; give each its own.")
        key = item.key.strip()
        if not key:
            key = base = _slug(label)
            n = 2
            while key in taken or key in seen_keys:
                key, n = f"{base}_{n}", n + 1
            taken.add(key)
        if key in seen_keys:
            raise InvalidInputError("A channel is listed twice.")
        seen_keys.add(key)
        seen_labels.add(label.casefold())
        cleaned.append(Source(key, label, bool(item.active)))
    if not any(s.active for s in cleaned):
        raise InvalidInputError("Keep at least one channel to choose from.")
    dropped = [s.key for s in current if s.key not in seen_keys]
    if dropped and _in_use(clinic, dropped):
        raise InvalidInputError(
            "A channel that patients, enquiries or spend already use cannot be removed; "
            "retire it instead, so their reports keep its name."
        )
    encoded = json.dumps(
        [{"key": s.key, "label": s.label, "active": s.active} for s in cleaned], ensure_ascii=False
    )
    with clinic.store.write() as tx:
        put_setting(tx, SOURCES_SETTING, encoded)
    return tx.changes


def _in_use(clinic: Clinic, keys: Sequence[str]) -> bool:
    encoded = json.dumps(list(keys))
    row = clinic.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM patient WHERE acquisition_source IN "
        "  (SELECT value FROM json_each(:k)))"
        " OR EXISTS (SELECT 1 FROM lead WHERE source IN (SELECT value FROM json_each(:k)))"
        " OR EXISTS (SELECT 1 FROM channel_spend WHERE source IN "
        "  (SELECT value FROM json_each(:k)))",
        {"k": encoded},
    ).fetchone()
    return bool(row[0])


def _check_new_source(clinic: Clinic, key: str) -> str:
    """A source chosen now: "" (not asked) or an active channel."""
    key = key.strip()
    if key and key not in {s.key for s in active_sources(clinic)}:
        raise InvalidInputError("Choose how they heard about us from the list.")
    return key


def set_patient_source(clinic: Clinic, patient_id: str, key: str) -> Changes:
    """Record how a patient heard about the clinic ("" clears it). Keeping a retired
    channel the patient already has is allowed; choosing one anew is not."""
    key = key.strip()
    row = clinic.conn.execute(
        "SELECT acquisition_source FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That patient is no longer on file.")
    if key == row[0]:
        return Changes()
    _check_new_source(clinic, key)
    with clinic.store.write() as tx:
        check_version(tx, patient_id, None)
        tx.update("patient", patient_id, {"acquisition_source": key})
        bump_version(tx, patient_id)
    return tx.changes


# --- leads ---------------------------------------------------------------------------

_LEAD_COLUMNS = (
    "id, family_name, given_names, phone, email, source, status, note, patient_id, "
    "created_at, updated_at"
)


def _stamp(at: datetime | None) -> str:
    if at is None:
        return utc_now()
    if at.tzinfo is None:
        raise InvalidInputError("A time needs its time zone.")
    return utc_text(at)


def add_lead(clinic: Clinic, draft: LeadDraft, *, at: datetime | None = None) -> Created:
    """Record an enquiry; `at` is when it came in (for one written down after the fact)."""
    family = " ".join(draft.family_name.split())
    given = " ".join(draft.given_names.split())
    if not family and not given:
        raise InvalidInputError("An enquiry needs at least a name.")
    phone = normalize_phone(draft.phone, clinic.settings.region) if draft.phone.strip() else ""
    email = normalize_email(draft.email) if draft.email.strip() else ""
    if not phone and not email:
        raise InvalidInputError("An enquiry needs a phone number or an email to call back.")
    source = _check_new_source(clinic, draft.source)
    when = _stamp(at)
    with clinic.store.write() as tx:
        lead_id = tx.insert(
            "lead",
            {
                "family_name": family,
                "given_names": given,
                "phone": phone,
                "email": email,
                "source": source,
                "status": "new",
                "note": draft.note.strip(),
                "created_at": when,
                "updated_at": when,
            },
        )
        _record_status(tx, lead_id, "new", "", when)
    return Created(lead_id, tx.changes)


def get_lead(clinic: Clinic, lead_id: str) -> Lead:
    row = clinic.conn.execute(
        f"SELECT {_LEAD_COLUMNS} FROM lead WHERE id = ?",  # noqa: S608 - constant list
        (lead_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That enquiry no longer exists.")
    return Lead(*row)


def _record_status(tx: Tx, lead_id: str, status: str, note: str, when: str) -> None:
    tx.insert(
        "lead_status",
        {"lead_id": lead_id, "status": status, "changed_at": when, "note": note.strip()},
    )


def _check_move(current: str, status: str) -> None:
    if status not in LEAD_STATUSES:
        raise InvalidInputError(f"Unknown enquiry status; use one of {', '.join(LEAD_STATUSES)}.")
    if current == "first_visit":
        raise InvalidInputError("This enquiry already came for a first visit; it is closed.")
    if current == "lost":
        if status != "contacted":
            raise InvalidInputError("A lost enquiry can only be reopened as contacted.")
        return
    if status == "lost":
        return
    if _PIPELINE.index(status) < _PIPELINE.index(current):
        raise InvalidInputError(
            "An enquiry moves forward only; mark it lost and reopen it to start again."
        )


def move_lead(
    clinic: Clinic, lead_id: str, status: str, note: str = "", *, at: datetime | None = None
) -> Changes:
    """Move an enquiry along the pipeline; every move is kept in its history."""
    current = get_lead(clinic, lead_id)
    if current.status == status:
        return Changes()
    _check_move(current.status, status)
    when = _stamp(at)
    with clinic.store.write() as tx:
        tx.update("lead", lead_id, {"status": status, "updated_at": when})
        _record_status(tx, lead_id, status, note, when)
    return tx.changes


def convert_lead(
    clinic: Clinic, lead_id: str, patient_id: str, *, at: datetime | None = None
) -> Changes:
    """Link an enquiry to the patient it became.

    The lead's channel goes onto the patient when the patient has none (the desk asked
    once, on the phone). The status becomes first visit when the patient already has a
    fulfilled visit, else booked; an enquiry never moves back by being converted.
    """
    lead = get_lead(clinic, lead_id)
    if lead.patient_id and lead.patient_id != patient_id:
        raise InvalidInputError("This enquiry is already linked to another patient.")
    patient = clinic.conn.execute(
        "SELECT acquisition_source, merged_into FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    if patient is None:
        raise RecordNotFoundError("That patient is no longer on file.")
    if patient[1]:
        raise InvalidInputError("That record was merged into another; choose the one kept.")
    came = clinic.conn.execute(
        "SELECT EXISTS (SELECT 1 FROM appointment WHERE patient_id = ? AND status = 'fulfilled')",
        (patient_id,),
    ).fetchone()[0]
    target = "first_visit" if came else "booked"
    status = lead.status
    if status == "lost" or (
        status in _PIPELINE and _PIPELINE.index(target) > _PIPELINE.index(status)
    ):
        status = target
    when = _stamp(at)
    with clinic.store.write() as tx:
        tx.update("lead", lead_id, {"patient_id": patient_id, "status": status, "updated_at": when})
        if status != lead.status:
            _record_status(tx, lead_id, status, "became a patient", when)
        if not patient[0] and lead.source:
            tx.update("patient", patient_id, {"acquisition_source": lead.source})
            bump_version(tx, patient_id)
    return tx.changes


def leads(
    clinic: Clinic, *, statuses: Iterable[str] = (), limit: int = 100, offset: int = 0
) -> list[Lead]:
    """Enquiries newest first, optionally only some statuses."""
    wanted = list(statuses)
    unknown = [s for s in wanted if s not in LEAD_STATUSES]
    if unknown:
        raise InvalidInputError(f"Unknown enquiry status; use one of {', '.join(LEAD_STATUSES)}.")
    rows = clinic.conn.execute(
        f"SELECT {_LEAD_COLUMNS} FROM lead "  # noqa: S608 - constant list
        "WHERE :all OR status IN (SELECT value FROM json_each(:statuses)) "
        "ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset",
        {
            "all": not wanted,
            "statuses": json.dumps(wanted),
            "limit": max(0, limit),
            "offset": max(0, offset),
        },
    ).fetchall()
    return [Lead(*row) for row in rows]


def pipeline_counts(clinic: Clinic) -> dict[str, int]:
    """How many enquiries stand at each status now (every status present, zeros too)."""
    counts = dict.fromkeys(LEAD_STATUSES, 0)
    for status, count in clinic.conn.execute(
        "SELECT status, count(*) FROM lead GROUP BY status"
    ).fetchall():
        counts[str(status)] = int(count)
    return counts


# --- spend ---------------------------------------------------------------------------


def _check_month(text: str) -> tuple[int, int]:
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1900:
        raise InvalidInputError("Give the month as year and month, for example 2025-03.")
    return int(match[1]), int(match[2])


def _month_text(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def set_spend(clinic: Clinic, source: str, month: str, cents: int) -> Changes:
    """What the clinic spent on a channel in a month; entering it again replaces it."""
    if source not in {s.key for s in sources(clinic)}:
        raise InvalidInputError("Choose the channel from the list.")
    month = _month_text(*_check_month(month))
    if cents < 0:
        raise InvalidInputError("Spend cannot be below zero.")
    if cents > MAX_SPEND_CENTS:
        raise InvalidInputError("The amount is too large; check the digits.")
    row = clinic.conn.execute(
        "SELECT id FROM channel_spend WHERE source = ? AND month = ?", (source, month)
    ).fetchone()
    with clinic.store.write() as tx:
        if row is None:
            tx.insert("channel_spend", {"source": source, "month": month, "amount_cents": cents})
        else:
            tx.update("channel_spend", str(row[0]), {"amount_cents": cents})
    return tx.changes


def spend(clinic: Clinic, since_month: str, until_month: str) -> list[Spend]:
    """Spend entered for the months from `since_month` to `until_month`, both included."""
    first, last = _months(since_month, until_month)
    rows = clinic.conn.execute(
        "SELECT source, month, amount_cents FROM channel_spend "
        "WHERE month BETWEEN ? AND ? ORDER BY month, source",
        (first, last),
    ).fetchall()
    return [Spend(str(s), str(m), int(c)) for s, m, c in rows]


# --- reports -------------------------------------------------------------------------


def _months(first_month: str, last_month: str) -> tuple[str, str]:
    first = _check_month(first_month)
    last = _check_month(last_month)
    if last < first:
        raise InvalidInputError("The last month comes before the first.")
    if (last[0] - first[0]) * 12 + last[1] - first[1] >= _MAX_MONTHS:
        raise InvalidInputError(f"Choose at most {_MAX_MONTHS // 12} years at a time.")
    return _month_text(*first), _month_text(*last)


def _month_bounds(clinic: Clinic, first_month: str, last_month: str) -> list[tuple[str, str, str]]:
    """(month, UTC start, UTC end) of each local calendar month; SQLite knows no time
    zones, so the reports join on these bounds instead of converting every row."""
    first, last = _months(first_month, last_month)
    zone = ZoneInfo(clinic.settings.timezone)
    year, month = int(first[:4]), int(first[5:])
    bounds = []
    while _month_text(year, month) <= last:
        nxt = (year + month // 12, month % 12 + 1)
        lo = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
        hi = datetime(nxt[0], nxt[1], 1, tzinfo=zone).astimezone(UTC)
        bounds.append((_month_text(year, month), utc_text(lo), utc_text(hi)))
        year, month = nxt
    return bounds


def _params(clinic: Clinic, first_month: str, last_month: str) -> dict[str, str]:
    bounds = _month_bounds(clinic, first_month, last_month)
    return {"months": json.dumps(bounds), "lo": bounds[0][1], "hi": bounds[-1][2]}


_MONTHS_CTE = (
    "months(month, lo, hi) AS MATERIALIZED (SELECT value ->> 0, value ->> 1, value ->> 2 "
    "FROM json_each(:months))"
)
# Patients whose start (see the module docstring) falls in [:lo, :hi): one pass over
# the patients, each with one seek for its first fulfilled visit on the covering index
# appointment(patient_id, status, start_at). The inner LIMIT -1 keeps SQLite from
# flattening the subquery, which would copy the seek into each range test (3 per row).
# MATERIALIZED so the month join below runs over the started few, not inside the scan.
# Tried and slower on the 100k bench clinic: a GROUP BY over all fulfilled visits
# joined back to the patients (it needs an automatic index), and a range over visits
# by (status, start_at) with a NOT EXISTS for earlier ones (a table row per visit).
_STARTS_CTE = (
    "starts(patient_id, source, start_at) AS MATERIALIZED ("
    " SELECT id, source, started FROM ("
    "  SELECT p.id, p.acquisition_source AS source, coalesce((SELECT min(a.start_at)"
    "   FROM appointment a WHERE a.patient_id = p.id AND a.status = 'fulfilled'),"
    "   p.created_at) AS started"
    "  FROM patient p WHERE p.merged_into IS NULL LIMIT -1)"
    " WHERE started >= :lo AND started < :hi)"
)
_NEW_BY_MONTH = (
    f"WITH {_MONTHS_CTE}, {_STARTS_CTE} "  # noqa: S608 - constant parts
    "SELECT m.month, s.source, count(*) FROM starts s "
    "CROSS JOIN months m ON s.start_at >= m.lo AND s.start_at < m.hi "
    "GROUP BY m.month, s.source ORDER BY m.month, s.source"
)


def new_patients_by_source(clinic: Clinic, first_month: str, last_month: str) -> list[NewPatients]:
    """New patients per month and channel (months and channels with none are left out)."""
    names = labels(clinic)
    rows = clinic.conn.execute(_NEW_BY_MONTH, _params(clinic, first_month, last_month))
    return [NewPatients(m, s, _label(names, s), int(c)) for m, s, c in rows.fetchall()]


_LEAD_CONVERSION = (
    "SELECT l.source, count(*),"
    " sum(EXISTS (SELECT 1 FROM lead_status h WHERE h.lead_id = l.id"
    "   AND h.status IN ('booked', 'first_visit')) OR l.status IN ('booked', 'first_visit')),"
    " sum(l.status = 'first_visit' OR (l.patient_id IS NOT NULL AND EXISTS (SELECT 1"
    "   FROM appointment a WHERE a.patient_id = l.patient_id AND a.status = 'fulfilled'))),"
    " sum(l.status = 'lost') "
    "FROM lead l WHERE l.created_at >= :lo AND l.created_at < :hi "
    "GROUP BY l.source ORDER BY l.source"
)


def lead_conversion(clinic: Clinic, first_month: str, last_month: str) -> list[LeadConversion]:
    """Per channel, the enquiries received in the months and how far they got."""
    names = labels(clinic)
    params = _params(clinic, first_month, last_month)
    rows = clinic.conn.execute(_LEAD_CONVERSION, {"lo": params["lo"], "hi": params["hi"]})
    return [
        LeadConversion(str(s), _label(names, s), int(n), int(b), int(f), int(lost))
        for s, n, b, f, lost in rows.fetchall()
    ]


_COST = (
    f"WITH {_MONTHS_CTE}, {_STARTS_CTE}, "  # noqa: S608 - constant parts
    "started(month, source, n) AS (SELECT m.month, s.source, count(*) FROM starts s"
    "  CROSS JOIN months m ON s.start_at >= m.lo AND s.start_at < m.hi GROUP BY m.month, s.source),"
    "spent(month, source, cents) AS (SELECT month, source, amount_cents FROM channel_spend"
    "  WHERE month IN (SELECT month FROM months)) "
    "SELECT month, source, sum(cents), sum(n) FROM ("
    " SELECT month, source, cents, 0 AS n FROM spent"
    " UNION ALL SELECT month, source, 0, n FROM started) "
    "GROUP BY month, source ORDER BY month, source"
)


def cost_per_new_patient(clinic: Clinic, first_month: str, last_month: str) -> list[CostPerPatient]:
    """Per month and channel: spend, new patients and spend per new patient. A channel
    with spend and nobody new is listed (money spent for nothing is the point)."""
    names = labels(clinic)
    rows = clinic.conn.execute(_COST, _params(clinic, first_month, last_month))
    return [
        CostPerPatient(m, s, _label(names, s), int(c), int(n)) for m, s, c, n in rows.fetchall()
    ]


_FIRST_YEAR = (
    f"WITH {_STARTS_CTE} "  # noqa: S608 - constant parts
    "SELECT s.source, count(*),"
    " coalesce(sum((SELECT sum(y.amount_cents) FROM payment y WHERE y.patient_id = s.patient_id"
    "   AND y.received_at >= date(s.start_at)"
    "   AND y.received_at < date(s.start_at, '+12 months'))), 0),"
    " sum(date(s.start_at, '+12 months') > :today) "
    "FROM starts s GROUP BY s.source ORDER BY s.source"
)


def revenue_in_first_year(
    clinic: Clinic, first_month: str, last_month: str, *, today: str | None = None
) -> list[FirstYearRevenue]:
    """Per channel: patients who started in the months, and what they paid in their
    first 12 months. `today` (ISO date, UTC) decides whose year is still running."""
    names = labels(clinic)
    bounds = _params(clinic, first_month, last_month)
    params = {"lo": bounds["lo"], "hi": bounds["hi"], "today": today or utc_now()[:10]}
    rows = clinic.conn.execute(_FIRST_YEAR, params)
    return [
        FirstYearRevenue(str(s), _label(names, s), int(n), int(c), int(open_))
        for s, n, c, open_ in rows.fetchall()
    ]
