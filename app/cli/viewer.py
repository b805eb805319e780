"""The viewer's commands (CLI.md, "Viewing and measurements"): `render`.
`view` (the window) comes with ui/viewer; the measurement commands live in
their own module."""

from __future__ import annotations

import os

from app.cli.context import Context


def add_commands(command, common) -> None:
    p = command("render", cmd_render, "draw image N of a series as the viewer does, to a PNG")
    p.add_argument("series_uid", metavar="SERIES_UID", help="a series UID (whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--image", type=int, required=True, metavar="N",
                   help="1-based, in the series' display order")
    p.add_argument("--frame", type=int, default=1, metavar="F",
                   help="1-based frame of a multi-frame image (default 1)")
    p.add_argument("--window", type=float, nargs=2, metavar=("CENTER", "WIDTH"),
                   help="instead of the header's VOI LUT or first window")
    p.add_argument("--out", required=True, metavar="FILE.png", help="the PNG file to write")


def cmd_render(ctx: Context) -> int:
    from app.viewer.render import render_image, write_png

    args = ctx.args
    ctx.user.require("read", "view images")
    window = tuple(args.window) if args.window else None
    done = render_image(ctx.home, ctx.db, args.series_uid, args.image, args.frame, window)
    path = os.path.abspath(write_png(args.out, done.display.pixels))
    shown = list(done.display.window) if done.display.window else None
    ctx.emit({"path": path, "rows": done.rows, "columns": done.columns, "window": shown},
             lambda: (f"{path}: {done.columns}x{done.rows}"
                      + (f", window {shown[0]:g}/{shown[1]:g}" if shown else "")
                      + (f", frame {done.frame} of {done.frames}" if done.frames > 1 else "")))
    return 0
