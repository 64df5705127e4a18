"""Who works in a test: the screens and exports an administrator or manager uses.

Import the fixture into a test module (`from tests.support.acting import
administrator_acting  # noqa: F401`) and every test there that uses the `clinic` or
`demo_clinic` fixture runs with a signed-in administrator, as the real desk does after
sign-in; the role table (app/security/permissions.py) then allows what those screens do.
Tests of the refusals make their own receptionist.
"""

from __future__ import annotations

import pytest

from app.users import add_user

CLINIC_FIXTURES = ("clinic", "demo_clinic")


@pytest.fixture(autouse=True)
def administrator_acting(request: pytest.FixtureRequest) -> None:
    for name in CLINIC_FIXTURES:
        if name in request.fixturenames:
            clinic = request.getfixturevalue(name)
            clinic.acting_user_id = add_user(clinic, "Avery Admin", "administrator").id
