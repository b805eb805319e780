"""The demo's patients and studies, and the files that hold them.

:func:`catalogue` decides everything (see the package docstring for the
cases) and returns the files to write as (relative path, builder) pairs; a
builder makes the dataset only when called, so writing can be cancelled and
counted file by file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Callable

from pydicom.dataset import Dataset

from app.demo import images, rt
from app.demo.model import (AXIAL, CT_SCANNER, MR_SCANNER, SAGITTAL, Patient, RtCase,
                            RtPlan, Series, Stack, Study, Uids)

Item = tuple[PurePosixPath, Callable[[], Dataset]]

PEOPLE = (
    Patient("PID1001", "Lindqvist^Maja", "F", "19580312", "+46 31 555 0142"),
    Patient("PID1002", "Okafor^Daniel", "M", "19710904", "+44 20 7946 0321"),
    Patient("PID1003", "Haddad^Samir", "M", "19650127", "+33 155501234", "VIP"),
    Patient("PID1004", "Nakamura^Yuki", "F", "19880619", "+81 3 5550 1987",
            "Restricted: staff member"),
    Patient("PID1005", "Fischer^Thomas", "M", "19490223", "+49 30 5550 2214"),
    Patient("PID1006", "Lefèvre^Amélie", "F", "19930711", "+33 455507720"),
)
MORE_PEOPLE = (("Silva", "Rafael", "M"), ("Kowalski", "Anna", "F"),
               ("Brennan", "Patrick", "M"), ("Ivanova", "Elena", "F"),
               ("Osei", "Kwame", "M"), ("Romano", "Giulia", "F"),
               ("Jensen", "Mikkel", "M"), ("Haas", "Lena", "F"))
REFERRING = ("Patel^Anita^^Dr.", "Mueller^Jonas^^Dr.", "Okonkwo^Grace^^Dr.",
             "Svensson^Karl^^Dr.")
ONCOLOGIST = "Lindgren^Erik^^Dr."

HEAD_STACK = Stack((0.0, 0.0, 4.0), *AXIAL, fov=240.0, count=18, step=6.0)
PLANNING_STACK = Stack((0.0, 0.0, -10.0), *AXIAL, fov=260.0, count=30, step=3.0)
BRAIN_AXIAL = Stack((0.0, 0.0, 10.0), *AXIAL, fov=240.0, count=16, step=6.0)
BRAIN_SAGITTAL = Stack((0.0, 0.0, 0.0), *SAGITTAL, fov=240.0, count=12, step=5.0)
BODY_STACK = Stack((0.0, 0.0, 0.0), *AXIAL, fov=380.0, count=16, step=8.0)


@dataclass
class Builder:
    uids: Uids
    items: list[Item]

    def study(self, patient: Patient, key: str, accession: str, date: str,
              time: str, description: str, referring: str, **extra) -> Study:
        return Study(patient, self.uids("study", key), accession, date, time,
                     f"S{key}", description, referring, **extra)

    def series(self, study: Study, key: str, number: int, description: str,
               technique: str, stack: Stack, phantom: str = "head", **extra) -> Series:
        """An image series of the study's one acquisition (frame of reference)."""
        modality = "CT" if technique.startswith("ct") else "MR"
        s = Series(study, self.uids("series", study.uid, key), number, description,
                   modality, phantom.upper(), phantom, stack,
                   self.uids("frame", study.uid),
                   CT_SCANNER if modality == "CT" else MR_SCANNER, technique, **extra)
        self.add_images(s)
        return s

    def add_images(self, series: Series) -> None:
        """Queue every slice of the series, in its study's folder."""
        folder = _folder(series.study) / f"{series.number:03d}_{series.modality}"
        for index in range(series.stack.count):
            self.items.append((folder / f"{index + 1:04d}.dcm",
                               lambda s=series, i=index: images.image(s, i)))

    def add(self, study: Study, name: str, make: Callable[[], Dataset]) -> None:
        self.items.append((_folder(study) / name, make))


def _folder(study: Study) -> PurePosixPath:
    return PurePosixPath(study.patient.patient_id) / f"{study.date}_{study.study_id}"


# --- study templates ---------------------------------------------------------

def head_ct(b: Builder, study: Study) -> None:
    b.series(study, "head-soft", 2, "Head soft tissue 6mm", "ct_brain", HEAD_STACK)
    b.series(study, "head-bone", 3, "Head bone 6mm", "ct_bone", HEAD_STACK)


def mr_brain(b: Builder, study: Study, sagittal_in: Study | None = None) -> None:
    b.series(study, "t1-ax", 1, "T1 SE axial", "mr_t1", BRAIN_AXIAL)
    b.series(study, "t2-ax", 2, "T2 TSE axial", "mr_t2", BRAIN_AXIAL)
    b.series(sagittal_in or study, "t1-sag", 3, "T1 SE sagittal", "mr_t1", BRAIN_SAGITTAL)


def chest_ct(b: Builder, study: Study) -> None:
    b.series(study, "mediastinum", 2, "Chest mediastinum 8mm", "ct_mediastinum",
             BODY_STACK, phantom="chest", patient_position="FFS")
    b.series(study, "lung", 3, "Chest lung 8mm", "ct_lung", BODY_STACK,
             phantom="chest", patient_position="FFS")


