"""Synchronised scrolling by slice position: two viewports of CT or MR
series of one plane, and when one scrolls the other shows its image nearest
in the patient, not the image of the same number (a prior of 4 mm slices
beside today's 3 mm ones would drift apart by index).

Each image's Image Position Patient is projected on one normal (the cross
product of the first viewport's Image Orientation Patient row and column
directions), so both series are measured along the same axis.

Where the two series share a Frame of Reference, the coordinates are the
same space and are matched as they are. A prior exam almost always has a
frame of its own: the table and the patient moved between the exams and
its coordinates say nothing about today's, so matching them as they are
would pair unrelated slices. Then the stacks are matched from their starts
(the lowest position along the normal of each: the same protocol begins at
the same anatomy), and the user corrects what that misses: turning Sync off,
scrolling one side to the same anatomy and turning it on again keeps that
pair as matched (an offset in mm), as on other workstations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from app.viewer.priors import SeriesGeometry


def nearest(positions: list[Optional[float]], target: float) -> Optional[int]:
    """The index whose position is nearest `target` (the lower on a tie)."""
    best = None
    for i, p in enumerate(positions):
        if p is not None and (best is None or abs(p - target) < abs(positions[best] - target)):
            best = i
    return best


class SliceSync(QObject):
    """Keeps two viewports (each showing its geometry's series) in step while
    ``enabled``; see the module."""

    def __init__(self, first, second, geometry: tuple[SeriesGeometry, SeriesGeometry],
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.viewports = (first, second)
        self.geometry = geometry
        orientation = geometry[0].orientation or geometry[1].orientation
        self.positions = tuple(g.along(orientation) for g in geometry)
        self.offset = self.start_offset()  # second's position = first's + offset
        self.enabled = True
        self._moving = False
        self._last = [None, None]
        first.changed.connect(self._first_changed)
        second.changed.connect(self._second_changed)
        for side, viewport in enumerate(self.viewports):
            if self._ready(side):
                self._last[side] = viewport.state.index
        self._follow(0)  # the current series leads; the prior follows it

    @property
    def same_frame(self) -> bool:
        first, second = self.geometry
        return bool(first.frame_of_reference) and first.frame_of_reference == \
            second.frame_of_reference

    def start_offset(self) -> float:
        """0 in one frame of reference, else the distance between the starts."""
        known = [[p for p in side if p is not None] for side in self.positions]
        if self.same_frame or not all(known):
            return 0.0
        return min(known[1]) - min(known[0])

    def set_enabled(self, on: bool) -> None:
        """Off: each scrolls alone. On again: the pair shown now is kept as
        matched when the user moved one side away from the match."""
        if on and not self.enabled:
            here = [self._position(s) for s in (0, 1)]
            if None not in here and self._ready(0) and self._ready(1):
                matched = nearest(self.positions[1], here[0] + self.offset)
                if matched != self.viewports[1].state.index:
                    self.offset = here[1] - here[0]
        self.enabled = on
        if on:
            self._follow(0)

    def target(self, side: int, index: int) -> Optional[int]:
        """The other side's index for `index` on `side`."""
        p = self.positions[side][index] if 0 <= index < len(self.positions[side]) else None
        if p is None:
            return None
        return nearest(self.positions[1 - side], p + (self.offset if side == 0 else -self.offset))

    def _position(self, side: int) -> Optional[float]:
        index = self.viewports[side].state.index
        positions = self.positions[side]
        return positions[index] if 0 <= index < len(positions) else None

    def _ready(self, side: int) -> bool:
        """The viewport shows this series (not another the user chose since)."""
        loader = self.viewports[side].loader
        return loader is not None and loader.key == self.geometry[side].series_uid \
            and len(loader) == len(self.positions[side])

    def detach(self) -> None:
        """Stop following the viewports (another prior replaces this pair)."""
        for viewport, slot in zip(self.viewports, (self._first_changed, self._second_changed)):
            try:
                viewport.changed.disconnect(slot)
            except (RuntimeError, TypeError):  # the viewport is gone already
                pass
        self.enabled = False

    def _first_changed(self) -> None:
        self._changed(0)

    def _second_changed(self) -> None:
        self._changed(1)

    def _changed(self, side: int) -> None:
        if self._moving or not self._ready(side):
            return
        index = self.viewports[side].state.index
        arrived = self._last[side] is None  # the series has just opened: follow the other side
        if index == self._last[side] and not arrived:
            return  # a window or zoom change
        self._last[side] = index
        if not self.enabled:
            return
        if arrived and self._ready(1 - side):
            self._follow(1 - side)
        else:
            self._follow(side)

    def _follow(self, lead: int) -> None:
        """Bring the other side to the image nearest `lead`'s."""
        other = 1 - lead
        if not (self._ready(lead) and self._ready(other)):
            return
        target = self.target(lead, self.viewports[lead].state.index)
        if target is None or target == self.viewports[other].state.index:
            self._last[other] = self.viewports[other].state.index
            return
        self._moving = True
        try:
            self._last[other] = target
            self.viewports[other].set_index(target)
        finally:
            self._moving = False
