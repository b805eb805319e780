"""A DICOMweb node in the window's places of a DICOM node: the worklist's
Remote source lists it, Search queries it (QIDO-RS), Retrieve fetches the
highlighted study (WADO-RS) into the cache, and the Send dialog offers it;
against the real Orthanc with its DICOMweb plugin of tests/net/test_dicomweb.py."""

from __future__ import annotations

import pytest

from tests.net import test_dicomweb as web_fixtures
from tests.ui.test_remote import WAIT, search_remote, shown, start_retrieve
from ui.worklist.model import STATUS

pytestmark = pytest.mark.network

web_pacs = web_fixtures.web_pacs


@pytest.fixture
def web_window(qtbot, make_window, home, admin, web_pacs, monkeypatch):
    from app.net import nodes

    monkeypatch.setenv(web_fixtures.TOKEN_ENV, f"{web_fixtures.USER}:{web_fixtures.PASSWORD}")
    db = home.connect()
    try:
        nodes.add_node(db, admin, "pacs-web", None, None, None, url=web_pacs.url, token_env=web_fixtures.TOKEN_ENV)
    finally:
        db.close()
    window = make_window(home)
    qtbot.waitUntil(lambda: window.scope.source.findData("pacs-web") >= 0, timeout=WAIT)
    return window


def test_search_and_retrieve_from_a_dicomweb_node(qtbot, web_window):
    window = web_window
    assert window.scope.choose("pacs-web")
    assert window.pages.currentIndex() == 1 and window.remote.active
    assert search_remote(qtbot, window, "DOE*") == 2
    model = window.remote.model
    knee = web_fixtures.study("knee")
    assert knee in shown(model, "study_instance_uid")
    window.remote.view.selectRow(model.row_of(knee))
    job = start_retrieve(qtbot, window, window.remote.bar.retrieve_button.click)
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        pass
    assert job.state == "succeeded", job.error
    assert job.result.method == "wado-rs" and job.result.retrieved == 2 and not job.result.failed
    qtbot.waitUntil(lambda: model.data(model.index(model.row_of(knee), STATUS)) == "✓", timeout=WAIT)
    qtbot.waitUntil(lambda: window.model.row_of(knee) >= 0, timeout=WAIT)
