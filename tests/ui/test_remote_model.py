"""The remote model without a network: the In cache indicator, sorting the
answer in Python, ticks, and a query superseded or cancelled (the C-FIND
itself is replaced by canned rows; tests/ui/test_remote.py asks a real Orthanc)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from app.errors import Cancelled
from app.worklist.query import Query
from ui.net import remote_model
from ui.jobs import JobRunner
from ui.net.remote_model import RemoteModel, cache_state, cache_text, cache_tooltip
from ui.worklist.model import STATUS, column_index

WAIT = 10000


def row(uid: str, name: str, date: str, images, held: int = 0) -> dict:
    return {"study_instance_uid": uid, "patient_id": f"ID{uid}", "patient_name": name, "study_date": date,
            "study_time": "", "accession_number": f"A{uid}", "modalities": ["CT"], "description": "",
            "series_count": 1, "instance_count": images, "assigned_to": None, "locked_by": None,
            "staged": False, "patient_birth_date": "", "patient_sex": "", "referring_physician": "",
            "node": "pacs", "in_cache": held}


ROWS = [row("1", "ZED^ANN", "20240301", 7, 7), row("2", "ABLE^BOB", "20230101", 10, 4),
        row("3", "MOSS^CY", "", None)]


@pytest.fixture
def model(qtbot, home, admin, monkeypatch):
    asked = []

    def query_studies(home_, user, node, q, cancel=None):
        asked.append((node, q))
        return [dict(r) for r in ROWS]

    monkeypatch.setattr(remote_model.client, "query_studies", query_studies)
    runner = JobRunner()
    model = RemoteModel(home, runner, admin)
    model.asked = asked
    yield model
    runner.shutdown()


def test_the_in_cache_indicator():
    assert [cache_state(r) for r in ROWS] == ["all", "part", "none"]
    assert [cache_text(r) for r in ROWS] == ["✓", "4/10", ""]
    assert cache_tooltip(ROWS[1]) == "Partly in the cache: 4 of 10 images; Retrieve fetches the rest"
    assert cache_state(row("9", "X", "", None, 3)) == "all"  # the node did not say how many


def test_search_sort_and_cache_counts(qtbot, model, qtmodeltester):
    model.search(Query(patient_name="*"))  # no node chosen: nothing is asked
    assert model.asked == [] and not model.is_searching()
    model.set_node("pacs")
    with qtbot.waitSignal(model.searched, timeout=WAIT) as blocker:
        model.search(Query(patient_name="*"))
    assert blocker.args == [3] and model.asked[0][0] == "pacs"
    qtmodeltester.check(model, force_py=True)
    name = column_index("patient_name")
    assert model.data(model.index(0, STATUS), Qt.ItemDataRole.ForegroundRole) == remote_model.CACHED_COLOUR
    model.sort(name, Qt.SortOrder.AscendingOrder)
    assert model.uids() == ["2", "3", "1"]
    kept = QPersistentModelIndex(model.index(0, name))  # follows its study through a sort
    model.sort(column_index("study_date"), Qt.SortOrder.DescendingOrder)
    assert model.uids() == ["1", "2", "3"]  # no date: last either way
    assert model.study_uid(kept.row()) == "2"
    model.set_cached({"2": 10, "3": 1})
    assert [model.data(model.index(r, STATUS)) for r in range(3)] == ["✓", "✓", "✓"]
    model.toggle_row(0)
    assert model.ticks.uids() == ["1"] and model.ticks.row("1")["patient_name"] == "ZED^ANN"
    model.set_node("other")
    assert model.rowCount() == 0


def test_a_newer_query_supersedes_and_cancel_is_reported(qtbot, home, admin, monkeypatch):
    release = threading.Event()

    def query_studies(home_, user, node, q, cancel=None):
        while not release.wait(0.01):  # a slow node: the job checks its token like the core does
            if cancel is not None and cancel.cancelled:
                raise Cancelled("query cancelled")
        return [dict(ROWS[0])]

    monkeypatch.setattr(remote_model.client, "query_studies", query_studies)
    runner = JobRunner()
    model = RemoteModel(home, runner, admin)
    try:
        model.set_node("pacs")
        model.search(Query(patient_name="A*"))
        first = model.job
        with qtbot.waitSignal(first.cancelled, timeout=WAIT):
            model.search(Query(patient_name="B*"))  # the first is cancelled
        second = model.job
        with qtbot.waitSignal(model.search_cancelled, timeout=WAIT):
            second.cancel()  # the jobs panel's Cancel
        assert model.rowCount() == 0 and not model.is_searching()
        release.set()
        with qtbot.waitSignal(model.searched, timeout=WAIT):
            model.search()
        assert model.rowCount() == 1
    finally:
        release.set()
        runner.shutdown()
