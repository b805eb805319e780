"""The viewer's measurement list: the measurements of the series in the
current viewport (image, tool, value, label), the label the next
measurement gets, and the last refusal. A double-click on a row goes to its
image. Filled by ui/viewer/measure_tools.py; it reads nothing itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)


class MeasurePanel(QDockWidget):
    go_to = Signal(int)  # the viewport position of a row's image

    def __init__(self, parent: QWidget):
        super().__init__("Measurements", parent)
        self.setObjectName("viewerMeasurements")
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        body = QWidget(self)
        box = QVBoxLayout(body)
        box.setContentsMargins(6, 6, 6, 6)
        self.label = QLineEdit(body)
        self.label.setObjectName("measureLabel")
        self.label.setAccessibleName("Measurement label")
        self.label.setAccessibleDescription("The label the next measurement gets")
        self.label.setPlaceholderText("Label of the next measurement")
        self.label.setClearButtonEnabled(True)
        box.addWidget(self.label)
        self.rows = QListWidget(body)
        self.rows.setObjectName("measureRows")
        self.rows.setAccessibleName("Measurements")
        self.rows.setAccessibleDescription("The measurements of the series in the current viewport; "
                                           "double-click one to go to its image")
        self.rows.itemDoubleClicked.connect(self._chosen)
        box.addWidget(self.rows, 1)
        self.message = QLabel("", body)
        self.message.setObjectName("measureMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #e06060;")
        self.message.hide()
        box.addWidget(self.message)
        self.setWidget(body)
        self.setMinimumWidth(240)
        # the label box takes typed letters: the viewer's tool keys stay with the image
        self.label.returnPressed.connect(lambda: parent.setFocus())

    def label_text(self) -> str:
        return self.label.text().strip()

    def show_rows(self, rows: list[tuple[str, int]]) -> None:
        """(text, position of its image) per measurement, in stack order."""
        self.rows.clear()
        for text, position in rows:
            item = QListWidgetItem(text, self.rows)
            item.setData(Qt.ItemDataRole.UserRole, position)
            item.setToolTip(text)

    def texts(self) -> list[str]:
        return [self.rows.item(i).text() for i in range(self.rows.count())]

    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _chosen(self, item: QListWidgetItem) -> None:
        self.go_to.emit(int(item.data(Qt.ItemDataRole.UserRole)))
