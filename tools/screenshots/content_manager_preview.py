"""Screenshot of the Content Manager with its preview on a fresh demo home.

    xvfb-run -a .venv/bin/python -m tools.screenshots.content_manager_preview [OUT.png]

Left pane: accession ACC10031 (Haddad's chest study) with the misfiled
"Abdomen portal venous 8mm" selected, so the preview beside the trees shows
an abdomen among chest series, scrolled to its middle image; right pane:
Haddad's studies, the abdomen study it belongs to among them. Default OUT:
docs/screenshots/content_manager_preview.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.screenshots.scenes import demo_home
from tools.screenshots.screenshot import settle, wait_until

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "content_manager_preview.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.content_manager_preview")
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)

    from ui.changes.content_manager import ContentManager

    with demo_home("studydesk-cm-preview-shot-", args.patients, "chris") as (home, user):
        window = ContentManager(home, user)
        window.resize(1700, 960)
        window.show()
        wait_until(lambda: not window.is_busy(), 30, "the first searches")
        left, right = window.panes
        left.accession.setText("ACC10031")
        left.scope.setCurrentText("All studies")
        left.search()
        wait_until(lambda: not left.is_searching(), 30, "the left search")
        misfiled = next(n for n in left.model.nodes("series")
                        if n.data["description"] == "Abdomen portal venous 8mm")
        right.patient_id.setText(left.model.nodes("patient")[0].data["patient_id"])
        right.search()
        wait_until(lambda: not right.is_searching(), 30, "the right search")
        left.select("series", misfiled.uid)
        view = window.preview.view
        wait_until(lambda: view.series_uid == misfiled.uid and view.current() is not None, 30,
                   "the preview's first image")
        view.set_index(view.count // 2)
        wait_until(lambda: view.current() is not None, 30, "the preview's middle image")
        for _ in range(3):  # rows painted ask for thumbnails; wait for those
            settle(0.3)
            wait_until(lambda: not window.thumbnails.is_busy(), 60, "the thumbnails")
        left.tree.setFocus()
        settle(0.3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.out)):
            raise SystemExit(f"screenshot: could not write {args.out}")
        print(args.out.name)
        window.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
