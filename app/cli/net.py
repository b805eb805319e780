"""The network commands (shared/CLI.md, Network): node, query, retrieve,
send, worklist, listen, outbox. Thin: each calls one function of app/net
(or app/net/outbox/admin.py)."""

from __future__ import annotations

import sys

from app.cli.context import EXIT_PARTIAL, add_qbe, qbe_query, run_job, table


def cmd_node(ctx) -> int:
    from app.net import nodes

    action = ctx.args.node_command
    if action == "add":
        node = nodes.add_node(ctx.db, ctx.user, ctx.args.name, ctx.args.aet, ctx.args.host, ctx.args.port,
                              ctx.args.tls, ctx.args.purpose, replace=ctx.args.replace,
                              url=ctx.args.url or "", token_env=ctx.args.token_env or "")
        ctx.emit(node.to_json(), f"added node {node}")
        return 0
    if action == "remove":
        nodes.remove_node(ctx.db, ctx.user, ctx.args.name)
        ctx.emit({"removed": ctx.args.name}, f"removed node {ctx.args.name}")
        return 0
    if action == "echo":
        from app.net.client import echo

        ctx.user.require("network", "echo DICOM nodes")
        ms = echo(ctx.home, ctx.args.name)
        web = nodes.get_node(ctx.db, ctx.args.name).web
        ctx.emit({"node": ctx.args.name, "ok": True, "ms": round(ms, 1)},
                 f"{ctx.args.name}: {'QIDO-RS' if web else 'C-ECHO'} answered in {ms:.1f} ms")
        return 0
    ctx.user.require("read")
    rows = [n.to_json() for n in nodes.list_nodes(ctx.db)]
    ctx.emit(rows, lambda: table([dict(r, purposes=r["purposes"], tls="yes" if r["tls"] else "",
                                       aet=r["aet"] or "(DICOMweb)", host=r.get("url") or r["host"])
                                  for r in rows], [
        ("Name", "name", 16), ("AE title", "aet", 16), ("Host", "host", 24), ("Port", "port", 5),
        ("TLS", "tls", 3), ("Purposes", "purposes", 40)]))
    return 0


def cmd_query(ctx) -> int:
    from app.net.client import query_series, query_studies

    if ctx.args.series:
        rows = run_job(ctx, lambda progress, cancel: query_series(
            ctx.home, ctx.user, ctx.args.node, ctx.args.series, cancel))
        ctx.emit(rows, lambda: table(rows, [
            ("#", "number", 4), ("Mod", "modality", 8), ("Description", "description", 32),
            ("Img", "instance_count", 5), ("Series UID", "series_uid", 64)]))
        return 0
    rows = run_job(ctx, lambda progress, cancel: query_studies(
        ctx.home, ctx.user, ctx.args.node, qbe_query(ctx.args), cancel))
    ctx.emit(rows, lambda: table(rows, [
        ("Patient", "patient_name", 24), ("ID", "patient_id", 12), ("Date", "study_date", 8),
        ("Accession", "accession", 12), ("Mod", "modalities", 8), ("Description", "description", 28),
        ("Img", "instance_count", 5), ("Here", "in_cache", 5), ("Study UID", "study_uid", 64)]))
    return 0


def report_failures(failed: list[dict], node: str = "", direction: str = "to") -> None:
    """The failed instances on stderr, one line per node and reason (a node
    that is down or refusing fails every instance alike): the instance's
    UID when it is the only one, else how many; ``--json`` lists each."""
    groups: dict[tuple[str, str], list[str]] = {}
    for item in failed:
        key = (item.get("node") or node, item["reason"])
        groups.setdefault(key, []).append(item.get("sop_instance_uid") or str(item.get("id", "")))
    for (where, reason), ids in groups.items():
        what = ids[0] if len(ids) == 1 else f"{len(ids)} instances"
        print(f"failed: {what}{f' {direction} {where}' if where else ''}: {reason}", file=sys.stderr)


def _transfer_exit(done: int, failed: list[dict], node: str = "", direction: str = "to") -> int:
    report_failures(failed, node, direction)
    if failed:
        return EXIT_PARTIAL if done else 5
    return 0


