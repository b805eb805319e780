"""Research projects in the window (issue #9): the active project, finding
subjects, the patient table, the Edit dialog's Table and RT views, staging.

    open_research_window(parent, home, user)

The modules: window.py (the window and its toolbar) with window_commands.py
(Edit, New project, Enrol, Re-identify), subject_finder.py ("Select one" and
"Bulk search"), patient_table.py (subjects expanding to studies) over
patient_model.py and patient_rows.py, edit_dialog.py with edit_staging.py,
series_table.py and the RT view (rt_tree_view.py, rt_tree_model.py,
rt_tree_cells.py), series_state.py (ticks and staged state of both views),
dialogs.py (New project, Enrol subject, Re-identify), data.py (what the jobs
read; no Qt).
"""

from ui.research.window import ResearchWindow, open_research_window

__all__ = ["ResearchWindow", "open_research_window"]
