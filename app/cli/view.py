"""`studydesk view SERIES_UID [--image N]`: the viewer window on a series,
as a double-click on it opens it (contract: shared/CLI.md, "Viewing and
measurements").

Like `gui`, the command imports the window inside itself, so that every
other command starts without loading Qt (the import linter's contract names
this import as its one other exception)."""

from __future__ import annotations


def add_commands(command, common) -> None:
    p = command("view", cmd_view, "open the viewer window on a series")
    p.add_argument("series_uid", metavar="SERIES_UID", help="the series (UID or unambiguous prefix)")
    p.add_argument("--image", type=int, default=None, metavar="N",
                   help="the image to show first (1-based, in display order)")


def cmd_view(ctx) -> int:
    from app.errors import BadInput
    from app.worklist.query import resolve_series_uid

    args = ctx.args
    if args.image is not None and args.image < 1:
        raise BadInput(f"--image {args.image}: images are numbered from 1")
    uid = resolve_series_uid(ctx.db, args.series_uid)  # a wrong UID fails here, before Qt
    # the window: only this command loads Qt (import-linter exceptions)
    from ui.app import application, apply_theme
    from ui.viewer.command import run_viewer

    qapp = application()
    apply_theme(qapp)
    return run_viewer(qapp, ctx.home, ctx.user, uid, args.image)
