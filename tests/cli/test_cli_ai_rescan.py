"""The AI rescan after a reallocation is sent when the command ends, not left
for someone to open the Outbox: to a real storescp standing in for the AI
node it arrives and the entry is sent; to a node that is down the command
still succeeds (the change is done) and says on stderr, in one line naming
the study and the node, that the request stays in the outbox for a retry."""

from __future__ import annotations

import subprocess

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from tests.cli.test_cli import as_json, studydesk
from tests.factories import binary_frames, uid, write, write_series
from tests.net.conftest import _env, _need, stop, wait_for_port

SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def _ai_seg(folder, patient_id: str, study: str, series: str, count: int) -> None:
    """A SEG made by the algorithm 'NoduleNet' on the images of one series."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SEG
    ds.file_meta.MediaStorageSOPInstanceUID = uid("seg", patient_id, study, series)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = SEG, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.PatientName = patient_id, "DOE^JOHN"
    ds.StudyInstanceUID = uid(patient_id, study)
    ds.SeriesInstanceUID = uid("seg-series", patient_id, study, series)
    ds.Modality, ds.SeriesNumber, ds.SeriesDescription = "SEG", 80, "AI segmentation"
    binary_frames(ds)
    segment = Dataset()
    segment.SegmentNumber, segment.SegmentLabel = 1, "nodule"
    segment.SegmentAlgorithmType, segment.SegmentAlgorithmName = "AUTOMATIC", "NoduleNet"
    ds.SegmentSequence = [segment]
    ref_series = Dataset()
    ref_series.SeriesInstanceUID = uid(patient_id, study, series)
    ref_series.ReferencedInstanceSequence = []
    for n in range(1, count + 1):
        ref = Dataset()
        ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ref.ReferencedSOPInstanceUID = uid(patient_id, study, series, n)
        ref_series.ReferencedInstanceSequence.append(ref)
    ds.ReferencedSeriesSequence = [ref_series]
    write(ds, folder / "seg.dcm")


@pytest.fixture
def loaded(tmp_path):
    src = tmp_path / "src"
    write_series(src, 2, patient_id="P1", study="a", series="ok", accession="A1")
    write_series(src, 2, patient_id="P1", study="a", series="mis", accession="A1")
    write_series(src, 1, patient_id="P1", study="b", series="x", accession="A2",
                 description="CT ABDOMEN", study_date="20240120")
    _ai_seg(src, "P1", "a", "mis", 2)
    home = tmp_path / "h"
    assert studydesk(home, "import", str(src)).returncode == 0
    assert studydesk(home, "config", "set", "ai.algorithms", "NoduleNet").returncode == 0
    uids = {r["accession"]: r["study_uid"] for r in as_json(studydesk(home, "studies", "--json"))}
    return home, uids, uid("P1", "a", "mis")


def _outbox(home) -> list[dict]:
    return as_json(studydesk(home, "outbox", "list", "--json"))


def test_the_rescan_reaches_the_ai_node_when_the_command_ends(loaded, tmp_path, free_port):
    _need("storescp")
    home, uids, mis = loaded
    received = tmp_path / "aibox"
    received.mkdir()
    port = free_port()
    proc = subprocess.Popen(["storescp", "-aet", "AIBOX", "-od", str(received), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    try:
        wait_for_port(port, proc, "storescp")
        assert studydesk(home, "node", "add", "AIBOX", "--aet", "AIBOX", "--host", "127.0.0.1",
                         "--port", str(port), "--purpose", "ai").returncode == 0
        done = studydesk(home, "reallocate", mis, "--to", uids["A2"], "--json")
        assert done.returncode == 0, done.stderr
        assert "could not be sent" not in done.stderr
        (sent,) = as_json(done)["ai_rescan_sent"]
        assert sent["node"] == "AIBOX" and sent["sent"] is True
    finally:
        stop(proc)
    assert len(list(received.iterdir())) == 3          # the destination study: its 1 + 2 moved images
    (entry,) = _outbox(home)
    assert (entry["kind"], entry["state"]) == ("ai-rescan", "sent")


def test_a_node_that_is_down_is_told_on_stderr_and_the_entry_waits(loaded, free_port):
    home, uids, mis = loaded
    port = free_port()                                  # nothing listens there
    assert studydesk(home, "node", "add", "AIBOX", "--aet", "AIBOX", "--host", "127.0.0.1",
                     "--port", str(port), "--purpose", "ai").returncode == 0
    done = studydesk(home, "reallocate", mis, "--to", uids["A2"])
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "could not be sent" in line]
    assert len(lines) == 1
    assert "AIBOX" in lines[0] and "A2" in lines[0] and uids["A2"] in lines[0] and "Outbox" in lines[0]
    (entry,) = _outbox(home)
    assert (entry["kind"], entry["state"], entry["node"]) == ("ai-rescan", "failed", "AIBOX")
    assert entry["last_error"]
