"""The commands on the local cache: `init`, `demo`, `import`, `studies`, `share`,
`series` and `patient` (CLI.md). Each is a thin call into app/importing or
app/worklist."""

from __future__ import annotations

import sys

from app.cli.context import (EXIT_PARTIAL, STUDY_UID_HELP, STUDY_UIDS_HELP, Context, add_qbe, qbe_query,
                             run_job, table)


def add_commands(command, common) -> None:
    command("init", cmd_init, "create the home explicitly")
    p = command("demo", cmd_demo, "add a generated demo set")
    p.add_argument("--patients", type=int, default=6, help="how many demo patients (default 6)")
    p = command("import", cmd_import, "import files, folders, ZIPs, DICOMDIR media")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="DICOM files, folders (searched recursively), .zip files or DICOMDIR media")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--copy", action="store_true", help="copy into the image store (default)")
    mode.add_argument("--link", action="store_true", help="index the files where they are")
    p = command("studies", cmd_studies, "the worklist (query by example)")
    add_qbe(p)
    p.add_argument("--shared-with", metavar="USER",
                   help="only the studies shared with USER (`share`), with who shared and the note")
    p.add_argument("--limit", type=int, metavar="N", help="at most N studies, the most recent first")
    p = command("share", cmd_share, "share studies with a user of this workstation")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help=STUDY_UIDS_HELP)
    p.add_argument("--with", dest="with_user", required=True, metavar="USER",
                   help="an account of this workstation: the studies show in their Shared with me view")
    p.add_argument("--note", metavar="TEXT", help="what the recipient should know")
    p = command("series", cmd_series, "one study's series")
    p.add_argument("study_uid", metavar="STUDY_UID", help=STUDY_UID_HELP)
    p = command("patient", cmd_patient, "the patient card (every record of the ID: several "
                "issuers are several records)")
    p.add_argument("patient_id", metavar="PATIENT_ID",
                   help="a patient ID, or PID^^^ISSUER for one record (PID^^^ for the one without issuer)")
    p.add_argument("--issuer", metavar="ISSUER",
                   help="only the record of this issuer of patient ID ('' for none)")


def cmd_init(ctx: Context) -> int:
    ctx.emit({"home": str(ctx.home.root)}, f"StudyDesk home: {ctx.home.root}")
    return 0


def _import_exit(ctx: Context, result) -> int:
    for item in result.rejected:
        print(f"refused: {item['path']}: {item['reason']}", file=sys.stderr)
    ctx.emit(result.to_json(), lambda: (
        f"{result.imported} imported, {result.duplicates} duplicates, "
        f"{len(result.rejected)} refused, {len(result.studies)} studies"))
    if result.rejected:
        return EXIT_PARTIAL if (result.imported or result.duplicates) else 5
    return 0


def cmd_import(ctx: Context) -> int:
    from app.importing.importer import import_paths

    mode = "link" if ctx.args.link else "copy"
    result = run_job(ctx, lambda progress, cancel: import_paths(
        ctx.home, ctx.args.paths, ctx.user, mode=mode, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


def cmd_demo(ctx: Context) -> int:
    from app.importing.demo import import_demo

    result = run_job(ctx, lambda progress, cancel: import_demo(
        ctx.home, ctx.user, patients=ctx.args.patients, progress=progress, cancel=cancel))
    return _import_exit(ctx, result)


CONTRACT_STUDY_KEYS = ("study_uid", "patient_id", "patient_name", "study_date", "accession",
                       "modalities", "description", "series_count", "instance_count",
                       "assigned_to", "locked_by", "staged")


def cmd_studies(ctx: Context) -> int:
    from app.worklist import query as worklist

    ctx.user.require("read", "search the worklist")
    if getattr(ctx.args, "shared_with", None):
        from app.accounts.accounts import get_user

        get_user(ctx.db, ctx.args.shared_with)   # an unknown user is exit 4, not an empty list
    uids = worklist.search(ctx.db, ctx.user.name, qbe_query(ctx.args), limit=ctx.args.limit)
    rows = worklist.study_rows(ctx.db, uids)
    columns = [
        ("Patient", "patient_name", 24), ("ID", "patient_id", 12), ("Date", "study_date", 8),
        ("Accession", "accession", 12), ("Mod", "modalities", 8), ("Description", "description", 28),
        ("Ser", "series_count", 4), ("Img", "instance_count", 5), ("Study UID", "study_uid", 64)]
    if getattr(ctx.args, "shared_with", None):
        from app.worklist import sharing

        shares = sharing.shares_of(ctx.db, ctx.args.shared_with, uids)
        for row in rows:
            info = shares.get(row["study_instance_uid"], {})
            row["shared_by"], row["share_note"], row["shared_at"] = (
                info.get("by"), info.get("note", ""), info.get("time"))
        columns[5:6] = [("Shared by", "shared_by", 12), ("Note", "share_note", 28)]
    ctx.emit(rows, lambda: table(rows, columns))
    return 0


def cmd_share(ctx: Context) -> int:
    from app.worklist import sharing

    done = sharing.share(ctx.db, ctx.user, ctx.args.study_uids, ctx.args.with_user,
                         ctx.args.note or "")
    count = len(done["shared"])
    ctx.emit(done, f"{count} stud{'ies' if count != 1 else 'y'} shared with {done['with']}"
                   f" (`studydesk studies --shared-with {done['with']}` lists them)")
    return 0


def cmd_series(ctx: Context) -> int:
    from app.worklist import query as worklist

    ctx.user.require("read", "list series")
    rows = worklist.series_of(ctx.db, ctx.args.study_uid)
    ctx.emit(rows, lambda: table(rows, [
        ("#", "number", 4), ("Mod", "modality", 8), ("Description", "description", 32),
        ("Img", "instance_count", 5), ("Series UID", "series_uid", 64)]))
    return 0


def cmd_patient(ctx: Context) -> int:
    from app.worklist import query as worklist

    ctx.user.require("read", "open patient cards")
    card = worklist.open_patient_card(ctx.db, ctx.user.name, ctx.args.patient_id,
                                      issuer=ctx.args.issuer)
    records = card["records"]

    def block(one: dict) -> list[str]:
        lines = [f"{one['name']}  ({one['sex'] or '?'}, born {one['birth_date'] or '?'}"
                 + (f", {one['age']} y" if one["age"] is not None else "") + ")",
                 f"Patient ID: {one['patient_id']}"
                 + (f"  (issuer {one['issuer']})" if one["issuer"] else ""),
                 f"Phone: {one['phone'] or '-'}",
                 f"Confidentiality: {one['confidentiality'] or '-'}",
                 f"Studies: {one['study_count']}"]
        for a in one["appointments"]:
            lines.append(f"Appointment: {a['date']} {a['time']} {a['modality']} "
                         f"{a['description']} {a['location']}")
        return lines

    def text() -> str:
        if len(records) == 1:
            return "\n".join(block(card))
        pid = card["patient_id"]
        lines = [f"Patient ID {pid}: {len(records)} records (issuers "
                 f"{worklist.issuers_text_of_cards(records)}); `studydesk patient {pid}^^^ISSUER` "
                 "shows one"]
        for n, one in enumerate(records, start=1):
            lines += ["", f"Record {n} of {len(records)}: issuer {one['issuer'] or '(none)'}", *block(one)]
        return "\n".join(lines)

    if len(records) > 1 and ctx.json:
        print(f"studydesk: patient {card['patient_id']}: {len(records)} records (issuers "
              f"{worklist.issuers_text_of_cards(records)}); all are in \"records\"", file=sys.stderr)
    ctx.emit(card, text)
    return 0
