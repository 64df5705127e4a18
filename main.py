"""Frontdesk entry point: the desktop app by default, subcommands for headless work."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import FrontdeskError

if TYPE_CHECKING:  # the heavy imports wait until a command needs them
    from app.clinic import Clinic
    from app.importers.session import ImportResult
    from app.store.lifecycle import OpenDatabase

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontdesk", description="Frontdesk: the clinic's patient-relationship desk."
    )
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="create a throw-away encrypted clinic, open the window offscreen, search, exit",
    )
    sub = parser.add_subparsers(dest="command")
    init = sub.add_parser(
        "init", help="create an empty clinic (passphrase from FRONTDESK_PASSPHRASE)"
    )
    init.add_argument("--clinic", required=True, help="the clinic's name")
    init.add_argument("--timezone", default="UTC")
    init.add_argument("--region", default="US", help="country for phone numbers without +")
    init.add_argument("--kit", type=Path, help="also write the Emergency Kit PDF to this file")
    init.add_argument(
        "--admin",
        metavar="NAME",
        help="the first administrator (calls and consents are recorded in their name)",
    )
    demo = sub.add_parser(
        "demo", help="fill the clinic with made-up patients (creates it if needed)"
    )
    demo.add_argument("--patients", type=int, default=500)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--clinic", default="Lakeside Family Practice (demo)")
    search = sub.add_parser("search", help="find patients as the search box does")
    search.add_argument("term")
    search.add_argument("--json", action="store_true")
    search.add_argument("--limit", type=int, default=20)
    info = sub.add_parser("info", help="version, data folder, schema and patient count")
    info.add_argument("--json", action="store_true")
    sub.add_parser("passphrase", help="change the clinic passphrase (asks for old and new)")
    unlock = sub.add_parser(
        "unlock",
        help="unlock with the recovery key and set a new passphrase (forgotten passphrase)",
    )
    unlock.add_argument("--recovery-key", action="store_true", required=True)
    imp = sub.add_parser(
        "import",
        help="import EMR exports: FHIR (.json, .ndjson, .zip, folders) and CSV files",
    )
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument(
        "--profile",
        metavar="NAME",
        help="the column mapping for CSV files: a saved mapping's name, a Synthea table "
        "name, or a mapping .json file",
    )
    imp.add_argument(
        "--dates",
        choices=["iso", "us", "eu", "eu-dot"],
        help="how the CSV dates are written when they could be read either way",
    )
    imp.add_argument("--dry-run", action="store_true", help="check everything, save nothing")
    imp.add_argument("--json", action="store_true", help="print one JSON object")
    imports = sub.add_parser("imports", help="list past imports (newest first)")
    imports.add_argument("--json", action="store_true")
    undo = sub.add_parser("undo-import", help="take back an import (see `imports` for its id)")
    undo.add_argument("batch_id")
    kit = sub.add_parser(
        "new-recovery-key",
        help="replace a lost Emergency Kit: make a new recovery key (the old one stops working)",
    )
    kit.add_argument("--kit", type=Path, required=True, help="write the new Emergency Kit PDF here")
    send_due = sub.add_parser(
        "send-due",
        help="one reminder pass for a scheduled task: plan, and send what is due when this "
        "computer is the clinic's sender; with sync on, sync before and after (exit 1 when "
        "a mail or SMS account or sync had a problem, 2 when the clinic cannot be opened)",
    )
    send_due.add_argument(
        "--plan-only", action="store_true", help="plan the messages, send nothing"
    )
    research = sub.add_parser(
        "research-export",
        help="a de-identified research export (HIPAA Safe Harbor): CSV files, a data "
        "dictionary and a small-cell report in a new folder",
    )
    who = research.add_mutually_exclusive_group(required=True)
    who.add_argument("--segment", metavar="NAME", help="a saved group of patients, by name")
    who.add_argument("--everyone", action="store_true", help="every patient")
    research.add_argument(
        "--fields",
        required=True,
        help="comma-separated field names (see docs/security/research.md), or 'all'",
    )
    research.add_argument("--out", type=Path, required=True, metavar="FOLDER")
    research.add_argument("--k", type=int, default=11, help="small-group size (default 11)")
    research.add_argument(
        "--suppress", action="store_true", help="hide the values of groups under k"
    )
    backup = sub.add_parser(
        "backup",
        help="make an encrypted backup now (for a scheduled task), or `backup verify FILE`",
    )
    backup.add_argument("action", nargs="?", choices=["verify"], help="check a backup")
    backup.add_argument("file", nargs="?", type=Path, help="the backup to check (.fdbackup)")
    backup.add_argument(
        "--to", type=Path, metavar="FOLDER", help="where to (default: the folder in Settings)"
    )
    restore = sub.add_parser(
        "restore",
        help="restore a backup (checked first; the current clinic files are kept in "
        "before-restore-<time>); Frontdesk must be closed",
    )
    restore.add_argument("file", type=Path, help="the backup (.fdbackup)")
    restore.add_argument(
        "--recovery-key",
        action="store_true",
        help="open the backup with the Emergency Kit's recovery key (asked for)",
    )
    rekey = sub.add_parser(
        "rekey",
        help="replace the database key (administrators; a backup is made first; a new "
        "Emergency Kit is written and the old one stops working); Frontdesk must be closed",
    )
    rekey.add_argument("--kit", type=Path, required=True, help="write the new Emergency Kit here")
    rekey.add_argument(
        "--backup-to", type=Path, metavar="FOLDER", help="where the backup before goes"
    )
    audit = sub.add_parser("audit", help="check the audit log's chain, or save it as CSV")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_sub.add_parser(
        "verify", help="check every entry; exit 1 and name the first broken link if any"
    )
    audit_verify.add_argument("--deep", action="store_true", help="also parse every entry")
    audit_export = audit_sub.add_parser(
        "export", help="save entries as CSV (patients by id only); the export is recorded"
    )
    audit_export.add_argument("--out", type=Path, required=True, metavar="FILE.csv")
    audit_export.add_argument("--from", dest="first", default="", metavar="YYYY-MM-DD")
    audit_export.add_argument("--to", dest="last", default="", metavar="YYYY-MM-DD")
    audit_export.add_argument("--user", default="", help="a person's name or id")
    audit_export.add_argument(
        "--action", default="", help="kinds, comma-separated (patient.view,print)"
    )
    audit_export.add_argument("--patient", default="", help="a patient's Frontdesk id")
    return parser


def _open_headless() -> Clinic:
    """Keyring, then FRONTDESK_PASSPHRASE, then (at a terminal) ask for the passphrase."""
    from app.clinic import Clinic, open_clinic
    from app.store.lifecycle import PassphraseNeededError, unlock_headless

    try:
        return Clinic(unlock_headless())
    except PassphraseNeededError:
        if not sys.stdin.isatty():
            raise
    return open_clinic(passphrase=getpass.getpass("Clinic passphrase: "))


def _passphrase_from_env() -> str:
    from app.store.lifecycle import PASSPHRASE_ENV

    secret = os.environ.get(PASSPHRASE_ENV, "")
    if not secret:
        raise FrontdeskError(f"Set {PASSPHRASE_ENV} to the passphrase for the new clinic.")
    return secret


def _cmd_init(args: argparse.Namespace) -> int:
    from app.clinic import create_clinic
    from app.users import add_user, check_user_name

    admin = check_user_name(args.admin) if args.admin is not None else None
    created = create_clinic(
        args.clinic, _passphrase_from_env(), timezone=args.timezone, region=args.region
    )
    with created.clinic as clinic:
        print(f"Created the clinic in {clinic.home}")
        if admin is not None:
            add_user(clinic, admin, "administrator")
            print(f"Administrator: {admin}")
        print("Recovery key (write it down or print the Emergency Kit; it is shown only once):")
        print(f"  {created.recovery_key}")
        if args.kit:
            _write_kit(clinic, created.recovery_key, args.kit)
            print(f"Emergency Kit written to {args.kit}")
        if not created.keyring_saved:
            print("No keyring on this computer: unlocking will ask for the passphrase.")
    return EXIT_OK


def _write_kit(clinic: Clinic, recovery_key: str, path: Path) -> None:
    from datetime import UTC, datetime

    from app.store.emergency_kit import EmergencyKit, write_emergency_kit
    from app.version import __version__

    kit = EmergencyKit(
        clinic_name=clinic.settings.name,
        clinic_id=clinic.clinic_id,
        recovery_key=recovery_key,
        created_at=datetime.now(UTC),
        data_folder=str(clinic.home),
        app_version=__version__,
    )
    write_emergency_kit(kit, path)


def _cmd_demo(args: argparse.Namespace) -> int:
    from app.clinic import create_clinic
    from app.demo.generator import generate
    from app.reminders.rules import install_default_rules
    from app.store.lifecycle import clinic_exists

    if clinic_exists():
        clinic = _open_headless()
    else:
        created = create_clinic(args.clinic, _passphrase_from_env())
        clinic = created.clinic
        print(f"Created a demo clinic in {clinic.home}; recovery key: {created.recovery_key}")

    def progress(done: int, total: int, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{what}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    with clinic:
        summary = generate(clinic, args.patients, args.seed, progress=progress, engagement=True)
        # As in the window: a demo shows the reminders the ready-made rules would send.
        install_default_rules(clinic)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(
        f"Added {summary.patients:,} patients, {summary.appointments:,} appointments and "
        f"{summary.interactions:,} calls, messages and visits."
    )
    return EXIT_OK


def _cmd_search(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.patients.search import PatientSearch

    with _open_headless() as clinic:
        results = PatientSearch(clinic.conn, region=clinic.settings.region).search(
            args.term, args.limit
        )
    if args.json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not results:
        print("No patient found.")
    for r in results:
        flags = " (deceased)" if r.deceased else (" (merged)" if r.merged else "")
        age = f"{r.age}" if r.age is not None else "?"
        print(
            f"{r.display_name}{flags}  born {r.birth_date or '?'} (age {age})  "
            f"{r.phone or ''}  next: {r.next_appointment or '-'}"
        )
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from app.importers.csv.dates import DateFormat
    from app.importers.profile_store import find_profile
    from app.importers.session import plan_import, run_import
    from app.users import act_as_default_user

    dates = {"iso": DateFormat.ISO, "us": DateFormat.US, "eu": DateFormat.EU}
    dates["eu-dot"] = DateFormat.EU_DOT
    with _open_headless() as clinic:
        act_as_default_user(clinic)  # the batch and its timeline notes say who
        plan = plan_import(clinic, args.paths)
        for item in plan.files:
            if item.csv is None or item.problem is not None:
                continue
            # Only for the files that need them: a recognised Synthea table keeps its own.
            if args.profile and item.csv.needs_mapping:
                plan.csv_profiles[item.path] = find_profile(clinic, args.profile)
            if args.dates and (item.path in plan.csv_profiles or item.csv.needs_date_choice):
                plan.csv_date_formats[item.path] = dates[args.dates]
        waiting = plan.needs_choices
        if waiting:
            for item in waiting:
                need = (
                    "a mapping (--profile)"
                    if item.csv and item.csv.needs_mapping
                    else ("the date order (--dates us or --dates eu)")
                )
                print(f"{item.name}: needs {need}", file=sys.stderr)
            return EXIT_USAGE
        result = run_import(clinic, plan, dry_run=args.dry_run, progress=_terminal_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_import(result)
    return EXIT_OK


def _terminal_progress(done: int, total: int, what: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{what}".ljust(70), end="", file=sys.stderr, flush=True)


def _print_import(result: ImportResult) -> None:
    title = "Dry run (nothing was saved)" if result.dry_run else "Import finished"
    left = f", {result.files_refused} left out" if result.files_refused else ""
    read = result.files - result.files_refused
    print(f"{title}: {read} files read in {result.seconds:.1f} s{left}")
    print(f"{'':18}{'created':>9}{'updated':>9}{'unchanged':>11}{'skipped':>9}{'failed':>8}")
    for kind, counts in result.counts.items():
        c = counts.as_dict()
        if any(c.values()):
            print(
                f"{kind:18}{c['created']:>9,}{c['updated']:>9,}{c['unchanged']:>11,}"
                f"{c['skipped']:>9,}{c['failed']:>8,}"
            )
    if result.skipped_types:
        others = ", ".join(f"{k} {v:,}" for k, v in sorted(result.skipped_types.items()))
        print(f"Not imported (types Frontdesk does not keep): {others}")
    for name, why in result.skipped_files.items():
        print(f"Not imported: {name} ({why})")
    if result.reviews:
        print(
            f"{result.reviews} imported patients look like patients already here: "
            "review them in Frontdesk (File > Review possible duplicates)."
        )
    if result.problems:
        total = len(result.problems) + result.problems_not_listed
        print(f"{total:,} problems:")
        for problem in result.problems:
            print(f"  {problem.location}: {problem.reason}")
    if result.problems_not_listed:
        print(f"  …and {result.problems_not_listed:,} more, not listed one by one")
    if result.batch_id:
        print(f"Import id (to undo it): {result.batch_id}")


def _cmd_imports(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.importers.batches import list_batches

    with _open_headless() as clinic:
        batches = list_batches(clinic)
    if args.json:
        print(json.dumps([asdict(b) for b in batches], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not batches:
        print("No imports yet.")
    for b in batches:
        created = sum(c.get("created", 0) for c in b.counts.values())
        print(f"{b.id}  {b.started_at}  {b.status:7} {len(b.files)} files, {created:,} created")
    return EXIT_OK


def _cmd_undo_import(args: argparse.Namespace) -> int:
    from app.errors import UndoBlockedError
    from app.importers.batches import undo_batch
    from app.users import act_as_default_user

    with _open_headless() as clinic:
        act_as_default_user(clinic)
        try:
            undo_batch(clinic, args.batch_id)
        except UndoBlockedError as exc:
            print(exc, file=sys.stderr)
            for reason in exc.reasons:
                print(f"  {reason}", file=sys.stderr)
            return EXIT_ERROR
    print("The import was undone.")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    from app.info import clinic_info
    from app.store.lifecycle import clinic_exists
    from app.store.paths import data_home
    from app.version import __version__

    if not clinic_exists():
        facts: dict[str, object] = {
            "version": __version__,
            "data_folder": str(data_home()),
            "clinic": None,
        }
    else:
        with _open_headless() as clinic:
            facts = clinic_info(clinic).as_dict()
    if args.json:
        print(json.dumps(facts, ensure_ascii=False, indent=2))
    else:
        for key, value in facts.items():
            print(f"{key.replace('_', ' ')}: {value}")
    return EXIT_OK


def _set_new_passphrase(opened: OpenDatabase) -> int:
    from app.store import lifecycle

    try:
        new = getpass.getpass("New passphrase: ")
        if getpass.getpass("New passphrase again: ") != new:
            print("The two new passphrases differ; nothing was changed.", file=sys.stderr)
            return EXIT_USAGE
        lifecycle.change_passphrase(opened, new)
    finally:
        opened.conn.close()
    print("Passphrase changed. The data did not need re-encrypting.")
    return EXIT_OK


def _cmd_passphrase(_: argparse.Namespace) -> int:
    from app.store import lifecycle

    old = getpass.getpass("Current passphrase: ")
    return _set_new_passphrase(lifecycle.unlock(passphrase=old, use_keyring=False))


def _cmd_new_recovery_key(args: argparse.Namespace) -> int:
    """The passphrase proves the right to replace the kit; the old kit stops working."""
    from app.store import lifecycle

    with _open_headless() as clinic:
        lifecycle.verify_passphrase(clinic.opened, _passphrase_for_confirmation())
        recovery = lifecycle.new_recovery_key(clinic.opened)
        _write_kit(clinic, recovery, args.kit)
    print(f"New Emergency Kit written to {args.kit}. Print it; the old kit no longer works.")
    return EXIT_OK


def _passphrase_for_confirmation() -> str:
    from app.store.lifecycle import PASSPHRASE_ENV

    secret = os.environ.get(PASSPHRASE_ENV)
    if secret:
        return secret
    return getpass.getpass("Clinic passphrase (to confirm): ")


def _cmd_unlock(_: argparse.Namespace) -> int:
    from app.store import lifecycle

    recovery = getpass.getpass("Recovery key (from the Emergency Kit): ")
    return _set_new_passphrase(lifecycle.unlock(recovery_key=recovery, use_keyring=False))


def _cmd_send_due(args: argparse.Namespace) -> int:
    """For Task Scheduler and launchd: the exit code is what they show, so a broken
    account shows as a failed run (1) and a locked clinic as another (2)."""
    from app.reminders.service import run_pass_with_sync

    try:
        clinic = _open_headless()
    except FrontdeskError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE  # 2: not a sending problem; the key or the data folder
    with clinic:
        # With sync on, rounds before and after the pass (a desk whose window is closed
        # still catches up before it sends, and the others learn what it sent).
        run = run_pass_with_sync(clinic, plan_only=args.plan_only)
    print(run.report.summary())
    if run.report.turn:
        print(run.report.turn)
    for line in run.problem_lines():
        print(line, file=sys.stderr)
    return EXIT_OK if run.ok else EXIT_ERROR


def _cmd_research_export(args: argparse.Namespace) -> int:
    from app.research.deidentify import (
        ResearchRequest,
        export_research,
        parse_fields,
        segment_id_by_name,
    )
    from app.users import act_as_default_user

    with _open_headless() as clinic:
        act_as_default_user(clinic)  # the first administrator, as for imports
        segment = None if args.everyone else segment_id_by_name(clinic, args.segment)
        request = ResearchRequest(parse_fields(args.fields), segment, args.k, args.suppress)
        result = export_research(clinic, request, args.out, progress=_terminal_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"Research export of {result.patients:,} patients saved in {result.folder}")
    for name, rows in result.rows.items():
        print(f"  {name}: {rows:,} rows")
    suppressed = " (suppressed)" if result.suppressed else ""
    print(f"  groups under k={args.k}: {result.small_groups:,}{suppressed}; see small_cells.md")
    return EXIT_OK


def _refuse_if_window_open() -> None:
    """Restore and rekey replace the database file: never under an open window."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.store.paths import data_home
    from ui.single_instance import ask_running_copy

    if ask_running_copy(data_home()):
        raise FrontdeskError(
            "Frontdesk is open on this computer. Close its window (and quit it from the "
            "tray), then run this again."
        )


