"""Window presets: the CT windows every workstation offers (keys 1-6 in the
viewer), then the windows the image's own header proposes.

CT values are Hounsfield units; centre and width are the usual textbook
ones (brain 40/80, subdural 75/215, lung -600/1500, mediastinum 50/350,
abdomen 40/400, bone 400/1800). Other modalities have no absolute scale, so
their presets are the header's windows and the frame's full data range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


@dataclass(frozen=True)
class Preset:
    name: str
    center: float
    width: float
    key: str = ""  # the viewer's shortcut, "1".."6" for the CT presets

    @property
    def window(self) -> tuple[float, float]:
        return self.center, self.width


CT_PRESETS = (
    Preset("Brain", 40, 80, "1"),
    Preset("Subdural", 75, 215, "2"),
    Preset("Lung", -600, 1500, "3"),
    Preset("Mediastinum", 50, 350, "4"),
    Preset("Abdomen", 40, 400, "5"),
    Preset("Bone", 400, 1800, "6"),
)


def presets_for(modality: str, ds: Dataset | None = None,
                data_range: tuple[float, float] | None = None) -> list[Preset]:
    """The presets offered for an image: CT's fixed ones for CT, then each
    window of the header (with its explanation when it has one), then the
    full data range when given as (centre, width)."""
    out = list(CT_PRESETS) if (modality or "").strip().upper() == "CT" else []
    if ds is not None:
        out += header_presets(ds)
    if data_range is not None:
        out.append(Preset("Full range", float(data_range[0]), float(data_range[1])))
    return out


def header_presets(ds: Dataset) -> list[Preset]:
    """Every (Window Center, Window Width) pair of the header, in order."""
    centers = _numbers(ds.get("WindowCenter"))
    widths = _numbers(ds.get("WindowWidth"))
    names = ds.get("WindowCenterWidthExplanation")
    if isinstance(names, str) or names is None:
        names = [names] if names else []
    out = []
    for i, (center, width) in enumerate(zip(centers, widths)):
        if width is None or center is None or width <= 0:
            continue
        name = str(names[i]).strip() if i < len(names) and names[i] else f"Header {i + 1}"
        out.append(Preset(name, center, width))
    return out


def _numbers(value) -> list[float | None]:
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    out = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            number = None
        out.append(number if number is not None and math.isfinite(number) else None)
    return out
