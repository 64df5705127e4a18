"""Many letter-like documents in one PDF: page one's furniture, page numbers, headers after it.

Letters and statements print the same way: each starts on a new page (an odd one when the
printer prints both sides, so two patients never share a sheet), page one carries the
letterhead and the window address, and a document longer than one page numbers its pages
("Page 2 of 3") and repeats a short header on the later ones, so a sheet that slips out of
its envelope still says whose it is. Only page one differs between them; that part is the
builder's callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    ActionFlowable,
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
)

from app.letters.envelopes import Envelope
from app.letters.fonts import FontSet, text_width
from app.letters.layout import MUTED, RULE, pdf_properties, write_to
from app.reminders import wording

_PAGE_OF: Final = {
    "en": "Page {n} of {total}",
    "es": "Página {n} de {total}",
    "de": "Seite {n} von {total}",
}
HEADER_ROOM: Final = 30.0  # points above a later page's text for the continuation header
FOOTER_ROOM: Final = 18.0


def page_of(n: int, total: int, language: str) -> str:
    """'Page 2 of 3' in the document's language (English for one not listed)."""
    code = wording.base_language(language)
    return _PAGE_OF.get(code, _PAGE_OF["en"]).format(n=n, total=total)


class PagedDocument(Protocol):
    """What the page furniture needs of one document (LetterInput, StatementInput)."""

    @property
    def recipient_lines(self) -> Sequence[str]: ...

    @property
    def date_text(self) -> str: ...

    @property
    def language(self) -> str: ...


@dataclass(frozen=True)
class PagedBatch:
    """The built PDF: its page count and the page (1-based) each document starts on."""

    pages: int
    first_page_of: list[int]


def _no_title(_index: int) -> str:
    return ""


@dataclass
class PageRun:
    """What the markers and the page hook share while one batch is laid out.

    `first_page(index, canvas)` draws page one's furniture of document `index`;
    `title_of(index)` is an optional word for the continuation header ("Statement").
    """

    documents: Sequence[PagedDocument]
    envelope: Envelope
    font: FontSet
    clinic_name: str
    first_page: Callable[[int, Canvas], None]
    title_of: Callable[[int], str] = _no_title
    current: int = -1
    first_page_of: list[int] = field(default_factory=list)
    pages_of: list[list[int]] = field(default_factory=list)

    def begin(self, index: int, canvas: Canvas) -> None:
        self.current = index
        self.first_page_of.append(canvas.getPageNumber())
        self.pages_of.append([])
        self.first_page(index, canvas)

    def end(self, canvas: Canvas) -> None:
        """Write the page-number forms of the document that just ended: only now is its
        page count known (each page already refers to its form by name)."""
        language = self.documents[self.current].language
        pages = [*self.pages_of[self.current], canvas.getPageNumber()]
        for n, page in enumerate(pages, start=1):
            # The text is right-aligned at the form's origin: the box must reach left of it.
            canvas.beginForm(f"page-number-{page}", -400, -20, 20, 40)
            if len(pages) > 1:
                canvas.setFillColor(MUTED)
                canvas.setFont(self.font.regular, 8.5)
                canvas.drawRightString(0, 0, page_of(n, len(pages), language))
            canvas.endForm()
        self.pages_of[self.current].append(-1)  # its last page: counted, not yet ended
        self.current = -2  # document ended; its last page still has to end

    def page_end(self, canvas: Canvas, _doc: BaseDocTemplate) -> None:
        index = self.current if self.current >= 0 else len(self.pages_of) - 1
        if index < 0 or self.current == -1:
            return  # a blank back between documents
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
            width - self.envelope.margins[1], self.envelope.margins[3] - FOOTER_ROOM + 4
        )
        canvas.doForm(f"page-number-{page}")
        canvas.restoreState()
        if pages.index(page) > 0:
            self._continuation_header(canvas, index)

    def _continuation_header(self, canvas: Canvas, index: int) -> None:
        """Clinic · (title ·) recipient · date, one muted line over a rule, shrunk to fit."""
        document = self.documents[index]
        width, height = self.envelope.page_size
        left, right, top, _bottom = self.envelope.margins
        lines = document.recipient_lines
        name = " ".join(lines[0].split()) if lines else ""
        parts = (self.clinic_name, self.title_of(index), name, document.date_text)
        text = " · ".join(p for p in parts if p)
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

    def draw(self) -> None:  # drawOn does the work
        return


class _OddPage(ActionFlowable):  # type: ignore[misc]
    """After a page break: with blank backs, a document may only start on an odd page, so
    an even one is left blank (its back is the previous document's last sheet)."""

    def apply(self, doc: BaseDocTemplate) -> None:
        if doc.canv.getPageNumber() % 2 == 0:
            doc.handle_pageBreak()


def build_paged(
    run: PageRun,
    contents: Iterable[Sequence[Flowable]],
    *,
    blank_backs: bool,
    title: str,
    out: BinaryIO | Path,
) -> PagedBatch:
    """Lay out each document's content after the other into `out` (a Path is written
    atomically): page one's text starts below the envelope's body top, later pages' below
    the continuation header.

    Pass `contents` as a generator: platypus drops each flowable from the story once it is
    drawn, and a list kept by the caller would hold a whole batch's laid-out text alive
    (in a 1,000-letter batch, twice the garbage collector's work)."""
    story: list[Flowable] = []
    for index, content in enumerate(contents):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
            if blank_backs:
                story.append(_OddPage())
        story.append(_Marker(lambda canvas, i=index: run.begin(i, canvas)))
        story.append(NextPageTemplate("later"))
        story += content
        story.append(_Marker(run.end))

    env = run.envelope
    width, height = env.page_size
    left, right, top, bottom = env.margins

    def frame(frame_id: str, frame_top: float) -> Frame:
        return Frame(
            left,
            bottom,
            width - left - right,
            frame_top - bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=frame_id,
        )

    first = frame("first", height - env.body_top)
    later = frame("later", height - top - HEADER_ROOM)

    def build(handle: BinaryIO) -> None:
        doc = BaseDocTemplate(
            handle,
            pagesize=env.page_size,
            pageTemplates=[
                PageTemplate(id="first", frames=[first], onPageEnd=run.page_end),
                PageTemplate(id="later", frames=[later], onPageEnd=run.page_end),
            ],
            **pdf_properties(title),
        )
        doc.build(story)

    write_to(out, build)
    pages = max((p for numbers in run.pages_of for p in numbers), default=0)
    return PagedBatch(pages=max(pages, run.first_page_of[-1]), first_page_of=run.first_page_of)
