"""The remote series pane: the highlighted remote study's series as the node
lists them (C-FIND at SERIES level in a job), and Retrieve of the ticked
series only, against the real Orthanc of tests/net/conftest.py."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from app.net import nodes
from tests.factories import uid
from tests.net import conftest as net_fixtures
from tests.ui.test_remote import choose_pacs, remote_window, search_remote, start_retrieve  # noqa: F401
from ui.net.remote_series_model import CACHED, DESCRIPTION, IMAGES, MODALITY, NUMBER, TICK, RemoteSeriesModel
from ui.worklist.model import STATUS

pytestmark = pytest.mark.network

WAIT = 30000  # ms; never reached when green
AX, COR = uid("NETP1", "s1", "ax"), uid("NETP1", "s1", "cor")

orthanc, pacs_data, net_home = net_fixtures.orthanc, net_fixtures.pacs_data, net_fixtures.net_home


def listed(pane) -> list[dict]:
    """What the pane's table shows, row by row, by column title."""
    model = pane.model
    titles = {NUMBER: "#", MODALITY: "modality", DESCRIPTION: "description", IMAGES: "images",
              CACHED: "in cache"}
    return [{name: model.data(model.index(r, c)) for c, name in titles.items()}
            for r in range(model.rowCount())]


def highlight(qtbot, window, study_uid: str) -> None:
    """Click a remote study and wait for the pane to list its series."""
    model, view = window.remote.model, window.remote.view
    with qtbot.waitSignal(window.remote.series_pane.loaded, timeout=WAIT,
                          check_params_cb=lambda uid_: uid_ == study_uid):
        view.selectRow(model.row_of(study_uid))


def tick_series(pane, row: int) -> None:
    """Click the tick box of *row* in the pane's table, as a user does."""
    view = pane.view
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = view.visualRect(pane.model.index(row, TICK))
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    rect = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())


def row_of_series(pane, series_uid: str) -> int:
    return pane.model.uids().index(series_uid)


@pytest.fixture
def chest_window(qtbot, remote_window, pacs_data):  # noqa: F811
    window = remote_window
    choose_pacs(qtbot, window)
    search_remote(qtbot, window, "DOE*")
    highlight(qtbot, window, pacs_data["chest"])
    return window


