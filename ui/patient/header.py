"""The header card: who the patient is and where things stand, readable at a glance."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QLocale, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.patients.summary import ConsentBadge, PatientSummary
from app.patients.validation import display_phone
from ui.theme import ColorName, css

CHANNEL_WORDS = {"sms": "Text", "email": "Email", "letter": "Letter", "phone": "Phone call"}
PURPOSE_WORDS = {
    "appointment": "Reminders",
    "recall": "Recalls",
    "billing": "Billing",
    "education": "Health tips",
    "survey": "Surveys",
    "marketing": "News",
}
# Colour is never the only signal: each badge also carries a symbol and words. The
# colour is a name of ui.theme, so it reads well in the light and the dark look alike.
BADGE_LOOK: dict[str, tuple[str, ColorName, str]] = {
    "granted": ("✓", "ok", "yes"),
    "withdrawn": ("✕", "danger", "no"),
    "unknown": ("–", "muted", "not asked"),
}


def local_text(utc_iso: str | None, zone: ZoneInfo, pattern: str = "%a %d %b %Y, %H:%M") -> str:
    if not utc_iso:
        return ""
    moment = datetime.fromisoformat(utc_iso.replace("Z", "+00:00"))
    return moment.astimezone(zone).strftime(pattern)


def language_name(code: str) -> str:
    """'so' -> 'Somali': stored as a BCP 47 tag, shown as a word; unknown tags as typed."""
    locale = QLocale(code)
    if locale.language() == QLocale.Language.C:
        return code
    return QLocale.languageToString(locale.language())


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def birth_text(birth_date: str | None) -> str:
    """Partial dates stay partial: '1974' is shown as born 1974, not 1 Jan 1974."""
    if not birth_date:
        return "birth date not known"
    if len(birth_date) == 10:
        return datetime.strptime(birth_date, "%Y-%m-%d").strftime("born %d %b %Y")
    if len(birth_date) == 7:
        return datetime.strptime(birth_date, "%Y-%m").strftime("born %b %Y")
    return f"born {birth_date}"


def _day_text(iso: str) -> str:
    try:
        return datetime.strptime(iso, "%Y-%m-%d").strftime("%d %b %Y")
    except ValueError:
        return iso


def badge_text(badge: ConsentBadge, zone: ZoneInfo) -> str:
    what = f"{CHANNEL_WORDS[badge.channel]} for {PURPOSE_WORDS[badge.purpose].lower()}"
    if badge.state == "unknown":
        return f"{what}: not asked yet"
    said = "yes" if badge.state == "granted" else "no"
    when = local_text(badge.recorded_at, zone, "%d %b %Y")
    who = f" by {badge.recorded_by}" if badge.recorded_by else ""
    return f"{what}: {said} (recorded {when}{who})"


class _Badge(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(28)
        # ✓ and ✕ are thin strokes at text size; larger, they read at a glance.
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.setFont(font)
        self.state = "unknown"

    def show_badge(self, badge: ConsentBadge, zone: ZoneInfo) -> None:
        symbol, _tone, _word = BADGE_LOOK[badge.state]
        self.state = badge.state
        self.setText(symbol)
        self.restyle()
        words = badge_text(badge, zone)
        self.setToolTip(words)
        self.setAccessibleName(words)

    def restyle(self) -> None:
        _restyle(self, f"color: {css(BADGE_LOOK[self.state][1])}; font-weight: bold;")


def _restyle(widget: QWidget, sheet: str) -> None:
    """Set a sheet only when it differs: setting the same one again repolishes the widget,
    which sends a palette change of its own."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


