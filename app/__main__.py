"""`python -m app` is the `studydesk` command (app/cli)."""

from app.cli import main

if __name__ == "__main__":  # worker processes import this module too
    raise SystemExit(main())
