"""Statements for billing notices: the patient's charges and payments as a table, the balance
and how to pay, printed like a letter so it fits the same window envelope."""

# A billing notice that says only "you owe $245" invites a phone call asking "for what?".
# The statement answers it on paper: every charge and payment, oldest first, with the
# running balance, so the last figure of the table is the balance due, and the open charges
# say which visits are still unpaid (payments settle the oldest charges first, as a
# patient reading the table would assume).
#
# The figures come straight from the charge and payment tables with the same sums as
# app.billing.ledger.balance, so the statement can never disagree with the account screen.

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, TypeAlias
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table, TableStyle

from app.clinic import Clinic, ClinicSettings
from app.errors import InvalidInputError
from app.letters import fonts as fontreg
from app.letters.body_text import BodyStyles, body_flowables
from app.letters.envelopes import envelope
from app.letters.fonts import FontSet
from app.letters.layout import (
    INK,
    MUTED,
    RULE,
    draw_address,
    draw_fold_marks,
    draw_return_line,
    fit_address,
)
from app.letters.letterhead import draw_info, draw_letterhead, prepare_letterhead
from app.letters.paged import PagedBatch, PageRun, build_paged
from app.letters.settings import LetterSettings
from app.patients.validation import display_phone
from app.reminders import wording

METHOD_WORDS: Final = {
    "en": {
        "card": "card",
        "cash": "cash",
        "check": "check",
        "transfer": "bank transfer",
        "insurance": "insurance",
        "other": "other",
    },
    "es": {
        "card": "tarjeta",
        "cash": "efectivo",
        "check": "cheque",
        "transfer": "transferencia",
        "insurance": "seguro",
        "other": "otro",
    },
}


@dataclass(frozen=True)
class StatementRow:
    """One line of the table: a charge or a payment and the balance after it."""

    day: date  # the clinic's local date
    kind: Literal["charge", "payment"]
    description: str
    amount_cents: int
    balance_cents: int  # the running balance after this row
    method: str = ""  # payments: card, cash, check, ...

    @property
    def charge_cents(self) -> int:
        return self.amount_cents if self.kind == "charge" else 0

    @property
    def payment_cents(self) -> int:
        return self.amount_cents if self.kind == "payment" else 0


@dataclass(frozen=True)
class OpenCharge:
    """A charge not yet paid in full once payments settled the oldest charges first."""

    charge_id: str
    day: date
    description: str
    amount_cents: int
    open_cents: int


@dataclass(frozen=True)
class Statement:
    patient_id: str
    rows: tuple[StatementRow, ...]
    balance_cents: int  # charged - paid, as ledger.balance(...).due_cents
    open_charges: tuple[OpenCharge, ...]

    @property
    def charged_cents(self) -> int:
        return sum(r.charge_cents for r in self.rows)

    @property
    def paid_cents(self) -> int:
        return sum(r.payment_cents for r in self.rows)


def _local_day(utc_text: str, zone: ZoneInfo) -> date:
    moment = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def statement_lines(clinic: Clinic, patient_id: str) -> Statement:
    """The patient's charges and payments oldest first with the running balance.

    On one instant a charge comes before a payment, so a payment taken at the desk for the
    visit just charged never shows a credit for a moment.
    """
    zone = ZoneInfo(clinic.settings.timezone)
    found = clinic.conn.execute(
        "SELECT posted_at, 0, id, amount_cents, description, '' FROM charge "
        "WHERE patient_id = ? "
        "UNION ALL "
        "SELECT received_at, 1, id, amount_cents, '', method FROM payment "
        "WHERE patient_id = ? "
        "ORDER BY 1, 2, 3",
        (patient_id, patient_id),
    ).fetchall()
    rows: list[StatementRow] = []
    charges: list[tuple[str, date, str, int]] = []
    running = 0
    paid = 0
    for at, is_payment, row_id, amount, description, method in found:
        day = _local_day(str(at), zone)
        cents = int(amount)
        if is_payment:
            running -= cents
            paid += cents
            rows.append(StatementRow(day, "payment", "", cents, running, str(method)))
        else:
            running += cents
            text = " ".join(str(description).split())
            rows.append(StatementRow(day, "charge", text, cents, running))
            charges.append((str(row_id), day, text, cents))
    return Statement(patient_id, tuple(rows), running, _open_charges(charges, paid))


def _open_charges(
    charges: Sequence[tuple[str, date, str, int]], paid: int
) -> tuple[OpenCharge, ...]:
    """Payments settle the oldest charges first (FIFO); what is left of each is open."""
    left = paid
    still_open: list[OpenCharge] = []
    for charge_id, day, description, amount in charges:
        settled = min(left, amount)
        left -= settled
        if amount - settled > 0:
            still_open.append(OpenCharge(charge_id, day, description, amount, amount - settled))
    return tuple(still_open)


# --- the printed statement ----------------------------------------------------------------

PDF_TITLE: Final = "Statements"

