"""What the merge drawer shows: its widgets, their layout and how each state
is drawn (the pre-flight banner, the keep proposal, the progress bar).

Nothing here decides or reads the cache; the behaviour (which side is kept,
the checks, running the merge) is ui/changes/merge_drawer.py, which builds
on this view.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from ui import formatting
from ui.changes.merge_cards import MergeCard, patient_line

LEVEL_TEXT = {
    "ok": "Pre-flight check: same patient, nothing differs.",
    "amber": "Pre-flight check: some details differ. Look at the flags before you merge.",
    "red": "Pre-flight check: these look like different patients. "
           "Merge only if you are sure, and say why.",
}


def _restyle(widget: QWidget) -> None:
    """Apply a dynamic property the style sheet selects on (``level``, ``followed``)."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def _label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


class MergeView(QFrame):
    """Title and patient on top, the two cards, then the foot: the pre-flight
    banner, the reason, the progress and Cancel / Confirm merge."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("mergePanel")
        self.cards: list[MergeCard] = []
        self.title = QLabel()
        self.title.setObjectName("drawerTitle")
        self.patient = _label("drawerPatient")
        self._cards_box = QVBoxLayout()
        self._cards_box.setSpacing(8)
        self.banner = _label("preflight")
        self.proposal_label = _label("mergeProposal")
        self.proposal_label.hide()
        self.reason_label = QLabel("Reason")
        self.reason_label.setObjectName("reasonLabel")
        self.reason = QLineEdit()
        self.reason.setObjectName("mergeReason")
        self.reason.setAccessibleName("Reason for the merge")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.hide()
        self.status = _label("drawerStatus")
        self.confirm = QPushButton("Confirm merge")
        self.confirm.setObjectName("confirmMerge")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelMerge")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._scrolled_content(), 1)
        layout.addWidget(self._foot())

    def _scrolled_content(self) -> QScrollArea:
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
        return scroll

    def _foot(self) -> QFrame:
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        foot = QFrame()
        foot.setObjectName("drawerFoot")
        layout = QVBoxLayout(foot)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(6)
        for widget in (self.banner, self.reason_label, self.reason, self.progress, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        return foot

    # -- drawing states -------------------------------------------------------------------

    def show_sides(self, mode: str, sides: list[list[dict]]) -> None:
        """New cards for *sides* (``studies``: one study each; ``patients``: a
        patient's ticked studies each), the title and the patient line; the
        foot cleared."""
        for card in self.cards:
            self._cards_box.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards = [MergeCard(mode, rows, self) for rows in sides]
        for card in self.cards:
            self._cards_box.addWidget(card)
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
        self.proposal_label.hide()

    def show_banner(self, level: str, text: str) -> None:
        """*level*: ``ok``, ``amber``, ``red``, ``refused`` or '' (checking)."""
        self.banner.setText(text)
        self.banner.setProperty("level", level)
        _restyle(self.banner)

    def show_proposal(self, text: str, followed: bool) -> None:
        self.proposal_label.setText(text)
        self.proposal_label.setProperty("followed", followed)
        _restyle(self.proposal_label)
        self.proposal_label.show()

    def show_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress.setRange(0, 0)   # busy: the job cannot tell how far it is
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(message)

    def show_reason_needed(self, required: bool) -> None:
        self.reason_label.setText("Reason (required: different patients)" if required
                                  else "Reason (optional)")
        self.reason.setPlaceholderText("Why these are the same patient" if required
                                       else "Kept in the journal and the audit trail")
