"""API fuzzing from the relay's own OpenAPI schema (schemathesis): whatever is sent,
valid or not, the live relay on loopback answers as documented, never with a 5xx, and
refuses malformed requests with a 4xx.

The schema is the app's own (the same document /openapi.json serves, checked below),
loaded when the module is collected; the requests go over HTTP to a real relay.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from relay.app import create_app
from relay.settings import Settings
from tests.support.relay import RunningRelay, TestSpace, new_space, running_relay

EXAMPLES_PER_OPERATION = 25


def _published_schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(database_url=f"sqlite:///{folder}/schema-only.db"))
        try:
            return app.openapi()
        finally:
            app.state.storage.close()


SCHEMA = _published_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES_PER_OPERATION,
    database="none",
    # The token goes in every request's headers below; Authorization is not fuzzed
    # (tests/relay/test_relay_spaces_devices.py covers missing and wrong tokens).
    with_security_parameters=False,
)


@pytest.fixture(scope="module")
def fuzzed_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRelay]:
    with running_relay(tmp_path_factory.mktemp("fuzz")) as relay:
        yield relay


@pytest.fixture(scope="module")
def fuzz_space(fuzzed_relay: RunningRelay) -> TestSpace:
    return new_space(fuzzed_relay.url)


def test_the_relay_publishes_the_schema_that_is_fuzzed(fuzzed_relay: RunningRelay) -> None:
    published = requests.get(f"{fuzzed_relay.url}/openapi.json", timeout=5)

    assert published.status_code == 200
    assert published.json() == SCHEMA


@schema.parametrize()
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    case: schemathesis.Case, fuzzed_relay: RunningRelay, fuzz_space: TestSpace
) -> None:
    _short_waits(case)
    case.call_and_validate(
        base_url=fuzzed_relay.url,
        headers=fuzz_space.headers,
        timeout=10,
        # Valid-looking data is often still refused on purpose (an unknown invite, a
        # body that is not an envelope, a sequence gap); every refusal is still checked
        # against the documented statuses and the error schema.
        excluded_checks=[positive_data_acceptance],
    )


SHORT_WAIT = 0.05


def _short_waits(case: schemathesis.Case) -> None:
    """A pull that may wait (long-poll) waits at most SHORT_WAIT here: the fuzzed space
    rarely has a batch after the cursor asked, and 25 examples waiting up to 30 s each
    would take many minutes. Values outside 0-30 or not numbers stay as generated (they
    must be refused); tests/relay/test_relay_long_poll.py tests the waiting itself."""
    query = case.query
    if not isinstance(query, dict) or isinstance(query.get("wait", True), bool):
        return
    try:
        seconds = float(query["wait"])
    except (TypeError, ValueError):
        return
    if 0 < seconds <= 30:
        query["wait"] = SHORT_WAIT
