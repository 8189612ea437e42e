"""Delegation while on leave (runtime layer, workflow): a user names a
substitute for a date range; new approval tasks of that user go to the
substitute.

A delegation is one ``yy_wf_delegation`` row: ``user_code`` hands new tasks
to ``substitute`` from ``valid_from`` to ``valid_to``, both dates inclusive,
until it is revoked (``revoked_at``). Rules:

- one user has at most one unrevoked delegation on any date (overlapping
  ranges are refused, a revoked one no longer counts);
- the substitute must be an active user other than the user himself; a
  substitute deactivated later is not used (the task stays with the
  original approver: inactive users never get tasks);
- **one hop only**: when the substitute is on leave himself on that date, the
  task still goes to the substitute — delegations are never chained, so a
  task cannot wander along (or loop around) a chain of absentees;
- only the user himself, a user administrator (platform action
  ``manage_users``), a superuser or a trusted context (``ctx.grants is
  None``: CLI, background jobs) adds or revokes a user's delegation.

Only *new* tasks are delegated (the engine asks :func:`substitutes` when it
creates them); pending tasks stay where they are. Every change is audited as
``workflow.delegation`` in the caller's transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import Connection, insert, or_, select, update

from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.errors import NotFound, PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import user as user_table
from yunying.platform.tables import wf_delegation

__all__ = ["substitute_for", "substitutes", "add_delegation", "revoke_delegation",
           "list_delegations", "is_user_code"]

_CODE_LENGTH = 64           # yy_user.code
_MAX_ID = 2 ** 31 - 1       # yy_wf_delegation.id is an INTEGER
#: the platform action of user administrators, who manage others' delegations too.
_MANAGE_USERS = "manage_users"


def is_user_code(value: Any) -> bool:
    """A value that can be looked up as a user code (a string that fits the
    column, without NUL or lone surrogates) — anything else is no user."""
    if not isinstance(value, str) or not 0 < len(value) <= _CODE_LENGTH or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------- questions

def substitutes(conn: Connection, users: Iterable[str], on: date) -> dict[str, str]:
    """``{user: substitute}`` for those of ``users`` on leave on ``on`` whose
    substitute is an active user (one hop: the substitute's own leave is not
    followed)."""
    codes = sorted({u for u in users if is_user_code(u)})
    if not codes:
        return {}
    d, u = wf_delegation.c, user_table.c
    rows = conn.execute(
        select(d.user_code, d.substitute)
        .join(user_table, u.code == d.substitute)
        .where(d.user_code.in_(codes), d.valid_from <= on, d.valid_to >= on,
               d.revoked_at.is_(None), u.active.is_(True))
        .order_by(d.id))
    return {row.user_code: row.substitute for row in rows}


def substitute_for(conn: Connection, user: str, on: date) -> str | None:
    """Who receives ``user``'s new tasks on ``on``: the substitute of the
    unrevoked delegation covering that date, or ``None`` (no delegation, or
    the substitute is no longer active)."""
    return substitutes(conn, (user,), on).get(user)


def list_delegations(conn: Connection, user: str) -> list[dict]:
    """The delegations ``user`` gave or receives (revoked ones too), by
    ``valid_from`` then id: dicts with id, user, substitute, valid_from,
    valid_to (dates), created_at, revoked_at."""
    if not is_user_code(user):
        return []
    d = wf_delegation.c
    rows = conn.execute(select(wf_delegation)
                        .where(or_(d.user_code == user, d.substitute == user))
                        .order_by(d.valid_from, d.id))
    return [_view(row) for row in rows]


def _view(row: Any) -> dict:
    return {"id": row.id, "user": row.user_code, "substitute": row.substitute,
            "valid_from": row.valid_from, "valid_to": row.valid_to,
            "created_at": row.created_at, "revoked_at": row.revoked_at}


# ---------------------------------------------------------------- changes

def add_delegation(conn: Connection, ctx: Context, user: str, substitute: str,
                   valid_from: date, valid_to: date) -> int:
    """Let ``substitute`` receive ``user``'s new tasks from ``valid_from`` to
    ``valid_to`` (inclusive); returns the delegation id.

    Raises PermissionDenied unless ctx is trusted, a superuser, a user
    administrator (``manage_users``) or ``user``;
    NotFound for an unknown user; ValidationFailed (``details['fields']``) for
    dates that are not dates or end before they start, a substitute who is
    the user, unknown or inactive, or a range overlapping another unrevoked
    delegation of the user.
    """
    _may_manage(ctx, user)
    _check_dates(valid_from, valid_to)
    _require_user(conn, user)
    _check_substitute(conn, user, substitute)
    _lock_user(conn, user)  # concurrent adds for one user run one after the other
    _check_overlap(conn, user, valid_from, valid_to)
    new_id = conn.execute(insert(wf_delegation).values(
        user_code=user, substitute=substitute, valid_from=valid_from, valid_to=valid_to,
        created_at=ctx.now()).returning(wf_delegation.c.id)).scalar_one()
    record_event(conn, ctx, "workflow.delegation", detail={
        "action": "add", "delegation": new_id, "user": user, "substitute": substitute,
        "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()})
    return new_id


def revoke_delegation(conn: Connection, ctx: Context, delegation_id: int) -> None:
    """Revoke a delegation (revoking twice keeps the first time). NotFound
    when there is no such delegation; PermissionDenied unless ctx is trusted,
    a superuser, a user administrator or the delegating user."""
    row = None
    if isinstance(delegation_id, int) and not isinstance(delegation_id, bool) \
            and 0 < delegation_id <= _MAX_ID:
        row = conn.execute(select(wf_delegation)
                           .where(wf_delegation.c.id == delegation_id)).first()
    if row is None:
        raise NotFound(Text(f"委托 {delegation_id!r} 不存在",
                            f"delegation {delegation_id!r} not found"),
                       details={"delegation": repr(delegation_id)})
    _may_manage(ctx, row.user_code)
    if row.revoked_at is not None:
        return
    conn.execute(update(wf_delegation).where(wf_delegation.c.id == row.id)
                 .values(revoked_at=ctx.now()))
    record_event(conn, ctx, "workflow.delegation", detail={
        "action": "revoke", "delegation": row.id, "user": row.user_code,
        "substitute": row.substitute})


# ---------------------------------------------------------------- checks

def _invalid(field: str, code: str, message: Text) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field: [
        {"code": code, "message": message.as_dict(), "params": {}}]}})


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _check_dates(valid_from: Any, valid_to: Any) -> None:
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if not _is_date(value):
            raise _invalid(name, "type", Text(f"委托的 {name} 必须是日期",
                                              f"the delegation's {name} must be a date"))
    if valid_to < valid_from:
        raise _invalid("valid_to", "range", Text(
            f"委托的结束日期 {valid_to} 早于开始日期 {valid_from}",
            f"the delegation ends ({valid_to}) before it starts ({valid_from})"))


def _active_of(conn: Connection, code: Any) -> bool | None:
    """True / False for an active / inactive user, None when there is none."""
    if not is_user_code(code):
        return None
    found = conn.execute(select(user_table.c.active)
                         .where(user_table.c.code == code)).first()
    return None if found is None else bool(found.active)


def _require_user(conn: Connection, user: Any) -> None:
    if _active_of(conn, user) is None:
        raise NotFound(Text(f"用户 {user!r} 不存在", f"user {user!r} not found"),
                       details={"user": repr(user) if not isinstance(user, str) else user})


def _check_substitute(conn: Connection, user: str, substitute: Any) -> None:
    if substitute == user:
        raise _invalid("substitute", "self", Text(
            "不能把自己设为自己的代理人", "a user cannot be his own substitute"))
    active = _active_of(conn, substitute)
    if active is None:
        raise _invalid("substitute", "unknown_user", Text(
            f"代理人 {substitute!r} 不存在", f"substitute {substitute!r} does not exist"))
    if not active:
        raise _invalid("substitute", "inactive_user", Text(
            f"代理人 {substitute} 已停用", f"substitute {substitute!r} is inactive"))


def _lock_user(conn: Connection, user: str) -> None:
    conn.execute(select(user_table.c.id).where(user_table.c.code == user).with_for_update())


def _check_overlap(conn: Connection, user: str, valid_from: date, valid_to: date) -> None:
    d = wf_delegation.c
    clash = conn.execute(select(d.id, d.substitute, d.valid_from, d.valid_to).where(
        d.user_code == user, d.revoked_at.is_(None),
        d.valid_from <= valid_to, d.valid_to >= valid_from).order_by(d.valid_from)).first()
    if clash is not None:
        raise _invalid("valid_from", "overlap", Text(
            f"{user} 在 {clash.valid_from} 至 {clash.valid_to} 已委托给 {clash.substitute}，"
            f"日期不能重叠（先撤销原委托）",
            f"{user} already delegates to {clash.substitute} from {clash.valid_from} to "
            f"{clash.valid_to}: the ranges may not overlap (revoke that delegation first)"))


def _may_manage(ctx: Context, user: str) -> None:
    grants = ctx.grants
    if grants is None or grants.superuser or grants.user == user \
            or _MANAGE_USERS in grants.platform:
        return
    raise PermissionDenied(Text(
        f"只能管理自己的委托（{user} 的委托不属于你）",
        f"you may only manage your own delegations, not {user}'s"), details={"user": user})
