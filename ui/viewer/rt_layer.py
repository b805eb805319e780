"""The radiotherapy overlay of a viewport: each ROI's contours in its colour
on the slices it crosses, and a dose colour wash with isodose lines.

What it draws comes from the Qt-free core: the structure sets indexed and
the dose grids read once by app/viewer/rt_find.load_rt (a runner job,
ui/viewer/rt_control.py). Per image, the plane is taken from the frame's own
header (ImagePlane: position, orientation, spacing, Frame of Reference), so
contours land by patient coordinates, never by slice number. Contours are a
binary search and one projection (StructureSet.on_image), cheap enough for
the paint; the dose (resampling, wash, marching squares) is computed on the
viewers' pool thread per slice, cached, and painted when it arrives.
One layer serves every viewport showing the series.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRunnable, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

from app.viewer.image_plane import ImagePlane
from app.viewer.rt_dose import colour_wash, isodose_lines
from app.viewer.rt_find import RtLoaded
from ui.viewer.layers import Layer
from ui.viewer.loader import decode_pool

# Isodose levels, % of the reference (the prescription when the plan gives it).
PERCENTS = (107, 100, 95, 80, 50, 30)
WASH_OPACITY = 0.35
CONTOUR_WIDTH = 2.0
CACHE_SLICES = 48  # dose slices kept (a 512x512 wash is 1 MB)
CACHE_OUTLINES = 400  # images whose contours are kept ready to stroke


@dataclass
class DoseSlice:
    """One slice's dose, ready to paint: the wash and each level's lines."""

    wash: Optional[QImage]
    levels: list  # [(Isodose, QPainterPath)], highest level first


class _Bridge(QObject):
    """Made on the GUI thread and kept: pool threads emit here (as loader.py's)."""

    done = Signal(int, object, object)  # layer id, key, DoseSlice or None


_bridge: Optional[_Bridge] = None
_layers: dict[int, "RtLayer"] = {}


def _the_bridge() -> _Bridge:
    global _bridge
    if _bridge is None:
        _bridge = _Bridge()
        _bridge.done.connect(lambda layer_id, key, result: _layers.get(layer_id) and
                             _layers[layer_id]._dose_done(key, result))
    return _bridge


class _DoseJob(QRunnable):
    def __init__(self, layer_id: int, key: tuple, grid, reference: float, plane: ImagePlane,
                 still_wanted):
        super().__init__()
        self.setAutoDelete(True)
        self.args = (_the_bridge(), layer_id, key, grid, reference, plane, still_wanted)

    def run(self) -> None:  # a pool thread: value types only (QImage, QPainterPath)
        bridge, layer_id, key, grid, reference, plane, still_wanted = self.args
        self.args = None
        if not still_wanted(key):
            result = None  # scrolled past before its turn came: the decoding goes first
        else:
            try:
                result = dose_slice(grid, reference, plane)
            except Exception:  # noqa: BLE001 - a slice the grid cannot give shows no dose
                result = DoseSlice(None, [])
        try:
            bridge.done.emit(layer_id, key, result)
        except RuntimeError:  # the interpreter's exit
            pass


def dose_slice(grid, reference: float, plane: ImagePlane) -> DoseSlice:
    """The wash and isodose lines of ``grid`` on ``plane`` (any thread)."""
    dose = grid.on_image(plane)
    if not np.isfinite(dose).any():
        return DoseSlice(None, [])
    rgba = np.ascontiguousarray(colour_wash(dose, reference, opacity=WASH_OPACITY))
    h, w = rgba.shape[:2]
    wash = QImage(rgba.data, w, h, rgba.strides[0], QImage.Format.Format_RGBA8888).copy()
    levels = []
    for isodose in isodose_lines(np.nan_to_num(dose, nan=0.0), reference, PERCENTS):
        path = QPainterPath()
        for line in isodose.lines:
            path.addPolygon(QPolygonF([QPointF(float(c), float(r)) for c, r in line]))
        levels.append((isodose, path))
    return DoseSlice(wash, levels)


class RtLayer(QObject, Layer):
    """See the module. ``changed`` asks the viewports to paint again."""

    name = "rt"
    changed = Signal()
    dose_ready = Signal(int)  # image index whose dose slice arrived

    _ids = iter(range(1, 1 << 62))

    def __init__(self, loaded: RtLoaded, parent: Optional[QObject] = None):
        QObject.__init__(self, parent)
        self.loaded = loaded
        self.enabled = True
        self.hidden: set[tuple[str, int]] = set()  # (structure set SOP UID, ROI number)
        self.wash = False
        self.lines = False
        self.dose_index = 0
        self.viewports: list = []
        self.id = next(self._ids)
        _layers[self.id] = self
        layer_id = self.id
        self.destroyed.connect(lambda *_: _layers.pop(layer_id, None))
        self._doses: OrderedDict[tuple, DoseSlice] = OrderedDict()
        self._pending: set[tuple] = set()
        self._shapes: OrderedDict[tuple, list] = OrderedDict()
        self._current: dict[int, tuple] = {}  # viewport id -> the dose key it shows
        self._wanted: frozenset = frozenset()  # read from pool threads
        _the_bridge()

    # -- what the legend changes ---------------------------------------------------

    def rois(self):
        """(structure set, Roi) in the order the legend lists them."""
        return [(s, roi) for s in self.loaded.structures for roi in s.rois]

    def set_visible(self, structures, number: int, visible: bool) -> None:
        key = (structures.sop_instance_uid, number)
        (self.hidden.discard if visible else self.hidden.add)(key)
        self.changed.emit()

    def set_all(self, visible: bool) -> None:
        self.hidden = set() if visible else {(s.sop_instance_uid, r.number) for s, r in self.rois()}
        self.changed.emit()

    def set_dose(self, wash: bool, lines: bool, index: Optional[int] = None) -> None:
        self.wash, self.lines = wash, lines
        if index is not None:
            self.dose_index = index
        self.changed.emit()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.changed.emit()

    @property
    def dose(self):
        """(RtObject, DoseGrid, reference, is prescription) shown, or None."""
        doses = self.loaded.doses
        return doses[self.dose_index] if 0 <= self.dose_index < len(doses) else None

    # -- per image -----------------------------------------------------------------

    def sections(self, entry) -> list:
        """The contours on the image of ``entry``, every ROI (hidden ones too)."""
        plane = plane_of(entry)
        if plane is None:
            return []
        found = []
        for structures in self.loaded.structures:
            if not plane.frame_of_reference or plane.frame_of_reference not in structures.frames:
                continue
            found += structures.on_image(plane)
        return found

    def dose_of(self, viewport, index: int, entry) -> Optional[DoseSlice]:
        """The dose slice of image ``index``, or None while it is computed
        (a job is queued; ``dose_ready(index)`` says when it lands)."""
        dose = self.dose
        plane = plane_of(entry)
        if dose is None or plane is None or plane.frame_of_reference != dose[1].frame_of_reference:
            return None
        key = (self.dose_index, viewport.loader.key if viewport.loader else "", index)
        if self._current.get(id(viewport)) != key:
            self._current[id(viewport)] = key
            self._wanted = frozenset(self._current.values())
        found = self._doses.get(key)
        if found is not None:
            self._doses.move_to_end(key)
            return found
        if key not in self._pending:
            self._pending.add(key)
            decode_pool().start(_DoseJob(self.id, key, dose[1], dose[2], plane,
                                         self._still_wanted))
        return None

    def _still_wanted(self, key: tuple) -> bool:
        return key in self._wanted

    def _dose_done(self, key: tuple, result: Optional[DoseSlice]) -> None:
        self._pending.discard(key)
        if result is None:  # skipped: asked again if it is shown after all
            if key in self._wanted:
                self._repaint_all()
            return
        self._doses[key] = result
        while len(self._doses) > CACHE_SLICES:
            self._doses.popitem(last=False)
        self._repaint_all()
        self.dose_ready.emit(key[2])

    def _repaint_all(self) -> None:
        for viewport in list(self.viewports):
            try:
                viewport.update()
            except RuntimeError:  # deleted with its pane
                self.viewports.remove(viewport)

    # -- painting (Layer) ---------------------------------------------------------

    def paint_image(self, painter: QPainter, viewport, index: int, entry) -> None:
        if not self.enabled or entry is None or entry.frame is None:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.wash or self.lines:
            dose = self.dose_of(viewport, index, entry)
            if dose is not None and dose.wash is not None and self.wash:
                painter.drawImage(0, 0, dose.wash)
            painter.translate(0.5, 0.5)  # the core's points are pixel centres
            if dose is not None and self.lines:
                for isodose, path in reversed(dose.levels):
                    painter.setPen(_pen(isodose.colour, 1.5, Qt.PenStyle.DashLine))
                    painter.drawPath(path)
            painter.translate(-0.5, -0.5)
        painter.translate(0.5, 0.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        key = (viewport.loader.key if viewport.loader else "", index)
        for roi_key, colour, shapes in self._outlines(key, entry):
            if roi_key in self.hidden:
                continue
            painter.setPen(_pen(colour, CONTOUR_WIDTH))
            for kind, polygon in shapes:
                if kind == "point":
                    for p in polygon:
                        painter.drawEllipse(p, 2.0, 2.0)
                elif kind == "closed":
                    painter.drawPolygon(polygon)
                else:
                    painter.drawPolyline(polygon)

    def _outlines(self, key: tuple, entry) -> list:
        """Per ROI on this image: (legend key, colour, [(kind, QPolygonF)]),
        made once per image (a paint then only strokes them)."""
        found = self._shapes.get(key)
        if found is not None:
            self._shapes.move_to_end(key)
            return found
        found = []
        plane = plane_of(entry)
        for structures in self.loaded.structures if plane is not None else ():
            if not plane.frame_of_reference or plane.frame_of_reference not in structures.frames:
                continue
            for section in structures.on_image(plane):
                shapes = []
                for contour in section.contours:
                    polygon = QPolygonF([QPointF(float(c), float(r)) for c, r in contour.points])
                    kind = ("point" if contour.kind == "POINT" or len(contour.points) == 1
                            else "closed" if contour.closed else "open")
                    shapes.append((kind, polygon))
                found.append(((structures.sop_instance_uid, section.roi.number),
                              section.roi.colour, shapes))
        self._shapes[key] = found
        while len(self._shapes) > CACHE_OUTLINES:
            self._shapes.popitem(last=False)
        return found


def plane_of(entry) -> Optional[ImagePlane]:
    """The image's place in the patient, from its frame's header (kept on
    the entry: parsed once per image; read through the native reader's
    quick view, so the GUI thread makes no pydicom data set for it)."""
    if entry is None or entry.frame is None or entry.frame.header is None:
        return None
    cached = getattr(entry, "_rt_plane", False)
    if cached is not False:
        return cached
    try:
        plane = ImagePlane.of(entry.frame.header, entry.frame.index)
    except Exception:  # noqa: BLE001 - an image that cannot be placed carries no overlay
        plane = None
    entry._rt_plane = plane
    return plane


def _pen(colour, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(*colour), width, style)
    pen.setCosmetic(True)  # as wide on screen at any zoom
    return pen
