"""Changes to clinical data: each a recorded, crash-safe, undoable change set.

- :mod:`app.changes.journal`: plan, apply, recover, history, undo
- :mod:`app.changes.merge`: merge studies, merge patients
- :mod:`app.changes.trash`: delete to the trash, restore, empty
- :mod:`app.changes.locks`: study locks
- :mod:`app.changes.rules`: privilege, lock, migrated and identity checks
"""
