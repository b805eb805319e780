"""The workstation's main window: QBE bar, worklist, series strip, jobs panel."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import (QAction, QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QFont,
                           QFontMetrics, QKeySequence)
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QMainWindow, QMessageBox,
                               QSplitter, QTableView, QVBoxLayout, QWidget)

from app import __version__
from app.accounts import User
from app.home import Home
from app.worklist import Query
from ui import formatting
from ui.importing import Importer, local_paths, summary
from ui.jobs import Job, JobRunner
from ui.jobs_panel import jobs_dock
from ui.qbe_bar import QbeBar
from ui.series_strip import SeriesStrip
from ui.worklist_model import COLUMNS, WorklistModel

# What a typical value looks like, to size each column from the font in use.
COLUMN_SAMPLES = {"patient_name": "LINDQVIST-BERG, Maja Elin", "patient_id": "PID1002-B00",
                  "patient_birth_date": "0000-00-00", "study_date": "0000-00-00",
                  "accession": "ACC10022000", "modalities": "CT, RTDOSE, RTPLAN, RTSTRUCT",
                  "description": "CT Chest w/o contrast, high resolution",
                  "series_count": "000", "instance_count": "0,000", "assigned_to": "radiologist"}
CELL_PADDING = 40  # the style sheet's item padding plus the style's margins and elide slack
HEADER_PADDING = 48  # section padding plus room for the sort arrow


class WorklistView(QTableView):
    """The worklist table: whole rows, sortable header (SQL-sortable columns only)."""

    def __init__(self, model: WorklistModel, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("worklist")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.fit_columns()
        header.setStretchLastSection(True)
        header.setSortIndicator(model.sort_column(),
                                Qt.SortOrder.DescendingOrder if model.descending
                                else Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)

    def fit_columns(self) -> None:
        """Widths from the font, so no title or typical value is clipped."""
        cell = self.fontMetrics()
        bold = QFont(self.horizontalHeader().font())
        bold.setBold(True)
        title = QFontMetrics(bold)
        for i, column in enumerate(COLUMNS):
            sample = COLUMN_SAMPLES.get(column.key, "0000000000")
            self.setColumnWidth(i, max(cell.horizontalAdvance(sample) + CELL_PADDING,
                                       title.horizontalAdvance(column.title) + HEADER_PADDING))

    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        model: WorklistModel = self.model()
        if COLUMNS[column].sort is None:  # put the indicator back where SQL sorts
            header = self.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(model.sort_column(),
                                    Qt.SortOrder.DescendingOrder if model.descending
                                    else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)


class MainWindow(QMainWindow):
    def __init__(self, home: Home, user: User, parent: Optional[QWidget] = None,
                 temporary_home: bool = False):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.home = home
        self.user = user
        self.setWindowTitle(f"StudyDesk  —  {home.root.name}")
        self.setAcceptDrops(True)
        self.runner = JobRunner(self, error_parent=self)
        self.qbe = QbeBar()
        self.model = WorklistModel(home, self.runner, user.name, self)
        self.table = WorklistView(self.model)
        self.strip = SeriesStrip(home, self.runner)
        self.importer = Importer(home, user, self.runner, self)
        self.jobs_dock = jobs_dock(self.runner, self)
        self.jobs_panel = self.jobs_dock.widget()
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.resizeDocks([self.jobs_dock], [96], Qt.Orientation.Vertical)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("mainSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(self.strip)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.qbe)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self._build_status_bar(temporary_home)
        self._build_menus()

        self.qbe.search_requested.connect(self.search)
        self.model.searched.connect(self._searched)
        self.model.search_failed.connect(lambda m: self.show_message(f"Search failed: {m}"))
        self.model.modelAboutToBeReset.connect(self._remember_current)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(self._open_study)
        self.importer.message.connect(self.show_message)
        self.importer.changed.connect(self.refresh)
        self._keep_study: Optional[str] = None
        self._reload_strip = False
        self.resize(1500, 940)
        self.search(Query())

    # -- layout ------------------------------------------------------------------

    def _build_status_bar(self, temporary_home: bool) -> None:
        bar = self.statusBar()
        self.count_label = QLabel("Searching...")
        self.count_label.setObjectName("countLabel")
        roles = ", ".join(sorted(self.user.roles)) or "no role"
        self.user_label = QLabel(f"User: {self.user.name} ({roles})")
        self.user_label.setObjectName("userLabel")
        where = f"{self.home.root}" + ("  (temporary)" if temporary_home else "")
        self.home_label = QLabel(f"Home: {where}")
        self.home_label.setObjectName("homeLabel")
        self.home_label.setToolTip(str(self.home.root))
        for label in (self.count_label, self.user_label, self.home_label):
            bar.addPermanentWidget(label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for key in ("files", "folder", "zip", "dicomdir"):
            file_menu.addAction(self.importer.actions[key])
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setObjectName("quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.jobs_dock.toggleViewAction())
        find = QAction("&Find patient", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: self.qbe.patient_name.setFocus())
        view_menu.addAction(find)
        refresh = QAction("&Refresh worklist", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.refresh)
        view_menu.addAction(refresh)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About StudyDesk", self)
        about.setObjectName("about")
        about.triggered.connect(self.about)
        help_menu.addAction(about)

    # -- worklist ----------------------------------------------------------------

    def search(self, query: Query) -> None:
        self.count_label.setText("Searching...")
        self.model.search(query)

    def refresh(self) -> None:
        """Search again (after an import): the current study may have new series."""
        self._reload_strip = True
        self.model.refresh()

    def _remember_current(self) -> None:
        current = self.table.currentIndex()
        uid = self.model.study_uid(current.row()) if current.isValid() else None
        self._keep_study = uid or self._keep_study

    def _searched(self, count: int) -> None:
        reload_strip, self._reload_strip = self._reload_strip, False
        self.count_label.setText(f"{count:,} stud{'ies' if count != 1 else 'y'}")
        row = self.model.row_of(self._keep_study) if self._keep_study else -1
        if count and row < 0:
            row = 0
        if row >= 0:
            index = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
            self.table.scrollTo(index)
            if reload_strip and self.strip.study_uid == self.model.study_uid(row):
                self.strip.reload()
        else:
            self.strip.show_study(None)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        uid = self.model.study_uid(current.row())
        self._keep_study = uid
        study = self.model.study(current.row())
        heading = "  ·  ".join(filter(None, (
            formatting.person_name(study.get("patient_name")), study.get("patient_id"),
            formatting.dicom_date(study.get("study_date")), study.get("description"))))
        self.strip.show_study(uid, heading)

    def _open_study(self, _index: QModelIndex) -> None:
        """Double-click: the viewer is not built yet; deliberately nothing."""

    def current_study_uid(self) -> Optional[str]:
        current = self.table.currentIndex()
        return self.model.study_uid(current.row()) if current.isValid() else None

    def select_study(self, study_uid: str) -> bool:
        row = self.model.row_of(study_uid)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True

    # -- jobs and messages -------------------------------------------------------

    def show_message(self, text: str) -> None:
        self.last_message = text
        self.statusBar().showMessage(text)

    def start_demo(self, patients: int = 6) -> Job:
        """Generate and import the demo set as a writer job, then refresh."""
        from app.demo_import import import_demo

        home, user = self.home, self.user

        def job(progress, cancel):
            return import_demo(home, user, patients=patients, progress=progress, cancel=cancel)

        self.show_message("Generating the demo studies...")
        demo = self.runner.start("Demo studies", job, kind="write",
                                 on_success=lambda result: self.show_message(
                                     f"Demo: {summary(result)}"),
                                 summarize=summary)
        demo.finished.connect(self.refresh)
        return demo

    def about(self) -> None:
        QMessageBox.about(self, "About StudyDesk",
                          f"<b>StudyDesk</b> {__version__}<br>"
                          "An open-source desktop PACS workstation.<br><br>"
                          f"Home: {self.home.root}<br>User: {self.user.name}")

    # -- drag and drop -----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.importer.import_paths(paths)

    # -- closing -----------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.runner.running():
            self.show_message("Stopping jobs...")
        self.runner.shutdown()
        self.model.close()
        super().closeEvent(event)
