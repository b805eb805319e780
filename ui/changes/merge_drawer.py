"""The merge drawer: two studies (or two patients) side by side, then one.

Opened from the action bar on the left of the window. It shows the
patient, both sides as cards with "Make destination" under each (for two
patients, the record the core proposes to keep is the destination at first,
with the reason above the cards: more studies overall, never an ID that looks
secondary such as PID1001-2 without saying so), and the
pre-flight identity check (app.changes.rules) on the cards: amber for a
difference to look at, red for what looks like a different patient, which
needs a typed reason (it goes into the journal and the audit trail, and
lets the merge go ahead as ``--force --reason`` does on the command line).
Confirm runs the merge as a cache write (``runner.write``) with its
progress here, which announces the studies it changed to every view of the
home; Cancel stops it (nothing changes) or closes the drawer. The widgets
and how they are drawn are ui/changes/merge_view.py; the work on the cache
is ui/changes/merge_jobs.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QWidget

from app.accounts.accounts import User
from app.changes import merge
from app.home import Home
from ui.cache_events import JOURNAL, PATIENTS, STUDIES, CacheChange
from ui.changes.merge_cards import MergeCard
from ui.changes.merge_jobs import (default_destination, merge_write, preflight_read, proposal_read,
                                   series_read)
from ui.changes.merge_view import LEVEL_TEXT, MergeView
from ui.jobs import Job, JobRunner
from ui.worklist.thumbnails import ThumbnailLoader


class MergePanel(MergeView):
    """``merged(change_id, mode, source, destination)`` after a merge;
    ``checked(level)`` when a pre-flight result is shown; ``closed()``."""

    merged = Signal(int, str, str, str)
    checked = Signal(str)
    closed = Signal()

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.home, self.user, self.runner = home, user, runner
        self.thumbnails = ThumbnailLoader(home, runner, self)
        self.thumbnails.ready.connect(self._thumbnail)
        self.mode = "studies"
        self.destination = 1
        self.check = None  # the last Preflight shown
        self.refusal = ""  # why the merge cannot go ahead (lock, migrated, privilege)
        self.proposal = None  # the KeepProposal shown (patient merges)
        self.job: Optional[Job] = None
        self._generation = 0
        self.reason.textChanged.connect(self._update_buttons)
        self.confirm.clicked.connect(self.run)
        self.cancel.clicked.connect(self._cancel)

    # -- what to merge --------------------------------------------------------------------

    def open_merge(self, mode: str, sides: list[list[dict]]) -> None:
        """Show *sides* (two lists of study rows: one study each, or one patient's
        ticked studies each) and start the pre-flight check."""
        if self.busy():
            return
        self.mode = mode
        self.show_sides(mode, sides)
        for i, card in enumerate(self.cards):
            card.make_destination.connect(lambda i=i: self.set_destination(i))
            self._load_series(card)
        self.destination = default_destination(sides)
        self.proposal = None
        if mode == "patients":
            self._propose()
        else:
            self._apply_roles()

    def _propose(self) -> None:
        """Patient merges: the core proposes which record to keep (every study
        of each record counts, and an ID that looks secondary is not kept),
        then the pre-flight check runs on that choice."""
        for card in self.cards:
            card.set_role(False)
            card.button.setEnabled(False)
        self.check, self.refusal = None, ""
        self.show_banner("", "Choosing which record to keep...")
        self.confirm.setEnabled(False)
        self._generation += 1
        generation = self._generation
        first, second = (card.key for card in self.cards)
        self.runner.read(self.home, "Merge proposal", proposal_read(self.home, first, second),
                         on_success=lambda p: self._proposed(generation, p),
                         on_failure=lambda _m: self._proposed(generation, None))

    def _proposed(self, generation: int, proposal) -> None:
        if generation != self._generation:
            return
        self.proposal = proposal
        if proposal is not None:
            keys = [card.key for card in self.cards]
            if proposal.keep in keys:
                self.destination = keys.index(proposal.keep)
        self._apply_roles()

    def set_destination(self, index: int) -> None:
        if self.busy() or index == self.destination:
            return
        self.destination = index
        self._apply_roles()

    def source_key(self) -> str:
        return self.cards[1 - self.destination].key

    def destination_key(self) -> str:
        return self.cards[self.destination].key

    def _apply_roles(self) -> None:
        for i, card in enumerate(self.cards):
            card.set_role(i == self.destination)
            card.set_flags([], as_source=False)
        self._show_proposal()
        self.check, self.refusal = None, ""
        self.show_banner("", "Checking the two sides...")
        self._update_buttons()
        self._generation += 1
        generation = self._generation
        self.runner.read(self.home, "Merge pre-flight",
                         preflight_read(self.user, self.mode, self.source_key(), self.destination_key()),
                         on_success=lambda result: self._checked(generation, result),
                         on_failure=lambda message: self._refused(generation, message))

    def _show_proposal(self) -> None:
        proposal = self.proposal
        if proposal is None or self.mode != "patients":
            self.proposal_label.hide()
            return
        text = proposal.reason
        followed = self.destination_key() == proposal.keep
        if not followed:
            text += f"\nYou chose to keep {merge.shown_ref(self.destination_key(), self.source_key())} instead."
        self.show_proposal(text, followed)

    def _checked(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        check, counts = result
        self.check = check
        for i, card in enumerate(self.cards):
            card.set_flags(check.flags, as_source=i != self.destination)
            card.set_study_count(counts.get(card.key))
        self.show_banner(check.level, LEVEL_TEXT[check.level])
        self._update_buttons()
        self.checked.emit(check.level)

    def _refused(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.refusal = message
        self.show_banner("refused", f"This merge is not possible: {message}")
        self._update_buttons()
        self.checked.emit("refused")

    def reason_required(self) -> bool:
        return self.check is not None and self.check.level == "red"

    def _update_buttons(self) -> None:
        required = self.reason_required()
        self.show_reason_needed(required)
        why = ""
        if self.busy():
            why = "The merge is running."
        elif self.refusal:
            why = self.refusal
        elif self.check is None:
            why = "The pre-flight check is still running."
        elif required and not self.reason.text().strip():
            why = "Different patients: type the reason for this merge first."
        self.confirm.setEnabled(not why)
        self.confirm.setToolTip(why or f"Merge {merge.shown_ref(self.source_key(), self.destination_key())} into "
                                        f"{merge.shown_ref(self.destination_key(), self.source_key())}")
        for card in self.cards:
            card.button.setEnabled(not card.destination and not self.busy())
        self.cancel.setText("Stop" if self.busy() else "Cancel")

    # -- running ------------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    def run(self) -> Optional[Job]:
        if not self.confirm.isEnabled():
            return None
        source, destination = self.source_key(), self.destination_key()
        mode = self.mode
        what = "patient" if mode == "patients" else "study"
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText(f"Merging {what} {merge.shown_ref(source, destination)} into "
                            f"{merge.shown_ref(destination, source)}...")
        self.job = self.runner.write(
            self.home, f"Merge {what}s",
            merge_write(self.home, self.user, mode, source, destination,
                        force=self.reason_required(), reason=self.reason.text().strip()),
            changed=self._change(), summarize=lambda change_id: f"Done (change {change_id})",
            on_success=lambda change_id: self._merged(change_id, mode, source, destination),
            on_failure=self._failed, on_cancel=self._cancelled)
        self.job.progress.connect(self.show_progress)
        self.job.finished.connect(self._update_buttons)
        self._update_buttons()
        return self.job

    def _change(self) -> CacheChange:
        """What a merge changes: the two studies, or (patients) every study
        of the source record, which the drawer does not list: all rows."""
        studies = [] if self.mode == "patients" else [card.key for card in self.cards]
        return CacheChange.of(STUDIES, PATIENTS, JOURNAL, study_uids=studies)

    def _merged(self, change_id: int, mode: str, source: str, destination: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.status.setText(f"Merged (change {change_id}). History undoes it.")
        self.merged.emit(change_id, mode, source, destination)

    def _failed(self, message: str) -> None:
        self.progress.hide()
        self.status.setText(f"The merge failed; nothing changed. {message}")

    def _cancelled(self) -> None:
        self.progress.hide()
        self.status.setText("Merge stopped; nothing changed.")

    def _cancel(self) -> None:
        if self.busy():
            self.job.cancel()
        else:
            self.closed.emit()

    # -- thumbnails ----------------------------------------------------------------------------

    def _load_series(self, card: MergeCard) -> None:
        uid = card.rows[0]["study_instance_uid"]
        self.runner.read(self.home, "Series", series_read(uid),
                         on_success=lambda rows, c=card: self._series(c, rows),
                         on_failure=lambda _m: None)

    def _series(self, card: MergeCard, rows: list[dict]) -> None:
        if card not in self.cards:
            return
        for uid in card.set_series(rows):
            cached = self.thumbnails.request(uid)
            if cached is not None:
                card.show_thumbnail(uid, cached)

    def _thumbnail(self, series_uid: str, thumb) -> None:
        for card in self.cards:
            card.show_thumbnail(series_uid, thumb)


class MergeDrawer(QDockWidget):
    """The panel in a dock on the left of the window."""

    def __init__(self, panel: MergePanel, parent: Optional[QWidget] = None):
        super().__init__("Merge", parent)
        self.setObjectName("mergeDrawer")
        self.panel = panel
        self.setWidget(panel)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setMinimumWidth(400)
        panel.closed.connect(self.close)
