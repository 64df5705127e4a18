"""Privacy hygiene: the desk's typical work leaves no patient's name, phone or email in any
file Frontdesk writes besides the encrypted database and the outputs asked for.

One process does it all, with logging at DEBUG into the clinic's log folder, the temp
folder pointed at a fresh one and a crash report forced: make a demo clinic, search, open
a patient, edit, import a FHIR bundle and a Synthea CSV, plan and send reminders to
loopback SMS and email services, print letters to PDF, export a patient list as CSV, back
up. Then every file under the data folder (logs, crash reports, key file, anything else),
the temp folder and the backup folder is read and searched for every patient's names
(family and given, 4 letters or more, whole words, any case, with and without accents),
phone numbers (E.164, national digits, the form shown on screen) and email addresses.

Excluded, and only these: the encrypted database with its WAL and shared-memory files,
and the outputs the person asked for (the letters PDF, the CSV export) which hold patient
data by design. The backup's database is encrypted and is scanned like everything else.
A finding names the file and the kind of value, never the value.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from app import crash_report, logging_setup
from app.clinic import Clinic, create_clinic
from app.demo.generator import generate
from app.exports.csv_export import export_patient_list
from app.importers.session import plan_import, run_import
from app.letters.layout import address_lines
from app.letters.letter import LetterInput, build_letters
from app.letters.settings import LetterSettings
from app.patients import records
from app.patients.listing import PatientListQuery
from app.patients.search import PatientSearch
from app.patients.validation import display_phone
from app.reminders import planner
from app.reminders.reach import full_name
from app.reminders.rules import install_default_rules
from app.reminders.sender import Channels, send_due
from app.scheduling.appointments import book
from app.users import add_user
from tests.support.emr_samples import samples
from tests.support.fake_smtp import running_smtp
from tests.support.fake_twilio import account_for, running_fake_twilio
from tests.support.sender_world import (
    NOW,
    VISIT_DAY,
    appointment_rule,
    due_messages,
    email_settings_for,
    start_sending,
)
from ui.bus import DataBus
from ui.patient.view import PatientView

PASSPHRASE = "harbour tulips 3141 lakeside"
FHIR_BUNDLE = samples("fhir", "synthea-bundles")
CSV_PATIENTS = samples("csv", "synthea-dbt", "patients.csv")
# The loopback stand-ins for the outside world log what they receive, as a real mail or
# SMS provider would on its own machines; those lines are not Frontdesk's.
OUTSIDE_WORLD_LOGGERS = ("mail.log", "mail.debug", "aiosmtpd")
ENCRYPTED = {"clinic.db", "clinic.db-wal", "clinic.db-shm"}


@dataclass(frozen=True)
class Folders:
    data: Path  # FRONTDESK_HOME: the clinic, its logs and crash reports
    temp: Path
    backups: Path
    outputs: Path  # what the person asked for: letters PDF, CSV export (not scanned)
    inputs: Path  # the EMR files imported (the clinic's own files, not written by us)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Folders]:
    made = Folders(*(tmp_path / n for n in ("data", "temp", "backups", "outputs", "inputs")))
    for folder in (made.temp, made.backups, made.outputs, made.inputs):
        folder.mkdir()
    monkeypatch.setenv("FRONTDESK_HOME", str(made.data))
    monkeypatch.setenv("TMPDIR", str(made.temp))
    monkeypatch.setattr(tempfile, "tempdir", str(made.temp))
    yield made


@pytest.fixture
def debug_log(folders: Folders) -> Iterator[Path]:
    """The desk's own log file, at DEBUG, in the clinic's log folder (as main.py sets it up
    with FRONTDESK_HOME), for the whole test."""
    root = logging.getLogger()
    level = root.level
    before = list(root.handlers)
    folder = logging_setup.configure(logging_setup.log_dir(), level=logging.DEBUG)
    added = [h for h in root.handlers if h not in before]
    for handler in added:
        handler.addFilter(lambda r: not r.name.startswith(OUTSIDE_WORLD_LOGGERS))
    yield folder
    for handler in added:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


# --- what counts as a patient's data -----------------------------------------------------


@dataclass(frozen=True)
class Needle:
    kind: str  # "family name", "given name", "phone", "email"
    pattern: re.Pattern[str]  # every value of that kind, in one alternation
    longest: re.Pattern[str]  # the same, only values of 7 characters or more (see leaks)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _alternation(values: set[str], before: str, after: str, flags: int = 0) -> re.Pattern[str]:
    body = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(f"{before}(?:{body}){after}", flags)


# Whole words: letters on neither side, so "Hoeger" is found in "Buster_Hoeger.json".
_LETTER_EDGES = (r"(?<![^\W\d_])", r"(?![^\W\d_])")
_DIGIT_EDGES = (r"(?<!\d)", r"(?!\d)")


def needles(clinic: Clinic) -> list[Needle]:
    """Every patient's names, phones and emails, in each form they could be written."""
    values: dict[str, set[str]] = {"family name": set(), "given name": set()}
    numbers: set[str] = set()
    shown: set[str] = set()
    emails: set[str] = set()
    rows = clinic.conn.execute("SELECT family_name, given_names, preferred_name FROM patient")
    for family, given, preferred in rows:
        for kind, text in (("family name", family), ("given name", f"{given} {preferred}")):
            for part in re.findall(r"[^\W\d_]+", text or ""):
                values[kind].update(f for f in {part, _fold(part)} if len(f) >= 4)
    region = clinic.settings.region
    for kind, value in clinic.conn.execute("SELECT kind, value FROM contact_point"):
        if kind == "email":
            emails.add(value)
        elif value.startswith("+"):
            numbers.add(value)
            numbers.add(value[2:] if value.startswith("+1") else value[1:])
            shown.add(display_phone(value, region))
    found = []
    for kind, words in values.items():
        found.append(_needle(kind, {w.lower() for w in words}, *_LETTER_EDGES, re.IGNORECASE))
    found.append(_needle("phone", numbers, *_DIGIT_EDGES))
    found.append(_needle("phone", shown, "", ""))
    found.append(_needle("email", emails, "", "", re.IGNORECASE))
    return found


