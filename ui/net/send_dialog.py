"""Send ticked studies to another location or user: a DICOM node (a C-STORE
job) or a user of this workstation (a share, app/worklist/sharing.py: the studies show
in that user's "Shared with me" view with the note typed here).

The nodes come from app.net.nodes (read in a job); the sending is
app.net.send.send_studies, one association per job, with the jobs panel
showing its progress and Cancel. The outcome (sent, converted, failed with
their statuses) goes to the status bar, failures to a message box.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidgetItem, QMessageBox, QWidget

from app.accounts.accounts import User, list_users
from app.home import Home
from app.net import send
from app.worklist import sharing
from ui.cache_events import SHARES, CacheChange
from ui.jobs import Job, JobRunner
from ui.net.node_choice import NodeChoiceDialog


def summary(result: send.SendResult) -> str:
    text = f"Sent {result.sent} instance{'s' if result.sent != 1 else ''} to {result.node}"
    if result.converted:
        text += f" ({result.converted} decompressed for the peer)"
    if result.failed:
        text += f"; {len(result.failed)} failed"
    return text


USER_PREFIX = "user:"   # list entries for users of this workstation (not DICOM nodes)


class SendDialog(NodeChoiceDialog):
    """``chosen(node_name)`` when the user sends to a node; ``chosen("user:NAME")``
    when they share with a user of this workstation (:meth:`note_text` is the note)."""

    def __init__(self, home: Home, runner: JobRunner, study_count: int,
                 parent: Optional[QWidget] = None, user: Optional[User] = None):
        super().__init__(home, runner, f"Send {study_count} stud{'ies' if study_count != 1 else 'y'} to "
                         "another location or user:",
                         "Send", ("sendDialog", "nodes", "sendButton"), parent=parent)
        self.setWindowTitle("Send studies")
        self.resize(460, 420)
        self.send_button = self.button
        self.nodes.setAccessibleName("Destinations")
        self.nodes.setAccessibleDescription("The DICOM nodes that take images, then the users of this workstation")
        self._me = user.name if user is not None else ""
        self._users: Optional[list[str]] = None
        self._nodes_note = ""
        self.note_label = QLabel("Note for the user (shown in their Shared with me view)")
        self.note_label.setObjectName("dialogNote")
        self.note = QLineEdit()
        self.note.setObjectName("shareNote")
        self.note.setAccessibleName("Note for the user")
        self.note.setAccessibleDescription(self.note_label.text())
        self.note.setPlaceholderText("e.g. second opinion on the left lung, please")
        layout = self.layout()
        layout.insertWidget(layout.count() - 1, self.note_label)
        layout.insertWidget(layout.count() - 1, self.note)
        self.nodes.currentItemChanged.connect(lambda item, _old: self._follow(item))
        self._follow(None)
        runner.read(home, "Users", lambda db, progress, cancel: [u.name for u in list_users(db)],
                    on_success=self._users_loaded, on_failure=lambda _m: self._users_loaded([]))

    def offer(self, found: list) -> tuple[list, str]:
        # nodes that take images first; a node for other purposes may still accept a store
        found = sorted(found, key=lambda n: ("store" not in n.purposes, n.name.lower()))
        if not found:
            self._nodes_note = ("No DICOM node is configured (an admin adds one with "
                                "`studydesk node add NAME --aet AET --host HOST --port PORT`); "
                                "you can still share with a user of this workstation.")
            return [], self._nodes_note
        return found, ""

    def _loaded(self, found: list) -> None:
        super()._loaded(found)
        self._add_users()

    def _users_loaded(self, names: list[str]) -> None:
        self._users = [n for n in names if n != self._me]
        self._add_users()

    def _add_users(self) -> None:
        """Once the nodes and the accounts are both read: the users after the nodes."""
        if not self.loaded or self._users is None or self.user_names() or not self._users:
            return
        header = QListWidgetItem("Users of this workstation")
        header.setFlags(Qt.ItemFlag.NoItemFlags)
        header.setData(Qt.ItemDataRole.UserRole, "")
        self.nodes.addItem(header)
        for name in self._users:
            item = QListWidgetItem(f"{name}  (a user of this workstation: Shared with me)")
            item.setData(Qt.ItemDataRole.UserRole, USER_PREFIX + name)
            self.nodes.addItem(item)
        if self.nodes.currentItem() is None:
            self.nodes.setCurrentRow(self.nodes.count() - len(self._users))

    def user_names(self) -> list[str]:
        return [n[len(USER_PREFIX):] for n in self.node_names() if (n or "").startswith(USER_PREFIX)]

    def node_names(self) -> list[str]:
        names = super().node_names()
        return [n for n in names if n]

    def choose(self, name: str) -> None:
        """Pick *name* (a node, or ``user:NAME``) as a click on its row does."""
        for i in range(self.nodes.count()):
            if self.nodes.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.nodes.setCurrentRow(i)
                self._choose()
                return
        raise ValueError(f"{name}: not offered")

    def note_text(self) -> str:
        return self.note.text().strip()

    def _follow(self, item) -> None:
        to_user = item is not None and str(item.data(Qt.ItemDataRole.UserRole) or "").startswith(USER_PREFIX)
        self.note_label.setVisible(to_user)
        self.note.setVisible(to_user)
        self.send_button.setText("Share" if to_user else "Send")


def start_share(parent: QWidget, home: Home, user: User, runner: JobRunner, study_uids: list[str],
                with_user: str, note: str) -> Job:
    """Share the studies with a user of this workstation (app.worklist.sharing): they show
    in that user's Shared with me view with the note."""
    uids = list(study_uids)

    def text(done: dict) -> str:
        count = len(done["shared"])
        return f"Shared {count} stud{'ies' if count != 1 else 'y'} with {done['with']}"

    def done(result: dict) -> None:
        if hasattr(parent, "show_message"):
            parent.show_message(text(result))

    return runner.write(home, f"Share with {with_user}",
                        lambda db, progress, cancel: sharing.share(db, user, uids, with_user, note),
                        changed=CacheChange.of(SHARES, study_uids=uids), summarize=text, on_success=done)


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
    dialog = SendDialog(home, runner, len(study_uids), parent, user)

    def chosen(name: str) -> None:
        if name.startswith(USER_PREFIX):
            start_share(parent, home, user, runner, study_uids, name[len(USER_PREFIX):], dialog.note_text())
        else:
            start_send(parent, home, user, runner, study_uids, name)

    dialog.chosen.connect(chosen)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
