"""Screenshots of the research window and the Edit dialog's RT view.

    xvfb-run -a .venv/bin/python -m tools.screenshots.research [OUT_DIR]

On a fresh demo home (6 patients): project RT-TRIAL with the demo patients
enrolled as xId01../yId01.. (PID1002-B as yId10, and yId11 not yet in the
cache); Plan A's dose staged with its references. research.png: a bulk
search "yId01, yId1, yId05, yId9" (yId1 matches two subjects, yId9 none)
with yId01 and yId05 expanded. research_rt.png: yId01's planning study in
the RT view, the unapproved Plan B's dose ticked with "With references".
Default OUT_DIR: docs/screenshots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.screenshots.scenes import demo_home
from tools.screenshots.screenshot import save_widget, settle, wait_until

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SUBJECTS = [("PID1001", "xId01", "yId01"), ("PID1002", "xId02", "yId02"),
            ("PID1003", "xId03", "yId03"), ("PID1004", "xId04", "yId04"),
            ("PID1005", "xId05", "yId05"), ("PID1006", "xId06", "yId06"),
            ("PID1002-B", "xId10", "yId10"), ("PID2001", "xId11", "yId11")]


def prepare(home, user) -> None:
    """The project, its subjects, and Plan A's dose staged with its chain."""
    from app.research import projects, staging

    db = home.connect()
    try:
        projects.create(db, user, "RT-TRIAL")
        projects.create(db, user, "BRAIN-MR")
        for patient_id, pid, subject in SUBJECTS:
            projects.enrol(db, user, "RT-TRIAL", patient_id, pid, subject)
        (dose,) = [u for (u,) in db.execute("SELECT series_instance_uid FROM series WHERE"
                                            " modality = 'RTDOSE' AND series_description LIKE '%Plan A%'")]
        staging.stage(home, db, user, "RT-TRIAL", [dose], references=True)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots.research")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--patients", type=int, default=6)
    args = parser.parse_args(argv)

    from ui.research.window import ResearchWindow

    with demo_home("studydesk-research-shot-", args.patients) as (home, user):
        prepare(home, user)
        window = ResearchWindow(home, user)
        window.resize(1400, 620)
        window.show()
        wait_until(lambda: not window.is_busy() and window.project == "BRAIN-MR", 30, "the projects")
        window.project_box.setCurrentIndex(window.project_box.findData("RT-TRIAL"))
        wait_until(lambda: not window.is_busy(), 30, "the subjects")
        window.finder.bulk.setText("yId01, yId1, yId05, yId9")
        window.finder.search_bulk()
        wait_until(lambda: not window.is_busy() and window.model.rowCount() == 4, 30, "the bulk search")
        for pid in ("xId01", "xId05"):
            window.table.expand(window.model.subject_index(pid))
        wait_until(lambda: not window.is_busy(), 30, "the studies")
        window.table.setCurrentIndex(window.model.subject_index("xId01"))
        settle(0.4)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        save_widget(window, args.out_dir / "research.png")

        index = window.model.subject_index("xId01")
        study = window.model.row_at(window.model.index(0, 0, index)).data
        dialog = window.open_edit(window.model.subject_of(index), study)
        wait_until(lambda: not dialog.is_loading(), 30, "the RT tree")
        dialog.resize(1000, 560)
        dialog.show_rt_view()
        dialog.references.setChecked(True)
        plan_b_dose = next(i.node for i in dialog.rt_model.items()
                           if i.node is not None and i.node.modality == "RTDOSE" and "Plan B" in i.node.label)
        dialog.ticks.set([plan_b_dose.series_uid], True)
        settle(0.4)
        save_widget(dialog, args.out_dir / "research_rt.png")
        window.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
