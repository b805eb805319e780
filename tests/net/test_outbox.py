"""The outbox from the command line against a real Orthanc: IOCM corrections
made on studies retrieved from it go back to it, a node that is down leaves
the entries failed with the reason and a retry sends them, held entries (a
study from files) get a node, discarded entries stay unsent and come back.

Each test has a patient of its own in the session's Orthanc, so what one
test sends never changes what another finds there."""

from __future__ import annotations

import json

import pytest

from app.changes.iocm import KOS_SOP_CLASS
from tests.factories import uid, write_series
from tests.net.conftest import OUR_AET
from tests.net.test_cli_net import js, sd

pytestmark = pytest.mark.network


def two_studies(folder, patient: str) -> dict:
    """Study A with a series filed there by mistake ("mis"), study B where it belongs."""
    common = dict(patient_id=patient, patient_name="OUTBOX^OLGA")
    write_series(folder, 2, study="a", series="ax", accession="OUTA", **common)
    write_series(folder, 3, study="a", series="mis", accession="OUTA", **common)
    write_series(folder, 1, study="b", series="x", accession="OUTB", description="CT ABDOMEN",
                 study_date="20240120", **common)
    return {"a": uid(patient, "a"), "b": uid(patient, "b"), "mis": uid(patient, "a", "mis"),
            "mis_sops": {uid(patient, "a", "mis", n) for n in (1, 2, 3)}}


def cli_home(tmp_path, orthanc, name="home", port=None):
    home = tmp_path / name
    sd(home, "config", "set", "aet", OUR_AET)
    sd(home, "config", "set", "port", str(orthanc.our_port))
    sd(home, "node", "add", "pacs", "--aet", orthanc.aet, "--host", "127.0.0.1",
       "--port", str(port or orthanc.port), "--purpose", "query-retrieve", "store")
    return home


def in_orthanc(orthanc, sop_uid: str) -> dict | None:
    """The instance's tags as Orthanc holds them, or None."""
    found = orthanc.rest("/tools/find", "POST", json.dumps(
        {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}).encode())
    if not found:
        return None
    return orthanc.rest(f"/instances/{found[0]}/simplified-tags")


def reallocated(home, uids: dict) -> dict:
    """IOCM on: the misfiled series moved to study B; returns the change's IOCM part."""
    sd(home, "config", "set", "iocm", "true")
    done = js(home, "reallocate", uids["mis"], "--to", uids["b"], "--reason", "filed in the wrong study")
    return done["iocm"]


@pytest.fixture
def retrieved(tmp_path, orthanc, request):
    """A home that retrieved the patient's two studies from Orthanc (node pacs)."""
    patient = f"OUTBOX-{request.node.name[-20:]}"
    uids = two_studies(tmp_path / "pacs", patient)
    orthanc.load(tmp_path / "pacs")
    home = cli_home(tmp_path, orthanc)
    got = js(home, "retrieve", "pacs", uids["a"], uids["b"])
    assert got["retrieved"] == 6 and not got["failed"]
    return home, uids


def test_outbox_send_delivers_the_correction_and_the_rejection_note(retrieved, orthanc):
    home, uids = retrieved
    iocm = reallocated(home, uids)
    assert iocm["queued"] == 4
    new_sops = {iocm["uid_map"][old] for old in uids["mis_sops"]}
    waiting = js(home, "outbox")
    assert {(e["kind"], e["node"], e["state"]) for e in waiting} == {("store", "pacs", "queued")}
    assert {e["patient_name"] for e in waiting} == {"OUTBOX^OLGA"}
    assert len(js(home, "outbox", "--state", "queued", "--node", "pacs")) == 4
    assert all(in_orthanc(orthanc, sop) is None for sop in new_sops)

    sent = js(home, "outbox", "send")
    assert sent["sent"] == 4 and sent["failed"] == [] and sent["nodes"] == ["pacs"]
    for sop in new_sops:  # the corrected instances, in the study they belong to
        tags = in_orthanc(orthanc, sop)
        assert tags["StudyInstanceUID"] == uids["b"] and tags["AccessionNumber"] == "OUTB"
    (note,) = [e for e in waiting if e["reason"] == "IOCM: rejection note"]
    kos = in_orthanc(orthanc, note["sop_instance_uid"])
    assert kos["SOPClassUID"] == KOS_SOP_CLASS and kos["StudyInstanceUID"] == uids["a"]
    assert kos["ConceptNameCodeSequence"][0]["CodeValue"] == "113038"
    rejected = {r["ReferencedSOPInstanceUID"] for e in kos["CurrentRequestedProcedureEvidenceSequence"]
                for s in e["ReferencedSeriesSequence"] for r in s["ReferencedSOPSequence"]}
    assert rejected == uids["mis_sops"]
    after = js(home, "outbox")
    assert {(e["state"], e["attempts"]) for e in after} == {("sent", 1)}
    assert js(home, "outbox", "--state", "queued") == []
    assert js(home, "outbox", "send") == {"sent": 0, "failed": [], "held": 0, "nodes": []}
    audit = js(home, "audit", "--study", uids["b"])
    assert any(e["action"] == "send" and "4 sent" in e["detail"] for e in audit)
    # the archive holds the correction now: an undo here would not revert it
    (change,) = [c for c in js(home, "history") if c["action"] == "reallocate"]
    undo = sd(home, "undo", change["change_id"], check=False)
    assert undo.returncode == 5 and "already sent to pacs" in undo.stderr
    assert "Reallocate the series back" in undo.stderr
    assert js(home, "outbox", "--state", "sent") and all(
        in_orthanc(orthanc, sop) is not None for sop in new_sops)


