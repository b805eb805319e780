"""The StudyDesk window (PySide6). Imports app; app never imports this."""
