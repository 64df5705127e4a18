"""Bar, stacked-bar and line charts drawn with QPainter (why not QtCharts: see the docs).

Everything is measured from the font, so the chart reads the same at 100 % and 200 %
scale; colours are the Okabe–Ito palette, which people with any common colour-vision
deficiency can tell apart, and lines also differ by marker shape. Values show as
labels when there is room and always as tooltips; the accessible description says
every figure in words, and the table below the chart is its full accessible form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.reports.figure import LINE, STACKED, Figure, Series, cell_text

# Okabe & Ito (2008), in an order where neighbours differ most; yellow last (pale on white).
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#F0E442",  # yellow
)
_MARKERS = ("circle", "square", "diamond", "triangle")


def colour(index: int) -> QColor:
    return QColor(PALETTE[index % len(PALETTE)])


def value_text(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:,.2f}" if value != int(value) else f"${value:,.0f}"
    text = f"{value:,.1f}" if value != int(value) else f"{value:,.0f}"
    return f"{text} %" if unit == "%" else text


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round tick values from ≤ low to ≥ high: steps of 1, 2 or 5 × 10ⁿ."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9:
        ticks.append(ticks[-1] + step)
    return [round(t, 10) for t in ticks]


def describe(figure: Figure) -> str:
    """The chart in words, for a screen reader: every category and value."""
    if not figure.categories or not figure.series or figure.is_empty:
        return figure.empty_reason or "No figures."
    parts = []
    for index, category in enumerate(figure.categories):
        values = []
        for series in figure.series:
            value = series.values[index]
            shown = "no figure" if value is None else value_text(value, figure.unit)
            values.append(f"{series.name} {shown}")
        parts.append(f"{category}: {', '.join(values)}")
    return f"{figure.title}, {figure.unit} by {figure.axis.lower()}. " + "; ".join(parts) + "."


@dataclass(frozen=True)
class _Spot:
    area: QRectF
    text: str


class Painter:
    """Draws one figure into a rectangle of any paint device (a widget or an image)."""

    def __init__(self, figure: Figure, font: QFont, palette: QPalette) -> None:
        self.figure = figure
        self.font = font
        self.metrics = QFontMetricsF(font)
        self.text = palette.color(QPalette.ColorRole.WindowText)
        self.grid = palette.color(QPalette.ColorRole.Mid)
        self.background = palette.color(QPalette.ColorRole.Base)
        self.spots: list[_Spot] = []
        self._title_x = 0.0

    # --- layout --------------------------------------------------------------------

    def _range(self) -> tuple[float, float]:
        values: list[float] = []
        if self.figure.kind == STACKED:
            for index in range(len(self.figure.categories)):
                values.append(sum(s.values[index] or 0 for s in self.figure.series))
        else:
            values = [v for s in self.figure.series for v in s.values if v is not None]
        low = min([0.0, *values])
        high = max([0.0, *values])
        if self.figure.unit == "%" and high > 0:
            high = min(100.0, high) if high <= 100 else high
        return low, high if high > low else low + 1

    def _legend_rows(self, width: float) -> list[list[tuple[int, Series]]]:
        rows: list[list[tuple[int, Series]]] = [[]]
        used = 0.0
        for index, series in enumerate(self.figure.series):
            need = self._legend_width(series)
            if rows[-1] and used + need > width:
                rows.append([])
                used = 0.0
            rows[-1].append((index, series))
            used += need
        return rows

    def _legend_width(self, series: Series) -> float:
        return self.metrics.height() * 2.2 + self.metrics.horizontalAdvance(series.name)

    # --- painting ------------------------------------------------------------------

    def paint(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self.font)
        painter.fillRect(rect, self.background)
        self.spots = []
        line = self.metrics.height()
        figure = self.figure
        if figure.is_empty or not figure.series or not figure.categories:
            painter.setPen(self.text)
            painter.drawText(
                rect,
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                figure.empty_reason or "No figures.",
            )
            painter.restore()
            return
        pad = line * 0.6
        inner = rect.adjusted(pad, pad, -pad, -pad)
        legend = self._legend_rows(inner.width())
        legend_height = len(legend) * line * 1.4
        self._paint_legend(
            painter, legend, QRectF(inner.left(), inner.top(), inner.width(), legend_height)
        )
        low, high = self._range()
        ticks = nice_ticks(low, high)
        tick_width = max(self.metrics.horizontalAdvance(value_text(t, figure.unit)) for t in ticks)
        left = inner.left() + line * 1.4 + tick_width + pad  # axis title, tick labels
        self._title_x = inner.left() + line * 0.6
        plot = QRectF(
            left,
            inner.top() + legend_height + line * 0.8,
            inner.right() - left,
            inner.height() - legend_height - line * 0.8 - line * (3.0 + self._label_lines() - 1),
        )
        if plot.height() < line * 2 or plot.width() < line * 2:
            painter.restore()
            return
        span = ticks[-1] - ticks[0]

        def y_of(value: float) -> float:
            return plot.bottom() - (value - ticks[0]) / span * plot.height()

        self._paint_axes(painter, plot, ticks, y_of)
        slot = plot.width() / len(figure.categories)
        self._paint_categories(painter, plot, slot)
        if figure.kind == LINE:
            self._paint_lines(painter, plot, slot, y_of)
        elif figure.kind == STACKED:
            self._paint_stacks(painter, plot, slot, y_of)
        else:
            self._paint_bars(painter, plot, slot, y_of)
        painter.restore()

    def _paint_legend(
        self, painter: QPainter, rows: list[list[tuple[int, Series]]], area: QRectF
    ) -> None:
        line = self.metrics.height()
        y = area.top()
        for row in rows:
            x = area.left()
            for index, series in row:
                box = QRectF(x, y + line * 0.15, line * 0.8, line * 0.8)
                if self.figure.kind == LINE:
                    painter.setPen(QPen(colour(index), line * 0.15))
                    painter.drawLine(
                        QPointF(box.left() - line * 0.2, box.center().y()),
                        QPointF(box.right() + line * 0.2, box.center().y()),
                    )
                    self._marker(painter, index, box.center(), line * 0.3)
                else:
                    painter.setPen(QPen(self.text, 1))
                    painter.setBrush(colour(index))
                    painter.drawRect(box)
                painter.setPen(self.text)
                text_box = QRectF(box.right() + line * 0.4, y, self._legend_width(series), line)
                painter.drawText(
                    text_box,
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    series.name,
                )
                x += self._legend_width(series)
            y += line * 1.4

    def _paint_axes(
        self, painter: QPainter, plot: QRectF, ticks: list[float], y_of: Callable[[float], float]
    ) -> None:
        line = self.metrics.height()
        for tick in ticks:
            y = y_of(tick)
            painter.setPen(
                QPen(self.grid, 1, Qt.PenStyle.DotLine if tick else Qt.PenStyle.SolidLine)
            )
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(self.text)
            label = QRectF(plot.left() - line * 8, y - line / 2, line * 8 - line * 0.4, line)
            painter.drawText(
                label,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                value_text(tick, self.figure.unit),
            )
        painter.setPen(QPen(self.text, 1))
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        zero = y_of(0.0)
        painter.drawLine(QPointF(plot.left(), zero), QPointF(plot.right(), zero))
        # The y axis title, turned to read upwards.
        painter.save()
        painter.translate(self._title_x, plot.center().y())
        painter.rotate(-90)
        title = self._unit_title()
        painter.drawText(
            QRectF(-plot.height() / 2, -line * 0.6, plot.height(), line * 1.2),
            Qt.AlignmentFlag.AlignCenter,
            title,
        )
        painter.restore()

    def _unit_title(self) -> str:
        unit = self.figure.unit
        named = {"%": "Percent", "NPS": "NPS (−100 to 100)", "$": "Dollars"}
        return named.get(unit, unit.capitalize())

    def _label_lines(self) -> int:
        """Months may skip labels (the neighbours say which month); names may not, and wrap."""
        return 1 if self.figure.axis == "Month" else 2

    def _paint_categories(self, painter: QPainter, plot: QRectF, slot: float) -> None:
        line = self.metrics.height()
        lines = self._label_lines()
        widest = max(self.metrics.horizontalAdvance(c) for c in self.figure.categories)
        every = 1 if lines > 1 else max(1, math.ceil((widest + line * 0.6) / slot))
        painter.setPen(self.text)
        for index, category in enumerate(self.figure.categories):
            if index % every:
                continue
            centre = plot.left() + slot * (index + 0.5)
            if lines > 1:
                box = QRectF(centre - slot / 2, plot.bottom() + line * 0.3, slot, line * lines)
                text = self._wrapped(category, slot - line * 0.3, lines)
            else:
                box = QRectF(centre - widest, plot.bottom() + line * 0.3, widest * 2, line)
                text = category
            painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        title_top = plot.bottom() + line * (0.5 + lines)
        painter.drawText(
            QRectF(plot.left(), title_top, plot.width(), line * 1.2),
            Qt.AlignmentFlag.AlignCenter,
            self.figure.axis,
        )

    def _wrapped(self, text: str, width: float, lines: int) -> str:
        """`text` broken at spaces into at most `lines` lines, the last elided to fit."""
        words = text.split()
        out: list[str] = []
        while words and len(out) < lines - 1:
            current = words.pop(0)
            while words and self.metrics.horizontalAdvance(f"{current} {words[0]}") <= width:
                current = f"{current} {words.pop(0)}"
            out.append(current)
        if words:
            out.append(" ".join(words))
        return "\n".join(
            self.metrics.elidedText(piece, Qt.TextElideMode.ElideRight, width) for piece in out
        )

    def _tip(self, category: int, series: Series, value: float | None) -> str:
        shown = "no figure" if value is None else value_text(value, self.figure.unit)
        return f"{self.figure.categories[category]} — {series.name}: {shown}"

    def _labels_fit(self, width: float, values: list[float]) -> bool:
        """Labels on every bar or on none: a chart with some labelled reads as uneven."""
        return all(
            self.metrics.horizontalAdvance(self._short(v)) <= width + self.metrics.height() * 0.2
            for v in values
        )

    def _short(self, value: float) -> str:
        """A bar's label without the unit (the axis says it), so more of them fit."""
        if self.figure.unit == "$":
            return f"{value:,.0f}"
        return value_text(value, "")

    def _bar_label(self, painter: QPainter, bar: QRectF, value: float) -> None:
        text = self._short(value)
        line = self.metrics.height()
        painter.setPen(self.text)
        box = QRectF(bar.center().x() - line * 4, bar.top() - line, line * 8, line)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_bars(
        self, painter: QPainter, plot: QRectF, slot: float, y_of: Callable[[float], float]
    ) -> None:
        count = len(self.figure.series)
        group = slot * 0.8
        width = group / count
        zero = y_of(0.0)
        labelled = self._labels_fit(
            width * 0.9, [v for s in self.figure.series for v in s.values if v is not None]
        )
        for c in range(len(self.figure.categories)):
            left = plot.left() + slot * c + (slot - group) / 2
            for s, series in enumerate(self.figure.series):
                value = series.values[c]
                x = left + width * s
                if value is None:
                    self.spots.append(
                        _Spot(
                            QRectF(x, plot.top(), width, plot.height()), self._tip(c, series, value)
                        )
                    )
                    continue
                top = y_of(value)
                bar = QRectF(x, min(top, zero), width, abs(zero - top)).adjusted(
                    width * 0.05, 0, -width * 0.05, 0
                )
                painter.setPen(QPen(self.text, 0.5))
                painter.setBrush(colour(s))
                painter.drawRect(bar)
                if labelled:
                    self._bar_label(painter, bar, value)
                self.spots.append(
                    _Spot(QRectF(x, plot.top(), width, plot.height()), self._tip(c, series, value))
                )

    def _paint_stacks(
        self, painter: QPainter, plot: QRectF, slot: float, y_of: Callable[[float], float]
    ) -> None:
        width = slot * 0.6
        totals = [
            sum(s.values[c] or 0.0 for s in self.figure.series)
            for c in range(len(self.figure.categories))
        ]
        labelled = self._labels_fit(width, totals)
        for c in range(len(self.figure.categories)):
            x = plot.left() + slot * c + (slot - width) / 2
            base = 0.0
            tips = []
            for s, series in enumerate(self.figure.series):
                value = series.values[c] or 0.0
                tips.append(self._tip(c, series, series.values[c]))
                if value <= 0:
                    continue
                bar = QRectF(x, y_of(base + value), width, y_of(base) - y_of(base + value))
                painter.setPen(QPen(self.text, 0.5))
                painter.setBrush(colour(s))
                painter.drawRect(bar)
                base += value
            if base > 0 and labelled:
                total = QRectF(x, y_of(base), width, y_of(0.0) - y_of(base))
                self._bar_label(painter, total, base)
            tips.append(f"Total: {value_text(base, self.figure.unit)}")
            self.spots.append(
                _Spot(
                    QRectF(plot.left() + slot * c, plot.top(), slot, plot.height()), "\n".join(tips)
                )
            )

    def _paint_lines(
        self, painter: QPainter, plot: QRectF, slot: float, y_of: Callable[[float], float]
    ) -> None:
        line = self.metrics.height()
        show_labels = slot > max(self.metrics.horizontalAdvance("−100.0 %"), line * 2)
        for s, series in enumerate(self.figure.series):
            pen = QPen(colour(s), max(2.0, line * 0.15))
            path = QPainterPath()
            drawing = False
            points = []
            for c, value in enumerate(series.values):
                if value is None:
                    drawing = False  # a month without answers breaks the line
                    continue
                point = QPointF(plot.left() + slot * (c + 0.5), y_of(value))
                points.append((c, point, value))
                if drawing:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    drawing = True
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            for _c, point, value in points:
                self._marker(painter, s, point, line * 0.3)
                if show_labels:
                    painter.setPen(self.text)
                    text = value_text(value, self.figure.unit)
                    box = QRectF(point.x() - slot / 2, point.y() - line * 1.4, slot, line)
                    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        for c in range(len(self.figure.categories)):
            tips = [self._tip(c, series, series.values[c]) for series in self.figure.series]
            self.spots.append(
                _Spot(
                    QRectF(plot.left() + slot * c, plot.top(), slot, plot.height()), "\n".join(tips)
                )
            )

    def _marker(self, painter: QPainter, index: int, centre: QPointF, radius: float) -> None:
        painter.setPen(QPen(self.background, 1))
        painter.setBrush(colour(index))
        shape = _MARKERS[index % len(_MARKERS)]
        x, y, r = centre.x(), centre.y(), radius
        if shape == "circle":
            painter.drawEllipse(centre, r, r)
        elif shape == "square":
            painter.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))
        else:
            path = QPainterPath()
            if shape == "diamond":
                path.moveTo(x, y - r * 1.3)
                path.lineTo(x + r * 1.3, y)
                path.lineTo(x, y + r * 1.3)
                path.lineTo(x - r * 1.3, y)
            else:
                path.moveTo(x, y - r * 1.3)
                path.lineTo(x + r * 1.2, y + r)
                path.lineTo(x - r * 1.2, y + r)
            path.closeSubpath()
            painter.drawPath(path)


