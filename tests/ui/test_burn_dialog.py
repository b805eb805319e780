"""The Burn dialog: studies and size against the medium, the target (drives
or an ISO file), label, anonymise, web index; progress, Cancel, the next
blank disc, and the verification result at the end."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from app.accounts import audit
from app.home import os_login
from app.media import anonymise as anon
from app.media.burners import BLANK, Burner, Drive, MediaInfo, ReadBack
from app.media.capacity import FIXED_OVERHEAD
from ui.export.burn_dialog import ISO_TARGET, BurnDialog, open_burn_dialog
from ui.jobs import JobRunner


class FakeDrive(Burner):
    """A drive that 'burns' by copying the staged folder and reads back from
    the copy; *hold* keeps the write going until the job is cancelled."""

    name = "fake"

    def __init__(self, out: Path, free: int = 10**9, hold: bool = False):
        self.out, self.free, self.hold = out, free, hold
        self.writing = threading.Event()
        self.written: list[Path] = []

    def drives(self):
        return [Drive("fake0", "Test drive")]

    def media(self, device):
        return MediaInfo(BLANK, self.free, "CD-R")

    def write(self, disc, device, progress, cancel):
        self.writing.set()
        while self.hold:
            cancel.check()
            threading.Event().wait(0.05)
        target = self.out / f"disc{disc.number}"
        shutil.copytree(disc.folder, target)
        self.written.append(target)
        progress(1.0, "written")

    def read_back(self, disc, device):
        return ReadBack(folder=self.out / f"disc{disc.number}")


@pytest.fixture
def runner(qapp):
    r = JobRunner()
    yield r
    r.shutdown()


@pytest.fixture
def uids(loaded_home, dicom_folder):
    return list(dicom_folder[1].values())[:2]


def make(qtbot, home, user, uids, runner, burner) -> BurnDialog:
    dialog = BurnDialog(home, user, uids, runner, burner=burner)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.burn_button.isEnabled() and dialog.drives_loaded, timeout=20000)
    return dialog


def test_the_dialog_shows_the_studies_their_size_and_the_targets(qtbot, loaded_home, admin, uids,
                                                                 runner, tmp_path):
    dialog = make(qtbot, loaded_home, admin, uids, runner, FakeDrive(tmp_path))
    assert dialog.table.rowCount() == 2
    assert dialog.table.item(0, 0).text() == "DOE, John"
    assert dialog.medium.currentData() == "cd"  # the smallest medium that holds them
    assert "fits on one disc" in dialog.fit.text() and "CD (700 MB)" in dialog.fit.text()
    targets = [dialog.target.itemText(i) for i in range(dialog.target.count())]
    assert targets == [ISO_TARGET, "Test drive (fake0)"]
    assert dialog.device() == "fake0" and not dialog.iso_path.isEnabled()
    dialog.label.setText("for dr who")
    assert dialog.volume.text() == "Volume label: FOR_DR_WHO"
    assert dialog.web.isChecked()
    assert dialog.anonymise.isEnabled() == anon.available()


def test_burn_to_an_iso_file_shows_the_verification(qtbot, loaded_home, admin, uids, runner, tmp_path):
    dialog = make(qtbot, loaded_home, admin, uids, runner, FakeDrive(tmp_path))
    dialog.target.setCurrentIndex(0)
    assert dialog.iso_path.isEnabled()
    target = tmp_path / "dialog.iso"
    dialog.iso_path.setText(str(target))
    dialog.label.setText("dialog")
    with qtbot.waitSignal(dialog.burned, timeout=60000) as blocker:
        dialog.burn_button.click()
    result = blocker.args[0]
    assert result.verified and target.is_file()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10000)
    assert dialog.status.text().startswith("All discs verified")
    assert f"Disc 1 of 1 ({target}): verified" in dialog.status.text()
    assert dialog.bar.value() == dialog.bar.maximum()
    assert dialog.cancel_button.text() == "Close"


def test_cancel_stops_the_burn(qtbot, loaded_home, admin, uids, runner, tmp_path):
    drive = FakeDrive(tmp_path, hold=True)
    dialog = make(qtbot, loaded_home, admin, uids, runner, drive)
    with qtbot.waitSignal(runner.job_added, timeout=5000):
        dialog.burn_button.click()
    assert drive.writing.wait(30)
    assert not dialog.label.isEnabled()  # the settings are fixed while it runs
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.status.text() == "Cancelled.", timeout=20000)
    assert dialog.result is None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.burn_button.isEnabled(), timeout=5000)  # may try again
    db = loaded_home.connect()
    try:
        entry = [e for e in audit.entries(db) if e["action"] == "burn"][-1]
    finally:
        db.close()
    assert entry["outcome"] == audit.SERIOUS_FAILURE and "cancelled" in entry["detail"]


def test_the_next_blank_disc_is_asked_for(qtbot, loaded_home, admin, uids, runner, tmp_path):
    drive = FakeDrive(tmp_path, free=FIXED_OVERHEAD + 200_000)  # one study per disc at most
    dialog = make(qtbot, loaded_home, admin, uids, runner, drive)
    assert "needs" not in dialog.fit.text()  # the CD holds them; the disc in the drive does not
    answered = []

    def answer_prompt():
        box = dialog.prompt.box
        if box is not None and box.isVisible():
            answered.append(box.text())
            box.button(QMessageBox.StandardButton.Ok).click()
        return dialog.result is not None

    dialog.burn_button.click()
    qtbot.waitUntil(answer_prompt, timeout=60000)
    result = dialog.result
    assert result.verified and len(result.discs) == result.planned >= 2
    assert len(answered) == result.planned - 1 and "Insert blank disc 2 of" in answered[0]
    assert [p.name for p in drive.written] == [f"disc{n}" for n in range(1, result.planned + 1)]
    status = dialog.status.text()
    assert all(f"Disc {n} of {result.planned}" in status for n in range(1, result.planned + 1))


def test_open_burn_dialog_uses_the_window_runner(qtbot, loaded_home, admin, uids):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.runner = JobRunner(parent)
    try:
        dialog = open_burn_dialog(parent, loaded_home, admin, uids)
        assert dialog.runner is parent.runner and dialog.isVisible()
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=20000)
        qtbot.waitUntil(lambda: dialog.drives_loaded, timeout=20000)
        dialog.reject()
    finally:
        parent.runner.shutdown()


def test_a_user_without_export_privilege_cannot_start(qtbot, loaded_home, admin, uids, runner, tmp_path):
    from app.accounts import accounts

    db = loaded_home.connect()
    try:
        rita = accounts.add_user(db, admin, "rita", ["researcher"])
    finally:
        db.close()
    dialog = BurnDialog(loaded_home, rita, uids, runner, burner=FakeDrive(tmp_path))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=20000)
    assert not dialog.burn_button.isEnabled() and "export privilege" in dialog.burn_button.toolTip()
    assert os_login() != "rita"
