"""The Burn dialog's form: the studies and their sizes, the medium, the
target (a drive or "ISO file..."), the volume label, Anonymise, the web
index and "Keep images compressed" (off: a disc for another site, its images
decompressed to meet the general-purpose profile), the progress bar, the
status and the buttons. A mixin of
:class:`ui.export.burn_dialog.BurnDialog`, which fills and follows it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QTableWidget, QVBoxLayout)

from app.media import MEDIA, names
from app.media import anonymise as anon

ISO_TARGET = "ISO file..."


class BurnForm:
    """The widgets of the Burn dialog (a mixin: the dialog provides uids,
    can_anonymise and the slots start, _update and _cancel_or_close)."""

    def _build(self) -> None:
        count = len(self.uids)
        heading = QLabel(f"Burn {count} stud{'ies' if count != 1 else 'y'} (IHE PDI: DICOMDIR, "
                         "README, web index)")
        heading.setObjectName("dialogHeading")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("burnStudies")
        self.table.setAccessibleName("Studies to burn")
        self.table.setHorizontalHeaderLabels(["Patient", "Date", "Study", "Objects", "Size"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.medium = QComboBox()
        self.medium.setObjectName("burnMedium")
        self.medium.setAccessibleName("Disc medium")
        for m in MEDIA.values():
            self.medium.addItem(m.title, m.key)
        self.fit = QLabel("Reading the studies...")
        self.fit.setObjectName("burnFit")
        self.target = QComboBox()
        self.target.setObjectName("burnTarget")
        self.target.setAccessibleName("Write to")
        self.target.addItem(ISO_TARGET, None)
        self.iso_path = QLineEdit(self._default_iso())
        self.iso_path.setObjectName("burnIsoPath")
        self.iso_path.setAccessibleName("ISO file")
        self.browse = QPushButton("Browse...")
        self.browse.setAccessibleName("Browse for the ISO file")
        self.browse.clicked.connect(self._choose_iso)
        iso_row = QHBoxLayout()
        iso_row.addWidget(self.iso_path, 1)
        iso_row.addWidget(self.browse)
        self.label = QLineEdit()
        self.label.setObjectName("burnLabel")
        self.label.setAccessibleName("Disc label")
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
        self.keep_compressed = QCheckBox("Keep images compressed (this site only)")
        self.keep_compressed.setObjectName("burnKeepCompressed")
        self.keep_compressed.setToolTip(
            "Off (the default): compressed images are written decompressed, so that any "
            "workstation reads the disc (DICOM general-purpose CD/DVD profile). On: smaller "
            "discs that only a reader of the same compression can open.")
        form = QFormLayout()
        form.addRow("Medium", self.medium)
        form.addRow("", self.fit)
        form.addRow("Write to", self.target)
        form.addRow("ISO file", iso_row)
        form.addRow("Label", self.label)
        form.addRow("", self.volume)
        form.addRow("", self.anonymise)
        form.addRow("", self.web)
        form.addRow("", self.keep_compressed)
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
        for signal in (self.medium.currentIndexChanged, self.web.toggled, self.target.currentIndexChanged,
                       self.keep_compressed.toggled):
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


    def _choose_iso(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "ISO file", self.iso_path.text(),
                                              "ISO images (*.iso)")
        if path:
            self.iso_path.setText(path)