def _cmd_backup(args: argparse.Namespace) -> int:
    """`backup`: for an OS scheduled task, like send-due (exit 1 = the backup failed)."""
    from app.backup.schedule import BackupSettings, load_settings, run_scheduled
    from app.backup.verify import verify
    from app.store.paths import data_home

    if args.action == "verify":
        if args.file is None:
            raise FrontdeskError("Name the backup to check: main.py backup verify FILE")
        with _open_headless() as clinic:
            report = verify(
                args.file.resolve(), data_key=clinic.opened.data_key, clinic_id=clinic.clinic_id
            )
        for line in report.checked:
            print(f"ok: {line}")
        if not report.ok:
            print(report.reason, file=sys.stderr)
            return EXIT_ERROR
        print("The backup is good.")
        return EXIT_OK
    settings = load_settings(data_home())
    if args.to is not None:
        settings = BackupSettings(str(args.to.resolve()), True, settings.at, settings.keep)
    with _open_headless() as clinic:
        result = run_scheduled(clinic, settings, trigger="command")
    size = result.manifest.database_bytes / (1 << 20)
    print(f"Backup written and checked: {result.path} ({size:,.1f} MB)")
    return EXIT_OK


def _cmd_restore(args: argparse.Namespace) -> int:
    from app.backup.restore import restore
    from app.backup.verify import backup_key
    from app.store import keys
    from app.store.lifecycle import clinic_exists
    from app.store.paths import data_home

    _refuse_if_window_open()
    home = data_home()
    backup = args.file.resolve()
    clinic_id: str | None = None
    data_key: bytes | None = None
    if clinic_exists(home):
        with _open_headless() as clinic:
            clinic_id, data_key = clinic.clinic_id, clinic.opened.data_key
    from app.backup.manifest import read_manifest

    manifest = read_manifest(backup)
    if args.recovery_key:
        data_key = backup_key(
            backup, recovery_key=getpass.getpass("Recovery key (from the Emergency Kit): ")
        )
    elif data_key is None or keys.key_fingerprint(data_key) != manifest.key_fingerprint:
        # A backup made under an earlier key, or a new computer: the secret of that time.
        data_key = backup_key(backup, passphrase=_passphrase_for_confirmation())
    result = restore(backup, home, data_key=data_key, clinic_id=clinic_id)
    print(
        f"Restored the backup of {manifest.created_at} "
        f"({manifest.counts.get('patient', 0):,} patients)."
    )
    if result.kept is not None:
        print(f"The clinic as it was before is kept in {result.kept}")
    return EXIT_OK


