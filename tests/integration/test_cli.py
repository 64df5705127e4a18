"""The headless commands, run as a clinic's IT person would run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "cli test passphrase 4711"


def _run(
    home: Path, *args: str, passphrase: str | None = PASSPHRASE, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        FRONTDESK_HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # as on a headless server
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(ROOT),
    )
    env.pop("FRONTDESK_PASSPHRASE", None)
    if passphrase is not None:
        env["FRONTDESK_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "clinic"
    result = _run(home, "demo", "--patients", "200", "--seed", "3")
    assert result.returncode == 0, result.stderr
    return home


def test_init_creates_an_empty_clinic_and_prints_the_recovery_key_once(tmp_path: Path) -> None:
    kit = tmp_path / "kit.pdf"
    result = _run(tmp_path / "c", "init", "--clinic", "Lakeside Family Practice", "--kit", str(kit))
    assert result.returncode == 0, result.stderr
    assert "Recovery key" in result.stdout
    key_line = result.stdout.splitlines()[
        result.stdout.splitlines().index(
            next(line for line in result.stdout.splitlines() if line.startswith("Recovery key"))
        )
        + 1
    ]
    recovery = key_line.strip()
    text = "".join(page.extract_text() for page in PdfReader(kit).pages)
    assert recovery in text
    info = json.loads(_run(tmp_path / "c", "info", "--json").stdout)
    assert info["patients"] == 0 and info["clinic_name"] == "Lakeside Family Practice"


def test_init_without_a_passphrase_explains_what_to_set(tmp_path: Path) -> None:
    result = _run(tmp_path / "c", "init", "--clinic", "X", passphrase=None)
    assert result.returncode == 1
    assert "FRONTDESK_PASSPHRASE" in result.stderr
    assert "Traceback" not in result.stderr


def test_info_reports_version_schema_and_count_but_never_the_key(demo_home: Path) -> None:
    result = _run(demo_home, "info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["patients"] >= 200
    assert info["schema_version"] == info["schema_latest"] >= 1
    assert info["data_folder"] == str(demo_home.resolve())
    key_file = json.loads((demo_home / "clinic.key").read_text())
    for slot in key_file["slots"]:
        assert slot["ciphertext"] not in result.stdout


def test_search_json_finds_a_demo_patient_by_family_name(demo_home: Path) -> None:
    listing = _run(demo_home, "search", "MRN0000001", "--json")
    first = json.loads(listing.stdout)[0]
    family = first["display_name"].split(",")[0]
    result = _run(demo_home, "search", family[:4].lower(), "--json")
    assert result.returncode == 0, result.stderr
    names = [r["display_name"] for r in json.loads(result.stdout)]
    assert any(n.startswith(family) for n in names)


def test_wrong_passphrase_on_the_command_line_is_a_plain_message(demo_home: Path) -> None:
    result = _run(demo_home, "info", passphrase="not the passphrase 000")
    assert result.returncode == 1
    assert "passphrase is not right" in result.stderr
    assert "Traceback" not in result.stderr


def test_selftest_passes_offscreen(tmp_path: Path) -> None:
    result = _run(tmp_path / "unused", "--selftest", passphrase=None)
    assert result.returncode == 0, result.stderr
    assert "selftest passed" in result.stdout


def test_forgotten_passphrase_is_reset_with_the_recovery_key(tmp_path: Path) -> None:
    home = tmp_path / "c"
    created = _run(home, "init", "--clinic", "Lakeside")
    lines = created.stdout.splitlines()
    recovery = lines[lines.index(next(x for x in lines if x.startswith("Recovery key"))) + 1]
    new = "a brand new passphrase 77"
    result = _run(
        home,
        "unlock",
        "--recovery-key",
        passphrase=None,
        stdin=f"{recovery.strip()}\n{new}\n{new}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "Passphrase changed" in result.stdout
    assert _run(home, "info", passphrase=new).returncode == 0
    assert _run(home, "info", passphrase=PASSPHRASE).returncode == 1


def test_a_lost_emergency_kit_is_replaced_and_the_old_key_stops_working(tmp_path: Path) -> None:
    home = tmp_path / "c"
    created = _run(home, "init", "--clinic", "Lakeside")
    lines = created.stdout.splitlines()
    old_key = lines[lines.index(next(x for x in lines if x.startswith("Recovery key"))) + 1].strip()
    kit = tmp_path / "new-kit.pdf"
    result = _run(home, "new-recovery-key", "--kit", str(kit))
    assert result.returncode == 0, result.stderr
    text = "".join(page.extract_text() for page in PdfReader(kit).pages)
    assert old_key not in text
    new_pass = "after the kit was lost 5"
    refused = _run(
        home,
        "unlock",
        "--recovery-key",
        passphrase=None,
        stdin=f"{old_key}\n{new_pass}\n{new_pass}\n",
    )
    assert refused.returncode == 1
    assert "recovery key does not unlock" in refused.stderr


def test_replacing_the_kit_needs_the_right_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "c"
    _run(home, "init", "--clinic", "Lakeside")
    before = (home / "clinic.key").read_bytes()
    result = _run(
        home,
        "new-recovery-key",
        "--kit",
        str(tmp_path / "k.pdf"),
        passphrase="wrong passphrase 12345",
    )
    assert result.returncode == 1
    assert (home / "clinic.key").read_bytes() == before
    assert not (tmp_path / "k.pdf").exists()


def test_init_can_name_the_first_administrator(tmp_path: Path) -> None:
    from app.clinic import open_clinic
    from app.users import users

    home = tmp_path / "c"
    result = _run(home, "init", "--clinic", "Lakeside", "--admin", "  Dana   Reyes ")
    assert result.returncode == 0, result.stderr
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as clinic:
        assert [(u.name, u.role) for u in users(clinic)] == [("Dana Reyes", "administrator")]


def test_init_refuses_an_empty_administrator_name_before_creating_anything(
    tmp_path: Path,
) -> None:
    home = tmp_path / "c"
    result = _run(home, "init", "--clinic", "Lakeside", "--admin", "   ")
    assert result.returncode != 0
    assert "Type a name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "clinic.db").exists()


# --- import -----------------------------------------------------------------------------

_PATIENT_CSV = (
    "Chart No;Surname;Given Name;DOB;E-mail\n"
    "A-17;Marsh;Helen;03/04/1975;helen@example.com\n"
    "A-18;Whitaker;Tom;13/06/1980;\n"
)
_MAPPING = {
    "name": "Clinic EMR patients",
    "kind": "patient",
    "columns": {
        "source_id": ["Chart No"],
        "last": ["Surname"],
        "first": ["Given Name"],
        "birth_date": ["DOB"],
        "email": ["E-mail"],
    },
    "date_format": None,
    "code_system": "",
    "source_system": "csv:clinic-emr",
    "description": "",
}


def test_import_dry_run_then_real_then_undo_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "clinic"
    assert _run(home, "init", "--clinic", "CLI import", "--admin", "Dana Reyes").returncode == 0
    export = tmp_path / "export"
    export.mkdir()
    (export / "patients.csv").write_text(_PATIENT_CSV, encoding="utf-8")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(_MAPPING), encoding="utf-8")

    waiting = _run(home, "import", str(export))
    assert waiting.returncode == 2 and "needs a mapping (--profile)" in waiting.stderr

    args = ["import", str(export), "--profile", str(mapping), "--dates", "eu"]
    dry = json.loads(_run(home, *args, "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True and dry["batch_id"] is None
    assert dry["counts"]["patients"]["created"] == 2
    assert json.loads(_run(home, "info", "--json").stdout)["patients"] == 0

    real = _run(home, *args)
    assert real.returncode == 0, real.stderr
    assert "Import finished: 1 files read" in real.stdout
    assert "patients" in real.stdout and "Import id (to undo it):" in real.stdout
    again = json.loads(_run(home, *args, "--json").stdout)
    assert again["counts"]["patients"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "skipped": 0,
        "failed": 0,
    }

    batches = json.loads(_run(home, "imports", "--json").stdout)
    assert [b["status"] for b in batches] == ["done", "done"]
    assert batches[0]["created_by"] == "Dana Reyes"  # who, for the record
    # The second import changed nothing, so nothing depends on the first one.
    undone = _run(home, "undo-import", batches[1]["id"])
    assert undone.returncode == 0 and "undone" in undone.stdout
    assert json.loads(_run(home, "info", "--json").stdout)["patients"] == 0
    twice = _run(home, "undo-import", batches[1]["id"])
    assert twice.returncode == 1 and "already been undone" in twice.stderr
