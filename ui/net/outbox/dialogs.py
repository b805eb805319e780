"""The Outbox window's two questions: which node held entries go to, and why
entries are discarded.

:class:`NodeChooser` lists the configured nodes that take what the entries
are (purpose ``store`` for IOCM corrections; read in a job); the others are
not offered, and when none qualifies it says how an admin adds one.
:class:`DiscardDialog` requires the reason, kept with the entries and in the
audit trail. :func:`failures_box` tells what a send could not deliver.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QListWidget,
                               QMessageBox, QVBoxLayout, QWidget)

from app.home import Home
from ui.jobs import JobRunner
from ui.net.node_choice import NodeChoiceDialog


def entries_text(count: int, adjective: str = "", every: bool = False) -> str:
    """``3 entries``, ``the 3 held entries`` style counts (*every*: "all 3 ...", "the 1 ...")."""
    words = f"{count:,} {adjective + ' ' if adjective else ''}entr{'y' if count == 1 else 'ies'}"
    if every:
        return ("the " if count == 1 else "all ") + words
    return words


class NodeChooser(NodeChoiceDialog):
    """``chosen(node_name)`` when the user picks a node (of *purpose* only)."""

    def __init__(self, home: Home, runner: JobRunner, count: int, purpose: str = "store",
                 parent: Optional[QWidget] = None):
        self.purpose = purpose
        super().__init__(
            home, runner, f"Send the {entries_text(count)} held in the outbox to:",
            "Queue for this node", ("outboxNodeChooser", "outboxNodes", "chooseNode"),
            explain="They were held because their study came from files, not from a node. "
                    f"Nodes that take images (purpose {purpose}) are listed; the entries are "
                    "queued for the one you choose, and Send now sends them.", parent=parent)
        self.setWindowTitle("Choose a node for held entries")
        self.resize(460, 360)
        self.choose_button = self.button

    def offer(self, found: list) -> tuple[list, str]:
        fitting = [n for n in found if self.purpose in n.purposes]
        if not fitting:
            return [], (f"No configured node has the {self.purpose} purpose. An admin adds one "
                        "in Edit > Settings > Nodes, or with `studydesk node add NAME --aet AET "
                        f"--host HOST --port PORT --purpose {self.purpose}`.")
        others = len(found) - len(fitting)
        return fitting, (f"{others} other node{'s are' if others != 1 else ' is'} not for "
                         f"{self.purpose}." if others else "")


class DiscardDialog(QDialog):
    """``confirmed(reason)`` when the user discards; the reason is required."""

    confirmed = Signal(str)

    def __init__(self, lines: list[str], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("outboxDiscardDialog")
        self.setWindowTitle("Discard outbox entries")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(620, 340)
        heading = QLabel(f"Never send these {entries_text(len(lines))}?")
        heading.setObjectName("dialogHeading")
        note = QLabel("Discarded entries are not sent to their node. They stay in the outbox (filter "
                      "Discarded) with your name and reason, and Restore puts them back in the queue.")
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        listing = QListWidget()
        listing.setObjectName("discardList")
        listing.setAccessibleName("Entries to discard")
        listing.addItems(lines)
        self.reason = QLineEdit()
        self.reason.setObjectName("discardReason")
        self.reason.setAccessibleName("Reason")
        self.reason.setAccessibleDescription("Why the entries must never be sent (required; kept in the audit "
                                             "trail)")
        self.reason.setPlaceholderText("Why must they never be sent? (required; kept in the audit trail)")
        buttons = QDialogButtonBox()
        self.discard_button = buttons.addButton("Discard", QDialogButtonBox.ButtonRole.AcceptRole)
        self.discard_button.setObjectName("confirmDiscard")
        self.discard_button.setProperty("danger", True)
        self.discard_button.setAutoDefault(False)
        self.discard_button.setEnabled(False)
        self.discard_button.setToolTip("Type the reason first")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        buttons.rejected.connect(self.reject)
        self.discard_button.clicked.connect(self._confirm)
        self.reason.textChanged.connect(
            lambda text: self.discard_button.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addWidget(listing, 1)
        layout.addWidget(self.reason)
        layout.addWidget(buttons)

    def _confirm(self) -> None:
        reason = self.reason.text().strip()
        if reason:
            self.confirmed.emit(reason)
            self.accept()


def failures_box(failed: list[dict], parent: QWidget) -> QMessageBox:
    """What a send could not deliver, each with the node's or the network's reason
    (shown without blocking; closes itself)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Outbox",
                      f"{entries_text(len(failed))} could not be sent; they stay failed and Send now "
                      "retries them.", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("outboxFailures")
    box.setInformativeText(failed[0]["reason"])
    box.setDetailedText("\n".join(f"{f['node']}: {f['sop_instance_uid'] or f['id']}: {f['reason']}"
                                   for f in failed))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
