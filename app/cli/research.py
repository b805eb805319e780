"""Command-line face of research projects (CLI.md, Research projects)."""

from __future__ import annotations

import sys

from app.cli.context import EXIT_PARTIAL, Context, run_job


def cmd_project(ctx: Context) -> int:
    from app.research import projects

    args = ctx.args
    sub = args.project_command
    if sub == "create":
        ctx.emit(projects.create(ctx.db, ctx.user, args.name), f"project {args.name} created")
    elif sub == "list":
        rows = projects.list_projects(ctx.db)
        ctx.emit(rows, lambda: "\n".join(f"{r['project']:<30} {r['subjects']} subjects" for r in rows))
    elif sub == "enrol":
        subject = projects.enrol(ctx.db, ctx.user, args.name, args.patient_id, args.pid, args.subject)
        ctx.emit(subject, f"enrolled {args.patient_id} as {args.pid} / {args.subject}")
    elif sub == "member":
        projects.add_member(ctx.db, ctx.user, args.name, args.member, args.role)
        ctx.emit({"project": args.name, "user": args.member, "role": args.role},
                 f"{args.member} is {args.role} of {args.name}")
    elif sub == "subjects":
        rows = projects.subjects(ctx.db, ctx.user, args.name)
        ctx.emit(rows, lambda: _subjects_text(rows))
    elif sub == "find":
        return _find(ctx)
    elif sub == "export":
        from app.research import staging

        result = run_job(ctx, lambda progress, cancel: staging.export_project(
            ctx.home, ctx.db, ctx.user, args.name, args.zip, args.subject, progress, cancel))
        ctx.emit(result, f"{result['instances']} instances written to {result['zip']}")
    elif sub == "reidentify":
        subject = projects.reidentify(ctx.db, ctx.user, args.name, args.pid, args.reason or "")
        ctx.emit(subject, f"{subject['pid']} is patient {subject['patient_id']}")
    return 0


def _subjects_text(rows: list[dict]) -> str:
    return "\n".join(f"{r['pid']:<16} {r['subject']:<16} {r['patient_id']}" for r in rows)


def _find(ctx: Context) -> int:
    from app.research import projects

    args = ctx.args
    if args.bulk is not None:
        result = projects.bulk(ctx.db, ctx.user, args.name, args.bulk)
        for token in result.unmatched:
            print(f"no subject matches {token}", file=sys.stderr)
        for item in result.ambiguous:
            print(f"{item['id']} matches {len(item['matches'])} subjects: "
                  f"{', '.join(item['matches'])}", file=sys.stderr)
        rows = result.subjects
    elif args.text:
        rows = projects.find(ctx.db, ctx.user, args.name, args.text)
    else:
        from app.errors import BadInput

        raise BadInput("project find: give TEXT or --bulk \"ID1, ID2, ...\"")
    ctx.emit(rows, lambda: _subjects_text(rows))
    return 0


def cmd_stage(ctx: Context) -> int:
    from app.research import staging

    args = ctx.args
    if args.to:
        from app.net.nodes import get_node

        get_node(ctx.db, args.to)  # an unknown node is refused before any work (exit 4)
    risky = staging.unapproved(ctx.home, ctx.db, args.series_uids, args.with_references)
    if risky:  # as the window's research dialog asks before staging
        print("warning: some series to stage are, or belong to, a plan that is not approved "
              "for treatment:", file=sys.stderr)
        for item in risky:
            print(f"  \u2022 {item['modality']} {item['label']}: plan \u201c{item['plan']}\u201d is "
                  f"{item['approval'] or 'without approval status'}", file=sys.stderr)
    result = run_job(ctx, lambda progress, cancel: staging.stage(
        ctx.home, ctx.db, ctx.user, args.name, args.series_uids, args.with_references,
        progress, cancel))
    for item in result.failed:
        print(f"failed: {item['series_instance_uid']}: {item['reason']}", file=sys.stderr)
    document = result.to_json()
    document["unapproved"] = risky
    sent_failed = []
    if args.to:
        ready = result.staged + [s["series_instance_uid"] for s in result.skipped]
        sent = run_job(ctx, lambda progress, cancel: staging.send_staged(
            ctx.home, ctx.db, ctx.user, args.name, ready, args.to, progress, cancel))
        document["sent"] = sent.to_json()
        sent_failed = sent.failed
        for item in sent_failed:
            print(f"not sent: {item}", file=sys.stderr)
    ctx.emit(document, f"{len(result.staged)} series staged, {len(result.skipped)} "
             f"already staged, {len(result.failed)} failed"
             + (f"; {document['sent']['sent']} instances sent to {args.to}" if args.to else ""))
    if result.failed or sent_failed:
        return EXIT_PARTIAL if (result.staged or result.skipped) else 5
    return 0


