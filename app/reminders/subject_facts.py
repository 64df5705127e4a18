"""What a message is about, as the record stands at send time (Facts), or why it no
longer holds (Gone). Shared by the reminder kinds (subject_checks) and the kinds defined
in app/engagement, which fill `extra` with their own template values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from app.scheduling.appointments import Appointment


@dataclass(frozen=True)
class Facts:
    """What a message says, as the record stands: only what the purpose's variables need."""

    visit: Appointment | None = None  # the visit reminded of, or the one missed
    due_date: date | None = None  # recall
    recall_kind: str = ""  # recall: the kind of visit the patient is due for
    balance_cents: int | None = None  # billing
    # Template values a kind defined outside the reminders package fills in itself (a
    # survey's question, an education item's title and link), named as in its VARIABLES.
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Gone:
    """The message's subject no longer holds; `reason` is what the Messages page shows."""

    reason: str
