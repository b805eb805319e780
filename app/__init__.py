"""StudyDesk core: everything a user can do, without a window."""

__version__ = "0.1.0"
