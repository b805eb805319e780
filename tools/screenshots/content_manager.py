"""Screenshot of the Content Manager in split view on a fresh demo home.

    xvfb-run -a .venv/bin/python -m tools.screenshots.content_manager [OUT.png] [--patients 6]

Left pane: accession ACC10031 in scope "All patients" (Haddad's chest study,
with the misfiled "Abdomen portal venous 8mm" selected, and his abdomen study
it belongs to); right pane: every patient. Default OUT:
docs/screenshots/content_manager.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.screenshots.scenes import demo_home
from tools.screenshots.screenshot import settle, wait_until

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "content_manager.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.content_manager")
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=960)
    args = parser.parse_args(argv)

    from ui.changes.content_manager import ContentManager

    with demo_home("studydesk-cm-shot-", args.patients) as (home, user):
        window = ContentManager(home, user)
        window.resize(args.width, args.height)
        window.show()
        wait_until(lambda: not window.is_busy(), 30, "the first searches")
        left, right = window.panes
        left.accession.setText("ACC10031")
        left.search()
        wait_until(lambda: not left.is_searching(), 30, "the left search")
        misfiled = next(n for n in left.model.nodes("series")
                        if n.data["description"] == "Abdomen portal venous 8mm")
        left.select("series", misfiled.uid)
        for _ in range(3):  # rows painted ask for thumbnails; wait for those
            settle(0.3)
            wait_until(lambda: not window.thumbnails.is_busy(), 60, "the thumbnails")
        left.tree.setFocus()
        settle(0.3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.out)):
            raise SystemExit(f"screenshot: could not write {args.out}")
        print(args.out)
        window.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