def _cmd_rekey(args: argparse.Namespace) -> int:
    from app.backup.schedule import load_settings
    from app.store.paths import data_home
    from app.store.rekey import finish_rekey, prepare_rekey
    from app.users import act_as_default_user

    _refuse_if_window_open()
    home = data_home()
    folder = args.backup_to or Path(load_settings(home).folder or home / "backups")
    folder.mkdir(parents=True, exist_ok=True)
    with _open_headless() as clinic:
        act_as_default_user(clinic)  # named in the audit entries, if the clinic has people
        prepared = prepare_rekey(
            clinic,
            _passphrase_for_confirmation(),
            folder,
            progress=_terminal_progress,
            check_role=False,
        )
        clinic_id = clinic.clinic_id
        name = clinic.settings.name
    finish_rekey(prepared, home, clinic_id)
    with _open_headless() as clinic:
        _write_kit(clinic, prepared.recovery_key, args.kit)
    print(
        f"The database key of {name} was replaced; a backup under the old key is in "
        f"{prepared.backup}."
    )
    print(f"New Emergency Kit written to {args.kit}. Print it; the old kit no longer works.")
    print("Backups made before now still open with the old key: destroy them or keep them safe.")
    return EXIT_OK


def _cmd_audit(args: argparse.Namespace) -> int:
    """`audit verify`: 0 intact, 1 broken; `audit export`: the entries as CSV."""
    from zoneinfo import ZoneInfo

    from app.audit.query import export_csv, filter_from_text
    from app.audit.verify import describe, record_check, verify_clinic
    from app.users import act_as_default_user

    with _open_headless() as clinic:
        act_as_default_user(clinic)  # the first administrator, as for imports
        if args.audit_command == "verify":
            report = verify_clinic(clinic, deep=args.deep, progress=_terminal_progress)
            if sys.stderr.isatty():
                print(file=sys.stderr)
            record_check(clinic, report)
            print(describe(report, ZoneInfo(clinic.settings.timezone)))
            if report.newest_hash:  # to note down and compare later (docs/security/audit.md)
                print(f"Newest entry {report.entries:,}, hash {report.newest_hash}")
            return EXIT_OK if report.intact else EXIT_ERROR
        filters = filter_from_text(
            clinic,
            first=args.first,
            last=args.last,
            user=args.user,
            kinds=args.action,
            patient_id=args.patient,
        )
        rows = export_csv(clinic, filters, args.out, progress=_terminal_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"Saved {rows:,} audit entries to {args.out}")
    return EXIT_OK


