"""The "Shared with me" view of the worklist: who shared each study, and the note.

Under the scope bar's "Shared with me" (ui/worklist/scope_bar.py) the worklist lists
the studies other users of this workstation shared with the current one
(app/worklist/sharing.py). The rows carry ``shared_by``, ``share_note`` and
``shared_at`` (added by the worklist model, :func:`add_shares`); this banner
above the table says it for the current study, and every cell's tooltip
of a shared row says it too (:func:`share_line`).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from app.worklist import sharing

EMPTY = ("Nothing has been shared with you yet. Others share studies with you through "
         "Send > a user of this workstation (or `studydesk share`).")


def add_shares(db, user_name: str, rows: list[dict]) -> None:
    """Give the rows of studies shared with *user_name* who shared them, when
    and the note (``shared_by``, ``shared_at``, ``share_note``)."""
    shares = sharing.shares_of(db, user_name, [r["study_instance_uid"] for r in rows])
    for row in rows:
        info = shares.get(row["study_instance_uid"])
        if info:
            row["shared_by"], row["shared_at"], row["share_note"] = info["by"], info["time"], info["note"]


def share_line(row: dict) -> str:
    """'Shared by carl on 2026-12-05: note' for a shared row, '' otherwise."""
    if not row.get("shared_by"):
        return ""
    return sharing.describe({"by": row["shared_by"], "time": row.get("shared_at") or "",
                             "note": row.get("share_note") or ""})


class SharedBanner(QLabel):
    """One line above the table in "Shared with me": the current study's share."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sharedBanner")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_for(self, active: bool, row: Optional[dict], count: int) -> None:
        """*active*: the Shared with me scope is on; *row*: the current study."""
        if not active:
            self.hide()
            return
        if not count:
            self.setText(EMPTY)
        else:
            line = share_line(row or {})
            what = " ".join(filter(None, ((row or {}).get("accession_number"), (row or {}).get("description"))))
            self.setText(f"{what}: {line}" if line and what else line or
                         f"{count} stud{'ies' if count != 1 else 'y'} shared with you")
        self.show()