def test_the_series_model_passes_qtmodeltester(qtmodeltester):
    model = RemoteSeriesModel()
    model.set_rows([{"series_instance_uid": "1.2.3", "modality": "CT", "number": 2, "description": "Axial",
                     "instance_count": 4, "in_cache": 4},
                    {"series_instance_uid": "1.2.4", "modality": "SR", "number": None, "description": "",
                     "instance_count": None, "in_cache": 0}])
    qtmodeltester.check(model, force_py=True)
    assert model.setData(model.index(1, TICK), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.ticked() == ["1.2.4"]


def test_highlighting_a_remote_study_lists_its_series_on_the_node(qtbot, chest_window, pacs_data):
    window = chest_window
    pane = window.remote.series_pane
    assert pane.isVisible() and pane.view.isVisible()
    assert listed(pane) == [  # in series number order
        {"#": "18", "modality": "CT", "description": "CT CHEST ax", "images": "4", "in cache": ""},
        {"#": "25", "modality": "CT", "description": "CT CHEST cor", "images": "3", "in cache": ""}]
    assert pane.heading.text() == "2 series on pacs"
    assert pane.study_label.text() == "DOE, Jane  ·  NETP1  ·  2024-01-10  ·  CT CHEST"
    assert "Not in the cache" in window.strip.heading.text()
    # another study: its series replace the first's
    highlight(qtbot, window, pacs_data["knee"])
    assert [(r["modality"], r["description"], r["images"]) for r in listed(pane)] == [("MR", "MR KNEE se1", "2")]
    # back to the local cache: the pane goes away with the node
    window.scope.choose("")
    assert not pane.isVisible() and pane.study_uid is None


def test_an_answer_for_a_study_no_longer_highlighted_is_dropped(qtbot, chest_window, pacs_data):
    window = chest_window
    pane = window.remote.series_pane
    pane.show_study("pacs", None)
    answers, chest_jobs = [], []
    pane.loaded.connect(answers.append)

    def knee_while_chest_is_asked(study_uid):
        # the moment the node is asked about the chest study, before any answer
        # can reach the window, the user highlights the knee study
        if study_uid == pacs_data["chest"]:
            chest_jobs.append(pane.job)
            pane.show_study("pacs", pacs_data["knee"], "knee")

    pane.asked.connect(knee_while_chest_is_asked)
    with qtbot.waitSignal(pane.loaded, timeout=WAIT):
        pane.show_study("pacs", pacs_data["chest"], "chest")
    chest_job, = chest_jobs
    if not chest_job.done:
        with qtbot.waitSignal(chest_job.finished, timeout=WAIT):
            pass
    assert answers == [pacs_data["knee"]]
    assert [r["description"] for r in listed(pane)] == ["MR KNEE se1"]
    assert pane.study_label.text() == "knee"


def test_a_node_that_stops_answering_is_said_in_the_pane(qtbot, chest_window, pacs_data, admin, free_port):
    window = chest_window
    db = window.home.connect()
    try:  # the node moves to a port where nothing listens
        nodes.add_node(db, admin, "pacs", "ORTHANC", "127.0.0.1", free_port(),
                       purposes=["query-retrieve"], replace=True)
    finally:
        db.close()
    pane = window.remote.series_pane
    with qtbot.waitSignal(pane.failed, timeout=WAIT):
        window.remote.view.selectRow(window.remote.model.row_of(pacs_data["knee"]))
    assert pane.body.currentWidget() is pane.message and pane.message.isVisible()
    assert pane.message.text().startswith("Could not list the series on pacs:")
    assert "node pacs" in pane.message.text()
    assert not pane.retrieve_button.isEnabled() and pane.model.rowCount() == 0


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_brings_only_the_ticked_series(qtbot, chest_window, pacs_data, method):
    window = chest_window
    pane = window.remote.series_pane
    if method == "move":
        window.remote.bar.set_method("move")
    assert not pane.model.ticked()
    tick_series(pane, row_of_series(pane, COR))
    assert pane.model.ticked() == [COR]
    assert pane.count.text() == "1 of 2 series ticked"
    assert pane.retrieve_button.isEnabled()
    assert pane.retrieve_button.text() == f"Retrieve 1 series by C-{method.upper()}"
    job = start_retrieve(qtbot, window, pane.retrieve_button.click)
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        pass
    assert job.state == "succeeded", job.error
    assert job.result.retrieved == 3 and job.result.series == [COR] and not job.result.failed
    assert job.message == f"Retrieved 3 images of 1 series from pacs by C-{method.upper()}"
    # the pane, the node's table and the local worklist say what arrived
    cor, ax = row_of_series(pane, COR), row_of_series(pane, AX)
    qtbot.waitUntil(lambda: pane.model.data(pane.model.index(cor, CACHED)) == "✓", timeout=WAIT)
    assert pane.model.data(pane.model.index(ax, CACHED)) == ""
    assert not pane.model.ticked()  # done with them
    model = window.remote.model
    chest = model.row_of(pacs_data["chest"])
    qtbot.waitUntil(lambda: model.data(model.index(chest, STATUS)) == "3/7", timeout=WAIT)
    qtbot.waitUntil(lambda: window.strip.study_uid == pacs_data["chest"] and len(window.strip.cards()) == 1,
                    timeout=WAIT)
    assert window.strip.cards()[0].series_uid == COR


def test_without_a_tick_the_highlighted_series_is_retrieved(qtbot, chest_window, pacs_data):
    window = chest_window
    pane = window.remote.series_pane
    assert not pane.retrieve_button.isEnabled()
    assert pane.retrieve_button.toolTip() == "Tick the series to retrieve, or click one."
    pane.view.selectRow(row_of_series(pane, AX))
    assert pane.retrieve_button.text() == "Retrieve 1 series by C-GET"
    assert pane.count.text() == "Highlighted: 1 series"
    job = start_retrieve(qtbot, window, pane.retrieve_button.click)
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        pass
    assert job.state == "succeeded", job.error
    assert job.result.series == [AX] and job.result.retrieved == 4
