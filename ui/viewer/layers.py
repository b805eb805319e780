"""What is drawn over an image, and tools that take the left mouse button.

A viewport (ui/viewer/canvas.py) holds a list of :class:`Layer` objects:
the RT contours and dose, the measurements, anything later. After the image,
each layer paints in image coordinates (the painter already carries the
image's transform: pixel (column, row) of the frame is where the layer
draws it) and then in widget coordinates (legends, labels). A layer may
also take the mouse: the first whose ``mouse_press`` returns True keeps the
drag until release. Layers know only the viewport and the current image;
the viewport knows nothing of what they draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainter

if TYPE_CHECKING:
    from ui.viewer.canvas import Viewport
    from ui.viewer.loader import Loaded


class Layer:
    """A do-nothing layer; subclasses override what they need."""

    name = ""

    def paint_image(self, painter: QPainter, viewport: "Viewport", index: int, entry: "Loaded") -> None:
        """Draw in image coordinates (columns, rows of the current frame)."""

    def paint_widget(self, painter: QPainter, viewport: "Viewport", rect: QRectF,
                     entry: Optional["Loaded"]) -> None:
        """Draw in widget coordinates, over the corner text."""

    def mouse_press(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> bool:
        """True to take this drag (move and release come here until it ends)."""
        return False

    def mouse_move(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> None:
        pass

    def mouse_release(self, viewport: "Viewport", event, image_pos: Optional[QPointF]) -> None:
        pass
