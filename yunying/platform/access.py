"""Access policies: casbin RBAC with domains behind one facade (platform layer).

The model is ``access_model.conf`` (shipped with the package). Policy rows
live in ``yy_casbin_rule`` and are written only here, with SQLAlchemy Core on
the caller's connection, so a policy change commits or rolls back together
with its audit event: no audit row, no change. Every change also moves
``yy_access_state.version`` on; an :class:`AccessControl` keeps the policy
it loaded for one version and loads again when the version in the database
moved (another process or thread changed the policy).

Subjects are ``user:<code>`` and ``role:<qualified code>``; a domain is an
org unit code or ``*`` (every domain). Package roles are domain-agnostic
(``p, role:R, *, <entity>, <action>``; ``g, role:CHILD, role:PARENT, *``);
users hold roles in a domain (``g, user:U, role:R, D``). Casbin stays inside
this module and :mod:`~yunying.platform.access_policy`: callers see plain
strings, tuples and :class:`PolicyRow`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Sequence

from sqlalchemy import Connection, and_, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as _pg_insert
from sqlalchemy.dialects.sqlite import insert as _sqlite_insert

from yunying.platform import identity
from yunying.platform.access_policy import (
    ANY_DOMAIN, ROLE_PREFIX, SUPERUSER_ROLE, USER_PREFIX, Policy, role_subject, user_subject,
)
from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import ConfigurationError, Conflict, NotFound, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import access_state, casbin_rule, org_unit

__all__ = [
    "ANY_DOMAIN", "SUPERUSER_ROLE", "PLATFORM_OBJECT", "PolicyRow", "Assignment",
    "AccessControl", "role_subject", "user_subject",
]

#: the object of platform permissions (``p, role:R, *, platform, design``).
PLATFORM_OBJECT = "platform"
_ARITY = {"p": 4, "g": 3}
_MAX_CODE = 250              # yy_casbin_rule's values are 255 wide, "role:" included
_DIRTY = "yy_access_dirty"   # conn.info key: the transaction that changed the policy
_VALUES = (casbin_rule.c.v0, casbin_rule.c.v1, casbin_rule.c.v2, casbin_rule.c.v3,
           casbin_rule.c.v4, casbin_rule.c.v5)


@dataclass(frozen=True)
class PolicyRow:
    """One casbin rule: ``p`` (sub, dom, obj, act) or ``g`` (sub, role, dom)."""

    ptype: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if _ARITY.get(self.ptype) != len(self.values) or \
                not all(isinstance(v, str) and v for v in self.values):
            raise ValueError(f"malformed policy row {self.ptype} {self.values!r}")

    @classmethod
    def permission(cls, role: str, obj: str, act: str, domain: str = ANY_DOMAIN) -> "PolicyRow":
        return cls("p", (role_subject(role), domain, obj, act))

    @classmethod
    def inheritance(cls, child: str, parent: str) -> "PolicyRow":
        return cls("g", (role_subject(child), role_subject(parent), ANY_DOMAIN))


@dataclass(frozen=True)
class Assignment:
    """``user`` holds ``role`` (qualified code) in ``domain`` (org unit or ``*``)."""

    user: str
    role: str
    domain: str


class AccessControl:
    """The policy of one database: questions answered by casbin, changes
    written on the caller's connection. Thread-safe; one per application."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._model = resources.files("yunying.platform").joinpath(
            "access_model.conf").read_text(encoding="utf-8")
        self._lock = threading.Lock()
        self._policy: Policy | None = None

    # -- questions ------------------------------------------------------------

    def enforce(self, conn: Connection, user: str, domain: str, obj: str, act: str) -> bool:
        """May ``user`` take ``act`` on ``obj`` in ``domain``?"""
        return self._current(conn).enforce(user_subject(user), domain, obj, act)

    def roles_of(self, conn: Connection, user: str) -> tuple[tuple[str, str], ...]:
        """Every ``(role, domain)`` the user holds, inherited roles included;
        a role held in ``*`` is listed once, for ``*``. Sorted."""
        return _roles_of(self._current(conn), user)

    def users_with_role(self, conn: Connection, role: str, domain: str) -> list[str]:
        """Codes of the users holding ``role`` in ``domain``: there, in ``*``, or
        through a role inheriting it. Sorted."""
        holders = self._current(conn).holders(role_subject(role), domain)
        return sorted(s[len(USER_PREFIX):] for s in holders if s.startswith(USER_PREFIX))

    def platform_actions(self, conn: Connection, user: str) -> frozenset[str]:
        """The platform actions the user's roles allow, in any domain the role
        is held in; ``*`` in the result means every action (the superuser)."""
        policy = self._current(conn)
        actions: set[str] = set()
        for role, domain in _roles_of(policy, user):
            for dom, obj, act in policy.permissions(role_subject(role)):
                if obj in (PLATFORM_OBJECT, "*") and dom in (ANY_DOMAIN, domain):
                    actions.add(act)
        return frozenset(actions)

    def assignments(self, conn: Connection, user: str | None = None) -> list[Assignment]:
        """The stored role assignments (of ``user``, or everyone's), sorted."""
        c = casbin_rule.c
        stmt = select(c.v0, c.v1, c.v2).where(_user_links())
        if user is not None:
            stmt = stmt.where(c.v0 == user_subject(user))
        found = {Assignment(v0[len(USER_PREFIX):], v1[len(ROLE_PREFIX):], v2)
                 for v0, v1, v2 in conn.execute(stmt)}
        return sorted(found, key=lambda a: (a.user, a.role, a.domain))

    def version(self, conn: Connection) -> int:
        """The policy version the connection sees (0 before any change)."""
        return conn.execute(select(access_state.c.version)
                            .where(access_state.c.id == 1)).scalar() or 0

    # -- changes --------------------------------------------------------------

    def replace_package_policies(self, conn: Connection, ctx: Context,
                                 rows: Sequence[PolicyRow]) -> None:
        """Make the package-sourced rows (permissions and role inheritance)
        exactly ``rows``; user assignments stay. Audited as ``policy.sync``."""
        wanted = list(dict.fromkeys(rows))
        for row in wanted:
            if not row.values[0].startswith(ROLE_PREFIX):
                raise ValueError(f"package rows are about roles, not users: {row!r}")
        self._lock_state(conn, ctx)
        stored: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for row in conn.execute(select(casbin_rule.c.id, casbin_rule.c.ptype, *_VALUES)
                                .where(_package_rows())):
            key = (row[1], tuple(v for v in row[2:] if v is not None))
            stored.setdefault(key, []).append(row[0])
        keep = {(row.ptype, row.values) for row in wanted}
        removed = [i for key, ids in stored.items()
                   for i in (ids if key not in keep else ids[1:])]
        added = [row for row in wanted if (row.ptype, row.values) not in stored]
        if removed:
            conn.execute(delete(casbin_rule).where(casbin_rule.c.id.in_(removed)))
        if added:
            conn.execute(insert(casbin_rule), [_columns(row) for row in added])
        if removed or added:
            self._changed(conn, ctx)
        record_event(conn, ctx, "policy.sync", detail={
            "rows": len(wanted), "added": len(added), "removed": len(removed)})

    def grant_role(self, conn: Connection, ctx: Context, user: str, role: str,
                   domain: str = ANY_DOMAIN) -> None:
        """Let ``user`` hold ``role`` in ``domain``. NotFound for an unknown user,
        ValidationFailed for an unknown role or domain, Conflict when held."""
        self._check_grant(conn, user, role, domain)
        self._lock_state(conn, ctx)
        link = PolicyRow("g", (user_subject(user), role_subject(role), domain))
        if conn.execute(select(casbin_rule.c.id).where(_matches(link))).first():
            where = _where(domain)
            raise Conflict(Text(f"用户 {user} 已在{where.zh}拥有角色 {role}",
                                f"user {user!r} already holds role {role!r} {where.en}"),
                           details={"user": user, "role": role, "domain": domain})
        conn.execute(insert(casbin_rule).values(**_columns(link)))
        self._changed(conn, ctx)
        record_event(conn, ctx, "role.grant",
                     detail={"user": user, "role": role, "domain": domain})

    def revoke_role(self, conn: Connection, ctx: Context, user: str, role: str,
                    domain: str) -> None:
        """Take ``role`` in ``domain`` from ``user``; NotFound when not held there."""
        if not all(_is_code(value) for value in (user, role, domain)):
            raise _not_held(user, role, domain)
        self._lock_state(conn, ctx)
        link = PolicyRow("g", (user_subject(user), role_subject(role), domain))
        if conn.execute(delete(casbin_rule).where(_matches(link))).rowcount == 0:
            raise _not_held(user, role, domain)
        self._changed(conn, ctx)
        record_event(conn, ctx, "role.revoke",
                     detail={"user": user, "role": role, "domain": domain})

    def known_role(self, conn: Connection, role: str) -> bool:
        """Whether ``role`` is the superuser or has stored policy rows."""
        if role == SUPERUSER_ROLE:
            return True
        c = casbin_rule.c
        return conn.execute(select(c.id).where(
            c.v0 == role_subject(role), c.ptype.in_(("p", "g"))).limit(1)).first() is not None

    # -- internals ------------------------------------------------------------

    def _current(self, conn: Connection) -> Policy:
        """The policy this connection sees: cached per committed version; a
        transaction that changed the policy gets its own uncached view."""
        if conn.engine is not self.db.engine:
            raise ValueError("a connection of another database: each AccessControl "
                             "caches the policy of its own")
        if _dirty(conn):
            return Policy(None, self._model, _stored_rows(conn))
        version = self.version(conn)
        policy = self._policy
        if policy is not None and policy.version == version:
            return policy
        with self._lock:
            policy = self._policy
            if policy is None or policy.version != version:
                policy = Policy(version, self._model, _stored_rows(conn))
                self._policy = policy
            return policy

    def _lock_state(self, conn: Connection, ctx: Context) -> None:
        """Create the state row when missing and lock it (PostgreSQL), so
        concurrent policy changes run one after the other."""
        upsert = _INSERTS.get(conn.dialect.name)
        if upsert is None:
            raise ConfigurationError(Text(
                f"访问控制不支持数据库 {conn.dialect.name}",
                f"access control does not support the {conn.dialect.name} database"))
        conn.execute(upsert(access_state).values(id=1, version=0, changed_at=ctx.now())
                     .on_conflict_do_nothing(index_elements=[access_state.c.id]))
        conn.execute(select(access_state.c.version).where(access_state.c.id == 1)
                     .with_for_update())

    def _changed(self, conn: Connection, ctx: Context) -> None:
        conn.execute(update(access_state).where(access_state.c.id == 1).values(
            version=access_state.c.version + 1, changed_at=ctx.now()))
        conn.info[_DIRTY] = conn.get_transaction()

    def _check_grant(self, conn: Connection, user: str, role: str, domain: str) -> None:
        if not _is_code(user):
            raise _no_user(user)
        identity.get_user(conn, user)  # NotFound
        problems: dict[str, tuple[str, Text]] = {}
        if not _is_code(role) or not self.known_role(conn, role):
            problems["role"] = ("unknown_role", Text(
                f"角色 {_shown(role)} 不存在（没有已安装的配置包声明它）",
                f"role {_shown(role)!r} does not exist (no installed package declares it)"))
        if not _is_code(domain) or (domain != ANY_DOMAIN and conn.execute(
                select(org_unit.c.code).where(org_unit.c.code == domain)).first() is None):
            problems["domain"] = ("unknown_domain", Text(
                f"域 {_shown(domain)} 既不是组织单元编码，也不是 *（全部域）",
                f"domain {_shown(domain)!r} is neither an org unit code nor * (every domain)"))
        elif role == SUPERUSER_ROLE and domain != ANY_DOMAIN:
            problems["domain"] = ("superuser_domain", Text(
                f"平台管理员角色 {SUPERUSER_ROLE} 只能在全部域（*）授予",
                f"the superuser role {SUPERUSER_ROLE} can only be granted in every domain (*)"))
        if problems:
            raise ValidationFailed(
                Text("不能授予角色：" + "；".join(m.zh for _, m in problems.values()),
                     "cannot grant the role: " + "; ".join(m.en for _, m in problems.values())),
                details={"fields": {name: [{"code": code, "message": message.as_dict(),
                                            "params": {}}]
                                    for name, (code, message) in problems.items()}})


