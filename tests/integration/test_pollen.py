"""Pollen providers against a loopback server that speaks the Open-Meteo Air Quality API,
and the desk's switch on a real clinic."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.clinic import Clinic
from app.engagement.pollen import (
    MANUAL_SETTING,
    POLLENS,
    CsvPollen,
    ManualPollen,
    OpenMeteoPollen,
    clear_manual,
    combined,
    set_manual,
)
from app.errors import InvalidInputError

DAY = date(2026, 5, 4)
BERLIN = (52.52, 13.41)
CHICAGO = (41.88, -87.63)
HOURS = 24


@dataclass
class FakeOpenMeteo:
    """The loopback service. Pollen values are per hour from 00:00 on `start`, local time;
    a script entry changes the next answer: "500", "400", "slow", "garbage", "missing",
    "short", "negative"."""

    url: str = ""
    start: date = DAY
    days: int = 3
    values: dict[str, list[float | None]] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def set_hour(self, pollen: str, day: date, hour: int, value: float) -> None:
        series = self.values.setdefault(pollen, [0.0] * (HOURS * self.days))
        series[(day - self.start).days * HOURS + hour] = value

    def answer(self, query: dict[str, str], mode: str) -> dict[str, Any]:
        latitude, longitude = float(query["latitude"]), float(query["longitude"])
        times = [
            (datetime.combine(self.start, datetime.min.time()) + timedelta(hours=h)).strftime(
                "%Y-%m-%dT%H:%M"
            )
            for h in range(HOURS * self.days)
        ]
        # CAMS Europe's domain (25°W–45°E, 30°N–72°N); outside it every pollen is null,
        # as the real service answers for a US location.
        in_europe = -25 <= longitude <= 45 and 30 <= latitude <= 72
        asked = query["hourly"].split(",")
        hourly: dict[str, list[Any]] = {"time": times}
        for key in asked:
            pollen = key.removesuffix("_pollen")
            series = self.values.get(pollen, [0.0] * len(times))
            hourly[key] = list(series) if in_europe else [None] * len(times)
        if mode == "missing":
            del hourly["grass_pollen"]
        elif mode == "short":
            hourly["birch_pollen"] = hourly["birch_pollen"][:-1]
        elif mode == "negative":
            hourly["alder_pollen"][5] = -3.0
        return {
            "latitude": round(latitude, 1),
            "longitude": round(longitude, 1),
            "generationtime_ms": 0.41,
            "utc_offset_seconds": 7200,
            "timezone": query["timezone"],
            "timezone_abbreviation": "CEST",
            "elevation": 38.0,
            "hourly_units": {"time": "iso8601", **{key: "grains/m³" for key in asked}},
            "hourly": hourly,
        }


def _handler(fake: FakeOpenMeteo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the test output is for failures."""

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            fake.requests.append(query)
            if parts.path != "/v1/air-quality":
                self._send(404, b'{"error":true,"reason":"Not Found"}')
                return
            mode = fake.script.pop(0) if fake.script else "ok"
            if mode == "500":
                self._send(500, b"Internal Server Error", "text/plain")
            elif mode == "400":
                body = {"error": True, "reason": "Latitude must be in range of -90 to 90°."}
                self._send(400, json.dumps(body).encode())
            elif mode == "slow":
                fake.release.wait(5)
                self._send(200, json.dumps(fake.answer(query, "ok")).encode())
            elif mode == "garbage":
                self._send(200, b"<html><body>Service unavailable</body></html>", "text/html")
            else:
                self._send(200, json.dumps(fake.answer(query, mode)).encode())

    return Handler


@pytest.fixture
def open_meteo() -> Iterator[FakeOpenMeteo]:
    fake = FakeOpenMeteo()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()


def _provider(fake: FakeOpenMeteo, where: tuple[float, float] = BERLIN, **kw: Any) -> Any:
    return OpenMeteoPollen(*where, timezone="Europe/Berlin", base_url=fake.url, **kw)


# --- levels -------------------------------------------------------------------------------


def test_grass_peak_of_the_day_makes_a_high_day_and_is_named(
    open_meteo: FakeOpenMeteo,
) -> None:
    for hour, value in ((9, 12.0), (14, 45.0), (20, 8.0)):
        open_meteo.set_hour("grass", DAY, hour, value)
    open_meteo.set_hour("birch", DAY, 11, 20.0)  # moderate for a tree

    reading = _provider(open_meteo).reading(DAY)

    assert reading.level == "high"
    assert reading.source == "Open-Meteo"
    assert "grass pollen up to 45 grains/m³" in reading.detail
    assert "birch" not in reading.detail