_WORDS: Final = {
    "en": {
        "title": "Statement of account",
        "date": "Date",
        "description": "Description",
        "charge": "Charge",
        "payment": "Payment",
        "balance": "Balance",
        "a_charge": "Charge",
        "paid": "Payment ({method})",
        "due": "Balance due",
        "credit": "Credit on your account",
        "nothing_due": "Nothing is due. Thank you.",
        "open": "The balance is made up of {count} unpaid {charges}, the oldest from {day}.",
        "charge_one": "charge",
        "charge_many": "charges",
        "how": "How to pay",
        "phone": "By phone: {phone}",
        "online": "Online: {web}",
        "mail": "By mail: {address}",
        "no_rows": "There are no charges or payments on your account.",
    },
    "es": {
        "title": "Estado de cuenta",
        "date": "Fecha",
        "description": "Concepto",
        "charge": "Cargo",
        "payment": "Pago",
        "balance": "Saldo",
        "a_charge": "Cargo",
        "paid": "Pago ({method})",
        "due": "Saldo pendiente",
        "credit": "Saldo a su favor",
        "nothing_due": "No hay saldo pendiente. Gracias.",
        "open": "El saldo corresponde a {count} {charges} sin pagar; el más antiguo del {day}.",
        "charge_one": "cargo",
        "charge_many": "cargos",
        "how": "Cómo pagar",
        "phone": "Por teléfono: {phone}",
        "online": "En línea: {web}",
        "mail": "Por correo: {address}",
        "no_rows": "No hay cargos ni pagos en su cuenta.",
    },
}


def _words(language: str) -> dict[str, str]:
    return _WORDS.get(wording.base_language(language), _WORDS["en"])


@dataclass(frozen=True)
class StatementInput:
    """One statement: the recipient, the date line and the figures, all read beforehand."""

    recipient_lines: Sequence[str]
    date_text: str
    statement: Statement
    language: str = "en"
    body_text: str = ""  # an optional note above the table (read as a letter's body is)


StatementBatch: TypeAlias = PagedBatch
"""The built document: its page count and the page (1-based) each statement starts on."""


def short_date(day: date, *, day_first: bool) -> str:
    """03/10/2026 (US) or 10/03/2026: a table column needs the short form."""
    if day_first:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


@dataclass
class _Styles:
    cell: ParagraphStyle
    money: ParagraphStyle
    head: ParagraphStyle
    head_money: ParagraphStyle
    title: ParagraphStyle
    body: ParagraphStyle
    due: ParagraphStyle
    heading: ParagraphStyle
    small: ParagraphStyle
    text: BodyStyles


def _styles(font: FontSet) -> _Styles:
    body = ParagraphStyle(
        "st-body", fontName=font.regular, fontSize=10, leading=13.5, textColor=INK, spaceAfter=6
    )
    cell = ParagraphStyle("st-cell", parent=body, fontSize=9, leading=11.5, spaceAfter=0)
    head = ParagraphStyle("st-head", parent=cell, fontName=font.bold)
    return _Styles(
        cell=cell,
        money=ParagraphStyle("st-money", parent=cell, alignment=TA_RIGHT),
        head=head,
        head_money=ParagraphStyle("st-head-money", parent=head, alignment=TA_RIGHT),
        title=ParagraphStyle(
            "st-title", parent=body, fontName=font.bold, fontSize=13, leading=17, spaceAfter=8
        ),
        body=body,
        due=ParagraphStyle(
            "st-due",
            parent=body,
            fontName=font.bold,
            fontSize=12,
            leading=16,
            alignment=TA_RIGHT,
            spaceBefore=8,
            spaceAfter=4,
        ),
        heading=ParagraphStyle(
            "st-heading",
            parent=body,
            fontName=font.bold,
            fontSize=10.5,
            spaceBefore=10,
            spaceAfter=3,
        ),
        small=ParagraphStyle("st-small", parent=body, fontSize=9, leading=12, textColor=MUTED),
        text=BodyStyles.from_body(body),
    )


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _table(
    statement: Statement,
    language: str,
    styles: _Styles,
    width: float,
    region: str,
    day_first: bool,
) -> Table:
    """The rows with the header repeated on every page the table runs onto."""
    words = _words(language)
    money = styles.money
    header = [
        Paragraph(_e(words["date"]), styles.head),
        Paragraph(_e(words["description"]), styles.head),
        Paragraph(_e(words["charge"]), styles.head_money),
        Paragraph(_e(words["payment"]), styles.head_money),
        Paragraph(_e(words["balance"]), styles.head_money),
    ]
    methods = METHOD_WORDS.get(wording.base_language(language), METHOD_WORDS["en"])
    data: list[list[Any]] = [header]
    for row in statement.rows:
        if row.kind == "charge":
            what = row.description or words["a_charge"]
        else:
            what = words["paid"].format(method=methods.get(row.method, row.method))
        data.append(
            [
                Paragraph(short_date(row.day, day_first=day_first), styles.cell),
                Paragraph(_e(what), styles.cell),
                Paragraph(
                    wording.money(row.charge_cents, region) if row.charge_cents else "", money
                ),
                Paragraph(
                    wording.money(row.payment_cents, region) if row.payment_cents else "", money
                ),
                Paragraph(wording.money(row.balance_cents, region), money),
            ]
        )
    figure = 68.0
    date_w = 62.0
    table = Table(
        data,
        colWidths=[date_w, width - date_w - 3 * figure, figure, figure, figure],
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eceff1")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7f8f9")]),
                ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
            ]
        )
    )
    return table


