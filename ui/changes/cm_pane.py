"""One Content Manager pane: query-by-example fields over a result tree.

The accession number is the quickest way to a study, so its field comes
first and has focus. Enter in any field searches. Scopes: "All patients"
shows every study of each patient found (drag a series onto another study of
the same patient), "All studies" only the studies that match, and "Admin"
(content managers only) every study whatever its state, trashed, locked and
migrated ones too, each with its state in the Status column.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDateEdit, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from app.changes import view as content
from app.accounts.accounts import User
from app.home import Home
from app.worklist.query import Query
from ui.changes.cm_tree import PATIENT, SERIES, STUDY, ContentTreeModel, ContentTreeView
from ui.jobs import JobRunner
from ui.worklist.qbe_bar import ANY_DATE, MODALITIES, captioned, date_edit
from ui.worklist.thumbnails import ThumbnailLoader

SCOPES = {"All patients": content.PATIENTS, "All studies": content.STUDIES, "Admin": content.ADMIN}
SCOPE_TIPS = {
    "All patients": "Every study of each patient found (drag between studies of one patient)",
    "All studies": "Only the studies that match",
    "Admin": "Content managers: every study in the cache whatever its state (in the trash, locked "
             "by others, migrated), each with its state shown, to find misfiled data anywhere. "
             "Dragging still obeys the rules",
}
FIELD_HEIGHT = 28


class ContentPane(QFrame):
    """``searched(count)`` after each search; ``series_dropped(series, study)``
    from its tree; ``menu_requested(pane, node, global_pos)`` on a right-click;
    ``node_chosen(node or None)`` when the current row changes or is clicked
    (the preview follows it); ``series_activated(series_uid)`` on a
    double-click on a series (the viewer opens it)."""

    searched = Signal(int)
    series_dropped = Signal(list, str)
    menu_requested = Signal(object, object, object)
    node_chosen = Signal(object)
    series_activated = Signal(str)

    def __init__(self, name: str, home: Home, user: User, runner: JobRunner,
                 thumbnails: ThumbnailLoader, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("cmPane")
        self.name = name
        self.home, self.user, self.runner = home, user, runner
        self._generation = 0
        self._searching = False
        self._last: Optional[tuple[Query, str]] = None
        self.accession = QLineEdit()
        self.accession.setObjectName("cmAccession")
        self.accession.setAccessibleName("Accession number")
        self.accession.setPlaceholderText("ACC123 or ACC1*")
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("12345 or 12*")
        self.patient_id.setAccessibleName("Patient ID")
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("Doe* or *john")
        self.patient_name.setAccessibleName("Patient name")
        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.modality.addItems(["", *MODALITIES])
        self.modality.lineEdit().setPlaceholderText("Any")
        self.modality.setAccessibleName("Modality")
        self.date_from, self.date_to = date_edit(), date_edit()
        self.date_from.setAccessibleName("Study date from")
        self.date_to.setAccessibleName("Study date to")
        self.scope = QComboBox()
        self.scope.setObjectName("cmScope")
        self.scope.setAccessibleName("Scope")
        # the Admin scope is offered to content managers only (and checked again in app.changes.view)
        offered = [name for name in SCOPES if SCOPES[name] != content.ADMIN
                   or user.can(content.ADMIN_PRIVILEGE)]
        for name in offered:
            self.scope.addItem(name)
            self.scope.setItemData(self.scope.count() - 1, SCOPE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.scope.setToolTip("\n".join(f"{name}: {SCOPE_TIPS[name]}" for name in offered))
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("searchButton")
        self.clear_button = QPushButton("Clear")
        self.title = QLabel(name)
        self.title.setObjectName("cmPaneTitle")
        self.count = QLabel("")
        self.count.setObjectName("cmCount")

        self.model = ContentTreeModel(thumbnails, user.can("content-management"), user.name, self)
        self.tree = ContentTreeView(self.model)
        self.model.series_dropped.connect(self.series_dropped)
        self.model.modelReset.connect(self.tree.expandAll)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.selectionModel().currentChanged.connect(
            lambda current, _previous: self.node_chosen.emit(self.model.node(current)))
        self.tree.pressed.connect(lambda index: self.node_chosen.emit(self.model.node(index)))
        self.tree.doubleClicked.connect(self._activated)
        self._build_layout()
        for edit in (self.accession, self.patient_id, self.patient_name, self.modality.lineEdit()):
            edit.returnPressed.connect(self.search)
        self.modality.activated.connect(lambda _i: self.search())
        self.scope.activated.connect(lambda _i: self.search())
        self.search_button.clicked.connect(self.search)
        self.clear_button.clicked.connect(self.clear)
        self.setFocusProxy(self.accession)

    def _build_layout(self) -> None:
        form = QGridLayout()
        form.setContentsMargins(10, 6, 10, 6)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(4)
        form.addWidget(captioned("&Accession", self.accession, FIELD_HEIGHT), 0, 0)
        form.addWidget(captioned("Patient &ID", self.patient_id, FIELD_HEIGHT), 0, 1)
        form.addWidget(captioned("Patient &name", self.patient_name, FIELD_HEIGHT), 0, 2, 1, 2)
        form.addWidget(captioned("Modality", self.modality, FIELD_HEIGHT), 1, 0)
        form.addWidget(captioned("Study date from", self.date_from, FIELD_HEIGHT), 1, 1)
        form.addWidget(captioned("to", self.date_to, FIELD_HEIGHT), 1, 2)
        form.addWidget(captioned("Scope", self.scope, FIELD_HEIGHT), 1, 3)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.clear_button)
        for button in (self.search_button, self.clear_button):
            button.setFixedHeight(FIELD_HEIGHT)
        form.addLayout(buttons, 1, 4, Qt.AlignmentFlag.AlignBottom)
        for column, stretch in enumerate((3, 3, 2, 2, 0)):
            form.setColumnStretch(column, stretch)
        bar = QFrame()
        bar.setObjectName("qbeBar")
        bar.setLayout(form)
        heading = QHBoxLayout()
        heading.setContentsMargins(10, 4, 10, 0)
        heading.addWidget(self.title)
        heading.addStretch(1)
        heading.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(heading)
        layout.addWidget(bar)
        layout.addWidget(self.tree, 1)
        QWidget.setTabOrder(self.accession, self.patient_id)
        QWidget.setTabOrder(self.patient_id, self.patient_name)

    # -- searching -----------------------------------------------------------------

    def query(self) -> Query:
        def date(edit: QDateEdit) -> str:
            return "" if edit.date() == ANY_DATE else edit.date().toString("yyyyMMdd")
        return Query(patient_name=self.patient_name.text().strip(),
                     patient_id=self.patient_id.text().strip(),
                     accession=self.accession.text().strip(),
                     modality=self.modality.currentText().strip(),
                     date_from=date(self.date_from), date_to=date(self.date_to))

    def search(self) -> None:
        self._run(self.query(), SCOPES[self.scope.currentText()])

    def refresh(self) -> None:
        """Search again with the last query (after a change), keeping the selection."""
        if self._last is not None:
            self._run(*self._last)

    def clear(self) -> None:
        for edit in (self.accession, self.patient_id, self.patient_name):
            edit.clear()
        self.modality.setCurrentIndex(0)
        self.modality.setEditText("")
        self.date_from.setDate(ANY_DATE)
        self.date_to.setDate(ANY_DATE)
        self.search()

    def is_searching(self) -> bool:
        return self._searching

    def _run(self, query: Query, scope: str) -> None:
        self._last = (query, scope)
        self._generation += 1
        generation, home, user = self._generation, self.home, self.user
        self._searching = True
        self.count.setText("Searching...")

        self.runner.read(home, f"Content search ({self.name})",
                         lambda db, progress, cancel: content.search_tree(db, user, query, scope),
                         on_success=lambda tree: self._found(generation, tree),
                         on_failure=lambda message: self._failed(generation, message))

    def _found(self, generation: int, tree: dict) -> None:
        if generation != self._generation:
            return
        keep = self.selected()
        self.model.set_tree(tree)
        patients = len(tree["patients"])
        more = " (first shown; narrow the search)" if tree["truncated"] else ""
        self.count.setText(f"{patients} patient{'s' if patients != 1 else ''}, "
                           f"{tree['studies']} stud{'ies' if tree['studies'] != 1 else 'y'}{more}")
        if keep is not None:
            self.select(*keep)
        self._searching = False
        self.searched.emit(tree["studies"])

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._searching = False
            self.count.setText(f"Search failed: {message}")

    # -- selection and menus -----------------------------------------------------------

    def selected(self) -> Optional[tuple[str, str]]:
        node = self.model.node(self.tree.currentIndex())
        return (node.kind, node.uid) if node is not None else None

    def selected_series(self) -> list[str]:
        rows = self.tree.selectionModel().selectedRows()
        return [n.uid for n in (self.model.node(i) for i in rows) if n is not None and n.kind == SERIES]

    def select(self, kind: str, uid: str) -> bool:
        index = self.model.index_of(kind, uid)
        if not index.isValid():
            return False
        self.tree.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.tree.scrollTo(index)
        return True

    def studies(self) -> list[dict]:
        """The studies this pane shows, with their patient (for "Reallocate to...")."""
        return [dict(n.data, patient=n.parent.data) for n in self.model.nodes(STUDY)]

    def _activated(self, index) -> None:
        node = self.model.node(index)
        if node is not None and node.kind == SERIES:
            self.series_activated.emit(node.uid)

    def _menu(self, pos) -> None:
        index = self.tree.indexAt(pos)
        if not index.isValid():  # the menu key: the current row
            index = self.tree.currentIndex()
            pos = self.tree.visualRect(index).center()
        node = self.model.node(index)
        if node is not None and node.kind != PATIENT:
            self.menu_requested.emit(self, node, self.tree.viewport().mapToGlobal(pos))
