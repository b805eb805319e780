"""Send ticked studies to a DICOM node: pick the node, then a C-STORE job.

The nodes come from app.net.nodes (read in a job); the sending is
app.net.send.send_studies, one association per job, with the jobs panel
showing its progress and Cancel. The outcome (sent, converted, failed with
their statuses) goes to the status bar, failures to a message box.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from app.accounts import User
from app.home import Home
from app.net import send
from ui.jobs import Job, JobRunner
from ui.node_choice import NodeChoiceDialog


def summary(result: send.SendResult) -> str:
    text = f"Sent {result.sent} instance{'s' if result.sent != 1 else ''} to {result.node}"
    if result.converted:
        text += f" ({result.converted} decompressed for the peer)"
    if result.failed:
        text += f"; {len(result.failed)} failed"
    return text


class SendDialog(NodeChoiceDialog):
    """``chosen(node_name)`` when the user sends."""

    def __init__(self, home: Home, runner: JobRunner, study_count: int,
                 parent: Optional[QWidget] = None):
        super().__init__(home, runner, f"Send {study_count} stud{'ies' if study_count != 1 else 'y'} to:",
                         "Send", ("sendDialog", "nodes", "sendButton"), parent=parent)
        self.setWindowTitle("Send studies")
        self.resize(420, 340)
        self.send_button = self.button

    def offer(self, found: list) -> tuple[list, str]:
        # nodes that take images first; a node for other purposes may still accept a store
        found = sorted(found, key=lambda n: ("store" not in n.purposes, n.name.lower()))
        if not found:
            return [], ("No DICOM node is configured. An admin adds one with "
                        "`studydesk node add NAME --aet AET --host HOST --port PORT`.")
        return found, ""


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
