"""The ``theme`` setting: Dark (the reading room) or Light, chosen in Settings >
Appearance or by ``config set theme``, applied at once and at the next start."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from PySide6.QtGui import QPalette

from app.resources import resource
from tests.ui.conftest import add_user
from ui.shell import theme

WAIT = 10000  # ms; never reached when green


@pytest.fixture(autouse=True)
def dark_again(qapp):
    """The application is shared by the tests: back to the reading room after each."""
    yield
    theme.apply(qapp, "dark")


def window_colour(widget) -> int:
    return widget.palette().color(QPalette.ColorRole.Window).lightness()


def open_appearance(qtbot, window):
    dialog = window.open_settings()
    qtbot.waitUntil(lambda: dialog.appearance.is_loaded, timeout=WAIT)
    dialog.tabs.setCurrentWidget(dialog.appearance)
    return dialog


def test_light_is_chosen_in_settings_applied_at_once_and_saved(qtbot, qapp, make_window, home):
    window = make_window(home)
    dark_sheet = qapp.styleSheet()
    assert window_colour(window) < 60
    dialog = open_appearance(qtbot, window)
    combo = dialog.appearance.theme_combo
    assert combo.currentText() == "Dark"
    assert [combo.itemText(i) for i in range(combo.count())] == ["Dark", "Light", "Same as the system"]

    with qtbot.waitSignal(dialog.appearance.saved, timeout=WAIT):
        dialog.appearance.choose("light")
    assert qapp.styleSheet() != dark_sheet
    assert window_colour(window) > 200  # the open window follows, no restart
    assert window_colour(window.table) > 200
    assert home.settings()["theme"] == "light"
    assert dialog.appearance.note.text() == "Saved: Light"


def test_config_set_theme_round_trips_and_the_next_start_uses_it(qapp, home):
    from app.cli import main

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["--home", str(home.root), "config", "set", "theme", "light"]) == 0
        assert main(["--home", str(home.root), "config", "get", "theme"]) == 0
    assert "light" in out.getvalue()
    assert theme.of_home(home) == "light"
    assert theme.apply(qapp, theme.of_home(home)) == "light"  # what `studydesk gui` does at start
    assert theme.current(qapp) == "light"
    assert qapp.palette().color(QPalette.ColorRole.Base).lightness() > 200


def test_system_follows_the_platform_scheme(qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    assert theme.resolve("system") == ("dark" if dark else "light")
    assert theme.resolve("purple") == "dark"  # a hand-edited typo keeps the reading room


def test_without_configure_the_theme_applies_but_is_not_saved(qtbot, qapp, make_window, home):
    reader = add_user(home, "rita", ["radiologist"])
    window = make_window(home, reader)
    dialog = open_appearance(qtbot, window)
    dialog.appearance.choose("light")
    assert theme.current(qapp) == "light"
    assert "lasts until the window closes" in dialog.appearance.note.text()
    assert home.settings()["theme"] == "dark"


def selectors(name: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", resource("styles", f"{name}.qss").read_text(encoding="utf-8"), flags=re.S)
    return [s.strip() for s in re.findall(r"([^{}]+)\{", text)]


def test_the_light_sheet_styles_the_same_widgets_as_the_dark_one():
    """A rule added to one sheet and not the other shows up here."""
    assert selectors("light") == selectors("dark")
