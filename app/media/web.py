"""The web content of a disc (IHE PDI): INDEX.HTM at the root and IHE_PDI/
with a page per study and a JPEG preview of a representative image of each
series, readable in any browser without a viewer.

XHTML 1.0 with relative links only, 8.3 upper-case names (the names every
system shows on an ISO 9660 disc), no script. Previews come from
:func:`app.dicom.render.render_preview` (the middle image of the series) and
are encoded with Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Optional

from app import __version__
from app.dicom.render import render_preview
from app.errors import StudyDeskError
from app.jobs import CancelToken, Progress
from app.media.readme import WRITER, by_patient, dicom_date, disc_text, person_name
from app.media.selection import Series, Study
from app.resources import resource

FOLDER = "IHE_PDI"
INDEX = "INDEX.HTM"
PREVIEW_SIZE = 512
SHOWN_WIDTH = 256


@dataclass
class Names:
    """The disc's folder names of a study and of its series (shared with the
    DICOM tree, so a page and its images are easy to match)."""

    study: dict[str, str]
    series: dict[tuple[str, str], str]


def _template(name: str) -> Template:
    return Template(resource("media", name).read_text(encoding="utf-8"))


def _e(text: object) -> str:
    return escape(str(text or ""), quote=True)


def preview(source: Path, target: Path) -> Optional[tuple[int, int]]:
    """A JPEG of *source* at *target*; its (width, height), or None when the
    object has no image or its pixels cannot be decoded here."""
    from PIL import Image

    try:
        pixels = render_preview(source, PREVIEW_SIZE)
    except StudyDeskError:
        return None
    if pixels is None:
        return None
    image = Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB")
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, "JPEG", quality=88)
    return image.width, image.height


def _representative(series: Series):
    """The middle instance (instances are in InstanceNumber order)."""
    return series.instances[len(series.instances) // 2] if series.instances else None


def _series_html(study_name: str, series_name: str, series: Series, shown: Optional[tuple[int, int]]) -> str:
    count = len(series.instances)
    caption = (f"<p><strong>{_e(series.modality or '-')} {_e(series.series_number or '')}</strong> "
               f"{_e(series.series_description)}</p>\n<p>{count} object{'s' if count != 1 else ''}</p>")
    if shown is None:
        picture = '<p class="note">(no preview: this series holds no image a browser can show)</p>'
    else:
        width, height = shown
        scale = SHOWN_WIDTH / width
        picture = (f'<a href="{study_name}/{series_name}.JPG"><img src="{study_name}/{series_name}.JPG" '
                   f'alt="{_e(series.modality)} series {_e(series.series_number or "")}" '
                   f'width="{round(width * scale)}" height="{round(height * scale)}" /></a>')
    return f'<div class="series">\n{picture}\n{caption}\n</div>'


def _study_page(root: Path, study: Study, names: Names, progress: Progress, cancel: CancelToken,
                done: list[int], total: int) -> None:
    study_name = names.study[study.study_instance_uid]
    blocks = []
    for series in study.series:
        cancel.check()
        series_name = names.series[(study.study_instance_uid, series.series_instance_uid)]
        instance = _representative(series)
        target = root / FOLDER / study_name / f"{series_name}.JPG"
        shown = preview(instance.source, target) if instance else None
        blocks.append(_series_html(study_name, series_name, series, shown))
        done[0] += 1
        progress(done[0] / total, f"Preview {done[0]} of {total}")
    p = study.patient
    referrer = person_name(study.referring_physician_name) if study.referring_physician_name else "-"
    facts = "<table>\n" + "".join(f"<tr><th>{name}</th><td>{_e(value)}</td></tr>\n" for name, value in (
        ("Patient", person_name(p.patient_name)), ("Patient ID", p.patient_id),
        ("Birth date", dicom_date(p.patient_birth_date)), ("Study date", dicom_date(study.study_date)),
        ("Accession", study.accession_number or "-"), ("Referring physician", referrer))) + "</table>"
    title = f"{dicom_date(study.study_date)} {study.study_description or 'Study'}"
    page = _template("STUDY.HTM").substitute(title=_e(title), facts=facts, series="\n".join(blocks))
    (root / FOLDER / f"{study_name}.HTM").write_text(page, encoding="utf-8")


def _index_html(studies: list[Study], names: Names) -> str:
    parts = []
    for patient, of_patient in by_patient(studies):
        parts.append(f"<h2>{_e(person_name(patient.patient_name))}</h2>\n"
                     f'<p>Patient ID {_e(patient.patient_id or "-")}, '
                     f"born {_e(dicom_date(patient.patient_birth_date))}, "
                     f'sex {_e(patient.patient_sex or "-")}</p>')
        rows = ["<table>", "<tr><th>Date</th><th>Study</th><th>Accession</th><th>Modalities</th>"
                "<th>Series</th><th>Objects</th></tr>"]
        for study in of_patient:
            link = f"{FOLDER}/{names.study[study.study_instance_uid]}.HTM"
            rows.append(
                f"<tr><td>{_e(dicom_date(study.study_date))}</td>"
                f'<td><a href="{link}">{_e(study.study_description or "(no description)")}</a></td>'
                f"<td>{_e(study.accession_number or '-')}</td><td>{_e(', '.join(study.modalities))}</td>"
                f"<td>{len(study.series)}</td><td>{study.instance_count}</td></tr>")
        rows.append("</table>")
        parts.append("\n".join(rows))
    return "\n".join(parts)


def write(root: Path, studies: list[Study], names: Names, *, number: int, total: int,
          when: datetime, progress: Progress, cancel: CancelToken) -> None:
    """INDEX.HTM, IHE_PDI/STYLE.CSS, a page per study, a preview per series."""
    (root / FOLDER).mkdir(exist_ok=True)
    (root / FOLDER / "STYLE.CSS").write_bytes(resource("media", "STYLE.CSS").read_bytes())
    series_total = sum(len(s.series) for s in studies) or 1
    done = [0]
    for study in studies:
        _study_page(root, study, names, progress, cancel, done, series_total)
    disc = "" if total == 1 else f"Disc {disc_text(number, total)}."
    page = _template(INDEX).substitute(
        title="Medical images on this disc", writer=WRITER, version=__version__,
        date=when.strftime("%Y-%m-%d %H:%M"), disc=_e(disc), patients=_index_html(studies, names))
    (root / INDEX).write_text(page, encoding="utf-8")
