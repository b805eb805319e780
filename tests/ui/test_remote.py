"""The Remote source of the worklist and the storage listener service, against
a real Orthanc started on free loopback ports (tests/net/conftest.py).

The node is Orthanc as ``pacs``; our AE is the one Orthanc knows as a
modality (C-MOVE destination, and allowed to store to us)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.net import listener as listening
from app.worklist.query import Query
from tests.net import conftest as net_fixtures
from tests.ui.conftest import add_user
from ui.jobs import JobRunner
from ui.net.listener_status import SETTING
from ui.net.remote_model import RemoteModel
from ui.worklist.model import STATUS, column_index

pytestmark = pytest.mark.network

WAIT = 30000  # ms; never reached when green

# The real Orthanc of the network tests, with their data and a home that knows it as "pacs"
orthanc, pacs_data, net_home = net_fixtures.orthanc, net_fixtures.pacs_data, net_fixtures.net_home


@pytest.fixture
def remote_window(qtbot, make_window, net_home):
    window = make_window(net_home)
    wait_for_nodes(qtbot, window)
    return window


def wait_for_nodes(qtbot, window) -> None:
    """Until the source selector lists pacs (the nodes are read in a job)."""
    qtbot.waitUntil(lambda: window.scope.source.findData("pacs") >= 0, timeout=WAIT)


def shown(model, key: str) -> list:
    return [model.study(r).get(key) for r in range(model.rowCount())]


def cell(model, row: int, key: str) -> str:
    return model.data(model.index(row, column_index(key)))


def search_remote(qtbot, window, name: str) -> int:
    window.qbe.patient_name.setText(name)
    with qtbot.waitSignal(window.remote.model.searched, timeout=WAIT) as blocker:
        window.qbe.search_button.click()
    return blocker.args[0]


def choose_pacs(qtbot, window) -> None:
    assert window.scope.choose("pacs")
    assert window.pages.currentIndex() == 1 and window.remote.active


def start_retrieve(qtbot, window, click):
    """Click and return the retrieve job the click started."""
    with qtbot.waitSignal(window.runner.job_added, timeout=WAIT,
                          check_params_cb=lambda job: job.title.startswith("Retrieve")) as blocker:
        click()
    return blocker.args[0]


# -- the model ----------------------------------------------------------------------------------


def test_remote_model_passes_qtmodeltester(qtbot, qtmodeltester, net_home, admin, pacs_data):
    runner = JobRunner()
    model = RemoteModel(net_home, runner, admin)
    try:
        model.set_node("pacs")
        with qtbot.waitSignal(model.searched, timeout=WAIT) as blocker:
            model.search(Query(patient_id="NETP*"))
        assert blocker.args[0] == model.rowCount() >= 3
        qtmodeltester.check(model, force_py=True)
        model.sort(column_index("patient_name"), Qt.SortOrder.AscendingOrder)
        names = shown(model, "patient_name")
        assert names == sorted(names, key=str.upper)
        qtmodeltester.check(model)
    finally:
        runner.shutdown()


# -- searching the node from the window --------------------------------------------------------


def test_choosing_the_node_and_searching_with_a_wildcard_shows_its_studies(qtbot, remote_window, pacs_data):
    window = remote_window
    choose_pacs(qtbot, window)
    assert not window.my_studies.isEnabled() and "local" in window.my_studies.toolTip()
    assert "enter criteria" in window.count_label.text()  # an empty query is not sent
    window.qbe.search_button.click()
    assert "* lists everything" in window.count_label.text() and not window.remote.model.is_searching()
    assert search_remote(qtbot, window, "doe*") == 2
    model = window.remote.model
    assert window.remote.view.model() is model
    assert sorted(shown(model, "study_instance_uid")) == sorted([pacs_data["chest"], pacs_data["knee"]])
    assert {cell(model, r, "patient_name") for r in range(2)} == {"DOE, Jane"}
    assert sorted(cell(model, r, "accession_number") for r in range(2)) == ["NET001", "NET002"]
    assert model.headerData(STATUS, Qt.Orientation.Horizontal) == "In cache"
    assert [model.data(model.index(r, STATUS)) for r in range(2)] == ["", ""]
    assert window.count_label.text() == "2 studies on pacs"
    query_rows = [r for r in window.jobs_panel.rows() if r.job.title == "Query pacs"]
    assert query_rows and query_rows[0].job.state == "succeeded"  # shown with Cancel while it ran
    # back to the cache: the local worklist as it was (empty here)
    window.scope.choose("")
    assert window.pages.currentIndex() == 0 and window.my_studies.isEnabled()
    assert window.count_label.text() == "0 studies"


def test_retrieve_brings_the_highlighted_study_into_the_cache(qtbot, remote_window, pacs_data):
    window = remote_window
    choose_pacs(qtbot, window)
    search_remote(qtbot, window, "DOE^JANE")
    model, view = window.remote.model, window.remote.view
    knee = model.row_of(pacs_data["knee"])
    view.selectRow(knee)
    assert window.remote.targets() == [pacs_data["knee"]]
    assert window.remote.bar.method() == "get"  # C-GET by default
    progress = []
    job = start_retrieve(qtbot, window, window.remote.bar.retrieve_button.click)
    job.progress.connect(lambda fraction, message: progress.append((fraction, message)))
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        pass
    assert job.state == "succeeded", job.error
    assert job.result.retrieved == 2 and not job.result.failed
    assert job.message.startswith("Retrieved 2 images of 1 study from pacs by C-GET")
    assert any(0 < f <= 1 and "C-GET" in m for f, m in progress)
    qtbot.waitUntil(lambda: model.data(model.index(knee, STATUS)) == "✓", timeout=WAIT)
    assert model.data(model.index(knee, STATUS), Qt.ItemDataRole.ToolTipRole) == "In the cache: 2 images"
    # the local worklist knows the study
    qtbot.waitUntil(lambda: window.model.row_of(pacs_data["knee"]) >= 0 and not window.model.is_searching(),
                    timeout=WAIT)
    window.scope.choose("")
    row = window.model.row_of(pacs_data["knee"])
    assert window.model.study(row)["accession_number"] == "NET002"
    assert window.count_label.text() == "1 study"


def test_retrieve_by_c_move_of_ticked_studies_through_the_listener(qtbot, remote_window, pacs_data,
                                                                   orthanc):
    window = remote_window
    window.listener_action.trigger()
    qtbot.waitUntil(lambda: window.listener.listening, timeout=WAIT)
    choose_pacs(qtbot, window)
    search_remote(qtbot, window, "DOE*")
    model = window.remote.model
    model.toggle_row(model.row_of(pacs_data["chest"]))
    model.toggle_row(model.row_of(pacs_data["knee"]))
    assert window.remote.bar.retrieve_button.text() == "Retrieve 2 studies"
    window.remote.bar.set_method("move")
    job = start_retrieve(qtbot, window, window.remote.bar.retrieve_button.click)
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        pass
    assert job.state == "succeeded", job.error
    assert job.result.method == "move" and job.result.retrieved == 9
    qtbot.waitUntil(lambda: all(window.model.row_of(pacs_data[k]) >= 0 for k in ("chest", "knee")),
                    timeout=WAIT)
    qtbot.waitUntil(lambda: {model.data(model.index(r, STATUS)) for r in range(2)} == {"✓"}, timeout=WAIT)


def test_without_the_network_privilege_retrieve_and_listening_say_why(qtbot, make_window,
                                                                     net_home):
    reader = add_user(net_home, "reader", ["researcher"])  # no network privilege
    window = make_window(net_home, reader)
    wait_for_nodes(qtbot, window)
    assert not window.scope.source.isEnabled() and "network privilege" in window.scope.source.toolTip()
    choose_pacs(qtbot, window)
    assert not window.remote.bar.retrieve_button.isEnabled()
    assert "network privilege" in window.remote.bar.reason()
    assert not window.listener_action.isEnabled() and "network" in window.listener_action.toolTip()


# -- the storage listener as a service of the window ---------------------------------------------


def _orthanc_sends(orthanc, study_uid: str) -> None:
    """Orthanc C-STOREs a study to our AE (its modality ``studydesk``)."""
    found = orthanc.rest("/tools/lookup", "POST", study_uid.encode())
    study = next(item["ID"] for item in found if item["Type"] == "Study")
    orthanc.rest("/modalities/studydesk/store", "POST",
                 json.dumps({"Resources": [study], "Synchronous": True}).encode())


def test_listener_toggle_starts_and_stops_and_the_status_bar_says_so(qtbot, remote_window, orthanc,
                                                                     pacs_data):
    window = remote_window
    port = orthanc.our_port
    assert window.listener_label.text() == "Listener off"
    assert not window.listener_action.isChecked()
    window.listener_action.trigger()
    qtbot.waitUntil(lambda: window.listener_label.text() == f"Listening on port {port}", timeout=WAIT)
    assert window.listener_action.isChecked() and listening.running(port) is not None
    # Orthanc sends a study: it is recorded, reported, and the worklist refreshed
    _orthanc_sends(orthanc, pacs_data["knee"])
    qtbot.waitUntil(lambda: window.model.row_of(pacs_data["knee"]) >= 0, timeout=WAIT)
    assert window.listener_label.text() == (f"Listening on port {port}  ·  received 1 study (2 images), "
                                            "last from pacs")
    assert "From pacs: 2 images" in window.listener_label.toolTip()
    assert "Last received at " in window.listener_label.toolTip()
    assert window.last_message.startswith("Received 2 images over DICOM")
    window.listener_action.trigger()
    qtbot.waitUntil(lambda: window.listener_label.text() == "Listener off", timeout=WAIT)
    assert not window.listener_action.isChecked() and listening.running(port) is None


def test_listener_starts_at_launch_when_the_setting_says_so(qtbot, make_window, net_home, orthanc):
    net_home.set_setting(SETTING, "true")
    window = make_window(net_home)
    qtbot.waitUntil(lambda: window.listener.listening, timeout=WAIT)
    assert window.listener_label.text() == f"Listening on port {orthanc.our_port}"
    assert window.listener_action.isChecked()
    window.close()  # stopped with the window
    assert listening.running(orthanc.our_port) is None


def test_without_the_setting_the_listener_stays_off(qtbot, make_window, net_home, orthanc):
    window = make_window(net_home)
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=WAIT)
    assert window.listener.state == "off" and window.listener_label.text() == "Listener off"
    assert listening.running(orthanc.our_port) is None


def test_a_port_in_use_leaves_the_listener_off_and_says_why(qtbot, make_window, home, free_port):
    import socket

    port = free_port()
    home.set_setting("port", str(port))
    with socket.socket() as taken:
        taken.bind(("", port))
        taken.listen(1)
        window = make_window(home)
        window.listener_action.trigger()
        qtbot.waitUntil(lambda: window.listener.state == "off" and bool(window.listener.error),
                        timeout=WAIT)
    assert window.listener_label.text() == "Listener off" and not window.listener_action.isChecked()
    assert "did not start" in window.last_message and f"port {port}" in window.last_message
    assert f"port {port}" in window.listener_label.toolTip()
