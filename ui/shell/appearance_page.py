"""Settings > Appearance: the theme (Dark, Light, Same as the system).

A choice is applied at once to every open window (ui/shell/theme.py) and
saved in the home's settings.toml (``config set theme light`` does the same
from the command line), so the next start opens in it. Saving needs the
configure privilege, as every other workstation setting; without it the
choice still applies, until the window closes, and the note says so.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QApplication, QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from app.accounts.accounts import User
from app.home import Home
from ui.jobs import JobRunner
from ui.shell import theme
from ui.worklist.action_bar import privilege_reason


class AppearancePage(QWidget):
    """``loaded()`` when the setting is shown; ``saved(name)``."""

    loaded = Signal()
    saved = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("appearancePage")
        self.home, self.runner = home, runner
        self.why_not_saved = privilege_reason(user, "configure", "Saving the theme for this workstation")
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("themeCombo")
        self.theme_combo.setAccessibleName("Theme")
        self.theme_combo.setAccessibleDescription(
            "The window's colours: Dark for reading images, Light for daylight, or the system's choice")
        for name in theme.THEMES:
            self.theme_combo.addItem(theme.LABELS[name], name)
        self.theme_combo.setEnabled(False)  # until the setting is read
        self.note = QLabel("Reading the settings...")
        self.note.setObjectName("appearanceNote")
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Theme", self.theme_combo)
        layout = QVBoxLayout(self)
        intro = QLabel("Dark is the reading-room look: images are judged against neutral grey. "
                       "Light suits a bright office.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.is_loaded = False
        home_ = home
        runner.start("Appearance settings", lambda progress, cancel: theme.of_home(home_), kind="read",
                     visible=False, on_success=self._show, on_failure=self.note.setText)

    def _show(self, name: str) -> None:
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(name)))
        self.theme_combo.setEnabled(True)
        self.theme_combo.currentIndexChanged.connect(self._chosen)
        self.note.setText(self.why_not_saved)
        self.is_loaded = True
        self.loaded.emit()

    def choose(self, name: str) -> None:
        """Pick *name* as a user would in the list."""
        self.theme_combo.setCurrentIndex(self.theme_combo.findData(name))

    def _chosen(self, _index: int) -> None:
        name = self.theme_combo.currentData()
        theme.apply(QApplication.instance(), name)
        if self.why_not_saved:
            self.note.setText(f"{self.why_not_saved} This theme lasts until the window closes.")
            return
        home = self.home

        def job(progress, cancel):
            home.set_setting(theme.SETTING, name)
            return name

        self.runner.start("Save the theme", job, kind="read", visible=False,
                          on_success=self._saved, on_failure=self.note.setText)

    def _saved(self, name: str) -> None:
        self.note.setText(f"Saved: {theme.LABELS[name]}")
        self.saved.emit(name)