def test_each_local_day_gets_its_own_maximum(open_meteo: FakeOpenMeteo) -> None:
    open_meteo.set_hour("ragweed", DAY, 23, 6.0)  # low for a weed, late today
    open_meteo.set_hour("ragweed", DAY + timedelta(days=1), 0, 600.0)  # just after midnight
    provider = _provider(open_meteo)

    assert provider.reading(DAY).level == "low"
    assert provider.reading(DAY + timedelta(days=1)).level == "very_high"


def test_trace_amounts_are_no_pollen(open_meteo: FakeOpenMeteo) -> None:
    for pollen in POLLENS:
        open_meteo.set_hour(pollen, DAY, 12, 0.4)

    reading = _provider(open_meteo).reading(DAY)

    assert reading.level == "none"


def test_only_the_clinics_coordinates_and_time_zone_are_sent(open_meteo: FakeOpenMeteo) -> None:
    _provider(open_meteo).reading(DAY)

    (query,) = open_meteo.requests
    assert query == {
        "latitude": "52.52",
        "longitude": "13.41",
        "hourly": "alder_pollen,birch_pollen,grass_pollen,mugwort_pollen,olive_pollen,"
        "ragweed_pollen",
        "timezone": "Europe/Berlin",
        "forecast_days": "3",
    }


# --- the cache ------------------------------------------------------------------------------


def test_a_second_reading_within_the_cache_hours_makes_no_request(
    open_meteo: FakeOpenMeteo,
) -> None:
    now = [1000.0]
    provider = _provider(open_meteo, clock=lambda: now[0])
    open_meteo.set_hour("grass", DAY, 12, 30.0)

    first = provider.reading(DAY)
    now[0] += 2.9 * 3600
    again = provider.reading(DAY)
    tomorrow = provider.reading(DAY + timedelta(days=1))

    assert len(open_meteo.requests) == 1
    assert again == first
    assert tomorrow.level == "none"


def test_a_reading_older_than_the_cache_hours_is_asked_again(
    open_meteo: FakeOpenMeteo,
) -> None:
    now = [1000.0]
    provider = _provider(open_meteo, clock=lambda: now[0])
    provider.reading(DAY)
    open_meteo.set_hour("grass", DAY, 12, 30.0)

    now[0] += 3.1 * 3600
    reading = provider.reading(DAY)

    assert len(open_meteo.requests) == 2
    assert reading.level == "high"


def test_a_failure_is_not_kept_so_the_next_pass_tries_again(open_meteo: FakeOpenMeteo) -> None:
    open_meteo.script = ["500"]
    provider = _provider(open_meteo)

    failed = provider.reading(DAY)
    recovered = provider.reading(DAY)

    assert failed.level == "unknown"
    assert recovered.level == "none"
    assert len(open_meteo.requests) == 2


# --- bad answers: unknown with a plain status, never an exception -------------------------------


def test_server_error_gives_unknown_with_a_status(open_meteo: FakeOpenMeteo) -> None:
    open_meteo.script = ["500"]

    reading = _provider(open_meteo).reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail == "The pollen service is having trouble; no allergy alerts today."


def test_refused_request_gives_unknown_with_a_status(open_meteo: FakeOpenMeteo) -> None:
    open_meteo.script = ["400"]

    reading = _provider(open_meteo).reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail.startswith("The pollen service refused the clinic's location")


def test_a_service_slower_than_the_timeout_gives_unknown(open_meteo: FakeOpenMeteo) -> None:
    open_meteo.script = ["slow"]

    reading = _provider(open_meteo, timeout_s=0.3).reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail == "The pollen service did not answer in time; no allergy alerts today."


def test_an_unreachable_service_gives_unknown() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    provider = OpenMeteoPollen(
        *BERLIN, timezone="Europe/Berlin", base_url=f"http://127.0.0.1:{closed_port}"
    )

    reading = provider.reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail == ("The pollen service could not be reached; no allergy alerts today.")


@pytest.mark.parametrize("mode", ["garbage", "missing", "short", "negative"])
def test_an_answer_that_makes_no_sense_gives_unknown(open_meteo: FakeOpenMeteo, mode: str) -> None:
    open_meteo.script = [mode]
    open_meteo.set_hour("grass", DAY, 12, 300.0)  # would be very high if believed

    reading = _provider(open_meteo).reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail == (
        "The pollen service gave an answer that makes no sense; no allergy alerts today."
    )


