"""Where the shared EMR sample exports are, and which tests need them.

They live beside the repository (../shared/emr-samples) on the team's machines, or
wherever FRONTDESK_EMR_SAMPLES points. A machine without them skips exactly the tests
that read them (tests/conftest.py finds those by the sample paths they use) and says
why; every other importer test still runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import CodeType, FunctionType, ModuleType

_REPO = Path(__file__).resolve().parents[2]
_OVERRIDE = os.environ.get("FRONTDESK_EMR_SAMPLES")
_CANDIDATES = (_REPO.parent / "shared" / "emr-samples", Path("/work/shared/emr-samples"))
# The variable, when set, is the only place looked at (CI without samples sets it too).
ROOT: Path = (
    Path(_OVERRIDE) if _OVERRIDE else next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
)
PRESENT = ROOT.is_dir()
MISSING_REASON = (
    "the EMR sample exports are not on this machine "
    "(../shared/emr-samples or FRONTDESK_EMR_SAMPLES)"
)


def samples(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


def _names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


def reads_samples(
    function: FunctionType, module: ModuleType, _seen: set[str] | None = None
) -> bool:
    """True when the test (or a module helper it calls) uses a path inside the samples."""
    seen = _seen if _seen is not None else set()
    for name in _names(function.__code__):
        if name in seen:
            continue
        seen.add(name)
        value = getattr(module, name, None)
        if isinstance(value, Path) and str(value).startswith(str(ROOT)):
            return True
        if isinstance(value, list) and any(
            isinstance(v, Path) and str(v).startswith(str(ROOT)) for v in value
        ):
            return True
        helper = isinstance(value, FunctionType) and value.__module__ == module.__name__
        if helper and reads_samples(value, module, seen):  # type: ignore[arg-type]
            return True
    return False
