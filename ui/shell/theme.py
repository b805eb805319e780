"""The window's look: the ``theme`` setting (``dark``, ``light`` or ``system``).

``dark`` is the reading-room look (resources/styles/dark.qss: neutral
near-black, so images are judged against neutral grey); ``light`` is the same
style sheet turned for daylight (light.qss); ``system`` takes whichever of the
two matches the platform's colour scheme (Qt's style hints; light when the
platform does not say). Each comes with a matching palette for what the
style sheet does not reach (dialogs, tooltips, standard icons). Under
``system`` a change of the platform's scheme while the window is open is
followed too.

The theme is applied to the whole application at once, so windows already
open follow a change made in the settings dialog.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QDir, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.resources import resource, resources_dir

SETTING = "theme"
THEMES = ("dark", "light", "system")
LABELS = {"dark": "Dark", "light": "Light", "system": "Same as the system"}

_R = QPalette.ColorRole
PALETTES = {
    "dark": ({_R.Window: "#15171a", _R.WindowText: "#d3d8de", _R.Base: "#0e0f11",
              _R.AlternateBase: "#131518", _R.Text: "#d3d8de", _R.Button: "#1f2226",
              _R.ButtonText: "#d3d8de", _R.Highlight: "#2f6f9f", _R.HighlightedText: "#ffffff",
              _R.ToolTipBase: "#22262b", _R.ToolTipText: "#e3e7eb", _R.PlaceholderText: "#5d6570",
              _R.Link: "#5aa2d8", _R.Mid: "#2a2e33", _R.Dark: "#0b0c0e", _R.Light: "#2f3439"},
             "#5d6570"),
    "light": ({_R.Window: "#e8eaec", _R.WindowText: "#23262a", _R.Base: "#f3f4f5",
               _R.AlternateBase: "#eceef0", _R.Text: "#23262a", _R.Button: "#dfe1e4",
               _R.ButtonText: "#23262a", _R.Highlight: "#c0daef", _R.HighlightedText: "#000000",
               _R.ToolTipBase: "#dadcdf", _R.ToolTipText: "#16181a", _R.PlaceholderText: "#8f98a3",
               _R.Link: "#2b6ea3", _R.Mid: "#c2c6cb", _R.Dark: "#9aa1a9", _R.Light: "#ffffff"},
              "#9aa1a9"),
}


def resolve(name: str) -> str:
    """The sheet a setting names: ``system`` becomes ``dark`` or ``light``;
    an unknown name (a hand-edited settings.toml) the reading-room ``dark``."""
    if name == "system":
        hints = QGuiApplication.styleHints()
        return "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"
    return name if name in PALETTES else "dark"


def palette(name: str) -> QPalette:
    colours, disabled = PALETTES[resolve(name)]
    result = QPalette()
    for role, colour in colours.items():
        result.setColor(role, QColor(colour))
    for role in (_R.Text, _R.WindowText, _R.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return result


def apply(qapp: QApplication, name: str = "dark") -> str:
    """Fusion, the palette and the style sheet of theme *name*; returns the
    sheet applied (``dark`` or ``light``)."""
    sheet = resolve(name)
    QDir.setSearchPaths("icons", [str(resources_dir() / "icons")])  # the sheets name ``icons:NAME.svg``
    qapp.setStyle("Fusion")
    qapp.setPalette(palette(sheet))
    try:
        qapp.setStyleSheet(resource("styles", f"{sheet}.qss").read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        print(f"studydesk: {e}; using the plain style", file=sys.stderr)
    qapp.setProperty("studydeskTheme", sheet)
    qapp.setProperty("studydeskThemeSetting", name)
    if not qapp.property("studydeskFollowsScheme"):  # once: the platform switching dark/light
        qapp.setProperty("studydeskFollowsScheme", True)
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: _scheme_changed(qapp))
    return sheet


def _scheme_changed(qapp: QApplication) -> None:
    """Under ``system``, the platform's new colour scheme is followed at once."""
    if qapp.property("studydeskThemeSetting") == "system" and resolve("system") != current(qapp):
        apply(qapp, "system")


def current(qapp: QApplication) -> str:
    """The sheet last applied (``dark`` before any)."""
    return qapp.property("studydeskTheme") or "dark"


def of_home(home) -> str:
    """The home's ``theme`` setting (``dark`` if it cannot be read)."""
    try:
        value = str(home.settings().get(SETTING, "dark")).strip().lower()
    except Exception:  # an unreadable settings.toml: the home's opening reports it
        return "dark"
    return value if value in THEMES else "dark"
