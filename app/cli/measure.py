"""`studydesk measure` and `measurements` (CLI.md, Viewing and measurements).

    measure SERIES_UID --image N --line X1 Y1 X2 Y2 [--label TEXT]
    measurements STUDY_UID

Points are (column, row) in the image's pixel coordinates, 0-based, sub-pixel
allowed: the pixel (0, 0) spans 0..1, as an SR's SCOORD holds them. Image N
is 1-based in the series' display order (the worklist's: Instance Number).
Exit codes: 0 done; 2 image N out of range, a point outside the image, not an
image; 3 no import privilege (a report is a new instance of the cache);
4 unknown series or study; 5 refused by a rule: an image without Pixel Spacing
or Imager Pixel Spacing (no length in mm), a study locked by another user.
"""

from __future__ import annotations

from app.cli.context import Context, table


def add_commands(command, common) -> None:
    p = command("measure", cmd_measure, "a length on an image, kept as a DICOM SR measurement "
                "report (TID 1500) in the image's study")
    p.add_argument("series_uid", metavar="SERIES_UID", help="a series UID (whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--image", type=int, required=True, metavar="N",
                   help="image N of the series (1-based, in display order)")
    p.add_argument("--line", type=float, nargs=4, required=True, metavar=("X1", "Y1", "X2", "Y2"),
                   help="the two ends: column and row of each, 0-based, sub-pixel allowed")
    p.add_argument("--label", default="", metavar="TEXT", help="what is measured")
    p = command("measurements", cmd_measurements, "a study's measurements, read from its reports")
    p.add_argument("study_uid", metavar="STUDY_UID",
                   help="a study UID (whole, or an unambiguous prefix of 8 or more characters)")


def cmd_measure(ctx: Context) -> int:
    from app.measurements.record import measure_length

    x1, y1, x2, y2 = ctx.args.line
    done = measure_length(ctx.home, ctx.user, ctx.args.series_uid, ctx.args.image,
                          (x1, y1), (x2, y2), ctx.args.label)
    ctx.emit(done, f"{done['length_mm']:.2f} mm, kept in report {done['report_uid']}")
    return 0


def cmd_measurements(ctx: Context) -> int:
    from app.measurements.index import measurements_of
    from app.worklist.query import resolve_study_uid

    ctx.user.require("read", "list measurements")
    uid = resolve_study_uid(ctx.db, ctx.args.study_uid)
    rows = [found.to_json() for found in measurements_of(ctx.db, uid)]
    ctx.emit(rows, lambda: table([dict(r, value=f"{r['value']:.2f}") for r in rows], [
        ("Kind", "kind", 8), ("Value", "value", 10), ("Unit", "unit", 9), ("Label", "label", 20),
        ("Image UID", "image_uid", 64), ("Report UID", "report_uid", 64)]))
    return 0