def selftest() -> int:
    """Proves a build works end to end: encryption, schema, search and the window."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="frontdesk-selftest-") as tmp:
        try:
            from app.clinic import create_clinic
            from app.demo.generator import generate
            from app.patients.search import PatientSearch

            created = create_clinic(
                "Selftest clinic", "selftest passphrase 2718", Path(tmp), use_keyring=False
            )
            with created.clinic as clinic:
                generate(clinic, 50, seed=7)
                name = clinic.conn.execute("SELECT family_name FROM patient LIMIT 1").fetchone()[0]
                if not PatientSearch(clinic.conn).search(name):
                    print("selftest: search found nothing", file=sys.stderr)
                    return EXIT_ERROR
                _write_kit(clinic, created.recovery_key, Path(tmp) / "kit.pdf")
                from ui.application import run_selftest_window

                failure = run_selftest_window(clinic, name)
            raw = (Path(tmp) / "clinic.db").read_bytes()
            if raw.startswith(b"SQLite format 3") or name.encode() in raw:
                failure = failure or "the database file is not encrypted"
        except Exception as exc:  # noqa: BLE001 - the selftest reports any failure by name
            print(f"selftest failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if failure:
        print(f"selftest failed: {failure}", file=sys.stderr)
        return EXIT_ERROR
    print("selftest passed")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from app.logging_setup import configure

    configure()
    if args.selftest:
        return selftest()
    commands = {
        "init": _cmd_init,
        "demo": _cmd_demo,
        "search": _cmd_search,
        "info": _cmd_info,
        "passphrase": _cmd_passphrase,
        "unlock": _cmd_unlock,
        "new-recovery-key": _cmd_new_recovery_key,
        "import": _cmd_import,
        "imports": _cmd_imports,
        "undo-import": _cmd_undo_import,
        "send-due": _cmd_send_due,
        "research-export": _cmd_research_export,
        "backup": _cmd_backup,
        "restore": _cmd_restore,
        "rekey": _cmd_rekey,
        "audit": _cmd_audit,
    }
    if args.command is None:
        from ui.application import run_gui

        return run_gui()
    try:
        return commands[args.command](args)
    except FrontdeskError as exc:
        print(exc, file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a command
        # A traceback may quote patient data (a file name, a value): like the window,
        # the command line prints none, and saves a report without it for support.
        from app.crash_report import write_crash_report

        report = write_crash_report(type(exc), exc, exc.__traceback__)
        print(
            f"Something went wrong that Frontdesk did not expect ({type(exc).__name__}). "
            f"A report without any patient information was saved as {report}.",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
