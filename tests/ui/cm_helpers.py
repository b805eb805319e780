"""Helpers for the Content Manager's window tests: open it, search a pane,
drag a series onto a study through the views' real drag-and-drop handlers,
answer the confirmation."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from ui.changes.reallocate_dialog import ReallocateDialog

TIMEOUT = 20000


def open_cm(qtbot, qapp, home, user):
    from ui.app import apply_theme
    from ui.changes.content_manager import ContentManager

    apply_theme(qapp)
    window = ContentManager(home, user)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=TIMEOUT)
    return window


def close_cm(window) -> None:
    for box in window.actions.boxes():
        box.done(0)
    if window.actions.dialog is not None:
        window.actions.dialog.reject()
    window.runner.shutdown()
    window.close()


def search(qtbot, pane, accession: str = "", patient_id: str = "", scope: str = "All patients"):
    pane.accession.setText(accession)
    pane.patient_id.setText(patient_id)
    pane.scope.setCurrentText(scope)
    with qtbot.waitSignal(pane.searched, timeout=TIMEOUT):
        pane.search()
    return pane


def series_node(pane, description: str):
    return next(n for n in pane.model.nodes("series") if n.data["description"] == description)


def study_node(pane, accession: str):
    return next(n for n in pane.model.nodes("study") if n.data["accession_number"] == accession)


def tree_of(pane) -> dict[str, list[str]]:
    """accession -> series descriptions, as the pane shows them."""
    return {s.data["accession_number"]: [c.data["description"] for c in s.children]
            for s in pane.model.nodes("study")}


def drag_and_drop(source_pane, series: list[str], target_pane, accession: str) -> QDropEvent:
    """What a mouse drag does, from the source model's mime data to the target
    view's drop handler: drag enter, drag move and drop on the study's row."""
    model = source_pane.model
    indexes = [model.index_of("series", uid) for uid in series]
    mime = model.mimeData(indexes)
    assert mime is not None and mime.hasFormat("application/x-studydesk-series")
    view = target_pane.tree
    target = target_pane.model.index_of("study", study_node(target_pane, accession).uid)
    view.scrollTo(target)
    point = view.visualRect(target.siblingAtColumn(3)).center()
    viewport = view.viewport()
    action = Qt.DropAction.MoveAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point, action, mime, buttons, keys)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted(), "the tree refused the drag"
    move = QDragMoveEvent(point, action, mime, buttons, keys)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(QPointF(point), action, mime, buttons, keys)
    if move.isAccepted():
        QApplication.sendEvent(viewport, drop)
    return drop


def confirmation(qtbot, window) -> ReallocateDialog:
    qtbot.waitUntil(lambda: isinstance(window.actions.dialog, ReallocateDialog)
                    and window.actions.dialog.isVisible(), timeout=TIMEOUT)
    return window.actions.dialog


def confirm(qtbot, window, dialog: ReallocateDialog) -> object:
    """Press Reallocate and wait for the job and both panes' new searches."""
    window.actions.last_outcome = None
    dialog.ok.click()
    qtbot.waitUntil(lambda: window.actions.last_outcome is not None and not window.is_busy(),
                    timeout=TIMEOUT)
    return window.actions.last_outcome


def refusal(qtbot, window) -> str:
    qtbot.waitUntil(lambda: any(b.objectName() == "cmRefusal" for b in window.actions.boxes()),
                    timeout=TIMEOUT)
    box = next(b for b in window.actions.boxes() if b.objectName() == "cmRefusal")
    text = box.informativeText()
    box.done(0)
    return text


def cached_uid(home, table: str, key: str, value: str) -> str:
    """The UID of the cache's first *table* row whose *key* is *value*
    (series by description, studies by accession number)."""
    column = {"series": "series_instance_uid", "studies": "study_instance_uid"}[table]
    db = home.connect()
    try:
        return db.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", [value]).fetchone()[0]
    finally:
        db.close()
