"""The settings dialog (Edit > Settings...): the DICOM nodes, this workstation, TLS, the theme.

- **Nodes**: ui/net/nodes_page.py (list, add, edit, remove, Echo; DICOM and DICOMweb nodes).
- **This workstation**: its own AE title and listening port, whether the
  storage listener starts with the window, and how it treats callers:
  refuse another called AE title, connections at once, the time a caller
  has to send its association request (ARTIM). They live in the home's
  settings.toml (``config set aet|port|listener.on_start``,
  ``listener.check_called_aet|max_connections|artim_timeout``): only an admin
  (the configure privilege) changes them; for anyone else the fields are
  read-only and their tooltip says why.
- **TLS**: ui/shell/tls_page.py (certificate, key, trusted certificates, checked
  with the ssl module on Save).
- **Appearance**: ui/shell/appearance_page.py (the theme, applied at once).

Reading and writing the settings run as jobs.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.errors import BadInput
from app.home import Home
from app.net import nodes
from app.net.listener import Limits, read_limits
from ui.worklist.action_bar import privilege_reason
from ui.jobs import JobRunner
from ui.net.listener_status import SETTING as LISTEN_SETTING
from ui.net.listener_status import listen_on_start
from ui.net.nodes_page import NodesPage
from ui.shell.appearance_page import AppearancePage
from ui.shell.tls_page import TlsPage


class WorkstationPage(QWidget):
    """``loaded()`` when the current values are shown; ``saved(aet, port)``."""

    loaded = Signal()
    saved = Signal(str, int)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("workstationPage")
        self.home, self.user, self.runner = home, user, runner
        self.is_loaded = False
        self.aet_edit = QLineEdit()
        self.aet_edit.setObjectName("aetEdit")
        self.aet_edit.setAccessibleName("AE title")
        self.aet_edit.setAccessibleDescription("This workstation's own AE title, up to 16 characters")
        self.aet_edit.setMaxLength(16)
        self.port_edit = QSpinBox()
        self.port_edit.setObjectName("portEdit")
        self.port_edit.setAccessibleName("Listening port")
        self.port_edit.setRange(1, 65535)
        self.aet_edit.setMaximumWidth(240)
        self.port_edit.setMaximumWidth(120)
        self.listen_check = QCheckBox("Start the storage listener with the window")
        self.listen_check.setObjectName("listenOnStart")
        self.called_check = QCheckBox("Refuse associations addressed to another AE title")
        self.called_check.setObjectName("checkCalledAet")
        self.connections_edit = QSpinBox()
        self.connections_edit.setObjectName("maxConnections")
        self.connections_edit.setAccessibleName("Connections at once")
        self.connections_edit.setRange(1, 1000)
        self.connections_edit.setToolTip("More callers at once are turned away (local limit exceeded)")
        self.artim_edit = QSpinBox()
        self.artim_edit.setObjectName("artimTimeout")
        self.artim_edit.setAccessibleName("Association request within")
        self.artim_edit.setRange(1, 600)
        self.artim_edit.setSuffix(" s")
        self.artim_edit.setToolTip("A caller that has not sent its whole association request by then "
                                   "is disconnected (ARTIM)")
        for edit in (self.connections_edit, self.artim_edit):
            edit.setMaximumWidth(120)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveWorkstation")
        self.save_button.clicked.connect(self.save)
        self.note = QLabel("Reading the settings...")
        self.note.setObjectName("workstationNote")
        self.note.setWordWrap(True)
        intro = QLabel("Other nodes reach this workstation by its AE title at this computer's "
                       "address and the listening port: register them on the PACS so that it "
                       "may send here (C-MOVE, forwarding).")
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("AE title", self.aet_edit)
        form.addRow("Listening port", self.port_edit)
        form.addRow("", self.listen_check)
        form.addRow("", self.called_check)
        form.addRow("Connections at once", self.connections_edit)
        form.addRow("Association request within", self.artim_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.why_read_only = privilege_reason(user, "configure",
                                              "Changing this workstation's AE title and port")
        for widget in self._editors():
            widget.setEnabled(False)  # until the values are read
        self.load()

    def _editors(self) -> tuple:
        return (self.aet_edit, self.port_edit, self.listen_check, self.called_check, self.connections_edit,
                self.artim_edit, self.save_button)

    def editable(self) -> bool:
        return not self.why_read_only

    def load(self) -> None:
        home = self.home

        def job(progress, cancel):
            aet, port = nodes.local_ae(home)
            return aet, port, listen_on_start(home), read_limits(home)

        self.runner.start("Workstation settings", job, kind="read", visible=False,
                          on_success=self._show, on_failure=self.note.setText)

    def _show(self, values: tuple) -> None:
        aet, port, on_start, limits = values
        self.aet_edit.setText(aet)
        self.port_edit.setValue(port)
        self.listen_check.setChecked(on_start)
        self.called_check.setChecked(limits.check_called_aet)
        self.connections_edit.setValue(limits.max_connections)
        self.artim_edit.setValue(round(limits.artim_timeout))
        for widget in self._editors():
            widget.setEnabled(self.editable())
            widget.setToolTip(self.why_read_only or "")
        self.aet_edit.setReadOnly(not self.editable())
        self.note.setText(self.why_read_only)
        self.is_loaded = True
        self.loaded.emit()

    def save(self) -> None:
        if not self.editable():
            return
        try:
            aet = nodes.check_aet(self.aet_edit.text())
        except BadInput as e:
            self.note.setText(e.message)
            return
        home, port, on_start = self.home, self.port_edit.value(), self.listen_check.isChecked()
        limits = Limits(self.called_check.isChecked(), self.connections_edit.value(), self.artim_edit.value())

        def job(progress, cancel):
            home.set_setting("aet", aet)
            home.set_setting("port", str(port))
            home.set_setting(LISTEN_SETTING, "true" if on_start else "false")
            home.set_setting("listener.check_called_aet", "true" if limits.check_called_aet else "false")
            home.set_setting("listener.max_connections", str(limits.max_connections))
            home.set_setting("listener.artim_timeout", str(int(limits.artim_timeout)))
            return aet, port

        self.save_button.setEnabled(False)
        self.runner.start("Save workstation settings", job, kind="read", visible=False,
                          on_success=self._saved, on_failure=self._save_failed)

    def _saved(self, values: tuple) -> None:
        aet, port = values
        self.save_button.setEnabled(True)
        self.note.setText(f"Saved: AE title {aet}, port {port}")
        self.saved.emit(aet, port)

    def _save_failed(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self.note.setText(message)


class SettingsDialog(QDialog):
    """Nodes, this workstation and TLS, as tabs. ``nodes_changed(nodes)``
    whenever the node list is (re)read; ``workstation_saved(aet, port)``;
    ``tls_saved(values)``."""

    nodes_changed = Signal(list)
    workstation_saved = Signal(str, int)
    tls_saved = Signal(dict)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.resize(760, 560)
        self.nodes_page = NodesPage(home, user, runner)
        self.workstation = WorkstationPage(home, user, runner)
        self.tls = TlsPage(home, user, runner)
        self.appearance = AppearancePage(home, user, runner)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.tabs.addTab(self.nodes_page, "DICOM nodes")
        self.tabs.addTab(self.workstation, "This workstation")
        self.tabs.addTab(self.tls, "TLS")
        self.tabs.addTab(self.appearance, "Appearance")
        self.tabs.setAccessibleName("Settings pages")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.nodes_page.loaded.connect(lambda: self.nodes_changed.emit(list(self.nodes_page.nodes)))
        self.workstation.saved.connect(self.workstation_saved)
        self.tls.saved.connect(self.tls_saved)


def open_settings(home: Home, user: User, runner: JobRunner, parent: QWidget, restart_listener: Callable,
                  dialog: Optional[SettingsDialog] = None) -> SettingsDialog:
    """Show the settings dialog (*dialog*, or a new one over *parent*): a new
    AE title or port, or new TLS settings, call *restart_listener()*. Node
    changes reach the source selector through the home's broadcast."""
    if dialog is None:
        dialog = SettingsDialog(home, user, runner, parent)
        dialog.workstation_saved.connect(lambda _aet, _port: restart_listener())
        dialog.tls_saved.connect(lambda _values: restart_listener())
    dialog.show()
    dialog.raise_()
    return dialog
