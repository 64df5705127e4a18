"""Turning a time typed on the clinic's wall clock into the moment it means.

Receptionists type times in the clinic's zone whatever the computer's own zone is; the
core stores UTC. The two nights a year the clocks change are where this goes wrong, so
the rule lives here, once, next to its tests rather than inside a form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from app.errors import InvalidDateError


def local_start(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The aware moment of a wall-clock time at the clinic.

    A time the clocks skip (02:30 on the night they go forward) is refused rather than
    silently shifted an hour, since the patient would be told the wrong time. A time
    that happens twice (the night they go back) means the first one: fold=0 is the
    earlier reading, which is what a person booking "1:30" that night expects.
    """
    wall = datetime.combine(day, at)
    moment = wall.replace(tzinfo=zone, fold=0)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidDateError(
            "That time does not exist on that day: the clocks go forward an hour. "
            "Choose a time outside that hour."
        )
    return moment
