"""The action bar under the worklist: what can be done with the ticked studies.

Shown while at least one study is ticked. Every action the user may not take
right now is disabled, and its tooltip says why (a missing privilege, a lock
held by someone else, the wrong number of studies or patients, a part of
the workstation that is not installed). :func:`action_states` holds those
rules as plain data, so they are tested without a window.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from app.accounts.accounts import PRIVILEGES, User
from app.resources import resources_dir

# key -> (label, tooltip when enabled, privilege)
ACTIONS = {
    "assign": ("Assign...", "Assign the ticked studies to a reading radiologist, or unassign them",
               "assign"),
    "download": ("Download...", "Save the ticked studies as a ZIP archive", "export"),
    "burn": ("Burn to disc...", "Write the ticked studies to a CD/DVD (IHE PDI) or an ISO image",
             "export"),
    "send": ("Send...", "Send the ticked studies to a DICOM node", "network"),
    "delete": ("Delete...", "Move the ticked studies to the trash (they can be restored)",
               "content-management"),
    "merge": ("Merge...", "Merge the two ticked studies of one patient into one study",
              "content-management"),
    "merge_patients": ("Merge patients...",
                       "Merge the two patients of the ticked studies into one patient record",
                       "content-management"),
}
VERBS = {"assign": "Assigning studies", "download": "Downloading", "burn": "Burning discs",
         "send": "Sending", "delete": "Deleting", "merge": "Merging studies",
         "merge_patients": "Merging patients"}
CHANGES = ("delete", "merge", "merge_patients")  # refused on a study locked by someone else


def privilege_reason(user: User, privilege: str, doing: str) -> str:
    """'' when *user* holds *privilege*, else the sentence the tooltip shows."""
    if user.can(privilege):
        return ""
    granted = ", ".join(sorted(PRIVILEGES[privilege]))
    mine = ", ".join(sorted(user.roles)) or "no role"
    return (f"{doing} needs the {privilege} privilege (roles {granted}); "
            f"{user.name} has {mine}.")


def _lock_reason(user: User, rows: list[dict]) -> str:
    for row in rows:
        holder = row.get("locked_by")
        if holder and holder != user.name:
            return (f"{_label(row)} is locked by {holder}: they (or an admin, by unlocking) "
                    "must release it first.")
    return ""


def _migrated_reason(rows: list[dict]) -> str:
    for row in rows:
        if row.get("migrated"):
            return (f"{_label(row)} is migrated (its images live in the legacy archive): "
                    "it cannot be changed here.")
    return ""


def _label(row: dict) -> str:
    return f"The study {row.get('accession_number') or row.get('study_instance_uid', '')[:16]}"


def action_states(user: User, rows: list[Optional[dict]],
                  unavailable: Optional[dict[str, str]] = None) -> dict[str, str]:
    """For each action key, '' when it can be taken, else why not.

    *rows*: the ticked studies' worklist rows (None while one is being read).
    *unavailable*: action key -> why a part it needs is not installed.
    """
    unavailable = unavailable or {}
    known = [r for r in rows if r is not None]
    loading = len(known) < len(rows)
    # patient records: an ID with two issuers is two patients
    patients = list(dict.fromkeys((r.get("patient_id") or "", r.get("issuer") or "") for r in known))
    out: dict[str, str] = {}
    for key, (_label_text, _tip, privilege) in ACTIONS.items():
        reason = privilege_reason(user, privilege, VERBS[key]) or unavailable.get(key, "")
        if not reason and key in CHANGES:
            if loading:
                reason = "Reading the ticked studies..."
            else:
                reason = _lock_reason(user, known) or _migrated_reason(known)
        if not reason and key == "merge":
            if len(rows) != 2:
                reason = f"Merge needs exactly two ticked studies of one patient ({len(rows)} ticked)."
            elif len(patients) != 1:
                reason = ("The two ticked studies belong to different patients: "
                          "use Merge patients.")
        if not reason and key == "merge_patients":
            if len(patients) != 2:
                reason = ("Merge patients needs ticked studies of exactly two patients "
                          f"({len(patients)} patient{'s' if len(patients) != 1 else ''} ticked).")
        if not reason and not rows:
            reason = "Tick a study first."
        out[key] = reason
    return out


def unselect_button(name: str, slot) -> QToolButton:
    """The bars' "✕ Unselect" button (Esc does the same)."""
    button = QToolButton()
    button.setObjectName(name)
    button.setIcon(QIcon(str(resources_dir() / "icons" / "close.svg")))
    button.setIconSize(QSize(12, 12))
    button.setText("Unselect")
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setToolTip("Untick every study (Esc)")
    button.clicked.connect(slot)
    return button


class ActionBar(QFrame):
    """The bar's widgets; ``triggered(key)`` when an action button is clicked."""

    triggered = Signal(str)
    unselect = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("actionBar")
        self.count = QLabel()
        self.count.setObjectName("tickCount")
        self.unselect_button = unselect_button("unselect", self.unselect)
        self.anonymised = QCheckBox("Anonymised")
        self.anonymised.setObjectName("anonymised")
        self.anonymised.setToolTip("Download de-identified copies (DICOM PS3.15 Basic "
                                   "Application Level Confidentiality Profile, options in the dialog)")
        self.buttons: dict[str, QPushButton] = {}
        for key, (label, _tip, _privilege) in ACTIONS.items():
            button = QPushButton(label)
            button.setObjectName(f"action_{key}")
            button.clicked.connect(lambda _=False, k=key: self.triggered.emit(k))
            self.buttons[key] = button
        self.buttons["delete"].setProperty("danger", True)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(6)
        layout.addWidget(self.count)
        layout.addWidget(self.unselect_button)
        layout.addWidget(_separator())
        for key in ("assign", "download"):
            layout.addWidget(self.buttons[key])
        layout.addWidget(self.anonymised)
        for key in ("burn", "send"):
            layout.addWidget(self.buttons[key])
        layout.addWidget(_separator())
        for key in ("merge", "merge_patients"):
            layout.addWidget(self.buttons[key])
        layout.addStretch(1)
        layout.addWidget(self.buttons["delete"])
        self.hide()

    def show_state(self, ticked: int, hidden: int, states: dict[str, str]) -> None:
        """Show *ticked* (of which *hidden* are not in the current list) and
        enable each action by *states* (see :func:`action_states`)."""
        self.setVisible(ticked > 0)
        text = f"{ticked} stud{'ies' if ticked != 1 else 'y'} selected"
        if hidden:
            text += f"  ({hidden} not in this list)"
        self.count.setText(text)
        for key, button in self.buttons.items():
            reason = states.get(key, "")
            button.setEnabled(not reason)
            button.setToolTip(reason or ACTIONS[key][1])
        self.anonymised.setEnabled(not states.get("download"))

    def reason(self, key: str) -> str:
        """Why *key* is disabled ('' when it is enabled)."""
        button = self.buttons[key]
        return "" if button.isEnabled() else button.toolTip()


def _separator() -> QFrame:
    line = QFrame()
    line.setObjectName("actionSeparator")
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFixedWidth(1)
    return line
