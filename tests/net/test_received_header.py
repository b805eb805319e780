"""read_header_in_memory, the intake's header reading: for every file it
gives what read_header gives (the same header, or the same refusal), by a
direct scan of the elements where it can and through pydicom otherwise."""

from __future__ import annotations

import pytest

from app.dicom.reading import Unreadable, read_header, read_header_in_memory
from tests.factories import pydicom_test_files


def outcome(read, data) -> object:
    try:
        return read(data)
    except Unreadable as e:
        return f"refused: {e}"


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on the odd files it bundles
def test_the_header_read_from_memory_is_pydicoms_for_every_bundled_file():
    files = sorted(p for p in pydicom_test_files().rglob("*") if p.is_file())
    for path in files:
        data = path.read_bytes()
        assert outcome(read_header_in_memory, data) == outcome(read_header, data), path.name
        assert outcome(read_header_in_memory, memoryview(data)) == outcome(read_header, data), path.name
        assert outcome(read_header, path) == outcome(read_header, data), path.name


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm", "rtplan.dcm",
                                  "reportsi.dcm", "SC_rgb_rle.dcm"])
def test_a_file_cut_anywhere_reads_as_pydicom_reads_it(name):
    data = (pydicom_test_files() / name).read_bytes()
    for cut in sorted({*range(0, 400, 7), *range(0, len(data), max(1, len(data) // 97)), len(data) - 1}):
        part = data[:cut]
        assert outcome(read_header_in_memory, part) == outcome(read_header, part), (name, cut)
