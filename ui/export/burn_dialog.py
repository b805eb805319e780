"""Burn the ticked studies to disc or to an ISO file.

The dialog shows the studies and their total size against the chosen
medium (how many discs they need), the drives found (or "ISO file..."), the
volume label, whether to anonymise, whether to add the web index and whether
to keep images compressed (the size shown follows it; the widgets:
ui/export/burn_form.py). The studies are read with ``runner.read``;
the drives are asked for in a job too. Burning, its progress and Cancel, and
the verification of every disc: ui/export/burn_run.py; the question between
discs: ui/export/disc_prompt.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QTableWidgetItem, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.media import MEDIA, BurnResult, capacity, decompress, names, selection
from app.media import anonymise as anon
from app.media.burners import Burner, for_system
from ui import formatting
from ui.export.burn_form import ISO_TARGET, BurnForm
from ui.export.burn_run import BurnRun
from ui.export.disc_prompt import DiscPrompt
from ui.jobs import Job, JobRunner

__all__ = ["ISO_TARGET", "BurnDialog", "open_burn_dialog"]


def _megabytes(size: int) -> str:
    if size >= 1e9:
        return f"{size / 1e9:.2f} GB"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(size, 1) / 1e3:.0f} KB"


class BurnDialog(BurnRun, BurnForm, QDialog):
    burned = Signal(object)  # BurnResult

    def __init__(self, home: Home, user: User, study_uids: list[str], runner: JobRunner,
                 burner: Optional[Burner] = None, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("burnDialog")
        self.setWindowTitle("Burn to disc")
        self.resize(760, 560)
        self.home, self.user, self.uids, self.runner = home, user, list(study_uids), runner
        self.burner = burner
        self.studies: list[selection.Study] = []
        self.decoded: list[selection.Study] = []  # sized as written decompressed
        self.job: Optional[Job] = None
        self.result: Optional[BurnResult] = None
        self.prompt = DiscPrompt(self)
        self.drives_loaded = False
        self.can_anonymise = anon.available()
        self._build()
        uids = self.uids
        runner.read(home, "Burn: studies",
                    lambda db, p, c: _with_decoded(selection.load(home, db, uids)),
                    on_success=self._loaded, on_failure=self._show_failure)
        runner.start("Burn: drives", lambda p, c: self._burner().drives(), kind="read",
                     visible=False, on_success=self._drives, on_failure=lambda _m: self._drives([]))

    def _burner(self) -> Burner:
        if self.burner is None:
            self.burner = for_system()
        return self.burner

    # -- loading --------------------------------------------------------------------

    def _loaded(self, loaded: tuple[list[selection.Study], list[selection.Study]]) -> None:
        studies, self.decoded = loaded
        self.studies = studies
        self.table.setRowCount(len(studies))
        for row, study in enumerate(studies):
            cells = (formatting.person_name(study.patient.patient_name),
                     formatting.dicom_date(study.study_date), study.study_description,
                     str(study.instance_count), _megabytes(study.size))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        total = capacity.estimate(self.decoded, True)  # decompressed: the default
        fitting = next((i for i, m in enumerate(MEDIA.values()) if total <= m.capacity), len(MEDIA) - 1)
        self.medium.setCurrentIndex(fitting)
        self._update()

    def _drives(self, drives) -> None:
        for drive in drives:
            self.target.addItem(f"{drive.name} ({drive.device})", drive.device)
        if drives:
            self.target.setCurrentIndex(1)
        self.drives_loaded = True
        self._update()

    def choose_device(self, device: str) -> None:
        """Select *device* as the target (a drive, or ``stdio:FILE``)."""
        index = self.target.findData(device)
        if index < 0:
            self.target.addItem(device, device)
            index = self.target.count() - 1
        self.target.setCurrentIndex(index)

    def device(self) -> Optional[str]:
        return self.target.currentData()

    def _update(self) -> None:
        self.volume.setText(f"Volume label: {names.volume_id(self.label.text())}")
        iso = self.device() is None
        self.iso_path.setEnabled(iso)
        self.browse.setEnabled(iso)
        if not self.studies:
            return
        chosen = MEDIA[self.medium.currentData()]
        sized = self.studies if self.keep_compressed.isChecked() else self.decoded
        size = capacity.estimate(sized, self.web.isChecked())
        discs = len(capacity.plan(sized, chosen.capacity, self.web.isChecked()))
        fits = "fits on one disc" if discs == 1 else f"needs {discs} discs"
        self.fit.setText(f"{_megabytes(size)} for {chosen.title}: {fits}"
                         + ("" if discs == 1 or not iso else " (one ISO file per disc)"))
        self.burn_button.setEnabled(self.job is None and self.user.can("export"))
        if not self.user.can("export"):
            self.burn_button.setToolTip(f"User {self.user.name} has no export privilege")


def _with_decoded(studies: list[selection.Study]) -> tuple[list[selection.Study], list[selection.Study]]:
    """The studies as stored and as they are written decompressed (the
    default for a disc for another site): the size the form shows follows
    "Keep images compressed"."""
    return studies, decompress.with_decoded_sizes(studies)


def open_burn_dialog(parent: Optional[QWidget], home: Home, user: User,
                     study_uids: list[str]) -> BurnDialog:
    """Open the Burn dialog (non-blocking) for *study_uids*; it uses the
    parent window's job runner when it has one."""
    runner = getattr(parent, "runner", None)
    if not isinstance(runner, JobRunner):
        runner = JobRunner(parent, error_parent=parent)
    dialog = BurnDialog(home, user, study_uids, runner, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
