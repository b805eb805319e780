"""What the Content Manager does, each as a job through the one adapter (ui/jobs.py).

Reallocation, planned once: a read job (``runner.read``) checks the rules and
plans the move (app.changes.reallocate through app.changes.view.preview: a
refusal names the rule at once, before any confirmation); the confirmation
dialog shows the preview; a write job (``runner.write``) applies exactly the
plan the user confirmed, or refuses naming what changed since. When it
cleared AI results, the rescan request is sent at once as a background job
(a failure in a box that does not block, the entry left in the outbox for a
retry). Undo, locks, the migrated mark and "Request AI rescan" are write
jobs too. Each write broadcasts what it changed (ui/cache_events.py), and
``changed()`` makes the window search again in both panes and reload the
history.

The context menus are built by ui/changes/cm_menus.py, unshown (the window
pops them up), so tests trigger their actions directly.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from app.accounts.accounts import User
from app.changes import ai, locks, migrated
from app.changes import view as content
from app.changes.reallocate import Outcome, apply_reallocation
from app.home import Home
from ui.cache_events import JOURNAL, OUTBOX, STUDIES, CacheChange
from ui.changes import cm_menus
from ui.changes.cm_menus import needs
from ui.changes.cm_tree import Node
from ui.jobs import JobRunner
from ui.changes.reallocate_dialog import ReallocateDialog, StudyChooser, series_line, study_line


class ContentActions(QObject):
    changed = Signal()
    message = Signal(str)
    rescans_done = Signal(list)   # ai.send_rescans' results, after a reallocation

    def __init__(self, home: Home, user: User, runner: JobRunner, window: QWidget,
                 studies: Callable[[], list[dict]]):
        super().__init__(window)
        self.home, self.user, self.runner, self.window = home, user, runner, window
        self.studies = studies            # every study the panes show (for the chooser)
        self.can_manage = user.can("content-management")
        self.dialog: Optional[QWidget] = None      # the confirmation or chooser, while open
        self.last_refusal = ""
        self.last_outcome = None
        self.last_rescans: list[dict] = []
        self._boxes: list[QMessageBox] = []

    # -- reallocation --------------------------------------------------------------

    def reallocate(self, series: list[str], destination: str) -> None:
        """Check and preview, then confirm; the drop and "Reallocate to..." land here."""
        if not self.can_manage:
            self.refuse(needs(self.user, "content-management") + ": reallocation refused")
            return
        if isinstance(self.dialog, ReallocateDialog):
            self.message.emit("Answer the open confirmation first")
            return
        home, user = self.home, self.user
        self.message.emit("Checking the reallocation...")
        self.runner.read(home, "Reallocation check",
                         lambda db, progress, cancel: content.preview(home, db, user, series, destination),
                         on_success=self._confirm, on_failure=self.refuse)

    def _confirm(self, preview: content.Preview) -> None:
        dialog = ReallocateDialog(preview, self.window)
        dialog.accepted.connect(lambda: self._move(dialog))
        dialog.finished.connect(lambda _r: self._forget(dialog))
        self.dialog = dialog
        dialog.open()

    def _move(self, dialog: ReallocateDialog) -> None:
        """Apply the plan the dialog showed, with the user's answers."""
        preview = dialog.preview
        home, user, planned = self.home, self.user, preview.plan
        answers = dict(with_dependents=dialog.with_dependents(), force=preview.different_patients,
                       reason=dialog.reason_text(), title=dialog.rejection_title())

        def changed(outcome: Outcome) -> CacheChange:
            kinds = (STUDIES, JOURNAL) + ((OUTBOX,) if outcome.renewal or outcome.ai_cleared else ())
            return CacheChange.of(*kinds, study_uids=[*outcome.sources, outcome.destination])

        what = ", ".join(series_line(s).split("  (")[0] for s in preview.series)
        self.runner.write(home, f"Reallocate {what} to {study_line(preview.destination)}",
                          lambda db, progress, cancel: apply_reallocation(
                              home, db, user, planned, progress=progress, cancel=cancel, **answers),
                          changed=changed, on_success=self._moved, on_failure=self.refuse,
                          summarize=lambda outcome: outcome.messages()[0])

    def _moved(self, outcome) -> None:
        self.last_outcome = outcome
        lines = outcome.messages()
        self.message.emit(" · ".join(lines))
        self.changed.emit()
        if len(lines) > 1:  # AI results cleared, a rescan requested, IOCM: tell the user
            self._box(QMessageBox.Icon.Information, "cmResult", "Series reallocated", "\n\n".join(lines))
        if outcome.ai_cleared:
            self.send_rescans(outcome.destination)

    def send_rescans(self, study_uid: str):
        """The change is done: send its AI rescan request now, in the background.
        A failure is told in a box that does not block (the study and the node
        named); the entry stays in the outbox for a retry."""
        home, user = self.home, self.user
        return self.runner.start(
            "Send the AI rescan request", lambda progress, cancel: ai.send_rescans(home, user, study_uid, cancel),
            kind="read", on_success=self._rescans_sent,
            on_failure=lambda message: self._rescan_failed(f"The AI rescan request could not be sent: "
                                                           f"{message}. It stays in the Outbox."),
            summarize=lambda results: (f"{sum(r['sent'] for r in results)} of {len(results)} AI rescan "
                                       "requests sent"))

    def _rescans_sent(self, results: list[dict]) -> None:
        self.last_rescans = results
        sent = [r["node"] for r in results if r["sent"]]
        if sent:
            self.message.emit(f"AI rescan request sent to {', '.join(sent)}")
        failed = [r for r in results if not r["sent"]]
        if failed:
            self._rescan_failed("\n\n".join(ai.failure_message(r) for r in failed))
        self.rescans_done.emit(results)

    def _rescan_failed(self, text: str) -> None:
        self.message.emit(text.split("\n")[0])
        self._box(QMessageBox.Icon.Warning, "cmRescanFailed", "AI rescan not sent", text, modal=False)

    def choose_destination(self, series: list[str], source_study: str) -> None:
        """"Reallocate to...": pick a study shown in either pane."""
        seen, studies = set(), []
        for study in self.studies():
            if study["study_instance_uid"] not in seen and study["study_instance_uid"] != source_study:
                seen.add(study["study_instance_uid"])
                studies.append(study)
        chooser = StudyChooser(studies, self.window)
        chooser.accepted.connect(lambda: chooser.chosen() and self.reallocate(series, chooser.chosen()))
        chooser.finished.connect(lambda _r: self._forget(chooser))
        self.dialog = chooser
        chooser.open()

    def _forget(self, dialog: QWidget) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # -- undo and study actions ----------------------------------------------------

    def study_action(self, title: str, act: Callable, done: Callable[[object], str], uid: str,
                     *kinds: str) -> None:
        self.runner.write(self.home, title, lambda db, progress, cancel: act(db),
                          changed=CacheChange.of(STUDIES, *kinds, study_uids=[uid]), visible=False,
                          on_success=lambda result: self._done(done(result)), on_failure=self.refuse)

    def lock(self, uid: str) -> None:
        self.study_action("Lock study", lambda db: locks.lock(db, self.user, uid),
                          lambda _r: "Study locked", uid)

    def unlock(self, uid: str) -> None:
        self.study_action("Unlock study", lambda db: locks.unlock(db, self.user, uid),
                          lambda _r: "Study unlocked", uid)

    def mark_migrated(self, uid: str, flag: bool) -> None:
        self.study_action("Migrated mark", lambda db: migrated.mark(db, self.user, uid, flag),
                          lambda r: f"Study marked migrated ({r['reason']})" if r["reason"]
                          else "Migrated mark cleared", uid)

    def request_rescan(self, uid: str) -> None:
        self.study_action("Request AI rescan",
                          lambda db: ai.request_rescan(self.home, db, self.user, uid),
                          lambda r: r["message"], uid, OUTBOX)

    def _done(self, text: str) -> None:
        self.message.emit(text)
        self.changed.emit()

    # -- refusals and notices --------------------------------------------------------

    def refuse(self, message: str) -> None:
        """A rule (or a failure) said no: one box naming it, never blocking the loop."""
        self.last_refusal = message
        text = message
        if "locked by" in message:
            text += "\n\nThe holder or an admin can release it: right-click the study, \"Unlock study\"."
        self.message.emit(f"Refused: {message}")
        self._box(QMessageBox.Icon.Warning, "cmRefusal", "Not done", text)

    def _box(self, icon, name: str, title: str, text: str, modal: bool = True) -> None:
        box = QMessageBox(icon, "Content Manager", title, QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName(name)
        box.setInformativeText(text)
        box.finished.connect(lambda _r: self._boxes.remove(box) if box in self._boxes else None)
        self._boxes.append(box)
        if modal:
            box.open()
        else:  # a notice: the window stays usable while it is shown
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.show()

    def boxes(self) -> list[QMessageBox]:
        return list(self._boxes)

    # -- menus --------------------------------------------------------------------------

    def menu(self, node: Node, selected_series: list[str]) -> QMenu:
        """The context menu of *node* (ui/changes/cm_menus.py), unshown."""
        return cm_menus.build(self, node, selected_series)
