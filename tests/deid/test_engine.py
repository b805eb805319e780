"""The engine over every file of pydicom's bundled test files that pydicom
reads: each attribute of Table E.1-1 treated per its action (at every depth),
no private attribute without the option, pixel data byte-identical, the same
output for the same secret, and the required attributes added."""

from __future__ import annotations

import copy
import io
import warnings

import pydicom
import pytest
from pydicom.dataset import Dataset

from app.deid import Deidentifier, Profile, iod
from app.deid.table import CURVE, OVERLAY_COMMENTS, OVERLAY_DATA
from tests.deid.conftest import readable_test_files

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # invalid values in pydicom's files
PIXELS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020


def _read(path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path, force=path.name == "rtstruct.dcm")


def _write(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        complete = "SOPClassUID" in ds and "SOPInstanceUID" in ds
        pydicom.dcmwrite(buffer, ds, enforce_file_format=complete)
    return buffer.getvalue()


def _key(tag: int):
    group, element = tag >> 16, tag & 0xFFFF
    if group & 0xFF00 == 0x5000:
        return CURVE
    if group & 0xFF00 == 0x6000 and element in (0x3000, 0x4000):
        return OVERLAY_DATA if element == 0x3000 else OVERLAY_COMMENTS
    return tag


def _values(elem) -> list:
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return list(value)
    return [value]


def check(before: Dataset, after: Dataset, d: Deidentifier, needles, sop_class: str,
          parent=None, problems=None, where="") -> list[str]:
    """Every element of *before* that the table lists, compared with *after*."""
    problems = [] if problems is None else problems
    for tag in before.keys():
        here = f"{where}({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if tag.is_private:
            if tag in after and not d.safe_private:
                problems.append(f"{here}: private attribute kept")
            continue
        action = d.profile.action(_key(tag))
        if action is None or (tag in PIXELS and parent is None):
            continue
        if "/" in action:
            action = iod.resolve(action, tag, sop_class, parent)
        old = before[tag]
        if tag in (PATIENT_NAME, PATIENT_ID) and parent is None and action != "K":
            if str(after.get(tag).value) != d.pseudonym(str(before.get("PatientID", "") or "")
                                                        or "NAME:" + str(before.get("PatientName", ""))):
                problems.append(f"{here}: not the patient's pseudonym")
            continue
        new = after.get(tag)
        if action == "X":
            if new is not None:
                problems.append(f"{here}: X but present")
        elif new is None:
            problems.append(f"{here}: {action} but removed")
        elif action == "Z":
            if _values(new) and not (old.VR == "SQ" and len(new.value) == 0):
                problems.append(f"{here}: Z but {new.value!r}")
        elif action == "D" and old.VR != "SQ":
            if not _values(new):
                problems.append(f"{here}: D but empty")
            elif old.VR == "UI" and [str(v) for v in _values(new)] != [d.uid(v) for v in _values(old)]:
                problems.append(f"{here}: D on a UID but not through the map")
        elif action == "U" and old.VR == "UI":
            if [str(v) for v in _values(new)] != [d.uid(str(v)) for v in _values(old)]:
                problems.append(f"{here}: U but not through the map")
        elif action in ("K", "C") and old.VR not in ("SQ", "DA", "DT") and not d.retain_uids:
            if old.VR != "UI" and new.value != old.value and not needles.found_in(str(old.value)):
                problems.append(f"{here}: {action} but changed")
        if old.VR == "SQ" and action != "X" and new is not None and len(new.value):
            if len(new.value) != len(old.value):
                problems.append(f"{here}: items lost")
                continue
            for n, (a, b) in enumerate(zip(old.value, new.value)):
                check(a, b, d, needles, sop_class, tag, problems, f"{here}[{n}]")
    return problems


def _private_tags(ds: Dataset) -> list[int]:
    found = []
    for elem in ds.iterall():
        if elem.tag.is_private:
            found.append(elem.tag)
    return found


def _pixel_bytes(ds: Dataset):
    for tag in PIXELS:
        if tag in ds:
            return bytes(ds.get_item(tag).value or b"")
    return None


@pytest.mark.parametrize("options", [[], ["retain-long-modified-dates", "clean-descriptors"],
                                     ["retain-uids", "retain-device-id", "retain-patient-chars",
                                      "retain-long-full-dates", "clean-struct-content",
                                      "clean-graphics"]], ids=["basic", "modified-dates", "retain-all"])
def test_every_table_attribute_is_treated_per_its_action(test_files, options):
    d = Deidentifier(Profile(options), secret=b"fixed secret")
    failures = {}
    for path in test_files:
        before = _read(path)
        after = copy.deepcopy(before)
        needles = d.needles(after)
        d.apply(after, needles, label=path.name)
        _write(after)  # every output can be written
        problems = check(before, after, d, needles, str(before.get("SOPClassUID", "")))
        if problems:
            failures[path.name] = problems[:5]
    assert not failures
    assert d.report.instances == len(test_files)


def test_no_private_attribute_survives_without_the_option(test_files):
    d = Deidentifier(Profile([]))
    had_private = 0
    for path in test_files:
        ds = _read(path)
        had_private += bool(_private_tags(ds))
        d.apply(ds)
        assert not _private_tags(pydicom.dcmread(io.BytesIO(_write(ds)), force=True)), path.name
    assert had_private >= 10  # the corpus does exercise private tags


def test_pixel_data_is_byte_identical(test_files):
    d = Deidentifier(Profile([]))
    compared = 0
    for path in test_files:
        before = _pixel_bytes(_read(path))
        if before is None:
            continue
        ds = _read(path)
        d.apply(ds)
        written = pydicom.dcmread(io.BytesIO(_write(ds)), force=True)
        assert _pixel_bytes(written) == before, path.name
        compared += 1
    assert compared > 80


def test_the_same_secret_gives_the_same_bytes_and_no_secret_a_new_map(test_files):
    sample = [p for p in test_files if p.name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm",
                                                   "693_J2KI.dcm", "SC_rgb_gdcm_KY.dcm")]
    assert len(sample) == 5
    for path in sample:
        outputs = []
        for secret in (b"project secret", b"project secret", None):
            ds = _read(path)
            Deidentifier(Profile(["retain-long-modified-dates"]), secret=secret).apply(ds)
            outputs.append(_write(ds))
        assert outputs[0] == outputs[1], path.name
        assert outputs[0] != outputs[2], path.name