def _needle(kind: str, values: set[str], before: str, after: str, flags: int = 0) -> Needle:
    long = {v for v in values if len(v) >= 7} or {"\x00never\x00"}
    return Needle(
        kind,
        _alternation(values, before, after, flags),
        _alternation(long, before, after, flags),
    )


def scanned_files(folders: Folders) -> list[Path]:
    files = []
    for top in (folders.data, folders.temp, folders.backups):
        for path in sorted(top.rglob("*")):
            if not path.is_file():
                continue
            if top == folders.data and path.name in ENCRYPTED:
                continue  # the encrypted clinic itself
            files.append(path)
    return files


def is_ciphertext(data: bytes) -> bool:
    """An encrypted database: not SQLite's plain header, and bytes spread like noise."""
    if len(data) < 4096 or data.startswith(b"SQLite format 3\x00"):
        return False
    sample = data[:65536]
    return len(set(sample)) > 250 and sample.count(0) < len(sample) / 50


def leaks(files: list[Path], patterns: list[Needle], root: Path) -> list[str]:
    """'file: kind' for each file holding a patient's data (the value is never shown).

    In encrypted files, short names turn up by chance: 4 given letters appear a few
    times in megabytes of noise. There only values of 7 characters or more count, which
    noise does not make (and a plaintext database would show by the hundred)."""
    found = []
    for path in files:
        data = path.read_bytes()
        texts = [data.decode("utf-8", errors="replace")]
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            texts.append(data.decode("utf-16", errors="replace"))
        noise = is_ciphertext(data)
        name = path.relative_to(root).as_posix()
        kinds = set()
        for needle in patterns:
            body = needle.longest if noise else needle.pattern
            if needle.pattern.search(name):  # the file's own name counts too
                kinds.add(f"{needle.kind} in the file's name")
            if any(body.search(t) for t in texts):
                kinds.add(needle.kind)
        if any(k.endswith("file's name") for k in kinds):
            folder = path.parent.relative_to(root).as_posix()
            name = ("" if folder == "." else folder + "/") + f"(name withheld){path.suffix}"
        found.extend(f"{name}: {kind}" for kind in sorted(kinds))
    return found


# --- the flows ---------------------------------------------------------------------------


def some_patients(clinic: Clinic, count: int) -> list[str]:
    rows = clinic.conn.execute(
        "SELECT DISTINCT p.id FROM patient p JOIN address a ON a.patient_id = p.id "
        "WHERE p.deceased = 0 ORDER BY p.id LIMIT ?",
        (count,),
    )
    return [str(r[0]) for r in rows]


def crash_with_a_patient_in_hand(clinic: Clinic, patient_id: str, home: Path) -> Path:
    """A crash in the middle of work on a patient: the name sits in a local variable and
    in the exception's message; the report keeps neither."""
    patient = records.get_patient(clinic, patient_id)
    name_in_hand = full_name(patient)
    try:
        raise RuntimeError(f"could not file the letter for {name_in_hand}")
    except RuntimeError as exc:
        return crash_report.write_crash_report(type(exc), exc, exc.__traceback__, home)


def first_bundle() -> Path:
    bundles = sorted(
        (
            p
            for p in FHIR_BUNDLE.glob("*.json")
            if not p.name.startswith(("practitioner", "hospital"))
        ),
        key=lambda p: p.stat().st_size,
    )
    return bundles[0]


