"""The main window's status bar: the study count (or what the node answered),
the outbox, the storage listener, the user and the home.

The messages of the moment (``show_message``) go to the bar's temporary
line; these labels stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QLabel, QStatusBar

from app.accounts.accounts import User
from app.home import Home, shown_path
from ui.net.listener_status import ListenerLabel, ListenerService
from ui.net.outbox.status import OutboxCounter, OutboxLabel


@dataclass(frozen=True)
class StatusLabels:
    count: QLabel
    outbox: OutboxLabel
    listener: ListenerLabel
    user: QLabel
    home: QLabel


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    return label


def build_status_bar(bar: QStatusBar, home: Home, user: User, listener: ListenerService,
                     outbox: OutboxCounter, temporary_home: bool) -> StatusLabels:
    roles = ", ".join(sorted(user.roles)) or "no role"
    where = shown_path(home.root) + ("  (temporary)" if temporary_home else "")
    labels = StatusLabels(
        count=_label("Searching...", "countLabel"),
        outbox=OutboxLabel(outbox),
        listener=ListenerLabel(listener),
        user=_label(f"User: {user.name} ({roles})", "userLabel"),
        home=_label(f"Home: {where}", "homeLabel"))
    labels.home.setToolTip(str(home.root))
    for label in (labels.count, labels.outbox, labels.listener, labels.user, labels.home):
        bar.addPermanentWidget(label)
    return labels
