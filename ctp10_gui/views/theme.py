"""Colours, style sheets and the app icon: one place so chart, badges and readouts agree."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pyqtgraph as pg
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

ThemeName = Literal["dark", "light"]

# Okabe–Ito: distinguishable with every common colour-vision deficiency. Indexed by channel
# number (1..6) so a channel keeps its colour whatever else is selected.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}


@dataclass(frozen=True)
class Theme:
    """Colours of one theme; QSS carries the widget styling, this carries what QSS cannot."""

    name: ThemeName
    background: str
    foreground: str
    dim: str
    grid_alpha: float
    channel_colours: tuple[str, ...]  # channel 1..6 -> index 0..5
    outage_brush: str  # RGBA hex for the shaded outage band
    crosshair: str

    def channel_colour(self, channel: int) -> QColor:
        """Return the colour of channel 1..n (wraps after the palette)."""
        return QColor(self.channel_colours[(channel - 1) % len(self.channel_colours)])


DARK = Theme(
    name="dark",
    background="#06090c",
    foreground="#f2f5f8",
    dim="#7d8893",
    grid_alpha=0.25,
    # Black is invisible on a dark background; blue is too dark to read at 1 px.
    channel_colours=(
        OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["bluish_green"],
        OKABE_ITO["yellow"], OKABE_ITO["reddish_purple"], OKABE_ITO["vermillion"],
    ),
    outage_brush="#ff6b5a40",
    crosshair="#c9d3dc",
)

LIGHT = Theme(
    name="light",
    background="#ffffff",
    foreground="#101418",
    dim="#6b7682",
    grid_alpha=0.3,
    # Yellow vanishes on white: channel 4 takes the Okabe–Ito blue instead.
    channel_colours=(
        OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["bluish_green"],
        OKABE_ITO["blue"], OKABE_ITO["reddish_purple"], OKABE_ITO["vermillion"],
    ),
    outage_brush="#d32f2f33",
    crosshair="#3d4a56",
)

THEMES: dict[str, Theme] = {"dark": DARK, "light": LIGHT}


def theme_named(name: str) -> Theme:
    """Return the theme called name ("dark" or "light"); unknown names give dark."""
    return THEMES.get(name, DARK)


def resource_path(name: str) -> resources.abc.Traversable:
    """Return a file inside the installed ctp10_gui.resources package."""
    return resources.files("ctp10_gui.resources").joinpath(name)


def style_sheet(name: str) -> str:
    """Return the QSS text of theme name; empty (Qt default look) if the file is missing."""
    try:
        text = resource_path(f"{theme_named(name).name}.qss").read_text(encoding="utf-8")
        # QSS url() needs a file path with forward slashes, also on Windows.
        folder = Path(str(resources.files("ctp10_gui.resources"))).as_posix()
        return text.replace("@RESOURCES@", folder)
    except OSError as exc:
        log.error("style sheet for theme %r unreadable: %s", name, exc)
        return ""


def app_icon() -> QIcon:
    """Return the application icon (SVG, with the PNG render as fallback)."""
    icon = QIcon()
    for file in ("icon.svg", "icon.png"):
        path = resource_path(file)
        if path.is_file():
            icon.addFile(str(path))
    if icon.isNull():
        log.warning("application icon not found in ctp10_gui.resources")
    return icon


def apply_theme(app: QApplication, name: str) -> Theme:
    """Apply theme name to the whole application and to pyqtgraph defaults; return it."""
    theme = theme_named(name)
    # The base size lives in the app font, not in the QSS: a QSS font-size would override
    # every setFont(), and the readouts scale their fonts with their size.
    font = app.font()
    font.setPointSizeF(10.5)
    app.setFont(font)
    sheet = style_sheet(theme.name)
    if app.styleSheet() != sheet:
        # Setting a style sheet repolishes every widget of the process: do it only on a change
        # (each new window applies the current theme), never as a no-op.
        app.setStyleSheet(sheet)
    pg.setConfigOptions(background=theme.background, foreground=theme.foreground)
    return theme


def repolish(widget: QWidget) -> None:
    """Re-evaluate style-sheet property selectors after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()
