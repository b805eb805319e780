"""Staged research copies sent to the project's node (DCMTK storescp)."""

from __future__ import annotations

import pydicom
import pytest

from app.net import nodes
from app.research import projects, staging

pytestmark = pytest.mark.network


def test_staged_copies_go_to_the_research_node(home, admin, storescp, tmp_path):
    from app.demo import generate_demo
    from app.importing.importer import import_paths

    port, received = storescp
    generate_demo(tmp_path / "demo", patients=1)
    import_paths(home, [tmp_path / "demo"], admin)
    db = home.connect()
    nodes.add_node(db, admin, "research", "STORESCP", "127.0.0.1", port, purposes=["store"])
    projects.create(db, admin, "T1")
    projects.enrol(db, admin, "T1", "PID1001", "xId01", "yId01")
    (plan,) = [u for (u,) in db.execute(
        "SELECT series_instance_uid FROM series WHERE modality = 'RTPLAN' AND"
        " series_description LIKE '%Plan A%'")]
    result = staging.stage(home, db, admin, "T1", [plan])
    sent = staging.send_staged(home, db, admin, "T1", result.staged, "research")
    assert sent.sent == 1 and not sent.failed
    (arrived,) = [p for p in received.iterdir() if p.is_file()]
    ds = pydicom.dcmread(arrived)
    assert (ds.PatientID, str(ds.PatientName)) == ("xId01", "yId01")
    staged_sop = db.execute("SELECT staged_sop_instance_uid FROM staged_instances").fetchone()[0]
    assert ds.SOPInstanceUID == staged_sop
    db.close()
