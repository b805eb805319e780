"""One viewport: a series' images painted with QPainter, and the mouse and
keyboard that move through them and change how they look.

The GUI thread never decodes here: it asks the loader for the current
image and paints the last one it had until the new one is ready, a QImage
the pool thread made. It draws an image itself only when the window or
inversion changed since the pool thread drew it (a 512x512
CT redraws in about a millisecond, which keeps a window/level drag under
the mouse). Keys are listed for the user in help.py's table.
"""

from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.viewer import overlay
from ui.viewer.frames import presets_for
from ui.viewer.help import help_rows
from ui.viewer.layers import Layer
from ui.viewer.loader import FrameLoader, Loaded, paintable
from ui.viewer.view_state import ZOOM_MAX, ZOOM_MIN, ViewState, image_transform

# A new image is painted at most this often (a 120 Hz screen): scrolling
# faster than that shows the latest image at each refresh, and the GUI
# thread's time goes to taking the next frames in, not to frames no screen
# would show.
PAINT_INTERVAL_MS = 8
BACKGROUND = QColor("#000000")
ACTIVE = QColor("#2f6f9f")


class Viewport(QWidget):
    activated = Signal(object)  # self: a click makes it the window's current viewport
    changed = Signal()  # position, window, zoom...: the window updates its bars
    shown = Signal(int)  # an image index painted (ready, not a stand-in)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setObjectName("viewerViewport")
        self.setAccessibleName("Image viewport")
        # the help overlay's table: a screen reader user learns the keys where they work
        self.setAccessibleDescription("Keys: " + "; ".join(f"{keys}: {text}" for keys, text in help_rows()))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.loader: Optional[FrameLoader] = None
        self.header: dict = {}  # patient, study and series text (the cache's rows)
        self.state = ViewState()
        self.active = False
        self.message = "Loading…"  # shown while there is no series
        self._shown: Optional[tuple[int, Loaded]] = None  # what is painted
        self._drag: Optional[tuple] = None
        self.layers: list[Layer] = []  # drawn over the image in order (ui/viewer/layers.py)
        self._layer_drag: Optional[Layer] = None
        self._step = 1
        self._painted_at = 0.0
        self._paint_timer = QTimer(self)
        self._paint_timer.setSingleShot(True)
        self._paint_timer.timeout.connect(self.update)

    # -- the series ----------------------------------------------------------------

    def set_series(self, loader: Optional[FrameLoader], header: dict, index: int = 0,
                   message: str = "") -> None:
        if self.loader is not None:
            self.loader.cancel()
            self.loader.ready.disconnect(self._ready)
        self.loader, self.header, self.message = loader, header, message
        self.state = ViewState()
        self._shown = None
        if loader is not None:
            loader.ready.connect(self._ready)
            self.set_index(index)
        self.update()

    @property
    def count(self) -> int:
        return len(self.loader) if self.loader is not None else 0

    def current(self) -> Optional[Loaded]:
        """The entry painted now when it is the current index (None while loading)."""
        if self._shown and self._shown[0] == self.state.index:
            return self._shown[1]
        return None

    # -- what the user changes -----------------------------------------------------

    def set_index(self, index: int) -> None:
        if not self.count:
            return
        index = max(0, min(self.count - 1, index))
        self._step = 1 if index >= self.state.index else -1
        self.state.index = index
        self.loader.drawn_for = self.state.drawn_for
        entry = self.loader.want(index, self._step)
        if entry is not None:
            self._show(index, entry)
        self.changed.emit()

    def scroll(self, steps: int) -> None:
        self.set_index(self.state.index + steps)

    def set_window(self, window: Optional[tuple[float, float]]) -> None:
        if window is not None:
            window = (float(window[0]), max(1.0, float(window[1])))
        self.state.window = window
        self._redraw()

    def toggle_invert(self) -> None:
        self.state.invert = not self.state.invert
        self._redraw()

    def apply_preset(self, key: str) -> bool:
        entry = self.current()
        ds = entry.frame.ds if entry and entry.frame else None
        for preset in presets_for(self.header.get("modality", ""), ds):
            if preset.key == key:
                self.set_window(preset.window)
                return True
        return False

    def set_zoom(self, zoom: Optional[float], around: Optional[QPointF] = None) -> None:
        old = self.zoom()
        if zoom is not None:
            zoom = max(ZOOM_MIN, min(ZOOM_MAX, zoom))
            if around is not None and old:
                # keep the point under the cursor where it is
                centre = QPointF(self.width() / 2, self.height() / 2) + self.state.pan
                self.state.pan += (around - centre) * (1 - zoom / old)
        else:
            self.state.pan = QPointF()
        self.state.zoom = zoom
        self._changed_view()

    def zoom(self) -> float:
        entry = self.current() or (self._shown[1] if self._shown else None)
        if entry is None or entry.display is None:
            return 1.0
        h, w = entry.display.pixels.shape[:2]
        return image_transform(self.state, w, h, entry.display.aspect, self.width(),
                               self.height())[1]

    def rotate(self, quarter_turns: int) -> None:
        self.state.rotation = (self.state.rotation + quarter_turns) % 4
        self._changed_view()

    def flip(self, horizontal: bool) -> None:
        """Flip along the screen's axes: the image is flipped before it is
        rotated (view_state.image_transform), so a quarter turn swaps them."""
        if self.state.rotation % 2:
            horizontal = not horizontal
        if horizontal:
            self.state.flip_h = not self.state.flip_h
        else:
            self.state.flip_v = not self.state.flip_v
        self._changed_view()

    def reset(self) -> None:
        self.state.reset_view()
        self._redraw()

    # -- drawing -------------------------------------------------------------------

    def _ready(self, index: int) -> None:
        if index == self.state.index and self.loader is not None:
            entry = self.loader.get(index)
            if entry is not None:
                self._show(index, entry)

    def _show(self, index: int, entry: Loaded) -> None:
        self._shown = (index, entry)
        self._redraw(changed=False, paint=False)
        wait = PAINT_INTERVAL_MS - (time.perf_counter() - self._painted_at) * 1000
        if wait <= 0:
            self.update()
        elif not self._paint_timer.isActive():
            self._paint_timer.start(max(1, round(wait)))

    def _redraw(self, changed: bool = True, paint: bool = True) -> None:
        """Bring the painted entry to the view's window and inversion."""
        if self.loader is not None:
            self.loader.drawn_for = self.state.drawn_for
        if self._shown:
            index, entry = self._shown
            if entry.frame is not None and entry.drawn_for != self.state.drawn_for:
                entry.display = entry.frame.draw(*self.state.drawn_for)
                entry.drawn_for = self.state.drawn_for
                entry.image = None  # made again when painted
        if paint:
            self.update()
        if changed:
            self.changed.emit()

    def _changed_view(self) -> None:
        self.update()
        self.changed.emit()

    def displayed_window(self) -> Optional[tuple[float, float]]:
        entry = self.current()
        return entry.display.window if entry and entry.display else None

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._painted_at = time.perf_counter()
        painter = QPainter(self)
        rect = QRectF(self.rect())
        painter.fillRect(rect, BACKGROUND)
        painted = None
        if self._shown is not None:
            index, entry = self._shown
            if entry.display is not None:
                painter.save()
                self._paint_image(painter, index, entry)
                painter.restore()
                painted = index
        entry = self.current()
        if entry is not None and entry.error:
            overlay.draw_message(painter, rect, f"Image {self.state.index + 1} cannot be shown",
                                 _short(entry.error))
            painted = self.state.index
        elif self._shown is None:
            overlay.draw_message(painter, rect, self.message or "Loading…")
        if self.loader is not None:
            self._paint_overlay(painter, rect, entry)
        if self.active:
            painter.setPen(QPen(ACTIVE, 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.end()
        if painted is not None and painted == self.state.index:
            self.shown.emit(painted)

    def _paint_image(self, painter: QPainter, index: int, entry: Loaded) -> None:
        display = entry.display
        if entry.image is None:  # the window changed here: a drag, a preset
            entry.image = paintable(display.pixels)
        h, w = display.pixels.shape[:2]
        transform, zoom = image_transform(self.state, w, h, display.aspect, self.width(),
                                          self.height())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoom < 4)
        painter.setTransform(transform)
        painter.drawImage(0, 0, entry.image)
        for layer in self.layers:
            painter.save()
            layer.paint_image(painter, self, index, entry)
            painter.restore()

    def image_position(self, widget_pos: QPointF) -> Optional[QPointF]:
        """The (column, row) of the current image under *widget_pos*, or None."""
        entry = self._shown[1] if self._shown else None
        if entry is None or entry.display is None:
            return None
        h, w = entry.display.pixels.shape[:2]
        transform, _zoom = image_transform(self.state, w, h, entry.display.aspect, self.width(),
                                           self.height())
        inverse, invertible = transform.inverted()
        return inverse.map(widget_pos) if invertible else None

    def _paint_overlay(self, painter: QPainter, rect: QRectF, entry: Optional[Loaded]) -> None:
        from ui.viewer.corner_text import corner_lines

        overlay.draw_corners(painter, rect, corner_lines(self, entry))
        for layer in self.layers:
            painter.save()
            layer.paint_widget(painter, self, rect, entry)
            painter.restore()
        if entry is None or entry.display is None:
            return
        info = entry.info
        overlay.draw_edge_letters(painter, rect, overlay.edge_letters(
            info.orientation, self.state.rotation, self.state.flip_h, self.state.flip_v))
        if info.spacing:
            overlay.draw_scale_bar(painter, rect, info.spacing[1] / self.zoom())

    # -- mouse and keys ------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.activated.emit(self)
        button, mods = event.button(), event.modifiers()
        pos = event.position()
        if button == Qt.MouseButton.LeftButton and not mods & Qt.KeyboardModifier.ShiftModifier:
            image_pos = self.image_position(pos)
            for layer in self.layers:
                if layer.mouse_press(self, event, image_pos):
                    self._layer_drag = layer
                    event.accept()
                    return
        if button == Qt.MouseButton.RightButton and self.current() and self.current().frame \
                and self.current().frame.values is not None:
            self._drag = ("window", pos, self.displayed_window())
        elif button == Qt.MouseButton.MiddleButton or (
                button == Qt.MouseButton.LeftButton and mods & Qt.KeyboardModifier.ShiftModifier):
            self._drag = ("pan", pos, QPointF(self.state.pan))
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._layer_drag is not None:
            self._layer_drag.mouse_move(self, event, self.image_position(event.position()))
            return
        if not self._drag:
            return
        kind, start, origin = self._drag
        delta = event.position() - start
        if kind == "pan":
            self.state.pan = origin + delta
            self._changed_view()
        elif kind == "window" and origin is not None:
            centre, width = origin
            step = max(width, 16.0) / 256.0  # a screen's drag spans a few widths
            self.set_window((centre + delta.y() * step, width + delta.x() * step))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._layer_drag is not None:
            layer, self._layer_drag = self._layer_drag, None
            layer.mouse_release(self, event, self.image_position(event.position()))
        self._drag = None

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - right-drag is window/level
        event.accept()

    def wheelEvent(self, event) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom() * 1.15 ** steps, event.position())
        else:
            self.scroll(-int(steps) or (-1 if steps > 0 else 1))
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        from ui.viewer.help import handle_key

        shown = getattr(self.window(), "help", None)
        if shown is not None and shown.isVisible():  # any key closes the help first (the window)
            super().keyPressEvent(event)
        elif not handle_key(self, event):
            super().keyPressEvent(event)  # the window's keys (cine, layout, help)


def _short(message: str) -> str:
    """A decoder's reason without the machine's path to the file."""
    head, sep, rest = message.partition(": ")
    if sep and ("/" in head or "\\" in head):
        name = head.replace("\\", "/").rsplit("/", 1)[-1]
        return f"{name}: {rest}"
    return message
