"""Light and dark looks, the text size, and the few named colours views use for states.

Fusion draws the same on every platform, so a palette chosen here looks as checked:
every text colour below meets WCAG AA (4.5:1) against the background it sits on, and
the tests measure it. Views never hard-code a colour: they ask `color("danger")` etc.,
which answers for the theme in force, so a badge reads well in light and in dark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.preferences import Preferences

ColorName = Literal[
    "text",
    "muted",
    "danger",
    "warning",
    "ok",
    "info",
    "badge_on",
    "badge_on_text",
    "badge_off",
    "badge_off_text",
]


@dataclass(frozen=True)
class Scheme:
    """One look: the palette roles Fusion paints with, and the semantic colours."""

    dark: bool
    window: str
    window_text: str
    base: str
    alternate_base: str
    text: str
    button: str
    button_text: str
    highlight: str
    highlighted_text: str
    link: str
    link_visited: str
    placeholder: str
    tooltip_base: str
    tooltip_text: str
    light: str
    midlight: str
    mid: str
    shadow_dark: str
    shadow: str
    disabled_text: str
    semantic: dict[ColorName, str]


LIGHT = Scheme(
    dark=False,
    window="#f3f4f6",
    window_text="#1b1f24",
    base="#ffffff",
    alternate_base="#f2f4f7",
    text="#1b1f24",
    button="#e8eaee",
    button_text="#1b1f24",
    highlight="#1f5fbf",
    highlighted_text="#ffffff",
    link="#1a56b0",
    link_visited="#6a3d9a",
    placeholder="#5e6570",
    tooltip_base="#2b2f36",
    tooltip_text="#ffffff",
    light="#ffffff",
    midlight="#f0f1f4",
    mid="#b9bec7",
    shadow_dark="#9aa1ab",
    shadow="#5c6169",
    disabled_text="#7d838c",
    semantic={
        "text": "#1b1f24",
        "muted": "#5a616b",
        "danger": "#b00020",
        "warning": "#8a4f00",
        "ok": "#1c6e32",
        "info": "#1a56b0",
        "badge_on": "#dcf1e2",
        "badge_on_text": "#124d22",
        "badge_off": "#e9ebee",
        "badge_off_text": "#454b54",
    },
)

DARK = Scheme(
    dark=True,
    window="#1f2226",
    window_text="#e6e8eb",
    base="#2a2e34",
    alternate_base="#30343b",
    text="#e6e8eb",
    button="#2c3036",
    button_text="#e6e8eb",
    highlight="#2a62c0",
    highlighted_text="#ffffff",
    link="#8ab4f8",
    link_visited="#c9a4f2",
    placeholder="#9aa0a8",
    tooltip_base="#e6e8eb",
    tooltip_text="#1b1f24",
    light="#3a3f46",
    midlight="#31353b",
    mid="#4a5058",
    shadow_dark="#111315",
    shadow="#000000",
    disabled_text="#80868e",
    semantic={
        "text": "#e6e8eb",
        "muted": "#a3a9b1",
        "danger": "#ff8a80",
        "warning": "#f2c14e",
        "ok": "#7bd88f",
        "info": "#8ab4f8",
        "badge_on": "#1d3a27",
        "badge_on_text": "#a6e3b4",
        "badge_off": "#30343a",
        "badge_off_text": "#c3c8ce",
    },
)


def scheme_for(theme: str) -> Scheme:
    """ "system" follows the operating system's light/dark mode where it reports one."""
    if theme == "dark":
        return DARK
    if theme == "light":
        return LIGHT
    return DARK if QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark else LIGHT


