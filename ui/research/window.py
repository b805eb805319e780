"""The research window: the active project in the toolbar, subjects found by
"Select one" or "Bulk search", the patient table expanding to studies, and
per study the Edit dialog that stages series into the project.

``open_research_window(parent, home, user)`` opens it (or raises the one
already open); it reuses the parent's job runner when the parent has one, so
staging shows in the jobs panel and queues behind other writers. The window
reads again what a ``cache_changed`` broadcast of its home names
(ui/cache_events.py): the projects and the staged studies on PROJECTS, the
expanded subjects' studies on STUDIES. Its toolbar and commands:
window_commands.py.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.research import projects
from ui.cache_events import PROJECTS, STUDIES, CacheChange, events_of
from ui.jobs import JobRunner
from ui.research import data
from ui.research.edit_dialog import EditDialog
from ui.research.patient_model import PatientModel
from ui.research.patient_table import PatientTable
from ui.research.subject_finder import SubjectFinder
from ui.viewer import launch
from ui.research.window_commands import ResearchCommands


class ResearchWindow(ResearchCommands, QMainWindow):
    projects_loaded = Signal()
    subjects_shown = Signal()

    def __init__(self, home: Home, user: User, runner: Optional[JobRunner] = None,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setObjectName("researchWindow")
        self.setWindowTitle(f"Research projects  \u2014  {home.root.name}")
        self.home, self.user = home, user
        self._own_runner = runner is None
        self.runner = runner if runner is not None else JobRunner(self, error_parent=self)
        self.project, self.role = "", ""
        self._wanted = ""  # the project to select when the projects are read next
        self.projects: list[dict] = []
        self.dialogs: dict[str, EditDialog] = {}
        self._loading = 0
        self.finder = SubjectFinder(home, user, self.runner)
        self.model = PatientModel(home, user, self.runner, self)
        self.table = PatientTable(self.model)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.finder)
        layout.addWidget(self.table, 1)
        self.setCentralWidget(central)
        self._build_toolbar()
        self.status = QLabel()
        self.status.setObjectName("researchStatus")
        self.statusBar().addWidget(self.status, 1)

        self.finder.subject_chosen.connect(lambda s: self.show_subjects([s], f"Subject {s['subject']}"))
        self.finder.bulk_found.connect(lambda r: self.show_subjects(r.subjects, "Bulk search"))
        self.finder.show_all_requested.connect(self.show_all)
        self.table.edit_requested.connect(self.open_edit)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_actions())
        self.resize(1400, 820)
        events_of(home).cache_changed.connect(self._cache_changed)
        self.load_projects()

    # -- projects --------------------------------------------------------------------------

    def load_projects(self, select: str = "") -> None:
        home, user = self.home, self.user
        self._loading += 1
        self.runner.read(home, "Research: projects", lambda db, p, c: data.visible_projects(db, user),
                         on_success=lambda rows: self._projects(rows, select or self._wanted or self.project),
                         on_failure=lambda m: self._projects([], "", m))

    def select_project(self, name: str) -> None:
        """Make *name* the active project when the projects are read next
        (a new one: its creation's broadcast reads them)."""
        self._wanted = name
        if name in [r["project"] for r in self.projects]:
            self.load_projects(select=name)

    def _projects(self, rows: list[dict], select: str, error: str = "") -> None:
        self._loading -= 1
        if select == self._wanted:
            self._wanted = ""
        self.projects = rows
        self.project_box.blockSignals(True)
        self.project_box.clear()
        for row in rows:
            count = row["subjects"]
            self.project_box.addItem(f"{row['project']}   ({count} subject{'s' if count != 1 else ''})",
                                     row["project"])
        names = [r["project"] for r in rows]
        self.project_box.setCurrentIndex(names.index(select) if select in names else 0 if rows else -1)
        self.project_box.blockSignals(False)
        if error:
            self.show_message(f"Could not read the projects: {error}")
        elif not rows:
            self.show_message("No research project yet: \u201cNew project...\u201d creates one")
        self._project_changed()
        self.projects_loaded.emit()

    def _project_changed(self, *_) -> None:
        name = self.project_box.currentData() or ""
        row = next((r for r in self.projects if r["project"] == name), None)
        changed = name != self.project
        self.project, self.role = name, (row or {}).get("role", "")
        if changed:
            self.finder.set_project(name)
        self.finder.setEnabled(bool(name))
        self.role_label.setText(self._role_text())
        self._update_actions()
        if changed or not self.model.subjects():
            self.show_all()

    def _role_text(self) -> str:
        if not self.project:
            return self.user.name
        role = self.role or "workstation admin (not a member)"
        return f"{self.user.name}: {role} of {self.project}"

    # -- subjects --------------------------------------------------------------------------

    def show_all(self) -> None:
        if not self.project:
            self.model.set_subjects("", [])
            return
        home, user, project = self.home, self.user, self.project
        self._loading += 1
        self.runner.read(home, "Research: subjects", lambda db, p, c: projects.subjects(db, user, project),
                         on_success=lambda rows: self._all(project, rows),
                         on_failure=lambda m: self._all(project, [], m))

    def _all(self, project: str, rows: list[dict], error: str = "") -> None:
        self._loading -= 1
        if project == self.project:
            self.finder.clear_report()
            self.show_subjects(rows, "All subjects", error)

    def show_subjects(self, subjects: list[dict], what: str, error: str = "") -> None:
        self.model.set_subjects(self.project, subjects)
        if len(subjects) == 1:
            self.table.expand(self.model.subject_index(subjects[0]["pid"]))
        count = len(subjects)
        text = f"{what}: {count} subject{'s' if count != 1 else ''} of {self.project}"
        self.show_message(f"Could not read the subjects: {error}" if error else text)
        self._update_actions()
        self.subjects_shown.emit()

    def is_busy(self) -> bool:
        return self._loading > 0 or self.finder.is_searching() or self.model.is_loading()

    def refresh(self) -> None:
        self.load_projects()
        self.model.reload_loaded()

    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(PROJECTS):
            self.load_projects()  # new projects, subject counts
        if change.touches(PROJECTS, STUDIES):
            if change.study_uids:
                for uid in change.study_uids:
                    self.model.reload_study(uid)
            else:
                self.model.reload_loaded()

    # -- closing ---------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        for dialog in self.dialogs.values():
            dialog.close()
        launch.close_viewers(self)  # the viewers its Edit dialogs opened
        if self._own_runner:
            self.runner.shutdown()
        super().closeEvent(event)


def open_research_window(parent: Optional[QWidget], home: Home, user: User) -> ResearchWindow:
    """Open the research window over *parent* (or raise the one already open)."""
    existing = parent.findChildren(ResearchWindow) if parent is not None else []
    if existing:
        window = existing[0]
        window.refresh()
    else:
        runner = getattr(parent, "runner", None)
        window = ResearchWindow(home, user, runner if isinstance(runner, JobRunner) else None, parent)
    window.show()
    window.raise_()
    window.activateWindow()
    return window
