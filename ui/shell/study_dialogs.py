"""The dialogs that the worklist's Download, Burn and Send actions open.

Declared here, where the shell puts the workflow folders together, as
ordinary imports the import linter sees: ui/worklist does not import
ui/export or ui/net (ui/net builds on the worklist), the main window hands
this table to :class:`ui.worklist.study_actions.StudyActions`.
"""

from __future__ import annotations

from ui.export import burn_dialog, export_dialog
from ui.net import send_dialog

# action key -> (the module that provides the dialog, the name of its opener).
# The opener is looked up when the action runs; a module may define
# ``unavailable() -> str`` saying why it cannot work here, and the bar then
# disables the action with that reason.
DIALOGS = {
    "download": (export_dialog, "open_export_dialog"),
    "burn": (burn_dialog, "open_burn_dialog"),
    "send": (send_dialog, "open_send_dialog"),
}
