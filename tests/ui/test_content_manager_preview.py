"""The Content Manager's preview (issue #15 item 7): the series selected in
either pane is shown in a small viewer beside the trees, with its image
count, and the wheel scrolls through it, so a misfiled series can be
recognised before it is dragged. A selected study shows its first series
with images, a series without pixels says so, nothing selected shows a hint.

Real window over the generated home (tests/ui/conftest.py): DOE^JOHN's
ACC001 (CT "Axial 5mm" 3 images, CT "Lung 1mm" 2, an RTSTRUCT) and ACC002,
SMITH^ANNA's MR ACC003.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.cm_helpers import close_cm, open_cm, search, series_node, study_node

TIMEOUT = 20000


def click(qtbot, pane, node) -> None:
    """A user's click on the row of *node* in *pane*'s tree."""
    index = pane.model.index_of(node.kind, node.uid)
    pane.tree.scrollTo(index)
    QTest.mouseClick(pane.tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pane.tree.visualRect(index).center())


def shows(qtbot, preview, action, index: int = 0):
    """Run *action* and wait until the preview has painted image *index* of the series it opened."""
    view = preview.view
    painted: list[tuple] = []  # (series, index) painted, recorded from before the action:
    view.shown.connect(lambda i: painted.append((view.series_uid, i)))  # a fast decode may paint
    with qtbot.waitSignal(view.opened, timeout=TIMEOUT) as opened:  # before `opened` returns here
        action()
    if opened.args[1]:
        qtbot.waitUntil(lambda: (opened.args[0], index) in painted, timeout=TIMEOUT)
    return opened.args


def wheel(view, clicks: int) -> None:
    centre = QPointF(view.width() / 2, view.height() / 2)
    QApplication.sendEvent(view, QWheelEvent(
        centre, view.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * clicks), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))


def test_preview_follows_the_selection_in_both_panes_and_scrolls(qtbot, qapp, loaded_home, admin):
    cm = open_cm(qtbot, qapp, loaded_home, admin)
    try:
        preview, view = cm.preview, cm.preview.view
        assert cm.pane_splitter.indexOf(preview) == 2 and preview.isVisible()
        assert view.series_uid is None and view.message.startswith("Select a series")
        left = search(qtbot, cm.panes[0], accession="ACC001", scope="All studies")
        right = search(qtbot, cm.panes[1], accession="ACC003", scope="All studies")

        lung = series_node(left, "Lung 1mm")
        assert shows(qtbot, preview, lambda: click(qtbot, left, lung)) == [lung.uid, 2]
        assert view.current() is not None and view.state.index == 0
        assert preview.line.text() == "CT  #2 Lung 1mm  ·  image 1 of 2"

        # the wheel scrolls through the series, the line follows
        with qtbot.waitSignal(view.shown, check_params_cb=lambda i: i == 1, timeout=TIMEOUT):
            wheel(view, -1)
        assert view.state.index == 1 and preview.line.text().endswith("image 2 of 2")
        wheel(view, -1)  # past the last image: it stays there
        assert view.state.index == 1

        # the other pane's selection takes over
        mr = series_node(right, "T2 axial")
        assert shows(qtbot, preview, lambda: click(qtbot, right, mr)) == [mr.uid, 2]
        assert view.header["modality"] == "MR" and preview.line.text().startswith("MR  #1 T2 axial")

        # a study: its first series with images
        study = study_node(left, "ACC001")
        axial = series_node(left, "Axial 5mm")
        assert shows(qtbot, preview, lambda: click(qtbot, left, study)) == [axial.uid, 3]
        assert preview.line.text() == "CT  #1 Axial 5mm  ·  image 1 of 3"

        # a structure set has no image to show, and says so
        contours = series_node(left, "Contours")
        assert shows(qtbot, preview, lambda: click(qtbot, left, contours))[1] == 0
        assert view.count == 0 and view.message == "No images in this series (RTSTRUCT)"

        # a patient row is not a series: the hint again
        patient = left.model.nodes("patient")[0]
        click(qtbot, left, patient)
        assert view.series_uid is None and view.message.startswith("Select a series")
    finally:
        close_cm(cm)