class ChartView(QWidget):
    """Shows one Figure; `image()` renders it for saving."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure: Figure | None = None
        self._painter: Painter | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Chart")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a screen reader can land on it
        self.setMouseTracking(True)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        line = self.fontMetrics().height()
        return QSize(line * 20, line * 10)

    def sizeHint(self) -> QSize:  # noqa: N802
        line = self.fontMetrics().height()
        return QSize(line * 50, line * 20)

    def set_figure(self, figure: Figure | None) -> None:
        self.figure = figure
        self._painter = None
        if figure is None:
            self.setAccessibleName("Chart")
            self.setAccessibleDescription("")
        else:
            self.setAccessibleName(f"Chart: {figure.title}")
            self.setAccessibleDescription(describe(figure))
            self.setToolTip("")
        self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        if self.figure is None:
            return
        self._painter = Painter(self.figure, self.font(), self.palette())
        painter = QPainter(self)
        self._painter.paint(painter, QRectF(self.rect()))
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            spot = self.spot_at(QPointF(event.pos()))
            if spot:
                QToolTip.showText(event.globalPos(), spot, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def spot_at(self, point: QPointF) -> str:
        """The tooltip text for a point of the chart ("" over no bar or month)."""
        if self._painter is None:
            return ""
        return next((s.text for s in self._painter.spots if s.area.contains(point)), "")

    def image(self, scale: float = 2.0) -> QImage:
        """The chart as a picture at `scale` times its size on screen (sharp when printed)."""
        size = self.size()
        image = QImage(
            round(size.width() * scale),
            round(size.height() * scale),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.setDevicePixelRatio(scale)
        if self.figure is None:
            image.fill(self.palette().color(QPalette.ColorRole.Base))
            return image
        painter = QPainter(image)
        Painter(self.figure, self.font(), self.palette()).paint(
            painter, QRectF(0, 0, size.width(), size.height())
        )
        painter.end()
        return image


def cells(figure: Figure) -> list[list[str]]:
    """The table's rows as the page shows them (the same text as the CSV)."""
    return [[cell_text(c) for c in row] for row in figure.rows]
