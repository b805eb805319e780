"""Every control a screen reader reaches has a name in the network windows
(the outbox, the send dialog, the settings' nodes page, a node's remote page
with its series pane and retrieve bar) and in the viewer on the demo CT.

The criteria are tests/ui/test_accessibility.py's (an accessible name, or a
button's text); a plain widget that takes keyboard focus (the viewer's image
viewport) counts as a control too. Hidden controls are walked as well: the
DICOMweb rows of the node form, the series pane before a study is highlighted.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.net import nodes
from tests.ui.test_accessibility import INTERACTIVE, _named, _qt_internal
from tests.ui.test_outbox import corrected, open_outbox  # noqa: F401 - a fixture and a helper
from ui.jobs import JobRunner

WAIT = 10000  # ms; never reached when green


def _control(widget: QWidget) -> bool:
    if isinstance(widget, INTERACTIVE):
        return True
    return type(widget) is not QWidget and bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)


def unnamed(top: QWidget) -> list[str]:
    """The controls under *top* (itself included) without a name, described."""
    return [f"{type(w).__name__} {w.objectName()!r} in {type(w.parent()).__name__}"
            for w in [top, *top.findChildren(QWidget)]
            if _control(w) and not _qt_internal(w) and not _named(w)]


def by_name(top: QWidget, name: str) -> QWidget:
    found = [w for w in top.findChildren(QWidget) if w.accessibleName() == name]
    assert len(found) == 1, (name, found)
    return found[0]


def _add_node(home, admin, *args, **kwargs) -> None:
    db = home.connect()
    try:
        nodes.add_node(db, admin, *args, **kwargs)
    finally:
        db.close()


def test_the_outbox_window_names_every_control(qtbot, make_window, corrected):
    window = make_window(corrected)
    outbox = open_outbox(qtbot, window)
    assert unnamed(outbox) == []
    assert by_name(outbox, "Outbox entries") is outbox.table
    assert window.findChild(QWidget, "outboxLabel").accessibleName()
    assert window.findChild(QWidget, "listenerLabel").accessibleName()


def test_the_discard_dialog_names_every_control(qtbot, make_window, corrected):
    from ui.net.outbox.dialogs import DiscardDialog

    window = make_window(corrected)
    outbox = open_outbox(qtbot, window)
    dialog = DiscardDialog(["one entry"], outbox)
    qtbot.addWidget(dialog)
    assert unnamed(dialog) == []
    assert by_name(dialog, "Reason") is dialog.reason


def test_the_send_dialog_and_settings_nodes_page_name_every_control(qtbot, make_window, loaded_home, admin):
    from ui.net.send_dialog import SendDialog

    _add_node(loaded_home, admin, "archive", "ARCH", "127.0.0.1", 104)
    _add_node(loaded_home, admin, "cloud", None, None, None, url="https://pacs.example.org/dicom-web")
    runner = JobRunner()
    try:
        send = SendDialog(loaded_home, runner, 1)
        qtbot.addWidget(send)
        send.show()
        qtbot.waitUntil(lambda: send.loaded, timeout=WAIT)
        assert unnamed(send) == []
        assert by_name(send, "Destinations") is send.nodes
    finally:
        runner.shutdown()

    window = make_window(loaded_home)
    dialog = window.open_settings()
    page = dialog.nodes_page
    qtbot.waitUntil(lambda: page.loads >= 1, timeout=WAIT)
    assert unnamed(page) == []
    page.form.kind_box.setCurrentText("DICOMweb")
    assert by_name(page, "DICOMweb URL").isVisible()
    assert "never saved" in by_name(page, "Credentials variable").accessibleDescription()
    assert by_name(page, "Nodes") is page.table


def test_the_remote_page_names_every_control(qtbot, make_window, loaded_home, admin):
    _add_node(loaded_home, admin, "pacs", "PACS", "127.0.0.1", 104)
    window = make_window(loaded_home)
    qtbot.waitUntil(lambda: window.scope.source.findData("pacs") >= 0, timeout=WAIT)
    assert window.scope.choose("pacs")
    remote = window.remote
    for top in (remote.page, remote.series_pane):
        assert unnamed(top) == []
    assert by_name(remote.page, "Studies on the node") is remote.view
    assert by_name(remote.page, "Retrieve method") is remote.bar.method_box


def test_the_viewer_names_every_control(qtbot, demo_home, admin):
    from ui.viewer import open_viewer

    db = demo_home.connect()
    try:
        series_uid = db.execute("SELECT series_instance_uid FROM series WHERE modality = 'CT' "
                                "ORDER BY series_instance_uid LIMIT 1").fetchone()[0]
    finally:
        db.close()
    runner = JobRunner()
    try:
        window = open_viewer(None, demo_home, admin, runner, series_uid)
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.panes[0].series_uid == series_uid, timeout=WAIT)
        window.measures.actions["length"].trigger()  # the measurement panel shows
        assert unnamed(window) == []
        viewport = by_name(window, "Image viewport")
        assert viewport is window.panes[0].viewport
        assert "Page Down" in viewport.accessibleDescription()
        assert by_name(window, "Series") is window.series_box
        assert by_name(window, "Cine rate") is window.fps
        assert by_name(window, "Prior studies") is window.priors.button
        window.close()
    finally:
        runner.shutdown()