def _how_to_pay(
    language: str,
    words: dict[str, str],
    settings: LetterSettings,
    clinic: ClinicSettings,
    styles: _Styles,
) -> list[Flowable]:
    web = " ".join(settings.web.split())
    lines = [wording.pay_instructions(language, online=bool(web))]
    if clinic.phone:
        lines.append(words["phone"].format(phone=display_phone(clinic.phone, clinic.region)))
    if web:
        lines.append(words["online"].format(web=web))
    address = ", ".join(
        p for p in [clinic.name, *(line.strip() for line in clinic.address.splitlines())] if p
    )
    if clinic.address.strip():
        lines.append(words["mail"].format(address=address))
    return [
        Paragraph(_e(words["how"]), styles.heading),
        *(
            Paragraph(_e(line), styles.body if i == 0 else styles.small)
            for i, line in enumerate(lines)
        ),
    ]


def _story_for(
    item: StatementInput,
    settings: LetterSettings,
    clinic: ClinicSettings,
    styles: _Styles,
    width: float,
) -> list[Flowable]:
    words = _words(item.language)
    statement = item.statement
    region = clinic.region
    story: list[Flowable] = [Paragraph(_e(words["title"]), styles.title)]
    story += body_flowables(item.body_text, styles.text)
    if statement.rows:
        story.append(_table(statement, item.language, styles, width, region, clinic.day_first))
    else:
        story.append(Paragraph(_e(words["no_rows"]), styles.body))
    due = statement.balance_cents
    if due > 0:
        summary = f"{_e(words['due'])}: {_e(wording.money(due, region))}"
    elif due < 0:
        summary = f"{_e(words['credit'])}: {_e(wording.money(-due, region))}"
    else:
        summary = _e(words["nothing_due"])
    closing: list[Flowable] = [Paragraph(summary, styles.due)]
    if due > 0 and statement.open_charges:
        count = len(statement.open_charges)
        oldest = statement.open_charges[0].day
        closing.append(
            Paragraph(
                _e(
                    words["open"].format(
                        count=count,
                        charges=words["charge_one" if count == 1 else "charge_many"],
                        day=short_date(oldest, day_first=clinic.day_first),
                    )
                ),
                ParagraphStyle("st-open", parent=styles.small, alignment=TA_RIGHT),
            )
        )
    if due > 0:
        closing += _how_to_pay(item.language, words, settings, clinic, styles)
    story.append(KeepTogether(closing))
    return story


def build_statements(
    inputs: Sequence[StatementInput],
    settings: LetterSettings,
    clinic_settings: ClinicSettings,
    out: BinaryIO | Path,
) -> StatementBatch:
    """Every statement into one PDF, laid out like a letter for the same window envelope:
    letterhead, address, date, then the table (split across pages with its header
    repeated), the balance due in bold and how to pay. A Path is written atomically.

    Raises InvalidInputError (naming the statement's number, never the patient) when an
    address cannot print in the envelope's window, before anything is written.
    """
    if not inputs:
        raise InvalidInputError("There are no statements to print.")
    font = fontreg.register()
    env = envelope(settings.envelope)
    for number, item in enumerate(inputs, start=1):
        try:
            fit_address(item.recipient_lines, env.address_box, font)
        except InvalidInputError as exc:
            raise InvalidInputError(f"Statement {number} of {len(inputs)}: {exc}") from None
    styles = _styles(font)
    head = prepare_letterhead(clinic_settings, env, settings.logo_png, settings.web)

    def page_one(index: int, canvas: Canvas) -> None:
        item = inputs[index]
        draw_letterhead(canvas, head, env, font)
        draw_return_line(canvas, head.return_line, env, font)
        draw_address(canvas, item.recipient_lines, env, font)
        draw_info(canvas, head, env, font, item.date_text)
        draw_fold_marks(canvas, env)

    def title_of(index: int) -> str:
        return _words(inputs[index].language)["title"]

    run = PageRun(inputs, env, font, head.clinic_name, page_one, title_of)
    width, _height = env.page_size
    left, right, _top, _bottom = env.margins
    contents = (
        _story_for(item, settings, clinic_settings, styles, width - left - right) for item in inputs
    )
    return build_paged(run, contents, blank_backs=settings.blank_backs, title=PDF_TITLE, out=out)
