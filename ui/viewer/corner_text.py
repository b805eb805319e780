"""The four corners of text over an image, as lists of lines: who (top
left), which study and series (top right), where in the stack and the
patient (bottom left), how it is shown (bottom right). Tests read the same
lines the viewport paints.
"""

from __future__ import annotations

from typing import Optional


def person_name(value: str) -> str:
    """DICOM's FAMILY^GIVEN^MIDDLE as 'FAMILY, GIVEN MIDDLE'."""
    parts = [p for p in (value or "").split("=")[0].split("^")]
    family, given = (parts + ["", ""])[:2]
    rest = " ".join(p for p in parts[2:4] if p)
    name = ", ".join(p for p in (family, " ".join(p for p in (given, rest) if p)) if p)
    return name or value or ""


def dicom_date(value: str) -> str:
    value = (value or "").strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _number(value: float) -> str:
    """Whole numbers as such, large ones rounded (dose grids), small ones to 0.1."""
    if abs(value) >= 100 or abs(value - round(value)) < 0.05:
        return f"{value:.0f}"
    return f"{value:.1f}"


def corner_lines(viewport, entry) -> dict[str, list[str]]:
    h = viewport.header
    top_left = [person_name(h.get("patient_name", "")),
                " ".join(p for p in (h.get("patient_id", ""), dicom_date(h.get("birth_date", "")),
                                     h.get("sex", "")) if p)]
    series = h.get("series_description", "")
    number = h.get("series_number")
    top_right = [h.get("study_description", ""), dicom_date(h.get("study_date", "")),
                 (f"Se {number}: {series}" if series else f"Se {number}") if number is not None else series]
    state, count = viewport.state, viewport.count
    bottom_left = [f"Im {state.index + 1} / {count}" if count else ""]
    bottom_right: list[str] = []
    if entry is not None and entry.info is not None:
        info = entry.info
        if info.slice_location is not None:
            bottom_left.append(f"Loc {info.slice_location:.1f} mm")
        if info.slice_thickness is not None:
            bottom_left.append(f"Thk {info.slice_thickness:g} mm")
        if entry.frame is not None and entry.frame.frames > 1:
            bottom_left.append(f"Frame {entry.frame.index + 1} / {entry.frame.frames}")
    window = viewport.displayed_window()
    if entry is not None and entry.display is not None and entry.display.function == "VOI LUT":
        bottom_right.append("VOI LUT")  # the header's table: no window to state
    elif window is not None:
        bottom_right.append(f"W {_number(window[1])} L {_number(window[0])}")
    if entry is not None and entry.display is not None:
        bottom_right.append(f"Zoom {viewport.zoom() * 100:.0f}%")
        if viewport.state.invert:
            bottom_right.append("Inverted")
    return {"top-left": [t for t in top_left if t], "top-right": [t for t in top_right if t],
            "bottom-left": [t for t in bottom_left if t], "bottom-right": bottom_right}


def window_text(window: Optional[tuple[float, float]]) -> str:
    return "" if window is None else f"W {_number(window[1])} L {_number(window[0])}"
