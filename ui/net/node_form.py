"""The Nodes page's form: add or change a DICOM (DIMSE) node or a DICOMweb one.

A DIMSE node is an AE title at a host and port (optionally TLS); a DICOMweb
node is a base URL and, optionally, the *name* of the environment variable
that holds its credentials (app/net/nodes.py stores the name, never the
value, and the form says so). Only the rows of the chosen kind are shown, and
only the purposes that kind serves: a DICOMweb node is queried, retrieved from
and sent to (QIDO-RS, WADO-RS, STOW-RS); worklist, legacy and AI are DIMSE's.

The form checks the URL at once (app.net.nodes.check_url), so a typo is
explained before any job starts; the page's write job runs
:func:`app.net.nodes.add_node`, which checks everything (the variable's name
too) and whose refusal the form shows in its own words.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QWidget)

from app.errors import BadInput
from app.net import nodes

DIMSE, WEB = "DICOM (DIMSE)", "DICOMweb"
WEB_PURPOSES = ("query-retrieve", "store")
CREDENTIALS_NOTE = ("Credentials are never saved: put them (a token, or user:password) in this environment "
                    "variable before starting StudyDesk; only the variable's name is kept.")


def _form_words(message: str) -> str:
    """A core message names the CLI's options; the form names its fields."""
    return message.replace("--token-env", "the credentials variable").replace("--url", "URL")


