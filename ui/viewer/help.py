"""The viewer's keys: one table that both drives the viewport
(:func:`handle_key`) and fills the help overlay (F1 or ?), so the overlay
cannot list a key that does nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

K = Qt.Key
PAGE = 10  # images per Page Up / Page Down

# (keys, what they do, action on a Viewport or None when the window handles it)
VIEWPORT_KEYS = [
    ((K.Key_Down, K.Key_Right), "Down, Right, wheel", "next image", lambda v: v.scroll(1)),
    ((K.Key_Up, K.Key_Left), "Up, Left, wheel", "previous image", lambda v: v.scroll(-1)),
    ((K.Key_PageDown,), "Page Down", f"{PAGE} images on", lambda v: v.scroll(PAGE)),
    ((K.Key_PageUp,), "Page Up", f"{PAGE} images back", lambda v: v.scroll(-PAGE)),
    ((K.Key_Home,), "Home", "first image", lambda v: v.set_index(0)),
    ((K.Key_End,), "End", "last image", lambda v: v.set_index(v.count - 1)),
    ((K.Key_0,), "0", "the image's own window", lambda v: v.set_window(None)),
    ((K.Key_I,), "I", "invert", lambda v: v.toggle_invert()),
    ((K.Key_F,), "F", "fit to the viewport", lambda v: v.set_zoom(None)),
    ((K.Key_A,), "A", "actual size (1:1)", lambda v: v.set_zoom(1.0)),
    ((K.Key_Plus, K.Key_Equal), "+", "zoom in", lambda v: v.set_zoom(v.zoom() * 1.25)),
    ((K.Key_Minus,), "-", "zoom out", lambda v: v.set_zoom(v.zoom() / 1.25)),
    ((K.Key_BracketRight,), "]", "rotate 90° clockwise", lambda v: v.rotate(1)),
    ((K.Key_BracketLeft,), "[", "rotate 90° anticlockwise", lambda v: v.rotate(-1)),
    ((K.Key_H,), "H", "flip left-right", lambda v: v.flip(True)),
    ((K.Key_V,), "V", "flip top-bottom", lambda v: v.flip(False)),
    ((K.Key_R,), "R", "reset window, zoom, pan, rotation", lambda v: v.reset()),
]
PRESET_KEYS = {getattr(K, f"Key_{n}"): str(n) for n in range(1, 7)}

OTHER_HELP = [
    ("1 – 6", "CT presets: brain, subdural, lung, mediastinum, abdomen, bone"),
    ("Right drag", "window (left-right: width, up-down: level)"),
    ("Ctrl+wheel", "zoom around the pointer"),
    ("Middle drag, Shift+left drag", "pan"),
    ("L, G, E, P", "measure: length, angle (3 clicks), ellipse, polygon (double-click closes)"),
    ("Esc", "end the measuring tool"),
    ("Space", "cine on/off (frame rate in the toolbar)"),
    ("Ctrl+1, Ctrl+2, Ctrl+4", "layout 1x1, 1x2, 2x2"),
    ("F1, ?", "this help"),
]


def handle_key(viewport, event) -> bool:
    """Run the viewport's action for the key; False when it is not one of its keys."""
    key = event.key()
    if event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
        return False
    if key in PRESET_KEYS:
        viewport.apply_preset(PRESET_KEYS[key])
        return True
    for keys, _, _, action in VIEWPORT_KEYS:
        if key in keys:
            action(viewport)
            return True
    return False


def help_rows() -> list[tuple[str, str]]:
    return [(label, text) for _, label, text, _ in VIEWPORT_KEYS] + OTHER_HELP


class HelpOverlay(QWidget):
    """A translucent sheet over the viewports listing every key; any key or
    click closes it."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("viewerHelp")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.raise_()
            self.show()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.hide()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 200))
        rows = help_rows()
        font = QFont(p.font())
        font.setPointSize(10)
        line = 20
        width, height = min(max(self.width() - 20, 300), 780), line * (len(rows) + 2)
        x = max(10, (self.width() - width) // 2)
        y = max(10, (self.height() - height) // 2)
        font.setBold(True)
        p.setFont(font)
        p.setPen(QColor("#ffffff"))
        p.drawText(QRectF(x, y, width, line), Qt.AlignmentFlag.AlignLeft, "Viewer keys")
        for i, (keys, text) in enumerate(rows, start=1):
            top = y + i * line + 6
            font.setBold(True)
            p.setFont(font)
            p.setPen(QColor("#9fd0f5"))
            p.drawText(QRectF(x, top, 230, line), Qt.AlignmentFlag.AlignLeft, keys)
            font.setBold(False)
            p.setFont(font)
            p.setPen(QColor("#e8e8e8"))
            p.drawText(QRectF(x + 240, top, width - 240, line), Qt.AlignmentFlag.AlignLeft, text)
        p.end()
