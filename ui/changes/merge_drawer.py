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
Confirm runs the merge as a cache-writing job with its progress here;
Cancel stops it (nothing changes) or closes the drawer.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QFrame, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QScrollArea, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.changes import merge
from app.home import Home
from ui import formatting
from ui.jobs import Job, JobRunner
from ui.changes.merge_cards import MergeCard, patient_line
from ui.changes.merge_jobs import (_default_destination, merge_job, preflight_job, proposal_job,
                           series_job)
from ui.worklist.thumbnails import ThumbnailLoader

LEVEL_TEXT = {
    "ok": "Pre-flight check: same patient, nothing differs.",
    "amber": "Pre-flight check: some details differ. Look at the flags before you merge.",
    "red": "Pre-flight check: these look like different patients. "
           "Merge only if you are sure, and say why.",
}


class MergePanel(QFrame):
    """``merged(change_id, mode, source, destination)`` after a merge;
    ``checked(level)`` when a pre-flight result is shown; ``closed()``."""

    merged = Signal(int, str, str, str)
    checked = Signal(str)
    closed = Signal()

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("mergePanel")
        self.home, self.user, self.runner = home, user, runner
        self.thumbnails = ThumbnailLoader(home, runner, self)
        self.thumbnails.ready.connect(self._thumbnail)
        self.mode = "studies"
        self.cards: list[MergeCard] = []
        self.destination = 1
        self.check = None  # the last Preflight shown
        self.refusal = ""  # why the merge cannot go ahead (lock, migrated, privilege)
        self.job: Optional[Job] = None
        self._generation = 0

        self.title = QLabel()
        self.title.setObjectName("drawerTitle")
        self.patient = QLabel()
        self.patient.setObjectName("drawerPatient")
        self.patient.setWordWrap(True)
        self._cards_box = QVBoxLayout()
        self._cards_box.setSpacing(8)
        self.banner = QLabel()
        self.banner.setObjectName("preflight")
        self.banner.setWordWrap(True)
        self.proposal_label = QLabel()
        self.proposal_label.setObjectName("mergeProposal")
        self.proposal_label.setWordWrap(True)
        self.proposal_label.hide()
        self.proposal = None  # the KeepProposal shown (patient merges)
        self.reason_label = QLabel("Reason")
        self.reason_label.setObjectName("reasonLabel")
        self.reason = QLineEdit()
        self.reason.setObjectName("mergeReason")
        self.reason.textChanged.connect(self._update_buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("drawerStatus")
        self.status.setWordWrap(True)
        self.confirm = QPushButton("Confirm merge")
        self.confirm.setObjectName("confirmMerge")
        self.confirm.clicked.connect(self.run)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelMerge")
        self.cancel.clicked.connect(self._cancel)

        content = QWidget()
        content.setObjectName("drawerContent")
        inner = QVBoxLayout(content)
        inner.setContentsMargins(12, 10, 12, 10)
        inner.setSpacing(8)
        inner.addWidget(self.title)
        inner.addWidget(self.patient)
        inner.addWidget(self.proposal_label)
        inner.addLayout(self._cards_box)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("drawerScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        foot = QFrame()
        foot.setObjectName("drawerFoot")
        foot_layout = QVBoxLayout(foot)
        foot_layout.setContentsMargins(12, 8, 12, 10)
        foot_layout.setSpacing(6)
        for widget in (self.banner, self.reason_label, self.reason, self.progress, self.status):
            foot_layout.addWidget(widget)
        foot_layout.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, 1)
        layout.addWidget(foot)

    # -- what to merge --------------------------------------------------------------------

    def open_merge(self, mode: str, sides: list[list[dict]]) -> None:
        """Show *sides* (two lists of study rows: one study each, or one patient's
        ticked studies each) and start the pre-flight check."""
        if self.busy():
            return
        self.mode = mode
        for card in self.cards:
            self._cards_box.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards = [MergeCard(mode, rows, self) for rows in sides]
        for i, card in enumerate(self.cards):
            self._cards_box.addWidget(card)
            card.make_destination.connect(lambda i=i: self.set_destination(i))
            self._load_series(card)
        self.title.setText("Merge patients" if mode == "patients" else "Merge studies")
        first = sides[0][0]
        if mode == "patients":
            self.patient.setText("Every study of the source patient takes the destination's "
                                 "patient attributes; the source patient record disappears.")
        else:
            name = formatting.person_name(first.get("patient_name")) or "(no name)"
            self.patient.setText(f"{name}\n{patient_line(first)}")
        self.reason.clear()
        self.status.clear()
        self.progress.hide()
        self.destination = _default_destination(sides)
        self.proposal = None
        self.proposal_label.hide()
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
        self._show_banner("", "Choosing which record to keep...")
        self.confirm.setEnabled(False)
        self._generation += 1
        generation = self._generation
        first, second = (card.key for card in self.cards)
        self.runner.start("Merge proposal", proposal_job(self.home, first, second), kind="read",
                          visible=False, on_success=lambda p: self._proposed(generation, p),
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
        self._show_banner("", "Checking the two sides...")
        self._update_buttons()
        self._generation += 1
        generation = self._generation
        self.runner.start("Merge pre-flight",
                          preflight_job(self.home, self.user, self.mode, self.source_key(),
                                        self.destination_key()),
                          kind="read", visible=False,
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
        self.proposal_label.setText(text)
        self.proposal_label.setProperty("followed", followed)
        self.proposal_label.style().unpolish(self.proposal_label)
        self.proposal_label.style().polish(self.proposal_label)
        self.proposal_label.show()

    def _checked(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        check, counts = result
        self.check = check
        for i, card in enumerate(self.cards):
            card.set_flags(check.flags, as_source=i != self.destination)
            card.set_study_count(counts.get(card.key))
        self._show_banner(check.level, LEVEL_TEXT[check.level])
        self._update_buttons()
        self.checked.emit(check.level)

    def _refused(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.refusal = message
        self._show_banner("refused", f"This merge is not possible: {message}")
        self._update_buttons()
        self.checked.emit("refused")

    def _show_banner(self, level: str, text: str) -> None:
        self.banner.setText(text)
        self.banner.setProperty("level", level)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)

    def reason_required(self) -> bool:
        return self.check is not None and self.check.level == "red"

    def _update_buttons(self) -> None:
        required = self.reason_required()
        self.reason_label.setText("Reason (required: different patients)" if required
                                  else "Reason (optional)")
        self.reason.setPlaceholderText("Why these are the same patient" if required
                                       else "Kept in the journal and the audit trail")
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
        self.job = self.runner.start(
            f"Merge {what}s",
            merge_job(self.home, self.user, mode, source, destination,
                      force=self.reason_required(), reason=self.reason.text().strip()),
            kind="write", summarize=lambda change_id: f"Done (change {change_id})",
            on_success=lambda change_id: self._merged(change_id, mode, source, destination),
            on_failure=self._failed, on_cancel=self._cancelled)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._update_buttons)
        self._update_buttons()
        return self.job

    def _progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(message)

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
        uid = card.rows[0]["study_uid"]
        self.runner.start("Series", series_job(self.home, uid), kind="read", visible=False,
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
