"""README.TXT of a disc, and the few text helpers the disc's pages share."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from string import Template

from app import __version__
from app.media.selection import Study
from app.resources import resource

WRITER = "StudyDesk"
NAME = "README.TXT"


def person_name(pn: str) -> str:
    """``DOE^JOHN^Q`` as ``DOE, JOHN Q`` (the alphabetic group only)."""
    parts = [p.strip() for p in pn.split("=")[0].split("^")]
    family = parts[0] if parts else ""
    rest = " ".join(p for p in parts[1:4] if p)
    if family and rest:
        return f"{family}, {rest}"
    return family or rest or "(no name)"


def dicom_date(da: str) -> str:
    if len(da) == 8 and da.isdigit():
        return f"{da[:4]}-{da[4:6]}-{da[6:]}"
    return da or "-"


def disc_text(number: int, total: int) -> str:
    if total == 1:
        return "1 of 1"
    return f"{number} of {total} (the selection continues on the other discs of the set)"


def _study_line(study: Study, whole: int) -> str:
    part = "" if study.instance_count >= whole else f" (part: {study.instance_count} of {whole} objects)"
    return (f"    {dicom_date(study.study_date)}  {study.study_description or '(no description)'}"
            f"  accession {study.accession_number or '-'}  {'/'.join(study.modalities) or '-'}\r\n"
            f"      {len(study.series)} series, {study.instance_count} objects{part}\r\n")


def contents(studies: list[Study], whole: dict[str, int]) -> str:
    """The patients with their studies, patient by patient."""
    lines = []
    for patient, of_patient in by_patient(studies):
        lines.append(f"{person_name(patient.patient_name)}  ID {patient.patient_id or '-'}"
                     f"  born {dicom_date(patient.patient_birth_date)}  sex {patient.patient_sex or '-'}\r\n")
        for study in of_patient:
            lines.append(_study_line(study, whole.get(study.study_instance_uid, study.instance_count)))
    return "".join(lines).rstrip("\r\n")


def by_patient(studies: list[Study]):
    """[(patient, [studies])] in the order patients first appear, one group
    per Patient ID (a DICOMDIR holds each Patient ID once, PS3.11 D.3.3)."""
    groups: dict[str, tuple] = {}
    for study in studies:
        groups.setdefault(study.patient.patient_id, (study.patient, []))[1].append(study)
    return list(groups.values())


def write(root: Path, studies: list[Study], whole: dict[str, int], *, volume: str,
          number: int, total: int, web: bool, when: datetime) -> None:
    template = Template(resource("media", NAME).read_text(encoding="utf-8"))
    text = template.substitute(
        writer=WRITER, version=__version__, date=when.strftime("%Y-%m-%d %H:%M"),
        disc=disc_text(number, total), volume=volume,
        content="DICOM PLUS WEB" if web else "DICOM ONLY",
        contents=contents(studies, whole))
    # CR LF: read the same in every system's plain text viewer
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    (root / NAME).write_text(text, encoding="utf-8", newline="")
