"""C-STORE of an instance imported with --link whose file name is not valid
UTF-8: the sender opens the very file the row names (DCMTK storescp)."""

from __future__ import annotations

import os
import sys

import pydicom
import pytest

from app.importing.importer import import_paths
from app.net import send
from tests.factories import ct_dataset, write, write_series
from tests.net.test_send import add_node, data_set_bytes, received

pytestmark = [pytest.mark.network,
              pytest.mark.skipif(sys.platform == "win32", reason="names are UTF-16 on Windows")]


def test_send_of_a_linked_file_with_a_non_utf8_name(home, admin, tmp_path, storescp):
    port, folder = storescp
    source = tmp_path / "in"
    write_series(source, count=1, patient_id="ODD1", study="odd")
    odd = write(ct_dataset(patient_id="ODD1", study="odd", number=2), source / os.fsdecode(b"\xff\xfe.dcm"))
    result = import_paths(home, [source], admin.name, mode="link")
    assert (result.imported, result.rejected) == (2, [])
    add_node(home, admin, "dcmtk", "STORESCP", port, purposes=["store"])
    sent = send.send_studies(home, admin, result.studies, "dcmtk")
    assert sent.sent == 2 and not sent.failed
    got = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID: p for p in received(folder)}
    sop = pydicom.dcmread(odd, stop_before_pixels=True).SOPInstanceUID
    assert data_set_bytes(got[sop]) == data_set_bytes(odd)