class NodeForm(QGroupBox):
    """See the module. ``editing`` is the name of the node being changed
    (its name is then fixed), or None when adding."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__("Add a node", parent)
        self.setObjectName("nodeForm")
        self.editing: Optional[str] = None
        self.kind_box = QComboBox()
        self.kind_box.setObjectName("nodeKind")
        self.kind_box.addItems([DIMSE, WEB])
        self.kind_box.setAccessibleName("Node kind")
        self.kind_box.setAccessibleDescription("A DICOM node (AE title, host and port) or a DICOMweb base URL")
        self.name_edit = self._edit("nodeName", "Node name", "pacs", "One word: how commands and lists name it")
        self.aet_edit = self._edit("nodeAet", "Node AE title", "ORTHANC", "The node's application entity title")
        self.aet_edit.setMaxLength(16)
        self.host_edit = self._edit("nodeHost", "Node host", "pacs.hospital.org or 10.0.0.5",
                                    "The node's host name or address")
        self.port_edit = QSpinBox()
        self.port_edit.setObjectName("nodePort")
        self.port_edit.setRange(1, 65535)
        self.port_edit.setValue(104)
        self.port_edit.setAccessibleName("Node port")
        self.port_edit.setAccessibleDescription("The node's DICOM port")
        self.tls_check = QCheckBox("TLS")
        self.tls_check.setObjectName("nodeTls")
        self.tls_check.setAccessibleDescription("Talk to this node over TLS")
        self.url_edit = self._edit("nodeUrl", "DICOMweb URL", "https://pacs.hospital.org/dicom-web",
                                   "The service's base address: QIDO-RS, WADO-RS and STOW-RS under it")
        self.token_env_edit = self._edit("nodeTokenEnv", "Credentials variable", "PACS_TOKEN (optional)",
                                         CREDENTIALS_NOTE)
        self.credentials_note = QLabel(CREDENTIALS_NOTE)
        self.credentials_note.setObjectName("credentialsNote")
        self.credentials_note.setWordWrap(True)
        self.purpose_checks = {p: QCheckBox(p) for p in nodes.PURPOSES}
        for purpose, check in self.purpose_checks.items():
            check.setObjectName(f"purpose-{purpose}")
            check.setAccessibleDescription(f"Use this node for {purpose}")
        purposes = QHBoxLayout()
        for check in self.purpose_checks.values():
            purposes.addWidget(check)
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName("addButton")
        self.add_button.setAccessibleDescription("Add the node (or save the changes to the node being edited)")
        self.cancel_button = QPushButton("Cancel edit")
        self.cancel_button.setObjectName("cancelEditButton")
        self.cancel_button.clicked.connect(self.clear)
        self.form_note = QLabel("")
        self.form_note.setObjectName("formNote")
        self.form_note.setWordWrap(True)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.add_button)
        row.addWidget(self.cancel_button)
        self.form = form = QFormLayout(self)
        form.addRow("Kind", self.kind_box)
        form.addRow("Name", self.name_edit)
        form.addRow("AE title", self.aet_edit)
        form.addRow("Host", self.host_edit)
        form.addRow("Port", self.port_edit)
        form.addRow("", self.tls_check)
        form.addRow("URL", self.url_edit)
        form.addRow("Credentials variable", self.token_env_edit)
        form.addRow("", self.credentials_note)
        form.addRow("For", purposes)
        form.addRow(buttons, self.form_note)
        self.kind_box.currentTextChanged.connect(self._kind_changed)
        self.clear()

    @staticmethod
    def _edit(object_name: str, name: str, placeholder: str, description: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(object_name)
        edit.setPlaceholderText(placeholder)
        edit.setAccessibleName(name)
        edit.setAccessibleDescription(description)
        return edit

    @property
    def web(self) -> bool:
        return self.kind_box.currentText() == WEB

    def _kind_changed(self, _text: str = "") -> None:
        web = self.web
        for widget in (self.aet_edit, self.host_edit, self.port_edit, self.tls_check):
            self.form.setRowVisible(widget, not web)
        for widget in (self.url_edit, self.token_env_edit, self.credentials_note):
            self.form.setRowVisible(widget, web)
        for purpose, check in self.purpose_checks.items():
            check.setVisible(not web or purpose in WEB_PURPOSES)

    def clear(self) -> None:
        """Back to adding a new DIMSE node with the default purposes."""
        self.editing = None
        self.setTitle("Add a node")
        self.add_button.setText("Add")
        self.cancel_button.setVisible(False)
        self.name_edit.setEnabled(True)
        for edit in (self.name_edit, self.aet_edit, self.host_edit, self.url_edit, self.token_env_edit):
            edit.clear()
        self.tls_check.setChecked(False)
        self.port_edit.setValue(104)
        for purpose, check in self.purpose_checks.items():
            check.setChecked(purpose in nodes.DEFAULT_PURPOSES)
        self.kind_box.setCurrentText(DIMSE)
        self._kind_changed()

    def fill(self, node: nodes.Node) -> None:
        """Show *node* for changing (Save replaces it; its name stays)."""
        self.clear()
        self.editing = node.name
        self.setTitle(f"Change node {node.name}")
        self.add_button.setText("Save")
        self.cancel_button.setVisible(True)
        self.name_edit.setText(node.name)
        self.name_edit.setEnabled(False)
        self.kind_box.setCurrentText(WEB if node.web else DIMSE)
        if node.web:
            self.url_edit.setText(node.url)
            self.token_env_edit.setText(node.token_env)
        else:
            self.aet_edit.setText(node.aet)
            self.host_edit.setText(node.host)
            self.port_edit.setValue(node.port)
            self.tls_check.setChecked(node.tls)
        for purpose, check in self.purpose_checks.items():
            check.setChecked(purpose in node.purposes)
        self._kind_changed()

    def values(self) -> dict:
        """The keyword arguments of :func:`app.net.nodes.add_node` (without
        db and user), checked as far as the form can; BadInput otherwise,
        worded for the form."""
        name = self.name_edit.text().strip()
        shown = [p for p, c in self.purpose_checks.items() if c.isChecked() and (not self.web or p in WEB_PURPOSES)]
        if not shown:
            raise BadInput(f"node {name}: choose what it is for")
        args = dict(name=name, purposes=shown, replace=self.editing is not None)
        if self.web:
            token_env = self.token_env_edit.text().strip()
            try:
                nodes.check_url(self.url_edit.text(), name)
            except BadInput as e:
                raise BadInput(_form_words(str(e))) from e
            args.update(aet=None, host=None, port=None, url=self.url_edit.text().strip(), token_env=token_env)
        else:
            args.update(aet=self.aet_edit.text(), host=self.host_edit.text(), port=self.port_edit.value(),
                        tls=self.tls_check.isChecked())
        return args

    def explain(self, message: str) -> None:
        self.form_note.setText(_form_words(message))
