"""The demo clinic's engagement history: sent reminders, replies, survey answers, enquiries, spend.

Reports and campaigns need something to show on a demo: reminders sent before most visits
of the last two years (and, as in real clinics, fewer no-shows among the reminded), some visits
confirmed by a texted reply, NPS answers for about 30 % of last year's visits, a few
enquiries in every stage of the pipeline and a year of spend on the paid channels.

Every draw here comes from a generator of its own, so adding this history changed no
row of the rest of a demo clinic; rows are plain dicts the builder flushes with its
own, in the same transaction.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Final

from app.demo import names
from app.reminders.outbox import idem_key, new_row
from app.reminders.replies import CONFIRM_NOTE

# The outbox needs a rule: a demo built into a clinic that has its appointment rule
# uses that one; otherwise this name stands for the rule the reminders were sent by.
DEMO_RULE_ID: Final = "demo-appointment-reminders"
# Chance that a past visit had a reminder sent, by how the visit went: no-shows were
# reminded less often (so the reminder report shows what reminders do).
_REMINDED: Final = {"fulfilled": 0.82, "noshow": 0.45, "cancelled": 0.6}
# The clinic began sending reminders two years ago: older visits had none. (Also what
# keeps a 100k demo quick to build: reminders for ten years of visits were 220,000
# outbox rows and half again the build time.)
_REMINDERS_SINCE: Final = timedelta(days=730)
_CONFIRMED_BY_REPLY: Final = 0.35  # of visits reminded by text that then took place
_SURVEYED: Final = 0.30  # of the fulfilled visits of the last year
_SURVEY_DAYS: Final = 365
# Scores 0..10, skewed positive like most small clinics' NPS answers.
_SCORE_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 3, 6, 12, 26, 34)
_COMMENTS: Final = {
    "promoter": (
        "Dr. was great, very thorough.",
        "Friendly front desk, short wait.",
        "Always feel listened to here.",
        "Easy to book and on time.",
    ),
    "passive": (
        "Fine, but the wait was long.",
        "Good visit; parking is hard.",
        "OK overall.",
    ),
    "detractor": (
        "Waited 40 minutes past my time.",
        "Nobody called back about my results.",
        "The bill was not what I was told.",
    ),
}
# Paid channels and a month's spend per 1,000 patients, in cents.
_SPEND_PER_THOUSAND: Final = {
    "search": 40_000,
    "maps": 10_000,
    "social": 15_000,
    "insurance_directory": 20_000,
    "website": 8_000,
}
_EVENT_SPEND: Final = 30_000  # a community event now and then (same scale)
_LEAD_SOURCES: Final = (
    ("search", 30),
    ("maps", 12),
    ("website", 18),
    ("social", 10),
    ("patient_referral", 14),
    ("insurance_directory", 10),
    ("event", 4),
    ("other", 2),
)
_LEAD_NOTES: Final = (
    "Asked if we take new patients",
    "Wants a physical for a new job",
    "New in town, looking for a family doctor",
    "Asked about well-child visits",
    "Asked which insurance we take",
    "Wants an evening appointment",
)
_LOST_NOTES: Final = ("Went elsewhere", "No answer after three calls", "Insurance not taken")


# The first enquiries of every demo: (days ago, stages), one or two per stage.
_EVERY_STAGE: Final = (
    (0.2, ("new",)),
    (1, ("new",)),
    (3, ("new", "contacted")),
    (9, ("new", "contacted")),
    (12, ("new", "contacted", "booked")),
    (20, ("new", "booked")),
    (45, ("new", "contacted", "booked", "first_visit")),
    (80, ("new", "booked", "first_visit")),
    (60, ("new", "contacted", "lost")),
)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds") + "Z"


class Engagement:
    """Draws the engagement rows while the builder makes visits, then the leads and spend."""

    def __init__(self, seed: int, now: datetime, today: date, rule_id: str) -> None:
        self.rng = random.Random(f"demo-engagement:{seed}")
        self._random = self.rng.random
        self.now = now  # naive UTC
        self.today = today
        self.rule_id = rule_id
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._counter = 0
        self._scores = list(range(11))

    def _ref(self) -> str:
        self._counter += 1
        return f"demo-{self._counter:08d}"

    def visit(
        self,
        patient_id: str,
        visit: dict[str, Any],
        start: datetime,
        local_day: date,
        reach: dict[str, str],
        new_id: Any,
    ) -> list[dict[str, Any]]:
        """Reminder, reply and survey answer of one past visit; returns the status rows
        (a confirmation by reply) the builder adds to the visit's history."""
        status = str(visit["status"])
        chance = _REMINDED.get(status)
        if chance is None or start >= self.now or not reach:
            return []
        if start < self.now - _REMINDERS_SINCE:
            return []  # before reminders (and long before any survey)
        random_ = self._random
        statuses: list[dict[str, Any]] = []
        sent = start - timedelta(days=2)
        sent_text = _iso(sent)
        # Booked after the reminder would have gone: no reminder (the draw is still made).
        if random_() < chance and str(visit["created_at"]) < sent_text:
            channel = "sms" if "sms" in reach else "email"
            occurrence = local_day.isoformat()
            row = new_row(
                idem=idem_key(self.rule_id, 1, str(visit["id"]), occurrence),
                rule_id=self.rule_id,
                touch=1,
                purpose="appointment",
                patient_id=patient_id,
                subject_kind="appointment",
                subject_id=str(visit["id"]),
                occurrence=occurrence,
                due_at=sent_text,
                stale_at=_iso(start),
                now=_iso(sent - timedelta(days=5)),
            )
            row.update(
                state="sent",
                channel=channel,
                recipient=reach[channel],
                subject="Appointment reminder",
                body=f"Reminder: your visit on {local_day:%a %d %b}. Reply C to confirm.",
                delivery="delivered" if channel == "sms" else "",
                attempts=1,
                sent_at=sent_text,
                updated_at=sent_text,
            )
            self.rows["outbox"].append(row)
            if channel == "sms" and status == "fulfilled" and random_() < _CONFIRMED_BY_REPLY:
                replied = sent + timedelta(minutes=5 + 600 * random_())
                replied_text = _iso(replied)
                self.rows["inbound_message"].append(
                    {
                        "id": new_id(),
                        "provider_ref": self._ref(),
                        "channel": "sms",
                        "sender": reach["sms"],
                        "body": self.rng.choice(("C", "c", "Confirm", "C thanks")),
                        "received_at": replied_text,
                        "patient_id": patient_id,
                        "outbox_id": row["id"],
                        "meaning": "confirm",
                        "action": "Confirmed the visit",
                        "handled_at": replied_text,
                        "handled_by": "",
                    }
                )
                statuses.append(
                    {
                        "id": new_id(),
                        "appointment_id": visit["id"],
                        "status": "confirmed",
                        "changed_at": replied_text,
                        "note": CONFIRM_NOTE,
                    }
                )
        recent = start >= self.now - timedelta(days=_SURVEY_DAYS)
        if status == "fulfilled" and recent and random_() < _SURVEYED:
            self.survey(patient_id, visit, start, reach, new_id)
        return statuses

    def survey(
        self,
        patient_id: str,
        visit: dict[str, Any],
        start: datetime,
        reach: dict[str, str],
        new_id: Any,
    ) -> None:
        random_ = self._random
        score = self.rng.choices(self._scores, _SCORE_WEIGHTS)[0]
        kiosk = "sms" not in reach or random_() < 0.3
        answered = start + timedelta(hours=1 if kiosk else 20 + 30 * random_())
        answered = min(answered, self.now)
        comment = ""
        if random_() < 0.3:
            kind = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            comment = self.rng.choice(_COMMENTS[kind])
        self.rows["survey_response"].append(
            {
                "id": new_id(),
                # A kiosk answer is anonymous: no patient, only the visit's place and doctor.
                "patient_id": None if kiosk else patient_id,
                "appointment_id": None if kiosk else visit["id"],
                "provider_id": visit["provider_id"],
                "location_id": visit["location_id"],
                "score": score,
                "comment": comment,
                "channel": "kiosk" if kiosk else "sms",
                "outbox_id": None,
                "reply_id": None,
                "answered_at": _iso(answered),
                "created_at": _iso(answered),
            }
        )

    # --- enquiries and spend ------------------------------------------------------------

    def _month(self, back: int) -> str:
        index = self.today.year * 12 + self.today.month - 1 - back
        return f"{index // 12:04d}-{index % 12 + 1:02d}"

    def spend(self, patients: int, new_id: Any) -> None:
        """A year of spend on the paid channels, scaled to the clinic's size."""
        scale = max(1.0, patients / 1000)
        rng = self.rng
        for back in range(12):
            month = self._month(back)
            for source, base in _SPEND_PER_THOUSAND.items():
                cents = round(base * scale * rng.uniform(0.7, 1.3), -3)
                self.rows["channel_spend"].append(
                    {"id": new_id(), "source": source, "month": month, "amount_cents": cents}
                )
            if rng.random() < 0.25:
                cents = round(_EVENT_SPEND * scale * rng.uniform(0.8, 1.2), -3)
                self.rows["channel_spend"].append(
                    {"id": new_id(), "source": "event", "month": month, "amount_cents": cents}
                )

    def leads(self, patients: int, new_id: Any) -> None:
        """Enquiries of the last year in every stage: recent ones still new or contacted,
        older ones booked, come or lost; each with its history of stages."""
        rng = self.rng
        count = max(15, patients // 60)
        sources = [s for s, _ in _LEAD_SOURCES]
        weights = [w for _, w in _LEAD_SOURCES]
        for index in range(count):
            age_days = 0.2 + 364 * rng.random() ** 1.3
            received = self.now - timedelta(days=age_days)
            path: tuple[str, ...]
            if index < len(_EVERY_STAGE):  # so even a small demo shows every stage
                days, path = _EVERY_STAGE[index]
                age_days = days + rng.random()
                received = self.now - timedelta(days=age_days)
            elif age_days < 7:
                path = rng.choice((("new",), ("new",), ("new", "contacted")))
            elif age_days < 30:
                path = rng.choice(
                    (("new", "contacted"), ("new", "contacted", "booked"), ("new", "booked"))
                )
            else:
                path = rng.choices(
                    (
                        ("new", "contacted", "booked", "first_visit"),
                        ("new", "booked", "first_visit"),
                        ("new", "contacted", "lost"),
                        ("new", "lost"),
                        ("new", "contacted", "booked", "lost"),
                    ),
                    (40, 15, 25, 10, 10),
                )[0]
            lead_id = new_id()
            family = rng.choice(names.FAMILY_NAMES)
            given = rng.choice(names.FEMALE_GIVEN + names.MALE_GIVEN)
            phone = f"+1{rng.choice(('612', '651', '763'))}{rng.randint(200, 999)}"
            phone += f"{rng.randint(0, 9999):04d}"
            local = "".join(
                ch
                for ch in f"{given.split()[0]}.{family}".lower()
                if ch.isascii() and (ch.isalnum() or ch == ".")
            )
            email = f"{local}{rng.randint(1, 99)}@example.com"
            when = received
            history = []
            for step, status in enumerate(path):
                if step:
                    when = min(self.now, when + timedelta(days=0.1 + age_days / 6 * rng.random()))
                note = rng.choice(_LOST_NOTES) if status == "lost" else ""
                history.append(
                    {
                        "id": new_id(),
                        "lead_id": lead_id,
                        "status": status,
                        "changed_at": _iso(when),
                        "note": note,
                    }
                )
            self.rows["lead"].append(
                {
                    "id": lead_id,
                    "family_name": family,
                    "given_names": given,
                    "phone": phone,
                    "email": email if rng.random() < 0.6 else "",
                    "source": rng.choices(sources, weights)[0],
                    "status": path[-1],
                    "note": rng.choice(_LEAD_NOTES),
                    "patient_id": None,
                    "created_at": _iso(received),
                    "updated_at": _iso(when),
                }
            )
            self.rows["lead_status"].extend(history)
