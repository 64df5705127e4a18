"""Facts about the installed program and the clinic, safe to print or send to support."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from app.clinic import Clinic
from app.store import migrations
from app.store.paths import ClinicPaths
from app.version import __version__


@dataclass(frozen=True)
class ClinicInfo:
    version: str
    schema_version: int
    schema_latest: int
    data_folder: str
    clinic_name: str
    patients: int
    unlocked_by: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clinic_info(clinic: Clinic) -> ClinicInfo:
    """Never includes the key or anything that would help to get it."""
    patients = clinic.conn.execute(
        "SELECT count(*) FROM patient WHERE merged_into IS NULL"
    ).fetchone()[0]
    return ClinicInfo(
        version=__version__,
        schema_version=migrations.schema_version(clinic.conn),
        schema_latest=migrations.latest_version(),
        data_folder=str(clinic.home),
        clinic_name=clinic.settings.name,
        patients=int(patients),
        unlocked_by=clinic.opened.unlocked_by,
    )


def describe_paths(paths: ClinicPaths) -> dict[str, str]:
    return {"data_folder": str(paths.home), "database": str(paths.database)}