def test_typical_work_leaves_no_patient_data_outside_the_encrypted_clinic(
    qtbot: QtBot, folders: Folders, debug_log: Path
) -> None:
    created = create_clinic(
        "Lakeside Family Practice",
        PASSPHRASE,
        folders.data,
        timezone="America/Chicago",
        use_keyring=False,
    )
    clinic = created.clinic
    try:
        clinic.acting_user_id = add_user(clinic, "Morgan Admin", "administrator").id
        generate(clinic, 120, seed=11)
        _desk_work(qtbot, clinic, folders)
        _imports(clinic, folders)
        _reminders(clinic)
        _outputs(clinic, folders)
        crash = crash_with_a_patient_in_hand(clinic, some_patients(clinic, 1)[0], folders.data)
        assert crash.is_file()
        _backup(clinic, folders)
        patterns = needles(clinic)
    finally:
        clinic.close()
    for handler in logging.getLogger().handlers:
        handler.flush()

    files = scanned_files(folders)
    assert any(p.parent == debug_log for p in files), "the log file was written"
    assert any("crash-reports" in p.parts for p in files), "the crash report was written"
    assert {n.kind for n in patterns} == {"family name", "given name", "phone", "email"}
    found = leaks(files, patterns, folders.data.parent)
    assert found == [], "\n".join(found)


def _desk_work(qtbot: QtBot, clinic: Clinic, folders: Folders) -> None:
    pid = some_patients(clinic, 1)[0]
    patient = records.get_patient(clinic, pid)
    found = PatientSearch(clinic.conn, region=clinic.settings.region).search(patient.family_name)
    assert pid in {r.patient_id for r in found}
    view = PatientView(clinic, DataBus())
    qtbot.addWidget(view)
    view.show()
    view.show_patient(pid)
    assert patient.family_name in view.header.name.text()
    records.update_patient(
        clinic, pid, {"preferred_name": "Sunny"}, expected_version=patient.version
    )
    records.add_phone(clinic, pid, "(312) 555-0199")
    records.add_email(clinic, pid, "sunny.hygiene@example.org")


def _imports(clinic: Clinic, folders: Folders) -> None:
    if not FHIR_BUNDLE.is_dir() or not CSV_PATIENTS.is_file():
        pytest.skip("the EMR sample exports are not on this machine")
    bundle = first_bundle()
    fhir = folders.inputs / "fhir"
    fhir.mkdir()
    shutil.copy(bundle, fhir / bundle.name)  # its name is a patient's, as Synthea writes it
    result = run_import(clinic, plan_import(clinic, [fhir]))
    assert result.counts
    table = folders.inputs / "csv"
    table.mkdir()
    shutil.copy(CSV_PATIENTS, table / CSV_PATIENTS.name)
    plan = plan_import(clinic, [table])
    run_import(clinic, plan)


def _reminders(clinic: Clinic) -> None:
    """The planner over the default rules, then a due appointment reminder for a few demo
    patients with a mobile and an email, sent to loopback services."""
    start_sending(clinic)
    install_default_rules(clinic)  # as the desk does when it first opens a clinic
    planner.plan(clinic, now=datetime.now(UTC))
    reachable = clinic.conn.execute(
        "SELECT p.id FROM patient p WHERE p.deceased = 0 "
        "AND EXISTS (SELECT 1 FROM contact_point c WHERE c.patient_id = p.id AND c.kind = 'email') "
        "AND EXISTS (SELECT 1 FROM contact_point c WHERE c.patient_id = p.id AND c.kind = 'phone') "
        "ORDER BY p.id LIMIT 6"
    ).fetchall()
    zone = ZoneInfo(clinic.settings.timezone)
    visits = []
    for (pid,) in reachable:
        start = datetime.combine(VISIT_DAY, time(9, 0), tzinfo=zone)
        visits.append((str(pid), book(clinic, str(pid), start, start + timedelta(minutes=20)).id))
    due_messages(clinic, appointment_rule(clinic, ("sms",)), visits[:3])
    due_messages(clinic, appointment_rule(clinic, ("email",)), visits[3:])
    with running_smtp() as (mailbox, port), running_fake_twilio() as twilio:
        channels = Channels.from_accounts(email_settings_for(port), account_for(twilio))
        try:
            report = send_due(clinic, channels, now=NOW)
        finally:
            channels.close()
    assert report.sent >= 1, "something went out to the loopback services"
    assert mailbox.envelopes, "an email reached the loopback mail server"