def cmd_retrieve(ctx) -> int:
    from app.errors import BadInput
    from app.net.retrieve.series import retrieve_series
    from app.net.retrieve.study import retrieve

    args = ctx.args
    if args.series:
        if len(args.study_uids) != 1:
            raise BadInput("retrieve --series: give the one study the series belong to")
        result = run_job(ctx, lambda progress, cancel: retrieve_series(
            ctx.home, ctx.user, args.node, args.study_uids[0], args.series, args.method, progress, cancel))
        missing, kind, what = result.series_not_found, "series", f"of {len(result.series)} series "
    else:
        result = run_job(ctx, lambda progress, cancel: retrieve(
            ctx.home, ctx.user, args.node, args.study_uids, args.method, progress, cancel))
        missing, kind, what = result.not_found, "study", ""
    for uid in missing:
        print(f"not found: {kind} {uid}: the node has no instances of it", file=sys.stderr)
    ctx.emit(result.to_json(), lambda: (
        f"{result.retrieved} instances {what}retrieved from {result.node} by {result.transport}, "
        f"{result.already_present} already here, {len(result.failed)} failed"))
    code = _transfer_exit(result.retrieved + result.already_present, result.failed, result.node, "from")
    return EXIT_PARTIAL if not code and missing else code


def cmd_send(ctx) -> int:
    from app.net.send import send_studies

    result = run_job(ctx, lambda progress, cancel: send_studies(
        ctx.home, ctx.user, ctx.args.study_uids, ctx.args.to, progress, cancel))
    ctx.emit(result.to_json(), lambda: (
        f"{result.sent} instances sent to {result.node}"
        f"{f' ({result.converted} decompressed for it)' if result.converted else ''}, "
        f"{len(result.failed)} failed"))
    return _transfer_exit(result.sent, result.failed, result.node)


def cmd_worklist(ctx) -> int:
    from app.net.mwl import fetch_worklist

    rows = run_job(ctx, lambda progress, cancel: fetch_worklist(
        ctx.home, ctx.user, ctx.args.node, ctx.args.patient_id or "", cancel))
    ctx.emit(rows, lambda: table(rows, [
        ("Patient", "patient_name", 24), ("ID", "patient_id", 12), ("Date", "date", 8),
        ("Time", "time", 6), ("Mod", "modality", 4), ("Description", "description", 30),
        ("Location", "location", 16)]))
    return 0


def cmd_listen(ctx) -> int:
    from app.net import tls
    from app.net.listener import Listener

    ctx.user.require("network", "receive images")
    context = tls.server_context(ctx.home) if (ctx.args.tls or tls.listen_with_tls(ctx.home)) else None

    def log(kind: str, text: str) -> None:
        print(f"{kind}: {text}", file=sys.stderr, flush=True)

    listener = Listener(ctx.home, ctx.user.name, ctx.args.port, ctx.args.host or "", context, on_event=log)
    listener.start()
    print(f"listening as {listener.aet} on port {listener.port}{' (TLS)' if context else ''}; "
          "only configured nodes may store; Ctrl+C stops", file=sys.stderr, flush=True)
    try:
        listener.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
    ctx.emit({"received": listener.received, "rejected_associations": listener.rejected},
             f"{listener.received} instances received, {listener.rejected} associations rejected")
    return 0


OUTBOX_COLUMNS = [("Id", "short_id", 8), ("Time", "time", 16), ("Kind", "kind", 9), ("Node", "node", 12),
                  ("State", "state", 9), ("Try", "attempts", 3), ("Patient", "patient", 28),
                  ("What", "reason", 26), ("Last error / discarded because", "note", 50)]


def _outbox_text(rows: list[dict], filtered: bool) -> str:
    from app.net.outbox.queue import short_id

    if not rows:
        return "No outbox entries match" if filtered else "The outbox is empty"
    shown = [dict(r, short_id=short_id(r["id"]), time=r["time"][:16].replace("T", " "),
                  node=r["node"] or "(none)", note=r["discard_reason"] or r["last_error"],
                  patient=" ".join(filter(None, (r["patient_name"], f"({r['patient_id']})"
                                                 if r["patient_id"] else "")))) for r in rows]
    return table(shown, OUTBOX_COLUMNS)


