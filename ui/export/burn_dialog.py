"""Burn the ticked studies to disc or to an ISO file.

The dialog shows the studies and their total size against the chosen
medium (how many discs they need), the drives found (or "ISO file..."), the
volume label, whether to anonymise and whether to add the web index. Burn
runs app.media.burn as a job through ui/jobs.py: progress and Cancel here,
and at the end the verification result of every disc. When the selection
needs another blank disc, the job asks through :class:`DiscPrompt`, which
waits on the job's thread while the question is shown on the GUI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QMessageBox, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.jobs import CancelToken
from app.media import MEDIA, BurnOptions, BurnResult, burn, capacity, names, selection
from app.media import anonymise as anon
from app.media.burners import Burner, for_system
from ui import formatting
from ui.jobs import Job, JobRunner

ISO_TARGET = "ISO file..."


def load_selection(home: Home, study_uids: list[str]) -> list[selection.Study]:
    """Job body: the studies with their series and instances."""
    db = home.connect()
    try:
        return selection.load(home, db, study_uids)
    finally:
        db.close()


def _megabytes(size: int) -> str:
    if size >= 1e9:
        return f"{size / 1e9:.2f} GB"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(size, 1) / 1e3:.0f} KB"


class DiscPrompt(QObject):
    """Asks for the next blank disc on the GUI thread; :meth:`ask` blocks
    the calling (job) thread until the answer, or until the job is cancelled."""

    asked = Signal(int, int)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.parent_widget = parent
        self.box: Optional[QMessageBox] = None
        self._answer = False
        self._done = threading.Event()
        self.asked.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def ask(self, number: int, total: int, token: CancelToken) -> bool:  # job thread
        self._done.clear()
        self.asked.emit(number, total)
        while not self._done.wait(0.2):
            if token.cancelled:
                return False
        return self._answer

    @Slot(int, int)
    def _show(self, number: int, total: int) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Next disc",
                          f"Disc {number - 1} is written and verified.\n\n"
                          f"Insert blank disc {number} of {total}, then press OK.",
                          QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
                          self.parent_widget)
        box.setObjectName("nextDiscPrompt")
        box.finished.connect(lambda code: self.answer(code == QMessageBox.StandardButton.Ok))
        self.box = box
        box.open()

    def answer(self, yes: bool) -> None:
        self._answer = yes
        self._done.set()
        if self.box is not None:
            box, self.box = self.box, None
            box.deleteLater()


class BurnDialog(QDialog):
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
        self.job: Optional[Job] = None
        self.result: Optional[BurnResult] = None
        self.prompt = DiscPrompt(self)
        self.drives_loaded = False
        self.can_anonymise = anon.available()
        self._build()
        runner.start("Burn: studies", lambda p, c: load_selection(home, self.uids), kind="read",
                     visible=False, on_success=self._loaded, on_failure=self._show_failure)
        runner.start("Burn: drives", lambda p, c: self._burner().drives(), kind="read",
                     visible=False, on_success=self._drives, on_failure=lambda _m: self._drives([]))

    # -- building ------------------------------------------------------------------

    def _build(self) -> None:
        count = len(self.uids)
        heading = QLabel(f"Burn {count} stud{'ies' if count != 1 else 'y'} (IHE PDI: DICOMDIR, "
                         "README, web index)")
        heading.setObjectName("dialogHeading")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("burnStudies")
        self.table.setHorizontalHeaderLabels(["Patient", "Date", "Study", "Objects", "Size"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.medium = QComboBox()
        self.medium.setObjectName("burnMedium")
        for m in MEDIA.values():
            self.medium.addItem(m.title, m.key)
        self.fit = QLabel("Reading the studies...")
        self.fit.setObjectName("burnFit")
        self.target = QComboBox()
        self.target.setObjectName("burnTarget")
        self.target.addItem(ISO_TARGET, None)
        self.iso_path = QLineEdit(self._default_iso())
        self.iso_path.setObjectName("burnIsoPath")
        self.browse = QPushButton("Browse...")
        self.browse.clicked.connect(self._choose_iso)
        iso_row = QHBoxLayout()
        iso_row.addWidget(self.iso_path, 1)
        iso_row.addWidget(self.browse)
        self.label = QLineEdit()
        self.label.setObjectName("burnLabel")
        self.label.setPlaceholderText(names.DEFAULT_LABEL)
        self.label.setMaxLength(32)
        self.volume = QLabel(names.volume_id(""))
        self.volume.setObjectName("dialogNote")
        self.anonymise = QCheckBox("Anonymise (DICOM PS3.15 Basic Profile)")
        self.anonymise.setObjectName("burnAnonymise")
        if not self.can_anonymise:
            self.anonymise.setEnabled(False)
            self.anonymise.setToolTip(anon.NEEDS_ENGINE)
        self.web = QCheckBox("Include the web index (INDEX.HTM with previews)")
        self.web.setObjectName("burnWeb")
        self.web.setChecked(True)
        form = QFormLayout()
        form.addRow("Medium", self.medium)
        form.addRow("", self.fit)
        form.addRow("Write to", self.target)
        form.addRow("ISO file", iso_row)
        form.addRow("Label", self.label)
        form.addRow("", self.volume)
        form.addRow("", self.anonymise)
        form.addRow("", self.web)
        self.bar = QProgressBar()
        self.bar.setObjectName("burnProgress")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.status = QLabel("")
        self.status.setObjectName("burnStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.burn_button = buttons.addButton("Burn", QDialogButtonBox.ButtonRole.AcceptRole)
        self.burn_button.setObjectName("burnButton")
        self.burn_button.setEnabled(False)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("burnCancel")
        self.burn_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        for signal in (self.medium.currentIndexChanged, self.web.toggled, self.target.currentIndexChanged):
            signal.connect(self._update)
        self.label.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    @staticmethod
    def _default_iso() -> str:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return str(Path(folder or Path.home()) / "StudyDesk.iso")

    def _burner(self) -> Burner:
        if self.burner is None:
            self.burner = for_system()
        return self.burner

    # -- loading --------------------------------------------------------------------

    def _loaded(self, studies: list[selection.Study]) -> None:
        self.studies = studies
        self.table.setRowCount(len(studies))
        for row, study in enumerate(studies):
            cells = (formatting.person_name(study.patient.patient_name),
                     formatting.dicom_date(study.study_date), study.study_description,
                     str(study.instance_count), _megabytes(study.size))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        total = capacity.estimate(studies, True)
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

    def _choose_iso(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "ISO file", self.iso_path.text(),
                                              "ISO images (*.iso)")
        if path:
            self.iso_path.setText(path)

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
        size = capacity.estimate(self.studies, self.web.isChecked())
        discs = len(capacity.plan(self.studies, chosen.capacity, self.web.isChecked()))
        fits = "fits on one disc" if discs == 1 else f"needs {discs} discs"
        self.fit.setText(f"{_megabytes(size)} for {chosen.title}: {fits}"
                         + ("" if discs == 1 or not iso else " (one ISO file per disc)"))
        self.burn_button.setEnabled(self.job is None and self.user.can("export"))
        if not self.user.can("export"):
            self.burn_button.setToolTip(f"User {self.user.name} has no export privilege")

    # -- burning --------------------------------------------------------------------

    def options(self) -> BurnOptions:
        return BurnOptions(label=self.label.text().strip(), web=self.web.isChecked(),
                           anonymise=self.anonymise.isChecked(),
                           medium=MEDIA[self.medium.currentData()])

    def start(self) -> Optional[Job]:
        if self.job is not None or not self.studies:
            return None
        home, user, uids, options = self.home, self.user, list(self.uids), self.options()
        device = self.device()
        iso_path = None if device else Path(self.iso_path.text().strip() or self._default_iso())
        burner = self._burner() if device else None
        prompt = self.prompt

        def job(progress, cancel):
            return burn(home, user, uids, iso_path=iso_path, device=device, options=options,
                        burner=burner, next_disc=lambda n, total: prompt.ask(n, total, cancel),
                        progress=progress, cancel=cancel)

        self._settings_enabled(False)
        self.status.setText("Burning...")
        self.job = self.runner.start(f"Burn {len(uids)} studies", job, kind="read",
                                     on_success=self._done, on_failure=self._show_failure,
                                     on_cancel=self._cancelled)
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        return self.job

    def _progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _done(self, result: BurnResult) -> None:
        self.result = result
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000)
        lines = []
        for disc in result.discs:
            check = disc.verification
            state = check.summary() if check else "written (not read back)"
            lines.append(f"Disc {disc.number} of {disc.total} ({disc.target}): {state}")
        if len(result.discs) < result.planned:
            lines.append(f"Stopped after {len(result.discs)} of {result.planned} discs.")
        self.status.setProperty("verified", result.verified)
        self.status.setText(("All discs verified against their manifests.\n" if result.verified
                             else "Verification FAILED: do not hand out these discs.\n")
                            + "\n".join(lines))
        self.burned.emit(result)

    def _show_failure(self, message: str) -> None:
        self.status.setProperty("verified", False)
        self.status.setText(f"Burning failed: {message}")

    def _cancelled(self) -> None:
        self.status.setText("Cancelled.")

    def _settings_enabled(self, enabled: bool) -> None:
        for widget in (self.medium, self.target, self.label, self.web, self.burn_button):
            widget.setEnabled(enabled)
        self.anonymise.setEnabled(enabled and self.can_anonymise)
        if enabled:
            self._update()
        else:
            self.iso_path.setEnabled(False)
            self.browse.setEnabled(False)

    def _finished(self) -> None:
        self.job = None
        self.bar.setRange(0, 1000)
        self.cancel_button.setText("Close")
        if self.result is None or not self.result.verified:
            self._settings_enabled(True)  # failed or cancelled: change something and try again

    def _cancel_or_close(self) -> None:
        self.reject()

    def reject(self) -> None:
        """Cancel (and Escape) stop a running burn first; then they close."""
        if self.job is not None:
            self.job.cancel()
            self.prompt.answer(False)
            self.status.setText("Cancelling...")
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.job is not None:
            self.job.cancel()
            self.prompt.answer(False)
        super().closeEvent(event)


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