def test_required_attributes_are_added():
    ds = _read(readable_test_files()[0].parent / "CT_small.dcm")
    d = Deidentifier(Profile(["retain-long-modified-dates", "clean-descriptors"]))
    d.apply(ds)
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [(i.CodeValue, i.CodingSchemeDesignator) for i in ds.DeidentificationMethodCodeSequence]
    assert codes == [("113100", "DCM"), ("113107", "DCM"), ("113105", "DCM")]
    assert all(len(v) <= 64 for v in ds.DeidentificationMethod)
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.preamble == b"\x00" * 128


def test_one_pseudonym_and_one_date_offset_per_patient():
    from tests.factories import ct_dataset

    d = Deidentifier(Profile(["retain-long-modified-dates"]))
    a1 = ct_dataset("P1", "DOE^JOHN", study="a", study_date="20240115")
    a2 = ct_dataset("P1", "DOE^JOHN", study="b", study_date="20240125")
    b1 = ct_dataset("P2", "ROE^JANE", study="c", study_date="20240115")
    for ds in (a1, a2, b1):
        d.apply(ds)
    assert a1.PatientID == a2.PatientID == a1.PatientName != b1.PatientID
    from datetime import date

    def day(text):
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))

    assert (day(a2.StudyDate) - day(a1.StudyDate)).days == 10  # the interval holds
    assert a1.StudyDate != "20240115"
    assert d.report.to_json()["counts"]["patients"] == 2


def test_supplied_pseudonyms_and_offsets_are_used():
    from tests.factories import ct_dataset

    d = Deidentifier(Profile(["retain-long-modified-dates"]), secret=b"s",
                     pseudonyms={"P1": "SUBJ-001"}, date_offsets={"P1": -10})
    ds = ct_dataset("P1", study_date="20240115")
    d.apply(ds)
    assert ds.PatientID == "SUBJ-001" and ds.StudyDate == "20240105"


def test_retain_safe_private_keeps_only_the_safe_list():
    from tests.factories import ct_dataset

    ds = ct_dataset()
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x23, "DS", "27.5")        # Table Speed: on the safe list
    block.add_new(0x10, "LO", "DOE JOHN")    # not on it
    other = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    other.add_new(0x10, "OB", b"DOE^JOHN")
    d = Deidentifier(Profile(["retain-safe-private"]))
    d.apply(ds)
    kept = {int(t) for t in _private_tags(ds)}
    assert kept == {0x00190010, 0x00191023}
    assert d.report.private_kept == 1
    bare = ct_dataset()
    bare.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x23, "DS", "27.5")
    Deidentifier(Profile([])).apply(bare)
    assert not _private_tags(bare)


def test_identifiers_in_nested_sequences_and_unlisted_text_are_removed():
    from tests.factories import ct_dataset

    ds = ct_dataset("PID77", "SMITHSON^ANNA")
    item = Dataset()
    item.PatientID = "PID77"
    item.PatientName = "SMITHSON^ANNA"
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ds.ReferencedPatientSequence = [item]
    nested = Dataset()
    nested.CodeMeaning = "seen by SMITHSON"
    nested.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ds.ReferencedImageSequence = [nested]
    ds.Manufacturer = "SMITHSON scanners"   # not in the table: kept, cleaned
    d = Deidentifier(Profile([]))
    needles = d.needles(ds)
    original_uid = ds.SOPInstanceUID
    d.apply(ds, needles)
    data = _write(ds)
    assert b"SMITHSON" not in data.upper() and b"PID77" not in data
    assert needles.scan(data) == []
    assert ds.Manufacturer == "scanners"
    assert "ReferencedPatientSequence" not in ds
    assert ds.SOPInstanceUID == d.uid(original_uid)


def test_burned_in_risk_is_flagged():
    from tests.factories import ct_dataset

    d = Deidentifier(Profile([]))
    us = ct_dataset(modality="US")
    ct = ct_dataset()
    ct.BurnedInAnnotation = "YES"
    plain = ct_dataset(number=2)
    for n, ds in enumerate((us, ct, plain)):
        d.apply(ds, label=f"f{n}")
    assert [r["file"] for r in d.report.burned_in] == ["f0", "f1"]


def test_binary_and_free_text_leaks_are_removed():
    from tests.factories import ct_dataset

    ds = ct_dataset("P1", "WINTERBOTTOM^IRIS", birth_date="19700131")
    ds.ICCProfile = b"profile for WINTERBOTTOM "          # unlisted binary: removed
    ds.WindowCenterWidthExplanation = "born 31.01.1970"   # unlisted text: cleaned
    ds.RedPaletteColorLookupTableData = b"\x00\x01doe_"    # short values never match bytes
    d = Deidentifier(Profile([]))
    needles = d.needles(ds)
    d.apply(ds, needles)
    assert "ICCProfile" not in ds
    assert ds.WindowCenterWidthExplanation == "born"
    assert "RedPaletteColorLookupTableData" in ds
    assert needles.scan(_write(ds)) == []
