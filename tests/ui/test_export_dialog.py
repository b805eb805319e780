"""The export dialog: options follow the mode, progress moves, the report is
shown at the end, and a refused export can go ahead with a reason."""

from __future__ import annotations

import zipfile

from PySide6.QtCore import Qt

from ui.export.export_dialog import ExportDialog, open_export_dialog
from ui.jobs import JobRunner


def _dialog(qtbot, home, admin, uids, target):
    runner = JobRunner()
    dialog = ExportDialog(home, admin, uids, runner)
    qtbot.addWidget(dialog)
    dialog.destination.setText(str(target))
    dialog.show()
    return dialog, runner


def test_options_progress_and_report(qtbot, loaded_home, admin, dicom_folder, tmp_path):
    uids = list(dicom_folder[1].values())[:2]
    target = tmp_path / "anon.zip"
    dialog, runner = _dialog(qtbot, loaded_home, admin, uids, target)
    try:
        assert not dialog.options_box.isEnabled()  # nothing chosen yet: no options
        qtbot.mouseClick(dialog.anonymize, Qt.MouseButton.LeftButton)
        assert dialog.options_box.isEnabled()
        assert len(dialog.options) == 10
        assert dialog.findChild(type(dialog.message), "explain-retain-uids").text()
        dialog.options["retain-long-modified-dates"].setChecked(True)
        dialog.options["retain-long-full-dates"].setChecked(True)  # excludes the other
        assert dialog.chosen_options() == ["retain-long-full-dates"]
        dialog.options["clean-descriptors"].setChecked(True)
        values = []
        with qtbot.waitSignal(dialog.exportFinished, timeout=60000) as finished:
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
            dialog.job.progress.connect(lambda f, m: values.append(f))
            assert dialog.cancel_button.text() == "Cancel"
        assert finished.args == ["succeeded"]
        assert dialog.progress.value() == 1000 and values
        assert dialog.report.isVisible()
        assert "PASSED" in dialog.report.toPlainText()
        assert "retain-long-full-dates" in dialog.report.toPlainText()
        with zipfile.ZipFile(target) as z:
            assert "DEIDENTIFICATION_REPORT.html" in z.namelist()
        assert dialog.result.options == ["retain-long-full-dates", "clean-descriptors"]
    finally:
        runner.shutdown()


def test_refused_export_goes_ahead_with_a_reason(qtbot, home, admin, tmp_path):
    from app.importing.importer import import_paths
    from tests.factories import ct_dataset, write

    ds = ct_dataset("PX3", "WINTERBOTTOM^IRIS")
    pixels = bytearray(ds.PixelData)
    pixels[10:22] = b"WINTERBOTTOM"
    ds.PixelData = bytes(pixels)
    write(ds, tmp_path / "src" / "a.dcm")
    uids = import_paths(home, [tmp_path / "src"], admin).studies
    target = tmp_path / "r.zip"
    dialog, runner = _dialog(qtbot, home, admin, uids, target)
    try:
        dialog.anonymize.setChecked(True)
        with qtbot.waitSignal(dialog.exportFinished, timeout=60000) as finished:
            dialog.start()
        assert finished.args == ["refused"]
        assert dialog.override_panel.isVisible() and not dialog.override.isEnabled()
        assert "FAILED" in dialog.report.toPlainText()
        assert not target.exists()
        dialog.reason.setText("pixels reviewed by the teaching-file editor")
        with qtbot.waitSignal(dialog.exportFinished, timeout=60000) as finished:
            qtbot.mouseClick(dialog.override, Qt.MouseButton.LeftButton)
        assert finished.args == ["succeeded"] and target.exists()
        assert "pixels reviewed" in dialog.report.toPlainText()
    finally:
        runner.shutdown()


def test_cancel_ends_as_cancelled_and_keeps_nothing(qtbot, loaded_home, admin, dicom_folder,
                                                    tmp_path, monkeypatch):
    import threading

    import app.export as export

    gate = threading.Event()
    real = export.plan.items

    def slow_items(*args, **kwargs):
        assert gate.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(export.plan, "items", slow_items)
    target = tmp_path / "c.zip"
    dialog, runner = _dialog(qtbot, loaded_home, admin, list(dicom_folder[1].values()), target)
    try:
        qtbot.mouseClick(dialog.plain, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(dialog.exportFinished, timeout=60000) as finished:
            dialog.start()
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
            gate.set()
        assert finished.args == ["cancelled"]
        assert not target.exists() and list(tmp_path.glob(".c.zip*")) == []
    finally:
        gate.set()
        runner.shutdown()


def test_open_export_dialog_uses_the_parents_runner(qtbot, loaded_home, admin, dicom_folder):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    parent.runner = JobRunner(parent)
    qtbot.addWidget(parent)
    open_export_dialog(parent, loaded_home, admin, list(dicom_folder[1].values()))
    dialogs = parent.findChildren(ExportDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    assert dialogs[0].runner is parent.runner
    assert dialogs[0].summary.text() == "4 studies selected"
    dialogs[0].close()
    parent.runner.shutdown()


def test_the_patient_data_choice_is_unmistakable_and_never_made_for_the_user(
        qtbot, qapp, loaded_home, admin, dicom_folder, tmp_path):
    """Nothing is chosen at first and Export waits; each choice is a large
    toggle that changes colour, and a sentence says whether patient data
    leaves; the plain export says so on its button and does carry the name."""
    from ui.app import apply_theme

    apply_theme(qapp)
    uids = list(dicom_folder[1].values())[:1]
    target = tmp_path / "plain.zip"
    dialog, runner = _dialog(qtbot, loaded_home, admin, uids, target)
    try:
        qtbot.waitExposed(dialog)
        assert not dialog.plain.isChecked() and not dialog.anonymize.isChecked()
        assert not dialog.start_button.isEnabled() and dialog.start() is None
        assert "Nothing is chosen for you" in dialog.verdict.text()
        for toggle in (dialog.plain, dialog.anonymize):
            assert toggle.height() >= 44 and toggle.isVisible()

        def colour(widget):
            image = widget.grab().toImage()
            return image.pixelColor(image.width() // 2, 6).name()

        unchosen = colour(dialog.plain)
        qtbot.mouseClick(dialog.plain, Qt.MouseButton.LeftButton)
        assert colour(dialog.plain) != unchosen
        assert dialog.verdict.text().startswith("Patient data WILL leave")
        assert dialog.start_button.isEnabled() and dialog.start_button.text() == "Export WITH patient data"
        qtbot.mouseClick(dialog.anonymize, Qt.MouseButton.LeftButton)
        assert not dialog.plain.isChecked() and colour(dialog.plain) == unchosen
        assert "will be removed" in dialog.verdict.text() and dialog.options_box.isEnabled()
        assert dialog.start_button.text() == "Export anonymised"
        qtbot.mouseClick(dialog.plain, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(dialog.exportFinished, timeout=60000) as finished:
            qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert finished.args == ["succeeded"]
        with zipfile.ZipFile(target) as z:
            assert any(b"DOE^JOHN" in z.read(n) or b"SMITH^ANNA" in z.read(n) or b"BROWN^PETER" in z.read(n)
                       for n in z.namelist())
    finally:
        runner.shutdown()