def cmd_staging(ctx: Context) -> int:
    from app.research import staging

    rows = staging.staging_state(ctx.db, ctx.user, ctx.args.name, ctx.args.patient_id)
    ctx.emit(rows, lambda: "\n".join(
        f"{r['patient_id']:<12} {r['modality']:<9} {r['description'][:28]:<28} "
        f"{r['staged_instances']:>4}/{r['instances']:<4} {r['state']} {r['reason']}" for r in rows))
    return 0


def cmd_rt_tree(ctx: Context) -> int:
    from app.research import rt_tree

    ctx.user.require("read", "read the RT tree")
    roots = rt_tree.build(ctx.home, ctx.db, ctx.args.study_uid, rt_only=ctx.args.rt_only)

    def text() -> str:
        lines = []

        def walk(node, depth):
            extra = f" [{node.approval}]" if node.approval else ""
            lines.append(f"{'  ' * depth}{node.modality:<9} {node.label}{extra}  {node.series_uid}")
            for warning in node.warnings:
                lines.append(f"{'  ' * depth}  ! {warning}")
            for child in node.children:
                walk(child, depth + 1)

        for root in roots:
            walk(root, 0)
        return "\n".join(lines)

    ctx.emit([r.to_json() for r in roots], text)
    return 0


def add_commands(command, common) -> None:
    p = command("project", cmd_project, "research projects")
    sub = p.add_subparsers(dest="project_command", metavar="create|list|enrol|find|...", required=True)
    c = sub.add_parser("create", parents=[common], help="a research project")
    c.add_argument("name", metavar="NAME", help="the project's name")
    sub.add_parser("list", parents=[common], help="the projects")
    e = sub.add_parser("enrol", parents=[common], help="link a clinical patient to a subject")
    e.add_argument("name", metavar="NAME", help="the project's name")
    e.add_argument("--patient-id", required=True, metavar="PID_CLINICAL", help="the clinical patient ID")
    e.add_argument("--pid", required=True, metavar="PSEUDONYM",
                   help="the pseudonym that replaces the patient ID in staged copies")
    e.add_argument("--subject", required=True, metavar="STUDY_SUBJECT_ID", help="the study's subject ID")
    m = sub.add_parser("member", parents=[common], help="make a user a member of the project")
    m.add_argument("name", metavar="NAME", help="the project's name")
    m.add_argument("member", metavar="USER", help="an account of this workstation")
    m.add_argument("--role", default="member", choices=["member", "admin"],
                   help="admin: may also re-identify and add members (default member)")
    s = sub.add_parser("subjects", parents=[common], help="the project's subjects")
    s.add_argument("name", metavar="NAME", help="the project's name")
    f = sub.add_parser("find", parents=[common], help="autocomplete (at most 10) or bulk search")
    f.add_argument("name", metavar="NAME", help="the project's name")
    f.add_argument("text", nargs="?", metavar="TEXT", help="part of a PID or subject ID (autocomplete)")
    f.add_argument("--bulk", metavar='"ID1, ID2, ..."',
                   help="a list of PIDs or subject IDs, whole or partial, separated by commas or spaces")
    x = sub.add_parser("export", parents=[common], help="the project's staged data as a ZIP")
    x.add_argument("name", metavar="NAME", help="the project's name")
    x.add_argument("--zip", required=True, metavar="FILE", help="the ZIP file to write")
    x.add_argument("--subject", metavar="STUDY_SUBJECT_ID", help="only this subject's data")
    r = sub.add_parser("reidentify", parents=[common], help="PID to clinical patient (project admins)")
    r.add_argument("name", metavar="NAME", help="the project's name")
    r.add_argument("pid", metavar="PID", help="the subject's pseudonym")
    r.add_argument("--reason", metavar="TEXT", help="why (required; kept in the audit trail)")
    p = command("stage", cmd_stage, "pseudonymised copies of series into a project")
    p.add_argument("name", metavar="NAME", help="the project's name")
    p.add_argument("series_uids", nargs="+", metavar="SERIES_UID",
                   help="series UIDs (each whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--with-references", action="store_true",
                   help="add what the series need: the plan, structure set and images above them")
    p.add_argument("--to", metavar="NODE", help="also send the staged copies to the project's node")
    p = command("staging", cmd_staging, "staging state per series")
    p.add_argument("name", metavar="NAME", help="the project's name")
    p.add_argument("--patient-id", metavar="PATIENT_ID", help="the clinical patient ID")
    p = command("rt-tree", cmd_rt_tree, "a study's series as a tree of radiotherapy references")
    p.add_argument("study_uid", metavar="STUDY_UID",
                   help="a study UID (whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--rt-only", action="store_true", help="only radiotherapy-related series")
