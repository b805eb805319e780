"""Importing from the window: the File menu and drag and drop from the desktop."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.ui.conftest import StudySpec, write_studies
from ui.shell.importing import RefusedDialog
from ui.worklist.model import column_index


def _menu_action(window, name: str):
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            if action.objectName() == name:
                return action
    raise AssertionError(f"no menu action {name}")


def _message_boxes() -> list:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_file_menu_has_every_import(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()[0].menu().actions()
              if a.text()]
    assert titles == ["Import files...", "Import folder...", "Import ZIP...",
                      "Import DICOMDIR...", "Quit"]
    assert [a.text().replace("&", "") for a in window.menuBar().actions()][-1] == "Help"


def test_import_folder_through_the_menu(qtbot, monkeypatch, make_window, home, dicom_folder):
    window = make_window(home)  # an empty home
    assert window.model.rowCount() == 0
    folder = dicom_folder[0]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(window.importer.imported, timeout=20000) as blocker:
        _menu_action(window, "import_folder").trigger()
    result = blocker.args[0]
    assert result.imported == 12 and not result.rejected
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=10000)
    assert window.last_message.startswith("Imported 12 files into 4 studies")
    assert window.count_label.text() == "4 studies"
    assert not _message_boxes()
    rows = window.jobs_panel.rows()
    assert rows and rows[0].job.state == "succeeded" and rows[0].bar.value() == rows[0].bar.maximum()


def test_import_files_reports_refused_paths(qtbot, monkeypatch, make_window, home, tmp_path):
    window = make_window(home)
    folder = tmp_path / "new"
    write_studies(folder, (StudySpec("GREEN^LUCY", "P009", "19900101", "20240505", "ACC009",
                                     "CT KNEE", (("CT", 1, "Knee", 2),)),))
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    chosen = [str(p) for p in sorted(folder.iterdir())] + [str(junk)]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: (chosen, ""))
    with qtbot.waitSignal(window.importer.imported, timeout=20000):
        _menu_action(window, "import_files").trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10000)
    assert window.model.data(window.model.index(0, column_index("patient_name"))) == "GREEN, Lucy"
    assert "2 files into 1 study, 1 refused" in window.last_message
    dialog = window.findChild(RefusedDialog)
    assert dialog is not None and dialog.isVisible()
    (path, reason), = dialog.refused()
    assert path == str(junk) and reason.startswith("not DICOM")


def _drop(window, paths) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop


def test_import_by_drop(qtbot, make_window, home, dicom_folder):
    window = make_window(home)
    with qtbot.waitSignal(window.importer.imported, timeout=20000):
        drop = _drop(window, [dicom_folder[0]])
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=10000)
    names = {window.model.data(window.model.index(r, column_index("patient_name"))) for r in range(4)}
    assert names == {"DOE, John", "SMITH, Anna", "BROWN, Peter"}


def test_drop_of_something_else_is_refused(window):
    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_second_import_counts_duplicates(qtbot, window, dicom_folder):
    with qtbot.waitSignal(window.importer.imported, timeout=20000) as blocker:
        _drop(window, [dicom_folder[0]])
    assert blocker.args[0].duplicates == 12
    assert "12 already in the cache" in window.last_message