#: the dialect's INSERT with ON CONFLICT support.
_INSERTS = {"sqlite": _sqlite_insert, "postgresql": _pg_insert}


def _roles_of(policy: Policy, user: str) -> tuple[tuple[str, str], ...]:
    subject = user_subject(user)
    domains = sorted({domain for _, domain in policy.links(subject)})
    everywhere = set(policy.implicit_roles(subject, ANY_DOMAIN)) \
        if ANY_DOMAIN in domains else set()
    held = {(role, ANY_DOMAIN) for role in everywhere}
    for domain in domains:
        if domain != ANY_DOMAIN:
            held.update((role, domain) for role in policy.implicit_roles(subject, domain)
                        if role not in everywhere)
    return tuple(sorted((role[len(ROLE_PREFIX):], domain) for role, domain in held
                        if role.startswith(ROLE_PREFIX)))


def _stored_rows(conn: Connection) -> list[tuple[str, tuple[str, ...]]]:
    rows = conn.execute(select(casbin_rule.c.ptype, *_VALUES).order_by(casbin_rule.c.id))
    return [(row[0], tuple(v for v in row[1:] if v is not None)) for row in rows]


def _dirty(conn: Connection) -> bool:
    tx = conn.get_transaction()
    return tx is not None and tx.is_active and conn.info.get(_DIRTY) is tx


