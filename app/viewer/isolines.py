"""Lines of equal value through a 2-D array (marching squares), in numpy.

Isodose lines are what a coordinator reads a dose by ("is the PTV inside
the 95 % line?"), so they are drawn as polylines over the image rather than
as a banded wash. The crossings of every cell edge are computed at once;
only the chaining of segments into polylines is a Python loop, and it visits
each segment once (a few thousand on a 512 x 512 slice).

Each cell (between pixel centres r..r+1, c..c+1) is classed by which of its
corners are at or above the level; the two saddle cases are resolved by the
mean of the corners (the centre joins the corners it agrees with). NaN
counts as below every level, so a line closes around the data it has.
"""

from __future__ import annotations

import numpy as np

_TOP, _RIGHT, _BOTTOM, _LEFT = range(4)

# Cell case (tl*8 + tr*4 + br*2 + bl) -> segments as pairs of cell sides;
# the saddles 5 and 10 are given for a centre below, swapped when above.
_SEGMENTS = {
    1: ((_LEFT, _BOTTOM),), 2: ((_BOTTOM, _RIGHT),), 3: ((_LEFT, _RIGHT),),
    4: ((_TOP, _RIGHT),), 5: ((_TOP, _RIGHT), (_LEFT, _BOTTOM)),
    6: ((_TOP, _BOTTOM),), 7: ((_TOP, _LEFT),), 8: ((_TOP, _LEFT),),
    9: ((_TOP, _BOTTOM),), 10: ((_TOP, _LEFT), (_BOTTOM, _RIGHT)),
    11: ((_TOP, _RIGHT),), 12: ((_LEFT, _RIGHT),), 13: ((_BOTTOM, _RIGHT),),
    14: ((_LEFT, _BOTTOM),),
}
_SADDLE_ABOVE = {5: ((_TOP, _LEFT), (_BOTTOM, _RIGHT)), 10: ((_TOP, _RIGHT), (_LEFT, _BOTTOM))}


def isolines(field: np.ndarray, level: float) -> list[np.ndarray]:
    """Polylines (n, 2) float as (column, row) where ``field`` crosses ``level``.

    A closed line ends on its first point; a line cut by the array's border
    is left open there.
    """
    f = np.where(np.isfinite(field), np.asarray(field, dtype=np.float64), -np.inf)
    rows, cols = f.shape
    if rows < 2 or cols < 2:
        return []
    above = f >= level
    case = (above[:-1, :-1] * 8 + above[:-1, 1:] * 4 + above[1:, 1:] * 2
            + above[1:, :-1]).astype(np.int8)
    points = _crossings(f, level)
    sides = _side_ids(rows, cols)
    centre_above = None
    pairs = []
    for number, segments in _SEGMENTS.items():
        cells = case == number
        if not cells.any():
            continue
        if number in _SADDLE_ABOVE:
            if centre_above is None:
                centre_above = (f[:-1, :-1] + f[:-1, 1:] + f[1:, 1:] + f[1:, :-1]) / 4 >= level
            pairs += _pairs(sides, cells & ~centre_above, segments)
            pairs += _pairs(sides, cells & centre_above, _SADDLE_ABOVE[number])
        else:
            pairs += _pairs(sides, cells, segments)
    if not pairs:
        return []
    return [points[chain] for chain in _chains(np.concatenate(pairs))]


def _crossings(f: np.ndarray, level: float) -> np.ndarray:
    """Where ``level`` crosses every horizontal then every vertical edge
    (column, row); the value is meaningful only on edges that cross."""
    rows, cols = f.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.nan_to_num((level - f[:, :-1]) / (f[:, 1:] - f[:, :-1]), nan=0.5,
                           posinf=0.5, neginf=0.5)
        tv = np.nan_to_num((level - f[:-1, :]) / (f[1:, :] - f[:-1, :]), nan=0.5,
                           posinf=0.5, neginf=0.5)
    r, c = np.mgrid[0:rows, 0:cols - 1]
    horizontal = np.stack([c + np.clip(th, 0, 1), r], axis=-1).reshape(-1, 2)
    r, c = np.mgrid[0:rows - 1, 0:cols]
    vertical = np.stack([c, r + np.clip(tv, 0, 1)], axis=-1).reshape(-1, 2)
    return np.concatenate([horizontal, vertical]).astype(np.float64)


def _side_ids(rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """For every cell, the ids of its top, right, bottom and left edges
    (horizontal edges first, numbered as :func:`_crossings` lays them out)."""
    r, c = np.mgrid[0:rows - 1, 0:cols - 1]
    first_vertical = rows * (cols - 1)
    top = r * (cols - 1) + c
    bottom = top + (cols - 1)
    left = first_vertical + r * cols + c
    return top, left + 1, bottom, left


def _pairs(sides, cells: np.ndarray, segments) -> list[np.ndarray]:
    return [np.stack([sides[a][cells], sides[b][cells]], axis=-1) for a, b in segments]


def _chains(pairs: np.ndarray) -> list[list[int]]:
    """Join segments sharing an edge into chains of edge ids: open chains
    from their free ends first, then the closed loops that remain."""
    ends: dict[int, list[int]] = {}
    for index, (a, b) in enumerate(pairs.tolist()):
        ends.setdefault(a, []).append(index)
        ends.setdefault(b, []).append(index)
    used = bytearray(len(pairs))
    links = pairs.tolist()
    chains = []
    starts = [edge for edge, segments in ends.items() if len(segments) == 1]
    for start in starts + list(ends):
        for segment in ends[start]:
            if used[segment]:
                continue
            chain, edge = [start], start
            while segment is not None:
                used[segment] = 1
                a, b = links[segment]
                edge = b if a == edge else a
                chain.append(edge)
                segment = next((s for s in ends[edge] if not used[s]), None)
            chains.append(chain)
    return chains
