"""The Content Manager's preview: the series selected in either pane, in a
small viewer beside the trees, so a misfiled series can be recognised (a
chest among heads, the wrong side, the wrong patient's anatomy) before it is
dragged. The wheel scrolls through it; the line above says which series it
is and how many images it has. A selected study shows its first series with
images; nothing selected shows a hint. Reading and decoding run off the GUI
thread (ui/viewer/embed.py).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.home import Home
from ui.changes.cm_rows import SERIES, STUDY
from ui.jobs import JobRunner
from ui.viewer.embed import SeriesView

HINT = "Select a series (or a study) to see it here"


class ContentPreview(QFrame):
    """See the module. ``view`` is the viewport (its ``opened`` and ``shown``)."""

    def __init__(self, home: Home, runner: JobRunner, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("cmPreview")
        self.title = QLabel("Preview")
        self.title.setObjectName("cmPreviewTitle")
        self.line = QLabel("")
        self.line.setObjectName("cmPreviewLine")
        self.line.setWordWrap(True)
        self.view = SeriesView(home, runner, self, hint=HINT)
        self.view.setObjectName("cmPreviewView")
        self.view.setMinimumSize(220, 220)
        self.view.opened.connect(self._opened)
        self.view.changed.connect(self._position)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.line)
        layout.addWidget(self.view, 1)
        self._label = ""

    def show_node(self, node) -> None:
        """A tree node (patient, study or series) or None."""
        if node is None or node.kind not in (SERIES, STUDY):
            self._label = ""
            self.line.setText("")
            self.view.clear()
        elif node.kind == SERIES:
            self._label = _series_label(node.data)
            self.line.setText(self._label)
            self.view.show_series(node.uid)
        else:
            self._label = ""
            self.line.setText(f"{node.data.get('description') or '(no description)'}: first series "
                              "with images")
            self.view.show_study(node.uid)

    def series_uid(self) -> Optional[str]:
        return self.view.series_uid

    def _opened(self, series_uid: str, count: int) -> None:
        if not series_uid:
            self.line.setText(self._label)
            return
        header = self.view.header
        if not self._label:  # a study's first series: say which it is
            self._label = _series_label({"number": header.get("series_number"),
                                         "description": header.get("series_description"),
                                         "modality": header.get("modality")})
        self._position()

    def _position(self) -> None:
        count = self.view.count
        if self.view.series_uid and self._label:
            where = f"  ·  image {self.view.state.index + 1} of {count}" if count else "  ·  no images"
            text = f"{self._label}{where}"
            if self.line.text() != text:
                self.line.setText(text)


def _series_label(data: dict) -> str:
    number = f"#{data['number']} " if data.get("number") is not None else ""
    return f"{data.get('modality') or '?'}  {number}{data.get('description') or '(no description)'}"
