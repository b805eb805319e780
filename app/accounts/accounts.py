"""Users, roles and the privileges derived from them; passwords as scrypt hashes."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from app.accounts import audit
from app.clock import now_iso
from app.db import transaction
from app.errors import BadInput, NotAllowed, NotFound

ROLES = ("admin", "content-manager", "radiologist", "researcher", "clerk")

# privilege -> roles that grant it
PRIVILEGES: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "import": frozenset({"admin", "content-manager", "radiologist", "clerk"}),
    "export": frozenset({"admin", "content-manager", "radiologist", "clerk"}),
    "network": frozenset({"admin", "content-manager", "radiologist", "clerk"}),
    "assign": frozenset({"admin", "content-manager", "radiologist", "clerk"}),
    "content-management": frozenset({"admin", "content-manager"}),
    "research": frozenset({"admin", "researcher"}),
    "manage-users": frozenset({"admin"}),
    "configure": frozenset({"admin"}),
    "empty-trash": frozenset({"admin"}),
}

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    has_password: bool = False

    def can(self, privilege: str) -> bool:
        return bool(self.roles & PRIVILEGES[privilege])

    def require(self, privilege: str, what: str = "") -> None:
        if not self.can(privilege):
            granted = ", ".join(sorted(PRIVILEGES[privilege]))
            doing = f" to {what}" if what else ""
            raise NotAllowed(
                f"user {self.name}: needs the {privilege} privilege{doing} "
                f"(roles {granted}); has roles {', '.join(sorted(self.roles)) or 'none'}"
            )

    def to_json(self) -> dict:
        return {"name": self.name, "roles": sorted(self.roles), "password": self.has_password}


def require_user(user: object, what: str) -> User:
    """*user* must be the acting :class:`User`, never a bare name: a name is
    not a proof of privileges, so a caller that has only ``user.name`` at
    hand fails here, before anything is read or written."""
    if not isinstance(user, User):
        raise TypeError(f"{what}: needs the acting User, not {type(user).__name__} {user!r}")
    return user


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32,
                         n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got.hex(), digest)


def ensure_first_admin(db, login: str) -> None:
    """A new home has one account, the OS login name, with role admin."""
    with transaction(db):
        if db.execute("SELECT count(*) FROM users").fetchone()[0]:
            return
        db["users"].insert({"name": login, "password_hash": None, "created": now_iso()})
        db["user_roles"].insert({"name": login, "role": "admin"})
        audit.record(db, login, "user-add", audit.USER_SECURITY, objects=[login],
                     detail="first account of a new home, role admin")


def get_user(db, name: str) -> User:
    row = db.execute("SELECT name, password_hash FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFound(f"user {name}: no such account")
    roles = {r for (r,) in db.execute("SELECT role FROM user_roles WHERE name = ?", [name])}
    return User(row[0], frozenset(roles), row[1] is not None)


def list_users(db) -> list[User]:
    names = [n for (n,) in db.execute("SELECT name FROM users ORDER BY name")]
    return [get_user(db, n) for n in names]


def authenticate(db, name: str, password_source) -> User:
    """Resolve the acting user. *password_source* is called only when the
    account has a password and returns it (or None when none can be had)."""
    row = db.execute("SELECT password_hash FROM users WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotAllowed(f"user {name}: not an account of this workstation "
                         "(an admin adds it with `studydesk user add`)")
    if row[0] is not None:
        password = password_source()
        if password is None or not check_password(row[0], password):
            with transaction(db):
                audit.record(db, name, "login", audit.USER_SECURITY, outcome=audit.MINOR_FAILURE,
                             objects=[name], detail="wrong or missing password")
            raise NotAllowed(f"user {name}: wrong or missing password")
    return get_user(db, name)


def add_user(db, actor: User, name: str, roles: list[str], password: str | None = None) -> User:
    actor.require("manage-users", "add accounts")
    if not name or any(c.isspace() for c in name):
        raise BadInput(f"user {name!r}: a user name is one word, no spaces")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise BadInput(f"user {name}: unknown role {', '.join(bad) or '(none given)'} "
                       f"(roles: {', '.join(ROLES)})")
    with transaction(db):
        if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
            raise BadInput(f"user {name}: already exists")
        db["users"].insert({"name": name, "created": now_iso(),
                            "password_hash": hash_password(password) if password else None})
        db["user_roles"].insert_all({"name": name, "role": r} for r in sorted(set(roles)))
        audit.record(db, actor.name, "user-add", audit.USER_SECURITY, objects=[name],
                     detail="roles " + ", ".join(sorted(set(roles))))
    return get_user(db, name)
