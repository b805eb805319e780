"""Research projects in the window (issue #9): the active project, finding
subjects, the patient table, the Edit dialog's Table and RT views, staging.

    open_research_window(parent, home, user)

The modules: window.py (the window and its toolbar), subject_finder.py
("Select one" and "Bulk search"), patient_table.py (subjects expanding to
studies), edit_dialog.py with series_table.py and rt_tree_view.py, dialogs.py
(New project, Enrol subject, Re-identify), data.py (the core calls the jobs
make; no Qt), screenshot.py (docs/screenshots/research*.png).
"""

from ui.research.window import ResearchWindow, open_research_window

__all__ = ["ResearchWindow", "open_research_window"]
