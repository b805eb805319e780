"""`studydesk export`: ZIP of studies, plain or anonymised (CLI.md).

    export STUDY_UID... --zip FILE [--anonymize] [--option NAME...]
           [--dicomdir] [--override-reason TEXT]

Exit codes: 0 done; 2 bad usage (unknown option, options without
--anonymize, a --zip place that cannot be written: one line naming it and
why); 3 no export privilege; 4 unknown study; 5 the residual scan found
identifying values (an original UID, an identifying value of an input, a
value hidden past a stretched length) and no --override-reason was given
(nothing kept; stderr names each file, its input and what was found where);
1 an instance could not be read (count check; nothing kept) or cancelled.
"""

from __future__ import annotations

import sys

from app.cli.context import run_job


def add_commands(command, common) -> None:
    p = command("export", cmd_export, "ZIP of studies, optionally anonymised (PS3.15 Basic Profile)")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID",
                   help="study UIDs (each whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--zip", required=True, metavar="FILE", help="the ZIP file to write")
    p.add_argument("--anonymize", "--anonymise", action="store_true",
                   help="apply the DICOM PS3.15 Basic Application Level Confidentiality Profile")
    p.add_argument("--option", action="extend", nargs="+", default=[], metavar="NAME",
                   help="profile options: retain-long-full-dates, retain-long-modified-dates, "
                        "retain-patient-chars, retain-device-id, retain-uids, retain-safe-private, "
                        "retain-institution-id, clean-descriptors, clean-struct-content, "
                        "clean-graphics")
    p.add_argument("--dicomdir", action="store_true", help="add a DICOMDIR (DICOM File IDs as names)")
    p.add_argument("--override-reason", default="", metavar="TEXT",
                   help="keep an anonymised export even when the residual-identifier scan finds "
                        "identifying values; the reason goes to the report and the audit trail")


def cmd_export(ctx) -> int:
    from app.export import ResidualIdentifiers, export_zip

    args = ctx.args
    try:
        result = run_job(ctx, lambda progress, cancel: export_zip(
            ctx.home, ctx.user, args.study_uids, args.zip, anonymize=args.anonymize,
            options=args.option, dicomdir=args.dicomdir, override_reason=args.override_reason,
            progress=progress, cancel=cancel))
    except ResidualIdentifiers as e:
        print(f"refused: {e}", file=sys.stderr)
        print(e.detail, file=sys.stderr)
        scan = e.report["residual_scan"]
        ctx.emit({"zip": None, "refused": "residual identifiers", "hits": scan["hits"]})
        return e.exit_code
    document = result.to_json()

    def text() -> str:
        line = (f"{result.instances_out} instances from {len(result.studies)} "
                f"stud{'ies' if len(result.studies) != 1 else 'y'} -> {result.zip}")
        if result.anonymized:
            scan = result.report["residual_scan"]
            line += ("\nanonymised (" + (", ".join(result.options) or "basic profile") + "); "
                     f"residual scan: {'passed' if scan['passed'] else 'hits exported anyway'}; "
                     f"burned-in text risk: {result.report['burned_in_risk']['count']} file(s)")
        return line

    ctx.emit(document, text)
    return 0
