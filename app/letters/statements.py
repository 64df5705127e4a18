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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    ActionFlowable,
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from app.clinic import Clinic, ClinicSettings
from app.errors import InvalidInputError
from app.letters import fonts as fontreg
from app.letters.envelopes import Envelope, envelope
from app.letters.fonts import FontSet, text_width
from app.letters.layout import (
    INK,
    MUTED,
    RULE,
    draw_address,
    draw_fold_marks,
    draw_return_line,
    fit_address,
    pdf_properties,
    write_atomically,
)
from app.letters.letter import page_of
from app.letters.letterhead import Letterhead, draw_info, draw_letterhead, prepare_letterhead
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
    body_text: str = ""  # an optional note above the table (plain paragraphs)


@dataclass(frozen=True)
class StatementBatch:
    """The built document: its page count and the page (1-based) each statement starts on."""

    pages: int
    first_page_of: list[int]


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
    for block in item.body_text.replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            story.append(Paragraph(_e(" ".join(block.split())), styles.body))
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


# --- page furniture: letterhead on page one, header and page numbers on the others --------

_HEADER_ROOM: Final = 30.0
_FOOTER_ROOM: Final = 18.0


@dataclass
class _Run:
    """What the markers and the page hook share while the batch is laid out."""

    inputs: Sequence[StatementInput]
    envelope: Envelope
    font: FontSet
    head: Letterhead
    current: int = -1
    first_page_of: list[int] = field(default_factory=list)
    pages_of: list[list[int]] = field(default_factory=list)

    def begin(self, index: int, canvas: Canvas) -> None:
        self.current = index
        self.first_page_of.append(canvas.getPageNumber())
        self.pages_of.append([])
        item = self.inputs[index]
        env, font = self.envelope, self.font
        draw_letterhead(canvas, self.head, env, font)
        draw_return_line(canvas, self.head.return_line, env, font)
        draw_address(canvas, item.recipient_lines, env, font)
        draw_info(canvas, self.head, env, font, item.date_text)
        draw_fold_marks(canvas, env)

    def end(self, canvas: Canvas) -> None:
        """Write the page-number forms of the statement that just ended: only now is its
        page count known (each page already refers to its form by name)."""
        item = self.inputs[self.current]
        pages = [*self.pages_of[self.current], canvas.getPageNumber()]
        for n, page in enumerate(pages, start=1):
            canvas.beginForm(f"statement-page-{page}", -400, -20, 20, 40)
            if len(pages) > 1:
                canvas.setFillColor(MUTED)
                canvas.setFont(self.font.regular, 8.5)
                canvas.drawRightString(0, 0, page_of(n, len(pages), item.language))
            canvas.endForm()
        self.pages_of[self.current].append(-1)  # its last page: counted, not yet ended
        self.current = -2

    def page_end(self, canvas: Canvas, _doc: BaseDocTemplate) -> None:
        index = self.current if self.current >= 0 else len(self.pages_of) - 1
        if index < 0 or self.current == -1:
            return  # a blank back between statements
        page = canvas.getPageNumber()
        pages = self.pages_of[index]
        if pages and pages[-1] == -1:
            pages[-1] = page
            self.current = -1
        else:
            pages.append(page)
        width, _height = self.envelope.page_size
        canvas.saveState()
        canvas.translate(
            width - self.envelope.margins[1], self.envelope.margins[3] - _FOOTER_ROOM + 4
        )
        canvas.doForm(f"statement-page-{page}")
        canvas.restoreState()
        if pages.index(page) > 0:
            self._continuation_header(canvas, self.inputs[index])

    def _continuation_header(self, canvas: Canvas, item: StatementInput) -> None:
        width, height = self.envelope.page_size
        left, right, top, _bottom = self.envelope.margins
        name = " ".join(item.recipient_lines[0].split()) if item.recipient_lines else ""
        words = _words(item.language)
        text = " · ".join(
            p for p in (self.head.clinic_name, words["title"], name, item.date_text) if p
        )
        size = 8.5
        while size > 5 and text_width(text, self.font.regular, size) > width - left - right:
            size -= 0.5
        y = height - top - 10
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(self.font.regular, size)
        canvas.drawString(left, y, text)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(left, y - 5, width - right, y - 5)
        canvas.restoreState()


class _Marker(Flowable):  # type: ignore[misc]  # reportlab has no type hints
    """A zero-size flowable that acts on the page canvas when the layout reaches it."""

    def __init__(self, action: Any) -> None:
        super().__init__()
        self.action = action

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        return 0, 0

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        self.action(canvas)

    def draw(self) -> None:
        return


class _OddPage(ActionFlowable):  # type: ignore[misc]
    """With blank backs (duplex) a statement starts on an odd page: never two patients on
    one sheet."""

    def apply(self, doc: BaseDocTemplate) -> None:
        if doc.canv.getPageNumber() % 2 == 0:
            doc.handle_pageBreak()


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
    run = _Run(inputs, env, font, head)
    width, height = env.page_size
    left, right, top, bottom = env.margins
    frame_w = width - left - right

    story: list[Flowable] = []
    for index, item in enumerate(inputs):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
            if settings.blank_backs:
                story.append(_OddPage())
        story.append(_Marker(lambda canvas, i=index: run.begin(i, canvas)))
        story.append(NextPageTemplate("later"))
        story += _story_for(item, settings, clinic_settings, styles, frame_w)
        story.append(_Marker(run.end))

    def frame(frame_id: str, frame_top: float) -> Frame:
        return Frame(
            left,
            bottom,
            frame_w,
            frame_top - bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=frame_id,
        )

    first = frame("first", height - env.body_top)
    later = frame("later", height - top - _HEADER_ROOM)

    def build(handle: Any) -> None:
        doc = BaseDocTemplate(
            handle,
            pagesize=env.page_size,
            pageTemplates=[
                PageTemplate(id="first", frames=[first], onPageEnd=run.page_end),
                PageTemplate(id="later", frames=[later], onPageEnd=run.page_end),
            ],
            **pdf_properties(PDF_TITLE),
        )
        doc.build(story)

    if isinstance(out, Path):
        write_atomically(out, build)
    else:
        build(out)
    pages = max((p for numbers in run.pages_of for p in numbers), default=0)
    return StatementBatch(pages=max(pages, run.first_page_of[-1]), first_page_of=run.first_page_of)