class HeaderCard(QFrame):
    """Filled from one PatientSummary; refreshed whenever the patient's data change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("patientHeader")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.banner = QLabel()
        self.banner.setAccessibleName("Warning about this patient")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.name = QLabel()
        self.name.setAccessibleName("Patient name")
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.name.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.name.setFont(font)
        self.facts = QLabel()
        self.facts.setAccessibleName("Age and birth date")
        self.contact = QLabel()
        self.contact.setAccessibleName("Contact details")
        self.contact.setWordWrap(True)
        self.contact.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tags = QLabel()
        self.tags.setAccessibleName("Tags")
        self.tags.setWordWrap(True)

        self.balance = QLabel()
        self.balance.setAccessibleName("Balance")
        self.next_visit = QLabel()
        self.next_visit.setAccessibleName("Next appointment")
        self.last_visit = QLabel()
        self.last_visit.setAccessibleName("Last visit")
        self.source = QLabel()
        self.source.setAccessibleName("How they found us")
        self.insurance = QLabel()
        self.insurance.setAccessibleName("Insurance")

        who = QVBoxLayout()
        who.addWidget(self.name)
        who.addWidget(self.facts)
        who.addWidget(self.contact)
        who.addWidget(self.tags)
        who.addStretch(1)
        standing = QVBoxLayout()
        standing_labels = (
            self.balance,
            self.next_visit,
            self.last_visit,
            self.insurance,
            self.source,
        )
        for label in standing_labels:
            label.setWordWrap(True)
            standing.addWidget(label)
        standing.addStretch(1)

        self._owes = False
        self._banner_tone: ColorName | None = None  # "danger" deceased, "warning" no contact
        self.badges: dict[tuple[str, str], _Badge] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        title = QLabel("May we contact them?")
        title.setStyleSheet("font-weight: bold;")
        grid.addWidget(title, 0, 0, 1, len(PURPOSE_WORDS) + 1)
        for column, purpose in enumerate(PURPOSE_WORDS, start=1):
            head = QLabel(PURPOSE_WORDS[purpose])
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(head, 1, column)
        for row, channel in enumerate(CHANNEL_WORDS, start=2):
            grid.addWidget(QLabel(CHANNEL_WORDS[channel]), row, 0)
            for column, purpose in enumerate(PURPOSE_WORDS, start=1):
                badge = _Badge()
                self.badges[(channel, purpose)] = badge
                grid.addWidget(badge, row, column)
        self.preferred = QLabel()
        self.preferred.setAccessibleName("Preferred way to reach them")
        grid.addWidget(self.preferred, len(CHANNEL_WORDS) + 2, 0, 1, len(PURPOSE_WORDS) + 1)

        row_layout = QHBoxLayout()
        row_layout.addLayout(who, 3)
        row_layout.addLayout(standing, 2)
        row_layout.addLayout(grid, 3)
        outer = QVBoxLayout(self)
        outer.addWidget(self.banner)
        outer.addLayout(row_layout)

    def show_summary(self, summary: PatientSummary, region: str, zone: ZoneInfo) -> None:
        patient = summary.patient
        self.name.setText(patient.display_name)
        facts = [birth_text(patient.birth_date)]
        if summary.age is not None:
            facts.insert(0, f"{summary.age} years")
        if patient.sex != "unknown":
            facts.append(patient.sex)
        if patient.language:
            facts.append(f"speaks {language_name(patient.language)}")
        self.facts.setText("  ·  ".join(facts))

        contact = [
            display_phone(cp.value, region) + f" ({cp.use})"
            for cp in patient.contact_points
            if cp.kind == "phone"
        ]
        contact += [cp.value for cp in patient.contact_points if cp.kind == "email"]
        if patient.addresses:
            a = patient.addresses[0]
            contact.append(
                ", ".join(p for p in (a.line1, a.line2, a.city, a.region, a.postal_code) if p)
            )
        self.contact.setText("  ·  ".join(contact) or "No phone, email or address on file.")
        self.tags.setText("Tags: " + ", ".join(patient.tags) if patient.tags else "No tags")

        due = summary.balance.due_cents
        self._owes = due > 0
        if due > 0:
            self.balance.setText(f"Owes {money(due)}")
        elif due < 0:
            self.balance.setText(f"In credit {money(-due)}")
        else:
            self.balance.setText("Nothing owed")
        upcoming = summary.next_appointment
        self.next_visit.setText(
            f"Next visit: {local_text(upcoming.start_at, zone)}"
            + (" (confirmed)" if upcoming.status == "confirmed" else " (not confirmed)")
            if upcoming
            else "No visit booked"
        )
        self.last_visit.setText(
            f"Last visit: {local_text(summary.last_visit, zone, '%d %b %Y')}"
            if summary.last_visit
            else "No visit yet"
        )
        # Only when an import brought coverage in: an empty line would say nothing.
        self.insurance.setText("Insurance: " + "; ".join(summary.insurance))
        self.insurance.setVisible(bool(summary.insurance))
        self.source.setText(
            f"Found us through: {summary.source}"
            if summary.source
            else "How they found us: not recorded"
        )
        for badge in summary.badges:
            self.badges[(badge.channel, badge.purpose)].show_badge(badge, zone)
        self.preferred.setText(
            f"Prefers: {CHANNEL_WORDS[patient.preferred_channel]}"
            if patient.preferred_channel
            else "No preferred way set"
        )
        self._banner(summary)
        self.restyle()

    def _banner(self, summary: PatientSummary) -> None:
        patient = summary.patient
        if patient.deceased:
            when = f" on {patient.deceased_date}" if patient.deceased_date else ""
            self.banner.setText(f"Deceased{when}. Frontdesk never contacts this patient.")
            self._banner_tone = "danger"
        elif patient.do_not_contact:
            self.banner.setText(
                "Do not contact: Frontdesk sends this patient no messages or letters."
            )
            self._banner_tone = "warning"
        elif patient.moved_on:
            self.banner.setText(
                f"Moved away (noted {_day_text(patient.moved_on)}): campaigns and "
                "reactivation leave this patient out."
            )
            self._banner_tone = "warning"
        else:
            self._banner_tone = None
        self.banner.setVisible(self._banner_tone is not None)

    def restyle(self) -> None:
        """Colours for the theme in force: on showing a patient and when the theme changes."""
        _restyle(self.balance, f"color: {css('danger')}; font-weight: bold;" if self._owes else "")
        if self._banner_tone is not None:
            # The banner is filled with the state's colour, which is light in the dark look
            # and dark in the light one; the window's own colour reads on it in both.
            window = QGuiApplication.palette().color(QPalette.ColorRole.Window).name()
            _restyle(
                self.banner,
                f"background: {css(self._banner_tone)}; color: {window};"
                " padding: 6px; font-weight: bold; border-radius: 3px;",
            )
        for badge in self.badges.values():
            badge.restyle()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.restyle()
        super().changeEvent(event)