def _package_rows():
    c = casbin_rule.c
    return or_(c.ptype == "p", and_(c.ptype == "g", c.v0.startswith(ROLE_PREFIX,
                                                                     autoescape=True)))


def _user_links():
    c = casbin_rule.c
    return and_(c.ptype == "g", c.v0.startswith(USER_PREFIX, autoescape=True))


def _columns(row: PolicyRow) -> dict[str, str | None]:
    values = [*row.values, *[None] * (len(_VALUES) - len(row.values))]
    return {"ptype": row.ptype, **{f"v{i}": v for i, v in enumerate(values)}}


def _matches(row: PolicyRow):
    return and_(casbin_rule.c.ptype == row.ptype,
                *(_VALUES[i] == v for i, v in enumerate(row.values)))


def _is_code(value: Any) -> bool:
    """A value that can be stored and looked up as a code (no NUL, encodable)."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_CODE or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:50].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")


def _where(domain: str) -> Text:
    """Where a role is held, to put after 在 / at the end of a sentence."""
    if domain == ANY_DOMAIN:
        return Text("全部域", "in every domain")
    return Text(f"域 {domain} ", f"in domain {domain!r}")


def _no_user(user: Any) -> NotFound:
    return NotFound(Text(f"用户 {_shown(user)} 不存在", f"user {_shown(user)!r} not found"),
                    details={"user": _shown(user)})


def _not_held(user: Any, role: Any, domain: Any) -> NotFound:
    where = _where(_shown(domain))
    return NotFound(Text(f"用户 {_shown(user)} 没有在{where.zh}拥有角色 {_shown(role)}",
                         f"user {_shown(user)!r} does not hold role {_shown(role)!r} "
                         f"{where.en}"),
                    code="role_not_held",
                    details={"user": _shown(user), "role": _shown(role),
                             "domain": _shown(domain)})
