"""The question a multi-disc burn asks between discs: "Insert blank disc n
of m". The burn job runs on a pool thread and must not touch a widget, so
:class:`DiscPrompt` shows the question on the GUI thread and :meth:`ask`
blocks the job's thread until the answer, or until the job is cancelled.
"""

from __future__ import annotations

import threading
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from app.jobs import CancelToken


class DiscPrompt(QObject):
    """Asks for the next blank disc on the GUI thread; :meth:`ask` blocks
    the calling (job) thread until the answer, or until the job is cancelled."""

    asked = Signal(int, int)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.parent_widget = parent
        self.box: Optional[QMessageBox] = None
        self._answer = False
        self._done = threading.Event()
        self.asked.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def ask(self, number: int, total: int, token: CancelToken) -> bool:  # job thread
        self._done.clear()
        self.asked.emit(number, total)
        while not self._done.wait(0.2):
            if token.cancelled:
                return False
        return self._answer

    @Slot(int, int)
    def _show(self, number: int, total: int) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Next disc",
                          f"Disc {number - 1} is written and verified.\n\n"
                          f"Insert blank disc {number} of {total}, then press OK.",
                          QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
                          self.parent_widget)
        box.setObjectName("nextDiscPrompt")
        box.finished.connect(lambda code: self.answer(code == QMessageBox.StandardButton.Ok))
        self.box = box
        box.open()

    def answer(self, yes: bool) -> None:
        self._answer = yes
        self._done.set()
        if self.box is not None:
            box, self.box = self.box, None
            box.deleteLater()