def palette_for(scheme: Scheme) -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    roles = {
        role.Window: scheme.window,
        role.WindowText: scheme.window_text,
        role.Base: scheme.base,
        role.AlternateBase: scheme.alternate_base,
        role.Text: scheme.text,
        role.Button: scheme.button,
        role.ButtonText: scheme.button_text,
        role.BrightText: scheme.semantic["danger"],
        role.Highlight: scheme.highlight,
        role.HighlightedText: scheme.highlighted_text,
        role.Link: scheme.link,
        role.LinkVisited: scheme.link_visited,
        role.PlaceholderText: scheme.placeholder,
        role.ToolTipBase: scheme.tooltip_base,
        role.ToolTipText: scheme.tooltip_text,
        role.Light: scheme.light,
        role.Midlight: scheme.midlight,
        role.Mid: scheme.mid,
        role.Dark: scheme.shadow_dark,
        role.Shadow: scheme.shadow,
    }
    for name, value in roles.items():
        palette.setColor(name, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for name in (role.WindowText, role.Text, role.ButtonText, role.PlaceholderText):
        palette.setColor(disabled, name, QColor(scheme.disabled_text))
    # An unfocused window keeps a visible selection: the row a receptionist picked must
    # stay obvious while she looks at another window.
    palette.setColor(QPalette.ColorGroup.Inactive, role.Highlight, QColor(scheme.highlight))
    return palette


def base_font() -> QFont:
    """The operating system's normal text font, before our size step is applied."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)


def font_for(scale: int) -> QFont:
    font = base_font()
    if font.pointSizeF() > 0:
        font.setPointSizeF(round(font.pointSizeF() * scale / 100, 1))
    else:  # some platforms size their font in pixels
        font.setPixelSize(max(1, round(font.pixelSize() * scale / 100)))
    return font


_SYSTEM_FOLLOWER = "frontdesk_theme_follower"


class _SystemSchemeFollower(QObject):
    """Re-applies the look when the OS switches light/dark, if the person chose "system"."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.prefs = Preferences()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def _scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.prefs.theme == "system":
            _apply(self.app, self.prefs)


def apply_preferences(app: QApplication, prefs: Preferences) -> None:
    """Fusion with the chosen palette and text size, for every window at once."""
    follower = app.findChild(_SystemSchemeFollower, _SYSTEM_FOLLOWER)
    if follower is None:
        follower = _SystemSchemeFollower(app)
        follower.setObjectName(_SYSTEM_FOLLOWER)
    follower.prefs = prefs
    _apply(app, prefs)


def _apply(app: QApplication, prefs: Preferences) -> None:
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(palette_for(scheme_for(prefs.theme)))
    app.setFont(font_for(prefs.font_scale))


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the look in force is dark, judged from the palette itself so it holds even
    before apply_preferences ran (the platform's own palette)."""
    palette = palette if palette is not None else QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def color(name: ColorName, dark: bool | None = None) -> QColor:
    """A named colour for the theme in force (or the one asked for)."""
    scheme = DARK if (is_dark() if dark is None else dark) else LIGHT
    return QColor(scheme.semantic[name])


def css(name: ColorName, dark: bool | None = None) -> str:
    """The same colour as #rrggbb, for a style sheet."""
    return color(name, dark).name()


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio between two colours (1 to 21; AA text needs 4.5)."""

    def luminance(c: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_pairs(scheme: Scheme) -> dict[str, tuple[str, str]]:
    """Every (text, background) pair the look puts on screen, for the contrast check."""
    s = scheme.semantic
    pairs = {
        "window text": (scheme.window_text, scheme.window),
        "text": (scheme.text, scheme.base),
        "alternate rows": (scheme.text, scheme.alternate_base),
        "buttons": (scheme.button_text, scheme.button),
        "selection": (scheme.highlighted_text, scheme.highlight),
        "links": (scheme.link, scheme.base),
        "visited links": (scheme.link_visited, scheme.base),
        "placeholder": (scheme.placeholder, scheme.base),
        "tooltips": (scheme.tooltip_text, scheme.tooltip_base),
        "badge on": (s["badge_on_text"], s["badge_on"]),
        "badge off": (s["badge_off_text"], s["badge_off"]),
    }
    for name in ("text", "muted", "danger", "warning", "ok", "info"):
        pairs[f"{name} on window"] = (s[name], scheme.window)
        pairs[f"{name} on field"] = (s[name], scheme.base)
    return pairs


class ToneLabel(QLabel):
    """A label in one of the theme's named colours that follows a switch of theme.

    A style sheet keeps the colour it was given (even `palette(...)` is read only once),
    and a widget with a style sheet gets no palette event of its own when the theme
    changes, so the label listens to the application's palette itself.
    """

    def __init__(
        self,
        text: str = "",
        *,
        tone: ColorName,
        bold: bool = False,
        extra: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(text, parent)
        self.tone: ColorName = tone
        # More of the sheet that does not depend on the theme, such as "padding: 6px;".
        self._rest = (" font-weight: 600;" if bold else "") + (f" {extra}" if extra else "")
        self.restyle()
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            # Qt calls the event form of this (ApplicationPaletteChange) the newer way, but
            # delivers that event to the application and windows only, not to this label.
            app.paletteChanged.connect(self.restyle)

    @Slot()
    def restyle(self) -> None:
        sheet = f"color: {css(self.tone)};{self._rest}"
        if sheet != self.styleSheet():  # the same sheet again would only repolish
            self.setStyleSheet(sheet)


def error_line(text: str = "") -> ToneLabel:
    """Red (the theme's danger colour) and bold, so colour is not the only cue."""
    return ToneLabel(text, tone="danger", bold=True)


def hint_line(text: str = "") -> ToneLabel:
    """Quieter than the field it explains, yet AA-readable on the window and on fields."""
    return ToneLabel(text, tone="muted")
