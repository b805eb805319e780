"""A generated demo data set: CT, MR and radiotherapy objects with real pixels.

``generate_demo(folder, patients=6)`` writes DICOM Part 10 files (explicit VR
little endian) into ``folder/<PatientID>/<StudyDate>_<StudyID>/<NNN>_<Modality>/``.
Images are 256 x 256 slices of ellipsoid phantoms (a head, a chest, an
abdomen) in Hounsfield units for CT and as T1/T2-weighted signal for MR. The
content depends only on ``patients`` and ``seed``: two runs give identical
files, UIDs included (UIDs are name-based UUIDs under the 2.25 root).

The cases, and who carries them (patients=3 is the smallest set that holds
them all; fewer patients still give PID1001):

1. Patient records: names ``Family^Given``, sex, birth date,
   PatientTelephoneNumbers on everyone, IssuerOfPatientID ``HOSP``;
   ConfidentialityConstraintOnPatientDataDescription ``VIP`` on PID1003 and
   ``Restricted: staff member`` on PID1004. Every study has a unique
   AccessionNumber (ACC1xxxx), except the split exam of case 6.
2. CT and MR studies of several series with consistent geometry:
   CT head (soft tissue + bone kernel) on PID1002-B and PID1004; MR brain
   (T1 axial, T2 axial, T1 sagittal) on PID1002 and PID1005; CT chest
   (mediastinum + lung) on PID1003, PID1005 and PID1006; from patient 7 on,
   the three templates in turn.
3. Radiotherapy, PID1001 ``Lindqvist^Maja``, ACC10011 "CT RT Planning
   Brain": planning CT (series 1, 30 slices), RTSTRUCT (series 2; External,
   GTV, PTV, Brainstem), RTPLAN "Plan A 60Gy" (series 3, APPROVED, with
   reviewer) and its RTDOSE (series 4), RTPLAN "Plan B 66Gy" (series 5,
   UNAPPROVED) and its RTDOSE (series 6). One study, one frame of reference.
4. One person under two patient IDs: ``Okafor^Daniel``, M, 19710904, as
   PID1002 (MR brain, ACC10021) and PID1002-B (CT head 2019, ACC10022, at
   "Riverside Clinic") -> merge patients.
5. A misfiled series: PID1003 ``Haddad^Samir`` has CT chest ACC10031
   (2023-03-14) and CT abdomen ACC10032 (2023-03-21); series 4 "Abdomen
   portal venous 8mm" (abdomen anatomy, acquired 2023-03-21, the abdomen
   exam's frame of reference) is filed under the chest study ACC10031
   -> reallocate series.
6. One exam split in two studies: PID1002's MR brain ACC10021 of
   2023-09-18 has StudyID S4471 (T1 and T2 axial) and, after the scanner
   restarted, StudyID S4472 (T1 sagittal): same accession and date, two
   StudyInstanceUIDs -> merge studies.

Size: patients=6 gives 323 files, about 43 MB, written in about 3 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from app.demo.cases import catalogue
from app.demo.model import Uids
from app.demo.modules import write
from app.demo.phantoms import sample

__all__ = ["generate_demo"]


def generate_demo(folder: Path, patients: int = 6,
                  progress: Optional[Callable[[Optional[float], str], None]] = None,
                  cancel=None, *, seed: str = "studydesk-demo") -> list[Path]:
    """Write the demo set into ``folder``; return the written paths.

    ``progress(fraction, message)`` is called after every file;
    ``cancel.check()`` is called before every file and raises to stop (files
    already written stay, each one complete).
    """
    folder = Path(folder)
    items = catalogue(patients, Uids(seed))
    written: list[Path] = []
    try:
        for number, (relative, make) in enumerate(items, 1):
            if cancel is not None:
                cancel.check()
            path = folder.joinpath(*relative.parts)
            write(make(), path)
            written.append(path)
            if progress is not None:
                progress(number / len(items), f"Demo file {number} of {len(items)}")
    finally:
        sample.cache_clear()  # the label images are only shared within one run
    return written