def _outputs(clinic: Clinic, folders: Folders) -> None:
    inputs = []
    for pid in some_patients(clinic, 5):
        patient = records.get_patient(clinic, pid)
        lines = address_lines(patient.addresses[0], full_name(patient), "US")
        inputs.append(LetterInput(lines, "Reminder", "Dear patient,\n\nSee you soon.", "1 March"))
    build_letters(inputs, LetterSettings(), clinic.settings, folders.outputs / "letters.pdf")
    written = export_patient_list(clinic, PatientListQuery(), folders.outputs / "patients.csv")
    assert written >= 100


def _backup(clinic: Clinic, folders: Folders) -> None:
    if importlib.util.find_spec("app.backup.create") is None:
        return  # the backup module is not in this version
    from app.backup.create import back_up

    back_up(clinic, folders.backups)
    assert any(folders.backups.rglob("*")), "the backup was written"


def test_the_scan_finds_a_name_phone_and_email_where_they_are(
    tmp_path: Path, demo_clinic: Clinic
) -> None:
    """The scanner itself: a file with one patient's data is reported by kind only."""
    patterns = needles(demo_clinic)
    row = demo_clinic.conn.execute(
        "SELECT p.family_name, c.value FROM patient p JOIN contact_point c "
        "ON c.patient_id = p.id WHERE c.kind = 'email' AND length(p.family_name) >= 4 LIMIT 1"
    ).fetchone()
    phone = demo_clinic.conn.execute(
        "SELECT value FROM contact_point WHERE kind = 'phone' LIMIT 1"
    ).fetchone()[0]
    shown = display_phone(phone, demo_clinic.settings.region)
    tmp_path = tmp_path / "scanned"
    tmp_path.mkdir()
    (tmp_path / "a.log").write_text(f"opened {row[0].upper()} today\n", "utf-8")
    (tmp_path / "b.tmp").write_text(f"to: <{row[1]}>\n", "utf-8")
    (tmp_path / "c.txt").write_text(f"call {shown} back\n", "utf-8")
    (tmp_path / "d.txt").write_text("nothing here but 2026-11-29 10:14\n", "utf-8")
    (tmp_path / f"letter-{row[0].lower()}.txt").write_text("no data inside\n", "utf-8")
    found = leaks(sorted(tmp_path.iterdir()), patterns, tmp_path)
    kinds: dict[str, set[str]] = {}
    for line in found:
        file, kind = line.split(": ", 1)
        kinds.setdefault(file, set()).add(kind)
    assert "family name" in kinds["a.log"]
    assert "email" in kinds["b.tmp"]  # (its name part may be a patient's name too)
    assert kinds["c.txt"] == {"phone"}
    assert kinds["(name withheld).txt"] == {"family name in the file's name"}
    assert "d.txt" not in kinds
    assert not any(row[0].lower() in f.lower() or row[1] in f or shown in f for f in found)


REPO = Path(__file__).resolve().parents[2]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"}


def _image_names_in_tests() -> list[re.Pattern[str]]:
    """The picture names the tests write: literals ("finder.png") and f-strings
    (f"first-run-{n}.png", any value in the braces)."""
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts = [re.escape(node.value)]
            elif isinstance(node, ast.JoinedStr):
                parts = [
                    re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values
                ]
            else:
                continue
            pattern = "".join(parts).rsplit("/", 1)[-1]
            if pattern.lower().endswith(tuple(re.escape(s) for s in IMAGE_SUFFIXES)):
                found.append(re.compile(pattern))
    return found


def _demo_names() -> set[str]:
    tree = ast.parse((REPO / "app" / "demo" / "names.py").read_text("utf-8"))
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_docs_images_are_made_from_made_up_people_only() -> None:
    """Each picture in docs/ is written by a test (from the demo clinic or the tests' own
    invented patients), or listed in docs/screenshots/README.md as made by hand from the
    demo clinic with the people it shows, every one of them a demo name."""
    docs = REPO / "docs"
    images = sorted(p for p in docs.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    assert images, "the docs have screenshots"
    written_by_tests = _image_names_in_tests()
    manifest = (docs / "screenshots" / "README.md").read_text("utf-8")
    by_hand = dict(re.findall(r"^\| `([^`]+)` \|[^|]*\| ([^|]*) \|$", manifest, re.MULTILINE))
    unexplained = [
        p.relative_to(docs).as_posix()
        for p in images
        if p.name not in by_hand and not any(t.fullmatch(p.name) for t in written_by_tests)
    ]
    assert unexplained == []
    demo = _demo_names()
    for picture, people in by_hand.items():
        assert (docs / "screenshots" / picture).is_file(), f"{picture} is listed but missing"
        if people.strip() == "(no patients)":
            continue
        words = re.findall(r"[^\W\d_]+", people)
        assert words, picture
        assert [w for w in words if w not in demo] == [], f"{picture} shows a non-demo name"