TEMPLATES = (
    ("CT Head w/o contrast", head_ct),
    ("MR Brain w/o contrast", mr_brain),
    ("CT Chest w/o contrast", chest_ct),
)


# --- the patients ------------------------------------------------------------

def rt_patient(b: Builder, patient: Patient) -> None:
    """Case 3: planning CT, structure set, two plans, a dose per plan."""
    study = b.study(patient, "1011", "ACC10011", "20240415", "091200",
                    "CT RT Planning Brain", ONCOLOGIST)
    ct = b.series(study, "planning-ct", 1, "RT Planning CT 3mm", "ct_planning",
                  PLANNING_STACK)
    plans = tuple(
        RtPlan(label, name, dose_gy, fractions, approved,
               b.uids("plan", study.uid, n), b.uids("plan-series", study.uid, n),
               b.uids("dose", study.uid, n), b.uids("dose-series", study.uid, n),
               3 + 2 * n, reviewer=ONCOLOGIST if approved else None)
        for n, (label, name, dose_gy, fractions, approved) in enumerate((
            ("Plan A 60Gy", "Brain 3F 60Gy", 60.0, 30, True),
            ("Plan B 66Gy", "Brain 3F 66Gy", 66.0, 33, False))))
    case = RtCase(ct, b.uids("struct", study.uid), b.uids("struct-series", study.uid),
                  plans)
    b.add(study, "002_RTSTRUCT/0001.dcm", lambda: rt.structure_set(case))
    for p in plans:
        b.add(study, f"{p.number:03d}_RTPLAN/0001.dcm", lambda p=p: rt.plan(case, p))
        b.add(study, f"{p.number + 1:03d}_RTDOSE/0001.dcm", lambda p=p: rt.dose(case, p))


def two_ids_patient(b: Builder, patient: Patient) -> None:
    """Case 4 (PID1002 and PID1002-B) and case 6 (ACC10021 split in two)."""
    first = b.study(patient, "4471", "ACC10021", "20230918", "141500",
                    "MR Brain w/o contrast", REFERRING[0])
    restarted = b.study(patient, "4472", "ACC10021", "20230918", "143420",
                        "MR Brain w/o contrast", REFERRING[0])
    mr_brain(b, first, sagittal_in=restarted)
    old = replace(patient, patient_id="PID1002-B", phone="", confidentiality="")
    head = b.study(old, "2290", "ACC10022", "20190611", "221000",
                   "CT Head w/o contrast", REFERRING[1],
                   institution="Riverside Clinic")
    head_ct(b, head)


def misfiled_patient(b: Builder, patient: Patient) -> None:
    """Case 5: an abdomen series (ACC10032's exam) filed under chest ACC10031."""
    chest = b.study(patient, "3105", "ACC10031", "20230314", "103000",
                    "CT Chest w/o contrast", REFERRING[2])
    abdomen = b.study(patient, "3162", "ACC10032", "20230321", "084500",
                      "CT Abdomen w/ contrast", REFERRING[2])
    chest_ct(b, chest)
    b.series(abdomen, "native", 2, "Abdomen native 8mm", "ct_abdomen", BODY_STACK,
             phantom="abdomen", patient_position="FFS")
    # Acquired in the abdomen exam (its date, frame of reference, anatomy),
    # but sent with the chest study's UID and attributes.
    portal = Series(chest, b.uids("series", abdomen.uid, "portal"), 4,
                    "Abdomen portal venous 8mm", "CT", "ABDOMEN", "abdomen",
                    BODY_STACK, b.uids("frame", abdomen.uid), CT_SCANNER, "ct_portal",
                    date=abdomen.date, time="085210", patient_position="FFS")
    b.add_images(portal)


def regular_patient(b: Builder, patient: Patient, n: int) -> None:
    """Patients 4 and up: one or two ordinary studies each."""
    description, template = TEMPLATES[(n - 4) % len(TEMPLATES)]
    year = 2020 + n % 5
    study = b.study(patient, f"9{n:03d}1", f"ACC{10000 + 10 * n + 1}",
                    f"{year}{1 + n % 12:02d}{3 + 2 * n % 25:02d}", "110500",
                    description, REFERRING[n % len(REFERRING)])
    template(b, study)
    if n == 5:
        description, template = TEMPLATES[2]
        study = b.study(patient, f"9{n:03d}2", f"ACC{10000 + 10 * n + 2}", "20240110",
                        "160000", description, REFERRING[3])
        template(b, study)


def person(n: int) -> Patient:
    """Patient n (1-based): the named six, then more from a pool."""
    if n <= len(PEOPLE):
        return PEOPLE[n - 1]
    family, given, sex = MORE_PEOPLE[(n - 7) % len(MORE_PEOPLE)]
    return Patient(f"PID{1000 + n}", f"{family}^{given}", sex,
                   f"19{40 + (7 * n) % 55:02d}{1 + n % 12:02d}{1 + (3 * n) % 28:02d}",
                   f"+1 555 01{n:02d}")


def catalogue(patients: int, uids: Uids) -> list[Item]:
    """Every file of the demo set, in writing order."""
    b = Builder(uids, [])
    specials = (rt_patient, two_ids_patient, misfiled_patient)
    for n in range(1, max(1, patients) + 1):
        if n <= len(specials):
            specials[n - 1](b, person(n))
        else:
            regular_patient(b, person(n), n)
    return b.items
