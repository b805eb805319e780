"""How one viewport looks at its image: position in the stack, window,
inversion, zoom, pan, rotation and flips, and the transform from image
pixels to the widget that follows from them. No widgets here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF
from PySide6.QtGui import QTransform

ZOOM_MIN, ZOOM_MAX = 0.05, 40.0


@dataclass
class ViewState:
    index: int = 0
    window: tuple[float, float] | None = None  # None: each image's own (header) window
    invert: bool = False
    zoom: float | None = None  # None: fit the viewport
    pan: QPointF = field(default_factory=QPointF)  # widget pixels, from the centre
    rotation: int = 0  # quarter turns clockwise
    flip_h: bool = False
    flip_v: bool = False

    def reset_view(self) -> None:
        """Everything but the position in the stack."""
        self.window, self.invert, self.zoom, self.pan = None, False, None, QPointF()
        self.rotation, self.flip_h, self.flip_v = 0, False, False

    @property
    def drawn_for(self) -> tuple:
        return self.window, self.invert


def fit_zoom(width: int, height: int, aspect: float, view_w: float, view_h: float,
             rotation: int) -> float:
    """The zoom at which the whole image (rows stretched by `aspect`) fits."""
    w, h = float(width), float(height) * aspect
    if rotation % 2:
        w, h = h, w
    if w <= 0 or h <= 0 or view_w <= 0 or view_h <= 0:
        return 1.0
    return min(view_w / w, view_h / h)


def image_transform(state: ViewState, width: int, height: int, aspect: float,
                    view_w: float, view_h: float) -> tuple[QTransform, float]:
    """(image pixels -> widget transform, the zoom in effect).

    When the image is not turned and one image pixel is one screen pixel,
    the offset is rounded to whole pixels, so 1:1 shows the pixels exactly
    (no resampling between two screen pixels)."""
    zoom = state.zoom if state.zoom is not None else fit_zoom(
        width, height, aspect, view_w, view_h, state.rotation)
    t = QTransform()
    t.translate(view_w / 2 + state.pan.x(), view_h / 2 + state.pan.y())
    t.rotate(90 * (state.rotation % 4))
    t.scale(-zoom if state.flip_h else zoom, -(zoom * aspect) if state.flip_v else zoom * aspect)
    t.translate(-width / 2, -height / 2)
    if t.m12() == 0 and t.m21() == 0 and abs(abs(t.m11()) - 1) < 1e-9 \
            and abs(abs(t.m22()) - 1) < 1e-9:
        t = QTransform(t.m11(), 0, 0, t.m22(), round(t.dx()), round(t.dy()))
    return t, zoom
