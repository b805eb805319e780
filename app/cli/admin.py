"""`studydesk config`, `user` and `audit`: settings, accounts and the audit trail (CLI.md)."""

from __future__ import annotations

import getpass
import sys

from app.cli.context import Context
from app.errors import BadInput


def add_commands(command, common) -> None:
    p = command("config", cmd_config, "settings")
    csub = p.add_subparsers(dest="config_command", metavar="get|set", required=True)
    g = csub.add_parser("get", parents=[common], help="print one setting, or all of them")
    g.add_argument("key", nargs="?", help="the setting's name (all settings when left out)")
    s = csub.add_parser("set", parents=[common], help="change a setting (admin; audited)")
    s.add_argument("key", help="the setting's name, e.g. aet, port or listener.max_connections")
    s.add_argument("value", help="its new value")

    p = command("user", cmd_user, "accounts")
    usub = p.add_subparsers(dest="user_command", metavar="add|list", required=True)
    a = usub.add_parser("add", parents=[common], help="create an account (admin)")
    a.add_argument("name", help="the login name")
    a.add_argument("--role", nargs="+", required=True, metavar="ROLE",
                   help="one or more of admin, content-manager, radiologist, researcher, clerk")
    a.add_argument("--password", action="store_true", help="ask for a password (stdin when not a terminal)")
    usub.add_parser("list", parents=[common], help="the accounts and their roles")

    p = command("audit", cmd_audit, "the audit trail")
    p.add_argument("--since", metavar="ISO_TIME", help="only entries at or after this time, e.g. 2024-05-01")
    p.add_argument("--study", metavar="STUDY_UID", help="only entries that name this study")
    p.add_argument("--verify", action="store_true",
                   help="check the hash chain instead of listing (exit 5 when broken)")


def cmd_config(ctx: Context) -> int:
    if ctx.args.config_command == "set":
        ctx.user.require("configure", "change settings")
        text = ctx.args.value
        if ctx.args.key.startswith("tls."):
            from app.net import tls

            text = tls.check_setting(ctx.home, ctx.args.key[4:], text)
        value = ctx.home.set_setting(ctx.args.key, text)
        from app.accounts import audit
        from app.db import transaction

        with transaction(ctx.db):
            audit.record(ctx.db, ctx.user.name, "config-set", audit.APPLICATION_ACTIVITY,
                         objects=[ctx.args.key], detail=f"{ctx.args.key} = {value!r}")
        ctx.emit({ctx.args.key: value}, f"{ctx.args.key} = {value}")
        return 0
    if ctx.args.key:
        value = ctx.home.get_setting(ctx.args.key)
        ctx.emit({ctx.args.key: value}, str(value))
    else:
        settings = ctx.home.settings()
        ctx.emit(settings, lambda: "\n".join(f"{k} = {v}" for k, v in sorted(settings.items())))
    return 0


def _new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise BadInput("user add: the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise BadInput("user add --password: give the password on standard input (one line)")
    return line


def cmd_user(ctx: Context) -> int:
    from app.accounts import accounts

    if ctx.args.user_command == "add":
        password = _new_password() if ctx.args.password else None
        user = accounts.add_user(ctx.db, ctx.user, ctx.args.name, ctx.args.role, password)
        ctx.emit(user.to_json(), f"added {user.name} ({', '.join(sorted(user.roles))})")
        return 0
    ctx.user.require("read")
    users = [u.to_json() for u in accounts.list_users(ctx.db)]
    ctx.emit(users, lambda: "\n".join(
        f"{u['name']:<20} {', '.join(u['roles']):<40} {'password' if u['password'] else ''}"
        for u in users))
    return 0


def cmd_audit(ctx: Context) -> int:
    from app.accounts import audit

    ctx.user.require("manage-users", "read the audit trail")
    if ctx.args.verify:
        broken = audit.verify(ctx.db)
        if broken is None:
            count = ctx.db.execute("SELECT count(*) FROM audit").fetchone()[0]
            ctx.emit({"intact": True, "entries": count}, f"audit trail intact ({count} entries)")
            return 0
        where = f"audit entry {broken['id']}" if broken["id"] is not None else "audit trail"
        print(f"{where}: {broken['reason']}", file=sys.stderr)
        ctx.emit({"intact": False, "first_broken": broken["id"], "reason": broken["reason"]})
        return 5
    study = None
    if ctx.args.study:
        from app.worklist.query import resolve_study_uid

        study = resolve_study_uid(ctx.db, ctx.args.study, include_trashed=True)
    rows = audit.entries(ctx.db, since=ctx.args.since, study=study)
    ctx.emit(rows, lambda: "\n".join(
        f"{r['time']}  {r['user']:<12} {r['action']:<14} {r['event_code']} {r['outcome']:<14} "
        f"{r['detail']}" for r in rows))
    return 0
