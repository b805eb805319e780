"""The radiotherapy legend beside the viewports: each ROI with its colour
and a box to show or hide it ("All" / "None"), the dose shown (when the
study holds several), its colour wash and isodose lines, and the levels
as % of the prescription (from the RT Plan) or, without one, of the maximum
dose, with their doses.

It changes only the layer it shows (ui/viewer/rt_layer.py); the viewports
repaint on the layer's ``changed``.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from app.viewer.rt_dose import rainbow
from ui.viewer.rt_layer import PERCENTS, RtLayer


def swatch(colour) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


class RtLegend(QDockWidget):
    """See the module; :meth:`show_layer` fills it."""

    def __init__(self, parent: QWidget):
        super().__init__("Radiotherapy", parent)
        self.setObjectName("viewerRtLegend")
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.layer: Optional[RtLayer] = None
        body = QWidget(self)
        box = QVBoxLayout(body)
        box.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel("", body)
        self.title.setWordWrap(True)
        box.addWidget(self.title)
        row = QHBoxLayout()
        self.all_button = QPushButton("All", body)
        self.none_button = QPushButton("None", body)
        self.all_button.setAccessibleName("Show all structures")
        self.none_button.setAccessibleName("Hide all structures")
        self.all_button.clicked.connect(lambda: self._set_all(True))
        self.none_button.clicked.connect(lambda: self._set_all(False))
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        row.addStretch(1)
        box.addLayout(row)
        self.rois = QListWidget(body)
        self.rois.setObjectName("viewerRtRois")
        self.rois.setAccessibleName("Structures")
        self.rois.setAccessibleDescription("The structure set's regions; tick those to draw")
        self.rois.itemChanged.connect(self._roi_changed)
        box.addWidget(self.rois, 2)
        self.dose_box = QComboBox(body)
        self.dose_box.setObjectName("viewerRtDose")
        self.dose_box.setAccessibleName("Dose")
        self.dose_box.setAccessibleDescription("The dose drawn over the images")
        self.dose_box.currentIndexChanged.connect(lambda _i: self._dose_changed())
        box.addWidget(self.dose_box)
        self.wash = QCheckBox("Dose colour wash", body)
        self.lines = QCheckBox("Isodose lines", body)
        for check in (self.wash, self.lines):
            check.toggled.connect(lambda _on: self._dose_changed())
            box.addWidget(check)
        self.reference = QLabel("", body)
        self.reference.setWordWrap(True)
        box.addWidget(self.reference)
        self.levels = QListWidget(body)
        self.levels.setObjectName("viewerRtLevels")
        self.levels.setAccessibleName("Isodose levels")
        box.addWidget(self.levels, 1)
        self.problems = QLabel("", body)
        self.problems.setWordWrap(True)
        box.addWidget(self.problems)
        self.setWidget(body)
        self.setMinimumWidth(220)

    def show_layer(self, layer: RtLayer) -> None:
        self.layer = None  # no echo into the layer while filling
        found = layer.loaded
        labels = [s.label or "Structure set" for s in found.structures]
        self.title.setText("<b>" + (", ".join(labels) or "No structure set") + "</b>")
        self.rois.blockSignals(True)
        self.rois.clear()
        for structures, roi in layer.rois():
            item = QListWidgetItem(swatch(roi.colour), roi.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            shown = (structures.sop_instance_uid, roi.number) not in layer.hidden
            item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, (structures, roi.number))
            item.setToolTip(roi.interpreted_type or roi.name)
            self.rois.addItem(item)
        self.rois.blockSignals(False)
        self.dose_box.blockSignals(True)
        self.dose_box.clear()
        for item, _grid, _reference, _prescribed in found.doses:
            self.dose_box.addItem(item.label)
        self.dose_box.setCurrentIndex(layer.dose_index if found.doses else -1)
        self.dose_box.blockSignals(False)
        has_dose = bool(found.doses)
        self.dose_box.setVisible(len(found.doses) > 1)
        for check, on in ((self.wash, layer.wash), (self.lines, layer.lines)):
            check.blockSignals(True)
            check.setChecked(on)
            check.setEnabled(has_dose)
            check.blockSignals(False)
        self.problems.setText("\n".join(found.problems))
        self.problems.setVisible(bool(found.problems))
        self.layer = layer
        self._fill_levels()

    def roi_item(self, name: str) -> Optional[QListWidgetItem]:
        for row in range(self.rois.count()):
            if self.rois.item(row).text() == name:
                return self.rois.item(row)
        return None

    def _fill_levels(self) -> None:
        self.levels.clear()
        dose = self.layer.dose if self.layer else None
        if dose is None:
            self.reference.setText("No dose on this frame of reference" if self.layer else "")
            return
        _item, grid, reference, prescribed = dose
        unit = " Gy" if grid.units == "GY" else ""
        what = "prescription" if prescribed else "maximum dose"
        self.reference.setText(f"100 % = {reference:g}{unit} ({what})")
        for percent in PERCENTS:
            colour = tuple(int(v) for v in rainbow(percent / 100.0))
            self.levels.addItem(QListWidgetItem(
                swatch(colour), f"{percent} %   {reference * percent / 100:.1f}{unit}"))

    def _roi_changed(self, item: QListWidgetItem) -> None:
        if self.layer is None:
            return
        structures, number = item.data(Qt.ItemDataRole.UserRole)
        self.layer.set_visible(structures, number, item.checkState() == Qt.CheckState.Checked)

    def _set_all(self, visible: bool) -> None:
        if self.layer is None:
            return
        self.rois.blockSignals(True)
        for row in range(self.rois.count()):
            self.rois.item(row).setCheckState(Qt.CheckState.Checked if visible
                                              else Qt.CheckState.Unchecked)
        self.rois.blockSignals(False)
        self.layer.set_all(visible)

    def _dose_changed(self) -> None:
        if self.layer is None:
            return
        index = self.dose_box.currentIndex()
        self.layer.set_dose(self.wash.isChecked(), self.lines.isChecked(),
                            index if index >= 0 else None)
        self._fill_levels()
