"""Scripts that take the screenshots in docs/screenshots/."""
