"""The outbox window, its model, dialogs and status-bar indicator."""