def _outbox_changed(ctx, outcome, verb: str) -> int:
    from app.net.outbox.queue import short_id

    for item in outcome.refused:
        print(f"refused: {item['reason']}", file=sys.stderr)
    shown = ", ".join(short_id(i) for i in outcome.done[:10]) + (", ..." if len(outcome.done) > 10 else "")
    ctx.emit(outcome.to_json(), lambda: f"{len(outcome.done)} outbox entr{'ies' if len(outcome.done) != 1 else 'y'}"
             f" {verb}" + (f": {shown}" if outcome.done else ""))
    if outcome.refused:
        return EXIT_PARTIAL if outcome.done else 5
    return 0


def cmd_outbox(ctx) -> int:
    """`outbox [list] [--state S] [--node N]`, `outbox send|assign|discard|restore`."""
    from app.net.outbox import admin as outbox_admin
    from app.errors import BadInput

    action = ctx.args.outbox_command or "list"
    if action == "send":
        from app.net.outbox.send import send_outbox

        result = run_job(ctx, lambda progress, cancel: send_outbox(
            ctx.home, ctx.user, ctx.args.node, progress, cancel))
        if result.held:
            print(f"note: {result.held} entries held (no node): `studydesk outbox assign --all-held "
                  "--node NODE` queues them", file=sys.stderr)
        report_failures(result.failed)
        ctx.emit(result.to_json(), result.summary())
        if result.failed:
            return EXIT_PARTIAL if result.sent else 5
        return 0
    if action == "assign":
        if bool(ctx.args.ids) == bool(ctx.args.all_held):
            raise BadInput("outbox assign: give entry ids or --all-held (one of the two)")
        ids = outbox_admin.held_ids(ctx.db) if ctx.args.all_held else ctx.args.ids
        if not ids:
            from app.net.nodes import get_node

            get_node(ctx.db, ctx.args.node)  # an unknown node is still an error
            ctx.emit({"done": [], "refused": [], "node": ctx.args.node}, "No held entries in the outbox")
            return 0
        outcome = outbox_admin.assign_node(ctx.db, ctx.user, ids, ctx.args.node)
        return _outbox_changed(ctx, outcome, f"queued for {outcome.node}")
    if action == "discard":
        return _outbox_changed(ctx, outbox_admin.discard(ctx.db, ctx.user, ctx.args.ids, ctx.args.reason),
                               "discarded (`outbox restore ID` brings one back)")
    if action == "restore":
        return _outbox_changed(ctx, outbox_admin.restore(ctx.db, ctx.user, ctx.args.ids), "restored")
    ctx.user.require("read", "list the outbox")
    rows = outbox_admin.listing(ctx.home, ctx.db, ctx.args.state, ctx.args.node)
    ctx.emit(rows, lambda: _outbox_text(rows, bool(ctx.args.state or ctx.args.node)))
    return 0


def _add_outbox(command, common) -> None:
    from app.net.outbox.queue import STATES

    def filters(p) -> None:
        p.add_argument("--state", choices=STATES, help="only entries in this state")
        p.add_argument("--node", metavar="NODE", help="only entries for this node")

    p = command("outbox", cmd_outbox, "objects waiting to be sent: IOCM corrections, AI rescan requests")
    filters(p)
    osub = p.add_subparsers(dest="outbox_command", metavar="list|send|assign|discard|restore")
    filters(osub.add_parser("list", parents=[common], help="the entries (the default)"))
    s = osub.add_parser("send", parents=[common], help="send queued entries and retry failed ones")
    s.add_argument("--node", metavar="NODE", help="only the entries for this node")
    a = osub.add_parser("assign", parents=[common], help="give held entries a destination node")
    a.add_argument("ids", nargs="*", metavar="ID", help="entry ids (or their last 8 characters)")
    a.add_argument("--all-held", action="store_true", help="every held entry")
    a.add_argument("--node", required=True, metavar="NODE", help="a node with the store purpose")
    d = osub.add_parser("discard", parents=[common], help="never send these entries (kept, restorable)")
    d.add_argument("ids", nargs="+", metavar="ID", help="entry ids (or their last 8 characters)")
    d.add_argument("--reason", metavar="TEXT", help="why (required); kept with the entry and audited")
    r = osub.add_parser("restore", parents=[common], help="discarded entries wait again")
    r.add_argument("ids", nargs="+", metavar="ID", help="entry ids (or their last 8 characters)")


