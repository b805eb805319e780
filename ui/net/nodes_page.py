"""The Nodes page of the settings dialog: the remote DICOM and DICOMweb
nodes, what each is for, an Echo button that shows the round-trip (a C-ECHO,
or a QIDO-RS search for a DICOMweb node: app.net.client.echo), and the form
that adds or changes one (ui/net/node_form.py).

Standalone (the settings dialog embeds it later): ``NodesPage(home, user,
runner)``. Reading, adding and removing nodes and the C-ECHO run as jobs
(app/net), so the window never waits on the disk or the network. The list
reads again on every ``cache_changed(NODES)`` broadcast of its home
(ui/cache_events.py): its own Add and Remove announce one, as does any other
view that changes the nodes.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from app.accounts.accounts import User
from app.errors import BadInput
from app.home import Home
from app.net import client, nodes
from ui.cache_events import NODES, CacheChange, events_of
from ui.jobs import JobRunner
from ui.net.node_form import NodeForm

COLUMNS = ("Name", "AE title", "Host", "Port", "TLS", "For", "DICOMweb URL")


class NodesPage(QWidget):
    """``echoed(name, text)`` after each echo (the text the page shows)."""

    echoed = Signal(str, str)
    loaded = Signal()

    def __init__(self, home: Home, user: User, runner: Optional[JobRunner] = None,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("nodesPage")
        self.home, self.user = home, user
        self.runner = runner or JobRunner(self, error_parent=self)
        self.nodes: list[nodes.Node] = []
        self.loads = 0  # how many times the list arrived
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("nodesTable")
        self.table.setAccessibleName("Nodes")
        self.table.setAccessibleDescription("The configured DICOM and DICOMweb nodes; select one to echo, "
                                            "change or remove it")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.echo_button = QPushButton("Echo")
        self.echo_button.setObjectName("echoButton")
        self.echo_button.setToolTip("Echo the selected node (C-ECHO, or a QIDO-RS search for a DICOMweb "
                                    "node) and show the round-trip")
        self.echo_button.setAccessibleDescription(self.echo_button.toolTip())
        self.edit_button = QPushButton("Edit")
        self.edit_button.setObjectName("editButton")
        self.edit_button.setAccessibleDescription("Show the selected node in the form below to change it")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeButton")
        self.remove_button.setAccessibleDescription("Remove the selected node")
        self.echo_result = QLabel("")
        self.echo_result.setObjectName("echoResult")
        self.echo_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for button in (self.echo_button, self.edit_button, self.remove_button):
            button.setEnabled(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.echo_button.clicked.connect(self.echo_selected)
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button.clicked.connect(self._remove_selected)

        row = QHBoxLayout()
        row.addWidget(self.echo_button)
        row.addWidget(self.echo_result, 1)
        row.addWidget(self.edit_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self._local_text()))
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self._add_form())
        events_of(home).cache_changed.connect(self._cache_changed)
        self.refresh()

    # -- the form -----------------------------------------------------------------------------

    def _add_form(self) -> NodeForm:
        self.form = form = NodeForm()
        # the form's fields, as the page's own (tests and the settings dialog reach them here)
        self.name_edit, self.aet_edit, self.host_edit = form.name_edit, form.aet_edit, form.host_edit
        self.port_edit, self.tls_check, self.purpose_checks = form.port_edit, form.tls_check, form.purpose_checks
        self.add_button, self.form_note = form.add_button, form.form_note
        self.add_button.clicked.connect(self.add_from_form)
        form.setEnabled(self.user.can("configure"))
        if not self.user.can("configure"):
            form.setToolTip("Only an admin configures nodes")
        return form

    def _local_text(self) -> str:
        try:
            aet, port = nodes.local_ae(self.home)
        except Exception as e:  # noqa: BLE001 - a bad setting is shown, not fatal
            return f"This workstation: {e}"
        return f"This workstation: AE title {aet}, listening on port {port}"

    # -- jobs ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.runner.read(self.home, "Nodes", lambda db, progress, cancel: nodes.list_nodes(db),
                         on_success=self._show, on_failure=self.form.explain)

    def _cache_changed(self, change: CacheChange) -> None:
        if change.touches(NODES):
            self.refresh()

    def _show(self, found: list) -> None:
        self.nodes = list(found)
        self.table.setRowCount(len(self.nodes))
        for r, node in enumerate(self.nodes):
            values = (node.name, node.aet, node.host, str(node.port), "yes" if node.tls else "",
                      ", ".join(node.purposes), node.url)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if node.token_env:
                    item.setToolTip(f"Credentials from the environment variable {node.token_env}")
                self.table.setItem(r, c, item)
        self._selection_changed()
        self.loads += 1
        self.loaded.emit()

    def selected(self) -> Optional[nodes.Node]:
        rows = self.table.selectionModel().selectedRows()
        return self.nodes[rows[0].row()] if rows else None

    def select(self, name: str) -> None:
        for r, node in enumerate(self.nodes):
            if node.name == name:
                self.table.selectRow(r)

    def _selection_changed(self) -> None:
        node = self.selected()
        self.echo_button.setEnabled(node is not None)
        for button in (self.edit_button, self.remove_button):
            button.setEnabled(node is not None and self.user.can("configure"))

    def echo_selected(self) -> None:
        node = self.selected()
        if node is None:
            return
        home, name = self.home, node.name
        self.echo_button.setEnabled(False)
        self.echo_result.setText(f"Echoing {name}...")

        def done(ms: float) -> None:
            self._echoed(name, f"{name} answered in {ms:.1f} ms")

        self.runner.start(f"Echo {name}", lambda progress, cancel: client.echo(home, name), kind="read",
                          visible=False, on_success=done,
                          on_failure=lambda message: self._echoed(name, f"{name}: no answer: {message}"))

    def _echoed(self, name: str, text: str) -> None:
        self.echo_result.setText(text)
        self._selection_changed()
        self.echoed.emit(name, text)

    def edit_selected(self) -> None:
        node = self.selected()
        if node is not None:
            self.form.fill(node)
            self.form_note.setText("")

    def add_from_form(self) -> None:
        """Add (or, while editing, replace) the form's node; nothing is
        written when the form's own check refuses it."""
        user = self.user
        try:
            values = self.form.values()
        except BadInput as e:
            self.form.explain(str(e))
            return

        def done(node: nodes.Node) -> None:
            self.form.clear()
            self.form_note.setText(f"{'Saved' if values['replace'] else 'Added'} {node}")

        self.runner.write(self.home, "Add node", lambda db, progress, cancel: nodes.add_node(db, user, **values),
                          changed=CacheChange.of(NODES), visible=False, on_success=done,
                          on_failure=self.form.explain)

    def _remove_selected(self) -> None:
        node = self.selected()
        if node is None:
            return
        user, name = self.user, node.name
        self.runner.write(self.home, "Remove node", lambda db, progress, cancel: nodes.remove_node(db, user, name),
                          changed=CacheChange.of(NODES), visible=False, on_failure=self.form.explain)
