"""Light and dark themes, and the few colours the palette has no role for.

The app always uses Qt's Fusion style: it is the one style that honours a whole palette on
every platform, so the dark theme looks the same on Linux, macOS and Windows. Switching theme
sets the application palette; every widget gets a ``PaletteChange`` event and redraws from
``self.palette()``. Colours a palette has no role for (the run states, stderr, the marked
script lines, syntax highlighting) come from ``colors(palette)``, which picks the light or
dark variant from the palette itself, so a widget never needs to know the theme's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

LIGHT, DARK = "light", "dark"
THEMES = (LIGHT, DARK)


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` draws light text on a dark window."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def palette(theme: str) -> QPalette:
    """The palette of ``theme`` ("light" or "dark")."""
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}: use one of {', '.join(THEMES)}")
    style = QStyleFactory.create("Fusion")
    pal = style.standardPalette()
    if theme == LIGHT:
        return pal
    R, G = QPalette.ColorRole, QPalette.ColorGroup
    roles = {
        R.Window: "#2b2d31", R.WindowText: "#e3e5e8", R.Base: "#1e1f22",
        R.AlternateBase: "#26282c", R.ToolTipBase: "#3a3d42", R.ToolTipText: "#e3e5e8",
        R.PlaceholderText: "#8b8f96", R.Text: "#e3e5e8", R.Button: "#33363b",
        R.ButtonText: "#e3e5e8", R.BrightText: "#ff6b6b", R.Light: "#4a4d53",
        R.Midlight: "#3d4046", R.Mid: "#2a2c30", R.Dark: "#1a1b1e", R.Shadow: "#000000",
        R.Highlight: "#3d7bd9", R.HighlightedText: "#ffffff", R.Link: "#6ab0ff",
        R.LinkVisited: "#b48ef0",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    disabled = {R.WindowText: "#6d7178", R.Text: "#6d7178", R.ButtonText: "#6d7178",
                R.Base: "#24262a", R.Button: "#2d2f34", R.Highlight: "#3a3d42",
                R.HighlightedText: "#9a9ea5", R.PlaceholderText: "#5d6168"}
    for role, color in disabled.items():
        pal.setColor(G.Disabled, role, QColor(color))
    return pal


def apply(theme: str, app: QApplication | None = None) -> None:
    """Make ``theme`` the application's look (Fusion style, its palette)."""
    app = app or QApplication.instance()
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(palette(theme))
    app.setProperty("gradviz_theme", theme)


def current(app: QApplication | None = None) -> str:
    """The theme last applied with ``apply`` (light if none was)."""
    app = app or QApplication.instance()
    value = app.property("gradviz_theme") if app is not None else None
    return value if value in THEMES else LIGHT


@dataclass(frozen=True)
class Colors:
    """Colours with no palette role, chosen to read on the palette they were made for."""

    idle: QColor
    running: QColor
    paused: QColor
    finished: QColor
    error: QColor
    stderr: QColor  # the script's stderr in the console
    note: QColor  # gradviz's own lines in the console (run started, finished in ...)
    link: QColor
    paused_line: QColor  # background of the line the script is paused at
    node_line: QColor  # background of the line that created the selected node
    gutter: QColor  # line-number area background
    gutter_text: QColor
    syntax: dict  # token kind -> QColor: keyword, builtin, string, comment, number, ...

    def state(self, state: str) -> QColor:
        """The colour of a run state ("idle", "running", "paused", "finished", "error")."""
        return getattr(self, state, self.idle)


def colors(pal: QPalette | None = None) -> Colors:
    """The extra colours for ``pal`` (default: the application's palette)."""
    if pal is None:
        pal = QApplication.instance().palette()
    dark = is_dark(pal)
    text = pal.color(QPalette.ColorRole.Text)
    base = pal.color(QPalette.ColorRole.Base)
    window = pal.color(QPalette.ColorRole.Window)

    def c(light: str, dark_: str) -> QColor:
        return QColor(dark_ if dark else light)

    gutter_text = QColor(text)
    gutter_text.setAlphaF(0.45)
    return Colors(
        idle=c("#6b7280", "#9ca3af"),
        running=c("#15803d", "#4ade80"),
        paused=c("#b45309", "#fbbf24"),
        finished=c("#1d4ed8", "#60a5fa"),
        error=c("#b91c1c", "#f87171"),
        stderr=c("#c0262d", "#ff8080"),  # unlike error: the console tells them apart
        note=c("#6b7280", "#9ca3af"),
        link=pal.color(QPalette.ColorRole.Link),
        paused_line=c("#fde68a", "#5c4a12"),
        node_line=c("#dbeafe", "#1e3a5f"),
        gutter=window.darker(104) if not dark else base.lighter(115),
        gutter_text=gutter_text,
        syntax={
            "keyword": c("#7c3aed", "#c792ea"),
            "builtin": c("#0e7490", "#56b6c2"),
            "string": c("#15803d", "#a5d6a7"),
            "comment": c("#6b7280", "#7f848e"),
            "number": c("#b45309", "#f5a97f"),
            "decorator": c("#a16207", "#e5c07b"),
            "definition": c("#1d4ed8", "#82aaff"),
            "self": c("#be185d", "#f07178"),
        },
    )
