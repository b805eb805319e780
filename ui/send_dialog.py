"""Send ticked studies to a DICOM node: pick the node, then a C-STORE job.

The nodes come from app.net.nodes (read in a job); the sending is
app.net.send.send_studies, one association per job, with the jobs panel
showing its progress and Cancel. The outcome (sent, converted, failed with
their statuses) goes to the status bar, failures to a message box.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QMessageBox, QVBoxLayout, QWidget)

from app.accounts import User
from app.home import Home
from app.net import nodes, send
from ui.jobs import Job, JobRunner


def summary(result: send.SendResult) -> str:
    text = f"Sent {result.sent} instance{'s' if result.sent != 1 else ''} to {result.node}"
    if result.converted:
        text += f" ({result.converted} decompressed for the peer)"
    if result.failed:
        text += f"; {len(result.failed)} failed"
    return text


class SendDialog(QDialog):
    """``chosen(node_name)`` when the user sends."""

    chosen = Signal(str)

    def __init__(self, home: Home, runner: JobRunner, study_count: int,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sendDialog")
        self.setWindowTitle("Send studies")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(420, 340)
        heading = QLabel(f"Send {study_count} stud{'ies' if study_count != 1 else 'y'} to:")
        heading.setObjectName("dialogHeading")
        self.nodes = QListWidget()
        self.nodes.setObjectName("nodes")
        self.note = QLabel("Reading the nodes...")
        self.note.setObjectName("dialogNote")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.send_button = buttons.addButton("Send", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setObjectName("sendButton")
        self.send_button.setEnabled(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        self.send_button.clicked.connect(self._send)
        self.nodes.itemDoubleClicked.connect(lambda _item: self._send())
        self.nodes.currentItemChanged.connect(
            lambda item, _old: self.send_button.setEnabled(item is not None))
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.nodes, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.loaded = False

        runner.start("Nodes", lambda progress, cancel: nodes.nodes_of(home), kind="read",
                     visible=False, on_success=self._loaded, on_failure=self.note.setText)

    def _loaded(self, found: list) -> None:
        # nodes that take images first; a node for other purposes may still accept a store
        found = sorted(found, key=lambda n: ("store" not in n.purposes, n.name.lower()))
        for node in found:
            item = QListWidgetItem(str(node))
            item.setData(Qt.ItemDataRole.UserRole, node.name)
            self.nodes.addItem(item)
        if found:
            self.note.setText("")
            self.nodes.setCurrentRow(0)
        else:
            self.note.setText("No DICOM node is configured. An admin adds one with "
                              "`studydesk node add NAME --aet AET --host HOST --port PORT`.")
        self.loaded = True

    def _send(self) -> None:
        item = self.nodes.currentItem()
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
            self.accept()


def start_send(parent: QWidget, home: Home, user: User, runner: JobRunner, study_uids: list[str],
               node_name: str) -> Job:
    """The C-STORE job (network: it runs beside searches, not behind cache writes)."""
    uids = list(study_uids)

    def job(progress, cancel):
        return send.send_studies(home, user, uids, node_name, progress=progress, cancel=cancel)

    def done(result: send.SendResult) -> None:
        if hasattr(parent, "show_message"):
            parent.show_message(summary(result))
        if result.failed:
            box = QMessageBox(QMessageBox.Icon.Warning, "StudyDesk",
                              f"{len(result.failed)} instances were not accepted by {result.node}.",
                              QMessageBox.StandardButton.Ok, parent)
            box.setDetailedText("\n".join(str(f) for f in result.failed))
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    return runner.start(f"Send to {node_name}", job, kind="read", summarize=summary,
                        on_success=done)


def open_send_dialog(parent: QWidget, home: Home, user: User, study_uids: list[str],
                     runner: Optional[JobRunner] = None) -> SendDialog:
    runner = runner or getattr(parent, "runner", None) or JobRunner(parent, error_parent=parent)
    dialog = SendDialog(home, runner, len(study_uids), parent)
    dialog.chosen.connect(lambda name: start_send(parent, home, user, runner, study_uids, name))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
