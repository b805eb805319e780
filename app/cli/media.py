"""Command-line face of burning (CLI.md: ``burn STUDY_UID... (--iso FILE |
--device DEV) [--label TEXT]``), plus ``drives``."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.context import Context, run_job, table


def _ask_for_disc(number: int, total: int) -> bool:
    """Ask on the terminal for the next blank disc (no terminal: refuse)."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"\nInsert blank disc {number} of {total} and press Enter (or type q to stop): ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() not in ("q", "quit", "n", "no")


def _disc_line(disc: dict) -> str:
    check = disc["verification"]
    state = ("verified" if disc["verified"] else "NOT verified" if check else "written, not verified")
    line = (f"disc {disc['disc']} of {disc['of']}: {disc['target']} ({disc['label']}), "
            f"{disc['instances']} objects of {len(disc['studies'])} studies, "
            f"{disc['bytes'] / 1e6:.1f} MB, {state}, "
            f"profile {disc['profile'] or 'none (compression no general-purpose profile allows)'}")
    if "residual_scan" in disc:
        line += (f"; anonymised, residual scan passed ({disc['residual_scan']['files_scanned']}"
                 f" files), report {disc['report']}; burned-in text risk: "
                 f"{disc['burned_in_risk']} file(s)")
    return line


def cmd_burn(ctx: Context) -> int:
    from app.media import BurnOptions, burn, medium

    args = ctx.args
    ctx.user.require("export", "burn discs")
    options = BurnOptions(label=args.label or "", web=not args.no_web, anonymise=args.anonymize,
                          deid_options=tuple(args.option or ()), verify=not args.no_verify,
                          keep_compressed=args.keep_compressed,
                          medium=medium(args.medium) if args.medium else None)
    result = run_job(ctx, lambda progress, cancel: burn(
        ctx.home, ctx.user, args.study_uids, iso_path=Path(args.iso) if args.iso else None,
        device=args.device, options=options, next_disc=_ask_for_disc, progress=progress,
        cancel=cancel))
    document = result.to_json()
    for disc in document["discs"]:
        for problem in (disc["verification"] or {}).get("problems", []):
            print(f"disc {disc['disc']}: {problem}", file=sys.stderr)
    ctx.emit(document, lambda: "\n".join(_disc_line(d) for d in document["discs"]))
    if options.verify and not result.verified:
        print("studydesk: burn: the disc does not match its manifest (see above)", file=sys.stderr)
        return 1
    return 0


def cmd_drives(ctx: Context) -> int:
    from app.media.burners import for_system

    ctx.user.require("export", "list disc drives")
    rows = [d.to_json() for d in for_system().drives()]
    ctx.emit(rows, lambda: table(rows, [("Device", "device", 24), ("Drive", "name", 40)])
             if rows else "no disc drive found")
    return 0


def add_commands(command, common) -> None:
    p = command("burn", cmd_burn, "IHE PDI media: an ISO 9660 image, or burnt to a drive")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID",
                   help="study UIDs (each whole, or an unambiguous prefix of 8 or more characters)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--iso", metavar="FILE", help="write an ISO 9660 image")
    target.add_argument("--device", metavar="DEV",
                        help="burn to a drive (/dev/sr0, stdio:FILE, E:, a drutil number)")
    p.add_argument("--label", metavar="TEXT", help="the volume label (A-Z, 0-9, _)")
    p.add_argument("--medium", choices=["cd", "dvd", "dvd-dl", "bd"],
                   help="spread over discs of this size (with --iso: one image per disc)")
    p.add_argument("--anonymize", "--anonymise", dest="anonymize", action="store_true",
                   help="de-identify (PS3.15 Basic Profile) before writing")
    p.add_argument("--option", nargs="+", action="extend", metavar="NAME",
                   help="options of the de-identification profile (as for export)")
    p.add_argument("--no-web", action="store_true", help="leave out INDEX.HTM and IHE_PDI/")
    p.add_argument("--no-verify", action="store_true", help="do not read the disc back")
    p.add_argument("--keep-compressed", action="store_true",
                   help="keep compressed images as they are (a disc for this site only); by "
                        "default they are written decompressed (Explicit VR Little Endian) so "
                        "that the disc meets the general-purpose profile STD-GEN-CD")
    command("drives", cmd_drives, "the disc drives this computer can burn with")
