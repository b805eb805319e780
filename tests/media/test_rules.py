"""Unit rules: file IDs and ISO 9660 names, labels, media, spreading a
selection over discs (study, else series, else instance boundaries)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import BadInput, RuleRefused
from app.media import capacity, names
from app.media.records import record_type
from app.media.selection import Instance, Patient, Series, Study


def test_file_id_components():
    assert names.check_file_id(("DICOM", "PAT00001", "IM000001")) == ("DICOM", "PAT00001", "IM000001")
    for bad in (("dicom",), ("TOOLONGNAME",), ("A.B",), ("",), tuple("ABCDEFGHI")):
        with pytest.raises(BadInput):
            names.check_file_id(bad)
    assert names.numbered("IM", 7) == "IM000007" and len(names.numbered("PAT", 1)) == 8
    with pytest.raises(BadInput):
        names.numbered("SER", 100000)


def test_iso_level1_names_and_single_version_suffix():
    assert names.is_iso_level1_file("README.TXT") and names.is_iso_level1_file("DICOMDIR")
    assert not names.is_iso_level1_file("MANIFEST.SHA256") and not names.is_iso_level1_file("index.htm")
    assert names.iso_identifier("README.TXT", False) == "README.TXT;1"
    assert names.iso_identifier("DICOMDIR", False) == "DICOMDIR.;1"
    assert names.iso_identifier("IHE_PDI", True) == "IHE_PDI"


def test_volume_and_file_set_ids_from_the_label():
    assert names.volume_id("Dr. Müller") == "DR_M_LLER"
    assert names.volume_id("Referral for Dr. Müller") == "REFERRAL_FOR_DR"  # 16 at most, no trailing _
    assert names.volume_id("") == names.volume_id("  ") == names.volume_id("?!") == "STUDYDESK"
    assert names.volume_id("x" * 40) == "X" * 16
    assert names.volume_id("Referral for hospital B", 2, 3) == "REFERRAL_FO_2OF3"
    assert len(names.volume_id("Referral for hospital B", 2, 3)) <= 16
    assert names.file_set_id("a very long label indeed") == "A_VERY_LONG_LABE"
    assert names.volume_id("set", 10, 12) == "SET_10OF12"


def test_record_types_by_sop_class():
    assert record_type("1.2.840.10008.5.1.4.1.1.2") == "IMAGE"
    assert record_type("1.2.840.10008.5.1.4.1.1.481.3") == "RT STRUCTURE SET"
    assert record_type("1.2.840.10008.5.1.4.1.1.481.2") == "RT DOSE"
    assert record_type("1.2.840.10008.5.1.4.1.1.481.5") == "RT PLAN"
    assert record_type("1.2.840.10008.5.1.4.1.1.88.22") == "SR DOCUMENT"
    assert record_type("1.2.840.10008.5.1.4.1.1.88.59") == "KEY OBJECT DOC"
    assert record_type("1.2.840.10008.5.1.4.1.1.11.1") == "PRESENTATION"
    assert record_type("1.2.840.10008.5.1.4.1.1.9.1.1") == "WAVEFORM"
    assert record_type("1.2.840.10008.5.1.4.1.1.104.1") == "ENCAP DOC"
    assert record_type("1.2.840.10008.5.1.4.1.1.66.4") == "IMAGE"   # segmentation
    assert record_type("1.2.840.10008.5.1.4.1.1.4.1") == "IMAGE"    # enhanced MR
    assert record_type("1.2.840.10008.5.1.4.1.1.481.14", "RTRAD") == "RADIOTHERAPY"


def test_media_capacities():
    assert capacity.medium("CD").capacity == 737_280_000
    assert capacity.medium("dvd").capacity == 4_700_372_992
    assert capacity.MEDIA["dvd-dl"].capacity == 8_547_991_552
    assert capacity.MEDIA["bd"].capacity == 25_025_314_816
    with pytest.raises(BadInput):
        capacity.medium("floppy")


MB = 1_000_000


def _study(name: str, *series_sizes: list[int]) -> Study:
    root = f"1.2.{ord(name)}"
    study = Study(root, Patient(name))
    for s, sizes in enumerate(series_sizes, 1):
        series = Series(f"{root}.{s}", "CT", s)
        series.instances = [Instance(f"{root}.{s}.{i}", "1.2.840.10008.5.1.4.1.1.2", "", i, size,
                                     Path("/nowhere")) for i, size in enumerate(sizes, 1)]
        study.series.append(series)
    return study


def _content(discs) -> list[list[tuple[str, list[str]]]]:
    """Per disc: (patient, ['series number:objects'...]) of each study."""
    return [[(s.patient.patient_id, [f"{se.series_number}:{len(se.instances)}" for se in s.series])
             for s in disc] for disc in discs]


def test_everything_fits_on_one_disc():
    studies = [_study("A", [MB] * 3), _study("B", [MB] * 2)]
    assert capacity.plan(studies, None) == [studies]
    assert capacity.plan(studies, capacity.MEDIA["cd"].capacity) == [studies]


def test_spread_at_study_boundaries_in_the_order_chosen():
    studies = [_study("A", [MB] * 4), _study("B", [MB] * 4), _study("C", [MB] * 4)]
    discs = capacity.plan(studies, 10 * MB)
    assert _content(discs) == [[("A", ["1:4"]), ("B", ["1:4"])], [("C", ["1:4"])]]


def test_a_study_larger_than_a_disc_splits_at_series():
    studies = [_study("A", [MB] * 5, [MB] * 5, [MB] * 5)]
    discs = capacity.plan(studies, 13 * MB)
    assert _content(discs) == [[("A", ["1:5", "2:5"])], [("A", ["3:5"])]]
    for disc in discs:  # every part is sized with its own overhead
        assert capacity.estimate(disc) <= 13 * MB


def test_a_series_larger_than_a_disc_splits_between_instances():
    studies = [_study("A", [MB] * 20)]
    discs = capacity.plan(studies, 8 * MB)
    counts = [len(d[0].series[0].instances) for d in discs]
    assert counts == [6, 6, 6, 2]
    assert all(capacity.estimate(d) <= 8 * MB for d in discs)
    numbers = [i.instance_number for d in discs for i in d[0].series[0].instances]
    assert numbers == list(range(1, 21))


def test_an_object_larger_than_a_disc_is_refused():
    with pytest.raises(RuleRefused, match="does not fit"):
        capacity.plan([_study("A", [20 * MB])], 8 * MB)


@pytest.mark.parametrize("number", [7, 12345, -3])
def test_fast_image_records_equal_what_pydicom_writes(number):
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    from app.media.records import image_record, leaf_node, leaf_record

    study = _study("A", [MB])
    series = study.series[0]
    instance = series.instances[0]
    instance.instance_number = number
    instance.transfer_syntax_uid = "1.2.840.10008.1.2.4.50"  # an odd length: padded
    file_id = ("DICOM", "PAT00001", "STU00001", "SER00001", "IM000001")
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, leaf_record(instance, series, study, 1, file_id, lambda: None))
    fast = image_record(file_id, instance.sop_class_uid, instance.sop_instance_uid,
                        instance.transfer_syntax_uid, number)
    assert fast == fp.getvalue()
    node = leaf_node(instance, series, study, 1, file_id, lambda: None)
    assert node.encoded == fast and node.kind == "IMAGE"
