"""What the action bar and the row menu do: each action a job, never a wait.

Changes to studies (assign, delete, lock, unlock) run as ``runner.write``
jobs (one at a time, a connection of their own) and end with one broadcast
of what they changed (ui/cache_events.py): every view of the home refreshes
from that, none is refreshed here. An action over several studies goes
study by study and ends with what was done and what was refused, each with
its reason (like the command line's exit 6).

Download, Burn and Send open dialogs that other parts of the workstation
provide (ui.export.export_dialog, ui.export.burn_dialog, ui.net.send_dialog):
the shell hands their table over (ui/shell/study_dialogs.py), since the
worklist sits below ui/net and ui/export, and :meth:`StudyActions.unavailable`
tells the bar which cannot be opened here so it can disable them with the reason.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Callable, Mapping, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.worklist import assignments
from app.accounts.accounts import User
from app.changes import locks, trash
from app.errors import Cancelled, StudyDeskError
from app.home import Home
from ui.cache_events import JOURNAL, OUTBOX, STUDIES, TRASH, CacheChange, announce
from ui.jobs import Job, JobRunner

# action key -> what the user is told the missing part is called
DIALOG_NAMES = {"download": "The export dialog", "burn": "The disc burning dialog",
                "send": "Sending to DICOM nodes"}

# action key -> (the module that provides the dialog, the name of its opener)
Dialogs = Mapping[str, tuple[ModuleType, str]]


def dialog_function(dialogs: Dialogs, key: str) -> tuple[Optional[Callable], str]:
    """The dialog opener for *key*, or None and why it cannot be opened here."""
    if key not in dialogs:
        return None, f"{DIALOG_NAMES[key]} is not part of this installation."
    module, function = dialogs[key]
    opener = getattr(module, function, None)
    if opener is None:
        return None, f"{DIALOG_NAMES[key]} is not part of this installation ({module.__name__}.{function})."
    reason = getattr(module, "unavailable", lambda: "")()  # a module may say it cannot work here
    return (None, reason) if reason else (opener, "")


def batch_job(title: str, study_uids: list[str], step: Callable) -> Callable:
    """A write applying ``step(db, uid)`` to each study (``fn(db, progress,
    cancel)`` for ``runner.write``); refusals are collected, not raised, so
    one locked study does not stop the others."""

    def job(db, progress, cancel):
        done, refused = [], []
        for n, uid in enumerate(study_uids):
            cancel.check()
            progress(n / len(study_uids), f"{title}: {n + 1} of {len(study_uids)}")
            try:
                step(db, uid)
            except Cancelled:
                raise
            except StudyDeskError as e:
                refused.append((uid, e.message))
            else:
                done.append(uid)
        return {"done": done, "refused": refused}

    return job


# what each batch changes, for the broadcast (a delete is journaled and may
# queue IOCM corrections in the outbox)
CHANGES = {"assign": (STUDIES,), "lock": (STUDIES,), "unlock": (STUDIES,),
           "delete": (STUDIES, TRASH, JOURNAL, OUTBOX)}


def outcome(verb: str, result: dict) -> str:
    done, refused = len(result["done"]), len(result["refused"])
    text = f"{verb} {done} stud{'ies' if done != 1 else 'y'}"
    return text + (f"; {refused} refused" if refused else "")


class StudyActions(QObject):
    """Starts the study jobs of one window.

    ``changed(kind, uids)`` after a study job ended, its change already
    broadcast (the tick set forgets deleted studies; tests wait on it);
    ``message(text)`` for the status bar. *dialogs*: the table of the
    Download, Burn and Send dialogs (ui/shell/study_dialogs.py); an action
    missing from it is disabled with the reason.
    """

    changed = Signal(str, list)
    message = Signal(str)

    def __init__(self, home: Home, user: User, runner: JobRunner, window: QWidget,
                 dialogs: Optional[Dialogs] = None):
        super().__init__(window)
        self.home, self.user, self.runner, self.window = home, user, runner, window
        self.dialogs: dict[str, tuple[ModuleType, str]] = dict(dialogs or {})
        self._boxes: list[QMessageBox] = []

    def unavailable(self) -> dict[str, str]:
        """Action key -> why its dialog cannot be opened (only those)."""
        out = {}
        for key in DIALOG_NAMES:
            opener, reason = dialog_function(self.dialogs, key)
            if opener is None:
                out[key] = reason
        return out

    # -- changes -----------------------------------------------------------------

    def assign(self, study_uids: list[str], to: Optional[str]) -> Job:
        user = self.user
        verb = f"Assigned to {to}:" if to else "Unassigned"
        return self._batch("assign", "Assign" if to else "Unassign", study_uids,
                           lambda db, uid: assignments.assign(db, user, uid, to), verb)

    def delete(self, study_uids: list[str], reason: str = "") -> Job:
        home, user = self.home, self.user
        return self._batch("delete", "Delete", study_uids,
                           lambda db, uid: trash.delete(home, db, user, uid, reason), "Moved to the trash:")

    def lock(self, study_uids: list[str]) -> Job:
        user = self.user
        return self._batch("lock", "Lock", study_uids, lambda db, uid: locks.lock(db, user, uid), "Locked")

    def unlock(self, study_uids: list[str]) -> Job:
        user = self.user
        return self._batch("unlock", "Unlock", study_uids, lambda db, uid: locks.unlock(db, user, uid),
                           "Unlocked")

    def _batch(self, kind: str, title: str, study_uids: list[str], step: Callable, verb: str) -> Job:
        count = len(study_uids)
        name = f"{title} {count} stud{'ies' if count != 1 else 'y'}"
        home, change = self.home, CacheChange.of(*CHANGES[kind], study_uids=study_uids)

        def cancelled() -> None:
            announce(home, change)  # the studies done before the cancel stay changed
            self.message.emit(f"{title} cancelled")

        job = self.runner.write(home, name, batch_job(title, list(study_uids), step), changed=change,
                                summarize=lambda r: outcome(verb, r),
                                on_success=lambda r: self._done(kind, title, verb, r),
                                on_cancel=cancelled)
        job.failed.connect(lambda _message: announce(home, change))  # so may a failure's
        job.finished.connect(lambda: self.changed.emit(kind, list(study_uids)))
        return job

    def _done(self, kind: str, title: str, verb: str, result: dict) -> None:
        self.message.emit(outcome(verb, result))
        if result["refused"]:
            self.show_refusals(title, result["refused"])

    def show_refusals(self, title: str, refused: list[tuple[str, str]]) -> QMessageBox:
        were = "studies were" if len(refused) != 1 else "study was"
        box = QMessageBox(QMessageBox.Icon.Warning, "StudyDesk", f"{title}: {len(refused)} {were} refused.",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("refusals")
        box.setInformativeText("\n".join(message for _uid, message in refused[:8])
                               + ("\n..." if len(refused) > 8 else ""))
        box.setDetailedText("\n".join(f"{uid}: {message}" for uid, message in refused))
        box.finished.connect(lambda _r, b=box: self._boxes.remove(b) if b in self._boxes else None)
        self._boxes.append(box)
        box.open()
        return box

    # -- dialogs of other parts ------------------------------------------------------

    def open_dialog(self, key: str, study_uids: list[str], **options) -> bool:
        """Open the Download / Burn / Send dialog; False (with a message) when missing."""
        opener, reason = dialog_function(self.dialogs, key)
        if opener is None:
            self.message.emit(reason)
            return False
        accepted = inspect.signature(opener).parameters
        extra = {k: v for k, v in options.items() if k in accepted}
        if "runner" in accepted:
            extra["runner"] = self.runner
        dialog = opener(self.window, self.home, self.user, list(study_uids), **extra)
        if options.get("anonymize") and not {"anonymize", "anonymise"} & set(extra):
            _choose_anonymised(dialog or _newest_child(self.window, "exportDialog"))
        return True


def _newest_child(window: QWidget, name: str) -> Optional[QWidget]:
    found = [w for w in window.findChildren(QWidget, name) if w.isVisible()]
    return found[-1] if found else None


def _choose_anonymised(dialog: Optional[QWidget]) -> None:
    """The bar's "Anonymised" toggle preselects the export dialog's anonymised
    mode (for a dialog whose opener takes no such argument)."""
    choice = getattr(dialog, "anonymize", None)
    if choice is not None and hasattr(choice, "setChecked"):
        choice.setChecked(True)
