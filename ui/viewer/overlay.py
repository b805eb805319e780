"""What is drawn over the image: the four corners of text, the patient's
orientation letters at the middle of each edge, the scale bar, and the
placeholder of an image that cannot be shown.

The letters follow the image as it is turned: the direction a screen edge
points to in the patient is worked out from Image Orientation (Patient) and
the view's rotation and flips (:func:`edge_letters`), in DICOM's patient
axes (PS3.3 C.7.6.2.1.1: +x towards the patient's left, +y posterior, +z
head), as Horos and Weasis show them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))  # +axis, -axis
_OBLIQUE = 0.25  # components smaller than this are not named
TEXT = QColor("#e8e8e8")
SHADOW = QColor(0, 0, 0, 200)


def patient_letters(vector) -> str:
    """The letters of a direction in patient coordinates, strongest first
    (``"L"``, ``"LP"`` for an oblique one); "" when it has no direction."""
    parts = sorted(((abs(v), i) for i, v in enumerate(vector) if abs(v) >= _OBLIQUE), reverse=True)
    return "".join(_LETTERS[i][0 if vector[i] > 0 else 1] for _, i in parts[:2])


def edge_letters(orientation, rotation: int, flip_h: bool, flip_v: bool) -> dict[str, str]:
    """{"left", "right", "top", "bottom"} -> letters, for an image of
    orientation `orientation` (6 cosines) turned `rotation` quarter turns
    clockwise after flipping. {} when the orientation is unknown."""
    if not orientation or len(orientation) != 6:
        return {}
    row, col = orientation[:3], orientation[3:]

    def back(sx: float, sy: float) -> tuple[float, float]:
        # screen direction -> image direction: undo the rotation, then the flips
        angle = -rotation * math.pi / 2
        x = sx * math.cos(angle) - sy * math.sin(angle)
        y = sx * math.sin(angle) + sy * math.cos(angle)
        return (-x if flip_h else x), (-y if flip_v else y)

    def letters(sx: float, sy: float) -> str:
        ix, iy = back(sx, sy)
        return patient_letters([ix * r + iy * c for r, c in zip(row, col)])

    return {"right": letters(1, 0), "left": letters(-1, 0),
            "bottom": letters(0, 1), "top": letters(0, -1)}


def scale_length(mm_per_pixel: float, max_pixels: float) -> float:
    """A round length in mm (1, 2 or 5 times a power of ten) that fits in
    `max_pixels` on screen; 0 when none does."""
    if mm_per_pixel <= 0 or max_pixels <= 0:
        return 0.0
    limit = mm_per_pixel * max_pixels
    power = 10 ** math.floor(math.log10(limit))
    for factor in (5, 2, 1):
        if factor * power <= limit:
            return factor * power
    return 0.0


def _font(painter: QPainter, size: int = 10, bold: bool = False) -> None:
    font = QFont(painter.font())
    font.setPointSize(size)
    font.setBold(bold)
    painter.setFont(font)


def _shadowed(painter: QPainter, rect: QRectF, flags, text: str) -> None:
    painter.setPen(SHADOW)
    painter.drawText(rect.translated(1, 1), flags, text)
    painter.setPen(TEXT)
    painter.drawText(rect, flags, text)


def draw_corners(painter: QPainter, rect: QRectF, corners: dict[str, list[str]]) -> None:
    """Text in the corners: {"top-left": [lines], "top-right", "bottom-left", "bottom-right"}."""
    _font(painter)
    inner = rect.adjusted(8, 6, -8, -6)
    align = {"top-left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
             "top-right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
             "bottom-left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
             "bottom-right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom}
    for corner, lines in corners.items():
        if lines:
            _shadowed(painter, inner, align[corner], "\n".join(lines))


def draw_edge_letters(painter: QPainter, rect: QRectF, letters: dict[str, str]) -> None:
    if not letters:
        return
    _font(painter, 12, bold=True)
    m = 8
    boxes = {"left": QRectF(rect.left() + m, rect.center().y() - 12, 40, 24),
             "right": QRectF(rect.right() - m - 40, rect.center().y() - 12, 40, 24),
             "top": QRectF(rect.center().x() - 20, rect.top() + m, 40, 24),
             "bottom": QRectF(rect.center().x() - 20, rect.bottom() - m - 24, 40, 24)}
    flags = {"left": Qt.AlignmentFlag.AlignLeft, "right": Qt.AlignmentFlag.AlignRight}
    for edge, box in boxes.items():
        if letters.get(edge):
            flag = flags.get(edge, Qt.AlignmentFlag.AlignHCenter) | Qt.AlignmentFlag.AlignVCenter
            _shadowed(painter, box, flag, letters[edge])


def draw_scale_bar(painter: QPainter, rect: QRectF, mm_per_screen_pixel: float) -> None:
    """A horizontal bar of a round length in mm, above the bottom edge, centred."""
    length_mm = scale_length(mm_per_screen_pixel, rect.width() / 4)
    if not length_mm:
        return
    pixels = length_mm / mm_per_screen_pixel
    y = rect.bottom() - 40
    x0 = rect.center().x() - pixels / 2
    for colour, offset in ((SHADOW, 1), (TEXT, 0)):
        painter.setPen(QPen(colour, 2))
        a, b = QPointF(x0 + offset, y + offset), QPointF(x0 + pixels + offset, y + offset)
        painter.drawLine(a, b)
        painter.drawLine(a, a + QPointF(0, -6))
        painter.drawLine(b, b + QPointF(0, -6))
    _font(painter, 9)
    text = f"{length_mm:g} mm"
    _shadowed(painter, QRectF(x0, y - 20, pixels, 16), Qt.AlignmentFlag.AlignHCenter, text)


def draw_message(painter: QPainter, rect: QRectF, title: str, reason: str = "") -> None:
    """A placeholder in the middle of the viewport: what and why."""
    _font(painter, 11, bold=True)
    box = rect.adjusted(rect.width() * 0.1, 0, -rect.width() * 0.1, 0)
    flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
    text = title if not reason else f"{title}\n\n{reason}"
    painter.setPen(QColor("#f0b37e") if reason else TEXT)
    painter.drawText(box, flags, text)
