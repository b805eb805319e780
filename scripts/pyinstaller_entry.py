"""Entry script of the PyInstaller bundle (pyinstaller.spec).

The `studydesk` command itself: with no command it opens the workstation
window, with a command it runs it headless (shared/CLI.md).
"""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