def add_commands(command, common) -> None:
    from app.net.nodes import PURPOSES

    p = command("node", cmd_node, "remote DICOM nodes")
    nsub = p.add_subparsers(dest="node_command", metavar="add|list|echo|remove", required=True)
    a = nsub.add_parser("add", parents=[common],
                        help="add a remote DICOM node (--aet, --host, --port) or DICOMweb node (--url)")
    a.add_argument("name", metavar="NAME", help="the name the other commands use for the node")
    a.add_argument("--aet", metavar="AET", help="a DICOM node's AE title")
    a.add_argument("--host", metavar="HOST", help="a DICOM node's host name or address")
    a.add_argument("--port", type=int, metavar="PORT", help="a DICOM node's port")
    a.add_argument("--tls", action="store_true", help="talk to it over TLS")
    a.add_argument("--url", metavar="URL",
                   help="a DICOMweb node: the base URL of its QIDO-RS, WADO-RS and STOW-RS services")
    a.add_argument("--token-env", metavar="VAR",
                   help="the environment variable holding its credentials (a bearer token, or "
                        "user:password for HTTP basic authentication); the name is stored, never the value")
    a.add_argument("--purpose", nargs="+", choices=PURPOSES, metavar="PURPOSE",
                   help=f"what it is for: {', '.join(PURPOSES)} (default: query-retrieve store)")
    a.add_argument("--replace", action="store_true", help="change a node that exists")
    nsub.add_parser("list", parents=[common], help="the configured nodes")
    e = nsub.add_parser("echo", parents=[common], help="C-ECHO a node (a QIDO-RS search for a DICOMweb node)")
    e.add_argument("name", metavar="NAME", help="a configured node (`node list`)")
    r = nsub.add_parser("remove", parents=[common], help="forget a node")
    r.add_argument("name", metavar="NAME", help="a configured node (`node list`)")

    p = command("query", cmd_query, "C-FIND (QIDO-RS) studies on a node (same QBE flags as `studies`)")
    p.add_argument("node", metavar="NAME", help="a configured node (`node list`)")
    add_qbe(p)
    p.add_argument("--series", metavar="STUDY_UID", help="list one study's series instead")

    p = command("retrieve", cmd_retrieve, "fetch studies from a node into the cache")
    p.add_argument("node", metavar="NAME", help="a configured node (`node list`)")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID", help="study UIDs on the node (whole)")
    p.add_argument("--method", choices=("get", "move"), default="get",
                   help="C-GET (default) or C-MOVE to this workstation's listener; "
                        "a DICOMweb node is retrieved by WADO-RS")
    p.add_argument("--series", nargs="+", metavar="SERIES_UID",
                   help="only these series of the one STUDY_UID given")

    p = command("send", cmd_send, "C-STORE (STOW-RS) studies to a configured node")
    p.add_argument("study_uids", nargs="+", metavar="STUDY_UID",
                   help="study UIDs (each whole, or an unambiguous prefix of 8 or more characters)")
    p.add_argument("--to", required=True, metavar="NODE", help="a configured node")

    p = command("worklist", cmd_worklist, "Modality Worklist C-FIND; fills upcoming appointments")
    p.add_argument("node", metavar="NAME", help="a configured node that serves the Modality Worklist")
    p.add_argument("--patient-id", metavar="P", help="only this patient's scheduled procedures")

    p = command("listen", cmd_listen, "run the storage listener in the foreground")
    p.add_argument("--port", type=int, metavar="P", help="default: `config get port`")
    p.add_argument("--host", metavar="ADDRESS", help="listen on one address only (default: all)")
    p.add_argument("--tls", action="store_true", help="require TLS (tls.certificate and tls.key)")

    _add_outbox(command, common)
