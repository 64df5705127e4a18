"""Fixtures: a fresh keyring per test and ready-made encrypted clinics on real files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.clinic import Clinic, create_clinic, open_clinic
from app.demo.generator import generate
from app.store.keyring_store import SERVICE
from tests.support.memory_keyring import MemoryKeyring

PASSPHRASE = "lakeside tulips 2718 harbour"


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every test starts with an empty keyring and never touches the developer's own."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    monkeypatch.delenv("FRONTDESK_PASSPHRASE", raising=False)
    yield backend
    keyring.set_keyring(fail.Keyring())


@dataclass(frozen=True)
class Template:
    home: Path
    clinic_id: str
    data_key: bytes
    recovery_key: str


@pytest.fixture(scope="session")
def clinic_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """One clinic created per session (Argon2 is slow on purpose); tests get copies."""
    keyring.set_keyring(fail.Keyring())
    home = tmp_path_factory.mktemp("template") / "clinic"
    created = create_clinic(
        "Lakeside Family Practice", PASSPHRASE, home, timezone="America/Chicago", use_keyring=False
    )
    clinic = created.clinic
    template = Template(home, clinic.clinic_id, clinic.opened.data_key, created.recovery_key)
    clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    clinic.close()
    return template


@pytest.fixture
def clinic_home(tmp_path: Path, clinic_template: Template, memory_keyring: MemoryKeyring) -> Path:
    """A copy of the template clinic whose key sits in this test's keyring."""
    home = tmp_path / "clinic"
    shutil.copytree(clinic_template.home, home)
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    return home


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, clinic_template: Template) -> Template:
    """The template clinic plus 300 made-up demo patients around today's date, for the
    desktop views (Today needs appointments today and tomorrow)."""
    keyring.set_keyring(fail.Keyring())
    home = tmp_path_factory.mktemp("demo") / "clinic"
    shutil.copytree(clinic_template.home, home)
    with open_clinic(home, passphrase=PASSPHRASE, use_keyring=False) as clinic:
        generate(clinic, DEMO_PATIENTS, seed=7)
        clinic.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return replace(clinic_template, home=home)


DEMO_PATIENTS = 300


@pytest.fixture
def demo_home(tmp_path: Path, demo_template: Template, memory_keyring: MemoryKeyring) -> Path:
    home = tmp_path / "demo-clinic"
    shutil.copytree(demo_template.home, home)
    memory_keyring.set_password(SERVICE, demo_template.clinic_id, demo_template.data_key.hex())
    return home


@pytest.fixture
def demo_clinic(demo_home: Path) -> Iterator[Clinic]:
    """A real encrypted clinic with demo patients, opened through the keyring."""
    opened = open_clinic(demo_home)
    yield opened
    opened.close()


@pytest.fixture
def dana(clinic: Clinic) -> str:
    """A receptionist at work: what she records carries her id."""
    from app.users import add_user

    user = add_user(clinic, "Dana Reyes", "receptionist")
    clinic.acting_user_id = user.id
    return user.id


@pytest.fixture
def clinic(clinic_home: Path) -> Iterator[Clinic]:
    opened = open_clinic(clinic_home)
    yield opened
    opened.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the shared EMR samples, skip exactly the tests that read them (and say so)."""
    from types import FunctionType

    from tests.support import emr_samples

    if emr_samples.PRESENT:
        return
    skip = pytest.mark.skip(reason=emr_samples.MISSING_REASON)
    for item in items:
        function = getattr(item, "function", None)
        module = getattr(item, "module", None)
        known = isinstance(function, FunctionType) and module is not None
        if known and emr_samples.reads_samples(function, module):  # type: ignore[arg-type]
            item.add_marker(skip)
