"""Changes to clinical data: Content Manager, merge drawer, history, trash."""
