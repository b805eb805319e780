"""Finding subjects in the active project.

"Select one": an editable combobox; what is typed is searched (debounced,
off the GUI thread, app.research.projects.find) in PID and StudySubjectID,
and at most 10 subjects are offered in a popup that lets typing go on.
Choosing one emits ``subject_chosen``.

"Bulk search": a comma-separated list of ids, whole or partial ("yId01,
yId02"); ``bulk_found(BulkResult)`` carries every matching subject, and the
line below the row names the ids that matched nothing or more than one.
"""

from __future__ import annotations

import html
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QCompleter, QGridLayout, QLabel, QLineEdit, QPushButton,
                               QWidget)

from app.accounts.accounts import User
from app.home import Home
from app.research import projects
from app.research.projects import FIND_LIMIT, BulkResult
from ui.jobs import JobRunner

DELAY_MS = 250


def item_text(subject: dict) -> str:
    return f"{subject['pid']}  \u2014  {subject['subject']}"


class SubjectFinder(QWidget):
    subject_chosen = Signal(dict)
    bulk_found = Signal(object)            # BulkResult
    suggestions_shown = Signal(str, list)  # the text searched, the subjects offered
    show_all_requested = Signal()

    def __init__(self, home: Home, user: User, runner: JobRunner, parent: Optional[QWidget] = None,
                 delay_ms: int = DELAY_MS):
        super().__init__(parent)
        self.setObjectName("subjectFinder")
        self.home, self.user, self.runner = home, user, runner
        self.project = ""
        self._generation = 0
        self._searching = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._find)
        self._build()

    def _build(self) -> None:
        self.select = QComboBox()
        self.select.setObjectName("selectOne")
        self.select.setAccessibleName("Find a subject")
        self.select.setEditable(True)
        self.select.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.select.setMaxVisibleItems(FIND_LIMIT)
        self.select.setMinimumWidth(280)
        self.select.lineEdit().setPlaceholderText("Type a PID or StudySubjectID")
        self.select.setToolTip(f"Searches the typed characters in PID and StudySubjectID; "
                               f"offers at most {FIND_LIMIT} subjects")
        self.completer = QCompleter(self.select.model(), self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setMaxVisibleItems(FIND_LIMIT)
        self.select.setCompleter(self.completer)
        self.select.lineEdit().textEdited.connect(lambda _: self._timer.start())
        self.select.lineEdit().returnPressed.connect(self._return_pressed)
        self.select.activated.connect(self._activated)

        self.bulk = QLineEdit()
        self.bulk.setObjectName("bulkSearch")
        self.bulk.setAccessibleName("Find several subjects")
        self.bulk.setAccessibleDescription("Comma-separated ids, whole or partial")
        self.bulk.setPlaceholderText("yId01, yId02, \u2026  (comma-separated, whole or partial ids)")
        self.bulk.setClearButtonEnabled(True)
        self.bulk.returnPressed.connect(self.search_bulk)
        self.bulk_button = QPushButton("Search")
        self.bulk_button.setObjectName("bulkSearchButton")
        self.bulk_button.setAccessibleName("Search several subjects")
        self.bulk_button.clicked.connect(self.search_bulk)
        self.show_all = QPushButton("Show all")
        self.show_all.setObjectName("showAllSubjects")
        self.show_all.setToolTip("Every subject of the project")
        self.show_all.clicked.connect(self.show_all_requested)
        self.report = QLabel()
        self.report.setObjectName("bulkReport")
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.hide()

        select_label = QLabel("Select one")
        select_label.setObjectName("finderCaption")
        bulk_label = QLabel("Bulk search")
        bulk_label.setObjectName("finderCaption")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        grid.setHorizontalSpacing(8)
        grid.addWidget(select_label, 0, 0)
        grid.addWidget(self.select, 0, 1)
        grid.addWidget(bulk_label, 0, 2)
        grid.addWidget(self.bulk, 0, 3)
        grid.addWidget(self.bulk_button, 0, 4)
        grid.addWidget(self.show_all, 0, 5)
        grid.addWidget(self.report, 1, 0, 1, 6)
        grid.setColumnStretch(3, 1)

    def set_project(self, project: str) -> None:
        self.project = project
        self._generation += 1
        self._timer.stop()
        self._set_items([])
        self.select.setEditText("")
        self.bulk.clear()
        self.clear_report()

    def is_searching(self) -> bool:
        return self._searching > 0 or self._timer.isActive()

    # -- Select one ------------------------------------------------------------------------

    def _find(self) -> None:
        text = self.select.currentText().strip()
        self._generation += 1
        generation = self._generation
        if not text or not self.project:
            self._suggest(generation, text, [])
            return
        home, user, project = self.home, self.user, self.project
        self._searching += 1
        self.runner.read(home, "Research: find subject",
                         lambda db, p, c: projects.find(db, user, project, text),
                         on_success=lambda subjects: self._found(generation, text, subjects),
                         on_failure=lambda message: self._found(generation, text, [], message))

    def _found(self, generation: int, text: str, subjects: list[dict], error: str = "") -> None:
        self._searching -= 1
        if error:
            self.show_report(f"<span style='color:#d25a5a'>Search failed: {html.escape(error)}</span>")
        self._suggest(generation, text, subjects)

    def _suggest(self, generation: int, text: str, subjects: list[dict]) -> None:
        if generation != self._generation:
            return  # typing went on: a newer search is coming
        self._set_items(subjects[:FIND_LIMIT])
        if subjects and self.select.lineEdit().hasFocus():
            self.completer.complete()
        self.suggestions_shown.emit(text, subjects[:FIND_LIMIT])

    def _set_items(self, subjects: list[dict]) -> None:
        """Replace the offered subjects without touching what is being typed."""
        line = self.select.lineEdit()
        typed, cursor = line.text(), line.cursorPosition()
        self.select.blockSignals(True)
        try:
            self.select.clear()
            for subject in subjects:
                self.select.addItem(item_text(subject), subject)
            self.select.setCurrentIndex(-1)
        finally:
            self.select.blockSignals(False)
        if line.text() != typed:
            line.setText(typed)
        line.setCursorPosition(cursor)

    def suggestions(self) -> list[dict]:
        return [self.select.itemData(i) for i in range(self.select.count())]

    def _activated(self, index: int) -> None:
        subject = self.select.itemData(index)
        if isinstance(subject, dict):
            self.subject_chosen.emit(subject)

    def _return_pressed(self) -> None:
        text = self.select.currentText().strip()
        offered = self.suggestions()
        if any(item_text(s) == text for s in offered):
            return  # the combobox itself reports the item (activated)
        exact = [s for s in offered if text.upper() in (s["pid"].upper(), s["subject"].upper())]
        if len(exact) == 1 or len(offered) == 1:
            self.subject_chosen.emit((exact or offered)[0])

    # -- Bulk search ------------------------------------------------------------------------

    def search_bulk(self) -> None:
        text = self.bulk.text().strip()
        if not text or not self.project:
            return
        home, user, project = self.home, self.user, self.project
        self._searching += 1
        self.bulk_button.setEnabled(False)
        self.runner.read(home, "Research: bulk search",
                         lambda db, p, c: projects.bulk(db, user, project, text),
                         on_success=self._bulk_done, on_failure=self._bulk_failed)

    def _bulk_done(self, result: BulkResult) -> None:
        self._searching -= 1
        self.bulk_button.setEnabled(True)
        self.show_report(report_html(result))
        self.bulk_found.emit(result)

    def _bulk_failed(self, message: str) -> None:
        self._searching -= 1
        self.bulk_button.setEnabled(True)
        self.show_report(f"<span style='color:#d25a5a'>Bulk search failed: {html.escape(message)}</span>")

    def show_report(self, text: str) -> None:
        self.report.setText(text)
        self.report.show()

    def clear_report(self) -> None:
        self.report.clear()
        self.report.hide()


def report_html(result: BulkResult) -> str:
    """One line: how many found, then the ids that matched nothing (red) or
    more than one subject (amber, with the PIDs they matched)."""
    count = len(result.subjects)
    parts = [f"{count} subject{'s' if count != 1 else ''} found"]
    if result.unmatched:
        ids = ", ".join(html.escape(t) for t in result.unmatched)
        parts.append(f"<span style='color:#d25a5a'>No match: <b>{ids}</b></span>")
    if result.ambiguous:
        ids = "; ".join(f"<b>{html.escape(a['id'])}</b> \u2192 {html.escape(', '.join(a['matches']))}"
                        for a in result.ambiguous)
        parts.append(f"<span style='color:#d08a4a'>More than one match: {ids}</span>")
    return "  \u00b7  ".join(parts)
