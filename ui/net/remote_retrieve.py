"""Retrieving from a node into the cache, as the Remote source runs it.

``retrieve.retrieve`` (whole studies) and ``retrieve_series.retrieve_series``
(the series pane's ticked series) record into the cache through the
importer's path with connections of their own, so they run through
``runner.start`` on the write pool, not ``runner.write``. When one ends, in
any outcome (a cancelled retrieve keeps what arrived), the change is
broadcast (ui/cache_events.py): the worklist, the strip and the node's "In
cache" column follow from that.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from app.accounts.accounts import User
from app.home import Home
from app.net.retrieve import series as net_series
from app.net.retrieve import study as net_retrieve
from ui.cache_events import STUDIES, CacheChange, announce
from ui.jobs import Job, JobRunner


def summary(result: net_retrieve.RetrieveResult) -> str:
    if isinstance(result, net_series.SeriesRetrieveResult):
        count = len(result.series) - len(result.series_not_found)
        what, missing = f"{count} series", len(result.series_not_found)
    else:
        studies = len(result.studies) - len(result.not_found)
        what, missing = f"{studies} stud{'ies' if studies != 1 else 'y'}", len(result.not_found)
    text = (f"Retrieved {result.retrieved} image{'s' if result.retrieved != 1 else ''} of "
            f"{what} from {result.node} by {result.transport}")
    if result.already_present:
        text += f", {result.already_present} already here"
    if result.failed:
        text += f", {len(result.failed)} failed"
    if missing:
        text += f", {missing} not on the node"
    return text


def problems(result: net_retrieve.RetrieveResult) -> list[str]:
    """One line per instance that failed and per study or series the node lacks."""
    lines = [f"{f.get('sop_instance_uid', '')}: {f.get('reason', '')}" for f in result.failed]
    lines += [f"study {uid}: not on {result.node}" for uid in result.not_found]
    if isinstance(result, net_series.SeriesRetrieveResult):
        lines += [f"series {uid}: not on {result.node}" for uid in result.series_not_found]
    return lines


def problems_box(result: net_retrieve.RetrieveResult, parent: QWidget) -> Optional[QMessageBox]:
    """A non-blocking box listing the retrieve's problems (None when there are none)."""
    lines = problems(result)
    if not lines:
        return None
    box = QMessageBox(QMessageBox.Icon.Warning, "StudyDesk",
                      f"Retrieve from {result.node}: {len(lines)} problem"
                      f"{'s' if len(lines) != 1 else ''}.", QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("retrieveProblems")
    box.setInformativeText("Run Retrieve again to fetch only what is missing.")
    box.setDetailedText("\n".join(lines))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def retrieve_menu(parent: QWidget, study_uids: list[str], why: str, retrieve: Callable) -> QMenu:
    """The remote row menu: Retrieve *study_uids* by C-GET or C-MOVE
    (``retrieve(uids, method)``); *why* they cannot be ('' when they can)."""
    count = f" {len(study_uids)} studies" if len(study_uids) > 1 else ""
    menu = QMenu(parent)
    menu.setObjectName("remoteRowMenu")
    menu.setToolTipsVisible(True)
    for method, text in (("get", f"Retrieve{count} by C-GET"), ("move", f"Retrieve{count} by C-MOVE")):
        action = QAction(text, menu)
        action.setObjectName(f"menu_retrieve_{method}")
        action.setEnabled(not why and bool(study_uids))
        action.setToolTip(why or "Copy into the cache")
        action.triggered.connect(lambda _=False, m=method: retrieve(study_uids, m))
        menu.addAction(action)
    return menu


def start_retrieve(runner: JobRunner, home: Home, user: User, node: str, study_uids: list[str],
                   method: str, on_success: Callable, series_uids: Optional[list[str]] = None) -> Job:
    """Retrieve *study_uids* from *node* (only *series_uids* of the one study
    when given) as a writer job that the jobs panel shows with Cancel."""
    uids, series = list(study_uids), list(series_uids or [])

    def job(progress, cancel):
        if series:
            return net_series.retrieve_series(home, user, node, uids[0], series, method, progress, cancel)
        return net_retrieve.retrieve(home, user, node, uids, method, progress, cancel)

    title = f"Retrieve series from {node}" if series else f"Retrieve from {node}"
    running = runner.start(title, job, kind="write", summarize=summary, on_success=on_success)
    change = CacheChange.of(STUDIES, study_uids=uids)
    running.finished.connect(lambda: announce(home, change))  # what arrived before a cancel stays
    return running