def test_a_node_that_is_down_leaves_them_failed_and_a_retry_sends_them(retrieved, orthanc, free_port):
    home, uids = retrieved
    iocm = reallocated(home, uids)
    new_sops = {iocm["uid_map"][old] for old in uids["mis_sops"]}
    down = free_port()  # nothing listens there: the archive is down
    sd(home, "node", "add", "pacs", "--aet", orthanc.aet, "--host", "127.0.0.1", "--port", str(down),
       "--purpose", "query-retrieve", "store", "--replace")
    failed = sd(home, "outbox", "send", check=False)
    assert failed.returncode == 5
    # one line for the node, not one per image
    assert failed.stderr.count("failed: ") == 1 and "4 instances to pacs" in failed.stderr
    assert "cannot connect" in failed.stderr
    entries = js(home, "outbox", "--state", "failed")
    assert len(entries) == 4
    assert all(e["attempts"] == 1 and "cannot connect" in e["last_error"] and str(down) in e["last_error"]
               for e in entries)
    assert all(in_orthanc(orthanc, sop) is None for sop in new_sops)

    sd(home, "node", "add", "pacs", "--aet", orthanc.aet, "--host", "127.0.0.1", "--port", str(orthanc.port),
       "--purpose", "query-retrieve", "store", "--replace")  # the archive is back
    retry = js(home, "outbox", "send", "--node", "pacs")
    assert retry["sent"] == 4 and retry["failed"] == []
    assert {(e["state"], e["attempts"]) for e in js(home, "outbox")} == {("sent", 2)}
    assert all(in_orthanc(orthanc, sop)["StudyInstanceUID"] == uids["b"] for sop in new_sops)


def test_held_entries_get_a_node_and_discarded_ones_stay_unsent(tmp_path, orthanc):
    patient = "OUTBOX-HELD"
    uids = two_studies(tmp_path / "files", patient)
    home = cli_home(tmp_path, orthanc)
    sd(home, "node", "add", "brain-ai", "--aet", "AIBOX", "--host", "127.0.0.1", "--port", "104",
       "--purpose", "ai")
    sd(home, "import", tmp_path / "files")  # from files: no node to send the correction back to
    sd(home, "user", "add", "rita", "--role", "researcher")
    sd(home, "user", "add", "cleo", "--role", "clerk")
    iocm = reallocated(home, uids)
    held = js(home, "outbox", "--state", "held")
    assert len(held) == iocm["queued"] == 4 and {e["node"] for e in held} == {None}
    assert sd(home, "outbox", "send", "--node", "nowhere", check=False).returncode == 4
    nothing = sd(home, "outbox", "send")
    assert "4 entries held" in nothing.stderr and "outbox assign --all-held" in nothing.stderr

    note = next(e for e in held if e["reason"] == "IOCM: rejection note")
    short = note["id"][-8:]   # what the text table shows
    assert short in sd(home, "outbox").stdout
    assert sd(home, "--user", "cleo", "outbox", "discard", short, "--reason", "x",
              check=False).returncode == 3                       # needs content-management
    assert sd(home, "outbox", "discard", short, check=False).returncode == 2    # --reason required
    discarded = js(home, "outbox", "discard", short, "--reason", "the archive was corrected by hand")
    assert discarded == {"done": [note["id"]], "refused": []}

    refused = sd(home, "--user", "rita", "outbox", "assign", "--all-held", "--node", "pacs", check=False)
    assert refused.returncode == 3 and "network privilege" in refused.stderr
    wrong = sd(home, "outbox", "assign", "--all-held", "--node", "brain-ai", check=False)
    assert wrong.returncode == 5 and "not a store destination" in wrong.stderr
    assert sd(home, "outbox", "assign", "--all-held", "--node", "nowhere", check=False).returncode == 4
    assigned = js(home, "outbox", "assign", "--all-held", "--node", "pacs")
    assert len(assigned["done"]) == 3 and assigned["node"] == "pacs"
    mixed = sd(home, "outbox", "assign", assigned["done"][0], short, "--node", "pacs", check=False)
    assert mixed.returncode == 5 and mixed.stderr.count("refused: ") == 2    # queued, discarded
    sent = js(home, "outbox", "send")
    assert sent["sent"] == 3 and sent["held"] == 0
    corrected = [e for e in js(home, "outbox", "--state", "sent")]
    assert len(corrected) == 3
    assert all(in_orthanc(orthanc, e["sop_instance_uid"])["StudyInstanceUID"] == uids["b"]
               for e in corrected)
    assert in_orthanc(orthanc, note["sop_instance_uid"]) is None          # discarded: never sent
    (kept,) = js(home, "outbox", "--state", "discarded")
    assert kept["discard_reason"] == "the archive was corrected by hand" and kept["discarded_by"]
    assert js(home, "outbox", "restore", short)["done"] == [note["id"]]
    assert [e["state"] for e in js(home, "outbox") if e["id"] == note["id"]] == ["held"]
    def actions(study: str) -> set[str]:
        return {e["action"] for e in js(home, "audit", "--study", study)}

    assert {"outbox-discard", "outbox-restore"} <= actions(uids["a"])     # the note's study
    assert "outbox-assign" in actions(uids["b"])                           # the corrected instances'
