"""A study's measurements, read back from its reports in the cache.

The cache's rows are the index: a study's candidate reports are its
instances of an SR class that can hold a TID 1500 report (Comprehensive,
Enhanced, Comprehensive 3D); the file of each says whether it is an Imaging
Measurement Report (its root concept) and holds the measurements. No table
of its own: a report that arrives by import, retrieve or C-STORE counts the
moment its row exists, and one that a change moves, renews or deletes
follows its row, with nothing else to keep in step.

A study holding at least one measurement report is an Advanced Reporting
study (the Synapse rule, shared/CLI.md).
"""

from __future__ import annotations

import warnings
from typing import Optional

import pydicom

from app import store
from app.accounts.audit_anchor import home_root
from app.home import Home
from app.measurements.codes import REPORT_CLASSES
from app.measurements.sr_read import Found, is_measurement_report, read_measurements

_ROOT_TAGS = ["SOPClassUID", "SOPInstanceUID", "ValueType", "ConceptNameCodeSequence"]


def _candidates(db, study_uid: str) -> list[tuple[str, str, str, Optional[int]]]:
    marks = ",".join("?" * len(REPORT_CLASSES))
    return db.execute(
        "SELECT i.sop_instance_uid, i.series_instance_uid, i.path, i.instance_number"
        " FROM instances i JOIN series s ON s.series_instance_uid = i.series_instance_uid"
        f" WHERE s.study_instance_uid = ? AND i.sop_class_uid IN ({marks})"
        " ORDER BY s.series_number, i.instance_number, i.sop_instance_uid",
        [study_uid, *REPORT_CLASSES]).fetchall()


def _read(root, path: str, whole: bool):
    """The report's data set (only its root's concept unless *whole*); None
    when the file cannot be read (a missing or damaged file is not a report
    to anyone)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(store.absolute(Home(root), path),
                                   specific_tags=None if whole else _ROOT_TAGS)
    except Exception:  # noqa: BLE001 - unreadable: not counted
        return None


def reports_of(db, study_uid: str) -> list[dict]:
    """The study's measurement reports: ``report_uid``, ``series_uid``,
    ``instance_number``, ``path`` (as stored)."""
    root = home_root(db)
    out = []
    for sop_uid, series_uid, path, number in _candidates(db, study_uid):
        ds = _read(root, path, whole=False)
        if ds is not None and is_measurement_report(ds):
            out.append({"report_uid": sop_uid, "series_instance_uid": series_uid,
                        "instance_number": number, "path": path})
    return out


def is_advanced_reporting(db, study_uid: str) -> bool:
    """Does the study hold at least one measurement report?"""
    root = home_root(db)
    for _, _, path, _ in _candidates(db, study_uid):
        ds = _read(root, path, whole=False)
        if ds is not None and is_measurement_report(ds):
            return True
    return False


def advanced_reporting_studies(db, study_uids) -> set[str]:
    """Which of *study_uids* hold a measurement report (one query for their
    candidate reports, then only those files read; for a list of studies,
    e.g. the rows of the worklist on screen)."""
    uids = list(dict.fromkeys(study_uids))
    if not uids:
        return set()
    root = home_root(db)
    marks = ",".join("?" * len(REPORT_CLASSES))
    found: set[str] = set()
    for start in range(0, len(uids), 500):
        chunk = uids[start:start + 500]
        rows = db.execute(
            "SELECT s.study_instance_uid, i.path FROM instances i JOIN series s"
            " ON s.series_instance_uid = i.series_instance_uid"
            f" WHERE s.study_instance_uid IN ({','.join('?' * len(chunk))})"
            f" AND i.sop_class_uid IN ({marks})", [*chunk, *REPORT_CLASSES]).fetchall()
        for study_uid, path in rows:
            if study_uid not in found:
                ds = _read(root, path, whole=False)
                if ds is not None and is_measurement_report(ds):
                    found.add(study_uid)
    return found


def measurements_of(db, study_uid: str) -> list[Found]:
    """Every measurement of every report of the study, report by report."""
    root = home_root(db)
    out: list[Found] = []
    for report in reports_of(db, study_uid):
        ds = _read(root, report["path"], whole=True)
        if ds is not None:
            out.extend(read_measurements(ds))
    return out
