"""Research export requests: who is in it, bad requests in plain words, the command line."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.audit.actions import RESEARCH_EXPORT
from app.clinic import Clinic
from app.errors import ResearchExportError
from app.growth import segments
from app.growth.segments import Segment, SegmentTerms, save_segment
from app.ops import CancelToken, OperationCancelledError
from app.research.deidentify import ResearchRequest, export_research
from app.users import add_user
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def manager(demo_clinic: Clinic) -> Clinic:
    demo_clinic.acting_user_id = add_user(demo_clinic, "Morgan Manager", "manager").id
    return demo_clinic


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _audit_count(clinic: Clinic) -> int:
    row = clinic.conn.execute(
        "SELECT count(*) FROM audit_event WHERE action = ?", (RESEARCH_EXPORT,)
    ).fetchone()
    return int(row[0])


def test_no_fields_chosen_says_so_and_writes_nothing(manager: Clinic, out: Path) -> None:
    with pytest.raises(ResearchExportError, match="No fields are chosen"):
        export_research(manager, ResearchRequest(()), out)
    assert list(out.iterdir()) == []
    assert _audit_count(manager) == 0


def test_an_empty_group_says_so_and_writes_nothing(manager: Clinic, out: Path) -> None:
    nobody = save_segment(manager, Segment("", "Nobody", SegmentTerms(age_min=129)))
    with pytest.raises(ResearchExportError, match="has no patients"):
        export_research(manager, ResearchRequest(("sex",), nobody.id), out)
    assert list(out.iterdir()) == []
    assert _audit_count(manager) == 0
    assert not manager.conn.in_transaction


def test_an_unknown_field_or_bad_group_size_is_refused(manager: Clinic, out: Path) -> None:
    with pytest.raises(ResearchExportError, match="cannot be exported"):
        export_research(manager, ResearchRequest(("sex", "family_name")), out)
    with pytest.raises(ResearchExportError, match="small-group size"):
        export_research(manager, ResearchRequest(("sex",), k=1), out)


def test_a_saved_group_exports_just_its_patients(manager: Clinic, out: Path) -> None:
    women = save_segment(manager, Segment("", "Women", SegmentTerms(sex="female")))
    result = export_research(manager, ResearchRequest(("sex", "visits"), women.id), out)
    with (result.folder / "patients.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == result.patients == segments.count(manager, women.terms)
    assert {r["sex"] for r in rows} == {"female"}
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "dictionary.json",
        "dictionary.md",
        "patients.csv",
        "small_cells.json",
        "small_cells.md",
        "visits_by_year.csv",
    ]
    assert _audit_count(manager) == 1


def test_a_cancelled_export_leaves_nothing_and_no_audit_entry(manager: Clinic, out: Path) -> None:
    cancel = CancelToken()

    def progress(done: int, total: int, what: str) -> None:
        if what.startswith("Writing visits"):
            cancel.cancel()

    with pytest.raises(OperationCancelledError):
        export_research(
            manager, ResearchRequest(("sex", "visits")), out, progress=progress, cancel=cancel
        )
    assert list(out.iterdir()) == []
    assert _audit_count(manager) == 0
    assert manager.conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0] == 0


def test_the_command_line_writes_an_export_as_the_clinic_administrator(
    demo_clinic: Clinic, demo_home: Path, out: Path
) -> None:
    add_user(demo_clinic, "Ada Admin", "administrator")
    demo_clinic.close()
    env = dict(os.environ)
    env.update(
        FRONTDESK_HOME=str(demo_home),
        FRONTDESK_PASSPHRASE=PASSPHRASE,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "research-export", "--everyone",
         "--fields", "age_band,sex,zip3,visits", "--out", str(out), "--suppress"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Research export of" in done.stdout and "(suppressed)" in done.stdout
    (folder,) = out.iterdir()
    assert folder.name.startswith("Frontdesk research export ")
    assert (folder / "visits_by_year.csv").is_file()

    unknown = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "research-export", "--segment", "Nope",
         "--fields", "sex", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "No saved group has that name" in unknown.stderr
