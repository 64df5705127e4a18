"""The role table in docs/security/people.md is the one Frontdesk checks (PERMISSIONS)."""

from __future__ import annotations

from pathlib import Path

from app.security.permissions import PERMISSIONS, ROLES

PEOPLE = Path(__file__).resolve().parents[2] / "docs" / "security" / "people.md"


def _documented_rows() -> dict[str, frozenset[str]]:
    """'| What | ✓ | | ✓ |' rows of the table under "Roles and what each may do"."""
    rows: dict[str, frozenset[str]] = {}
    for line in PEOPLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 1 + len(ROLES) or not line.startswith("|"):
            continue
        what, marks = cells[0], cells[1:]
        if what in ("What", "---") or set(what) <= {"-", ":"}:
            continue
        rows[what.lower()] = frozenset(r for r, m in zip(ROLES, marks, strict=True) if m == "✓")
    return rows


def test_every_permission_has_its_row_with_the_roles_that_have_it() -> None:
    documented = _documented_rows()
    for name, (words, roles) in PERMISSIONS.items():
        assert words.lower() in documented, f"{name}: no row '{words}' in {PEOPLE.name}"
        assert documented[words.lower()] == roles, f"{name}: other roles in {PEOPLE.name}"
    assert len(documented) == len(PERMISSIONS)


def test_sync_management_is_for_administrators_and_says_sync_server() -> None:
    words, roles = PERMISSIONS["sync.manage"]
    assert roles == frozenset({"administrator"})
    assert "sync server" in words and "relay" not in words