def test_a_us_clinic_gets_unknown_because_the_pollen_data_covers_europe_only(
    open_meteo: FakeOpenMeteo,
) -> None:
    open_meteo.set_hour("grass", DAY, 12, 300.0)
    provider = OpenMeteoPollen(
        *CHICAGO, timezone="America/Chicago", base_url=open_meteo.url, session=None
    )

    reading = provider.reading(DAY)

    assert reading.level == "unknown"
    assert "covers Europe only" in reading.detail
    assert open_meteo.requests[0]["timezone"] == "America/Chicago"


def test_a_day_beyond_the_forecast_is_unknown(open_meteo: FakeOpenMeteo) -> None:
    reading = _provider(open_meteo).reading(DAY + timedelta(days=10))

    assert reading.level == "unknown"
    assert "does not reach 2026-05-14" in reading.detail


def test_a_location_off_the_globe_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidInputError):
        OpenMeteoPollen(95.0, 13.4, timezone="Europe/Berlin")
    with pytest.raises(InvalidInputError):
        OpenMeteoPollen(52.5, 13.4, timezone="Mars/Olympus")


# --- the desk's switch ---------------------------------------------------------------------


def test_the_desk_switch_counts_on_the_day_it_was_set_only(clinic: Clinic) -> None:
    changes = set_manual(clinic, DAY, "high")

    switch = ManualPollen(clinic)
    assert "setting" in changes.tables
    assert switch.reading(DAY).level == "high"
    assert switch.reading(DAY).source == "Desk switch"
    assert switch.reading(DAY + timedelta(days=1)).level == "unknown"


def test_the_desk_switch_is_kept_in_the_clinic_for_every_desk(clinic: Clinic) -> None:
    set_manual(clinic, DAY, "very_high")

    stored = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (MANUAL_SETTING,)
    ).fetchone()
    assert json.loads(stored[0]) == {"day": "2026-05-04", "level": "very_high"}
    other_desk = clinic.fork()
    try:
        assert ManualPollen(other_desk).reading(DAY).level == "very_high"
    finally:
        other_desk.close()


def test_clearing_the_switch_leaves_no_level(clinic: Clinic) -> None:
    set_manual(clinic, DAY, "high")

    clear_manual(clinic)

    assert ManualPollen(clinic).reading(DAY).level == "unknown"
    clear_manual(clinic)  # clearing twice is harmless


def test_the_switch_refuses_a_level_it_does_not_know(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError):
        set_manual(clinic, DAY, "extreme")
    with pytest.raises(InvalidInputError):
        set_manual(clinic, DAY, "unknown")


# --- all together ---------------------------------------------------------------------------


def test_the_switch_wins_and_the_service_is_not_asked(
    clinic: Clinic, open_meteo: FakeOpenMeteo
) -> None:
    open_meteo.set_hour("grass", DAY, 12, 300.0)
    set_manual(clinic, DAY, "low")
    csv = CsvPollen(f"date,level\n{DAY.isoformat()},moderate\n")

    # Given in the "wrong" order on purpose: the rule does not depend on it.
    reading = combined([_provider(open_meteo), csv, ManualPollen(clinic)]).reading(DAY)

    assert (reading.level, reading.source) == ("low", "Desk switch")
    assert open_meteo.requests == []


def test_the_file_decides_its_days_and_the_forecast_the_others(
    clinic: Clinic, open_meteo: FakeOpenMeteo
) -> None:
    open_meteo.set_hour("birch", DAY + timedelta(days=1), 12, 200.0)
    csv = CsvPollen(f"date,level\n{DAY.isoformat()},moderate\n")
    pollen = combined([ManualPollen(clinic), csv, _provider(open_meteo)])

    today = pollen.reading(DAY)
    tomorrow = pollen.reading(DAY + timedelta(days=1))

    assert (today.level, today.source) == ("moderate", "Pollen file")
    assert (tomorrow.level, tomorrow.source) == ("high", "Open-Meteo")


def test_when_nobody_knows_the_services_reason_is_shown(
    clinic: Clinic, open_meteo: FakeOpenMeteo
) -> None:
    open_meteo.script = ["500"]

    reading = combined([ManualPollen(clinic), _provider(open_meteo)]).reading(DAY)

    assert reading.level == "unknown"
    assert reading.detail == "The pollen service is having trouble; no allergy alerts today."


def test_no_providers_means_unknown() -> None:
    assert combined([]).reading(DAY).level == "unknown"
