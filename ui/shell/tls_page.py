"""The TLS page of the settings dialog: this workstation's certificate and
key, the certificates it trusts, and whether the listener runs over TLS.

The values live in the home's settings.toml (``tls.certificate``,
``tls.key``, ``tls.ca``, ``tls.listen``; app/net/tls.py). Save checks the
files in a job with the ssl module (``tls.save``: each file there, a PEM
certificate, a key that matches it) and, instead of saving, says what is
wrong with which file and marks its field. Only an admin (the configure privilege) changes them; for
anyone else the fields are read-only and their tooltip says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.home import shown_path
from app.net import tls
from ui.worklist.action_bar import privilege_reason
from ui.jobs import JobRunner

PEM_FILTER = "PEM files (*.pem *.crt *.cer *.key);;All files (*)"
FIELDS = (("certificate", "Certificate", "This workstation's certificate (PEM)"),
          ("key", "Private key", "The private key of that certificate (PEM, without a passphrase)"),
          ("ca", "Trusted certificates",
           "The nodes' certificates, or the authority that signed them (PEM); "
           "empty: the system's certificate authorities"))
INTRO = ("DICOM over TLS (PS3.15, the Basic TLS Secure Transport Connection Profile). "
         "The certificate and key are presented by the storage listener and, when a node asks "
         "for them, by this workstation as a client. A node is reached over TLS when its TLS box "
         "is ticked on the DICOM nodes page; its certificate must chain to a trusted certificate. "
         "With trusted certificates set, the listener over TLS accepts only callers presenting "
         "one that does.")


class TlsPage(QWidget):
    """``loaded()`` when the current values are shown; ``saved(values)`` after Save."""

    loaded = Signal()
    saved = Signal(dict)

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("tlsPage")
        self.home, self.user, self.runner = home, user, runner
        self.is_loaded = False
        self.edits: dict[str, QLineEdit] = {}
        self.browse: dict[str, QPushButton] = {}
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        form = QFormLayout()
        for key, label, tip in FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"tls_{key}")
            edit.setAccessibleName(label)
            edit.setPlaceholderText("not set")
            edit.setToolTip(tip)
            edit.textEdited.connect(lambda _text, e=edit: self._set_problem(e, False))
            button = QPushButton("Browse...")
            button.setObjectName(f"tls_{key}_browse")
            button.setAccessibleName(f"Browse for the {label.lower()}")
            button.clicked.connect(lambda _=False, k=key, t=label: self.choose_file(k, t))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(label, row)
            self.edits[key], self.browse[key] = edit, button
        self.listen_check = QCheckBox("The storage listener accepts TLS connections only")
        self.listen_check.setObjectName("tlsListen")
        form.addRow("", self.listen_check)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveTls")
        self.save_button.clicked.connect(self.save)
        self.note = QLabel("Reading the settings...")
        self.note.setObjectName("tlsNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.why_read_only = privilege_reason(user, "configure", "Changing the TLS settings")
        for widget in self._inputs():
            widget.setEnabled(False)  # until the values are read
        self.load()

    def _inputs(self) -> list[QWidget]:
        return [*self.edits.values(), *self.browse.values(), self.listen_check, self.save_button]

    def editable(self) -> bool:
        return not self.why_read_only

    def values(self) -> dict:
        return dict({k: e.text().strip() for k, e in self.edits.items()}, listen=self.listen_check.isChecked())

    # -- reading ----------------------------------------------------------------------------

    def load(self) -> None:
        home = self.home
        self.runner.start("TLS settings", lambda progress, cancel: tls.current(home), kind="read",
                          visible=False, on_success=self._show, on_failure=self.note.setText)

    def _show(self, values: dict) -> None:
        for key, edit in self.edits.items():
            edit.setText(shown_path(values.get(key, "")) if values.get(key) else "")
        self.listen_check.setChecked(bool(values.get("listen")))
        for widget in self._inputs():
            widget.setEnabled(self.editable())
            if self.why_read_only:
                widget.setToolTip(self.why_read_only)
        self.note.setText(self.why_read_only)
        self.is_loaded = True
        self.loaded.emit()

    def choose_file(self, key: str, title: str) -> None:
        """A file picker for *key*'s field, starting where its file is."""
        current = self.edits[key].text().strip()
        start = str(Path(current).expanduser().parent) if current else str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(self, title, start, PEM_FILTER)
        if path:
            self.edits[key].setText(shown_path(path))

    # -- saving -----------------------------------------------------------------------------

    def save(self) -> None:
        """Check the files and save, in a job; a problem is said in the note
        and its field marked."""
        if not self.editable():
            return
        home, user, values = self.home, self.user, self.values()

        def job(progress, cancel):
            try:
                return tls.save(home, user, **values)
            except tls.SettingProblem as e:  # an answer for the page, not a failed job
                return {"problem": e.message, "setting": e.setting}

        self.save_button.setEnabled(False)
        for edit in self.edits.values():
            self._set_problem(edit, False)
        self.note.setText("Checking the files...")
        self.runner.start("Save TLS settings", job, kind="read", visible=False,
                          on_success=self._saved, on_failure=self._save_failed)

    def _saved(self, values: dict) -> None:
        if "problem" in values:
            self._save_failed(values["problem"])
            edit = self.edits.get(values["setting"])
            if edit is not None:
                self._set_problem(edit, True)
                edit.setFocus()
            return
        self.save_button.setEnabled(True)
        for key, edit in self.edits.items():
            edit.setText(shown_path(values[key]) if values[key] else "")
        self._set_problem(self.note, False)
        if values["certificate"]:
            self.note.setText("Saved: the certificate and key belong together"
                              + ("; the listener runs over TLS" if values["listen"] else ""))
        else:
            self.note.setText("Saved: no certificate (TLS nodes are reached without presenting one)")
        self.saved.emit(values)

    def _save_failed(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self.note.setText(f"Not saved: {message}")
        self._set_problem(self.note, True)

    def problem_fields(self) -> list[str]:
        """The settings whose field is marked as the problem."""
        return [key for key, edit in self.edits.items() if edit.property("problem")]

    @staticmethod
    def _set_problem(widget: QWidget, problem: bool) -> None:
        if bool(widget.property("problem")) == problem:
            return
        widget.setProperty("problem", problem)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
