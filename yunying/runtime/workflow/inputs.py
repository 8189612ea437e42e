"""Checking what callers pass to workflow actions (runtime layer, workflow engine).

Comments, user lists, the initiator's chosen approvers and choice values
arrive from HTTP bodies and the CLI: anything malformed is refused with a
located ValidationFailed (``details["fields"]`` names the parameter) before
the action writes anything.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, select

from yunying.metadata.workflow_spec import ChainSpec
from yunying.platform.errors import ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import user as user_table
from yunying.runtime.workflow.delegation import is_user_code

__all__ = ["comment_of", "text_of", "code_of", "choice_of", "users_of", "active_users",
           "one_of", "MAX_COMMENT", "MAX_USERS"]

MAX_COMMENT = 4000
MAX_USERS = 50


def _invalid(parameter: str, code: str, message: Text, **params: Any) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {parameter: [
        {"code": code, "message": message.as_dict(), "params": params}]}})


def comment_of(value: Any, parameter: str = "comment") -> str | None:
    """A comment: None, or text of at most MAX_COMMENT characters (blank → None)."""
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_COMMENT:
        raise _invalid(parameter, "type", Text(
            f"{parameter} 应为不超过 {MAX_COMMENT} 个字符的文本",
            f"{parameter} must be text of at most {MAX_COMMENT} characters"))
    return value.strip() or None


def text_of(value: Any, parameter: str) -> str:
    """A required text (a comment's body)."""
    found = comment_of(value, parameter)
    if found is None:
        raise _invalid(parameter, "required", Text(f"{parameter} 不能为空",
                                                   f"{parameter} is required"))
    return found


def code_of(value: Any, parameter: str) -> str:
    """A code: non-empty text of at most 64 characters."""
    if not isinstance(value, str) or not value or len(value) > 64 or "\x00" in value:
        raise _invalid(parameter, "type", Text(f"{parameter} 应为 1–64 个字符的代码",
                                               f"{parameter} must be a code of 1–64 characters"))
    return value


def users_of(value: Any, parameter: str, *, required: bool = True) -> tuple[str, ...]:
    """A list of user codes: distinct, at most MAX_USERS (order kept)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) > MAX_USERS \
            or not all(is_user_code(v) for v in value):
        raise _invalid(parameter, "type", Text(
            f"{parameter} 应为用户代码列表（最多 {MAX_USERS} 个）",
            f"{parameter} must be a list of user codes (at most {MAX_USERS})"))
    users = tuple(dict.fromkeys(value))
    if required and not users:
        raise _invalid(parameter, "required", Text(f"{parameter} 至少需要一个用户",
                                                   f"{parameter} needs at least one user"))
    return users


def active_users(conn: Connection, users: Iterable[str], parameter: str) -> None:
    """ValidationFailed ``unknown_user`` naming the users that are not active users."""
    wanted = list(users)
    found = set(conn.execute(select(user_table.c.code).where(
        user_table.c.code.in_(wanted), user_table.c.active.is_(True))).scalars())
    missing = [u for u in wanted if u not in found]
    if missing:
        names = "、".join(missing)
        raise _invalid(parameter, "unknown_user", Text(
            f"以下用户不存在或已停用：{names}", f"unknown or inactive users: {', '.join(missing)}"),
            users=missing)


def choice_of(value: Any, chain: ChainSpec | None) -> dict[str, list[str]]:
    """The initiator's chosen approvers ``{node code: [users]}`` of ``chain``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid("approvers", "type", Text("approvers 应为 {节点代码: [用户代码]}",
                                                 "approvers must be {node code: [user codes]}"))
    out: dict[str, list[str]] = {}
    for node, users in value.items():
        if chain is None or not isinstance(node, str) or chain.node(node) is None:
            raise _invalid("approvers", "unknown_node", Text(
                f"审批链中没有节点 {node!s:.64}", f"the approval chain has no node {node!s:.64}"),
                node=str(node)[:64])
        out[node] = list(users_of(users, f"approvers.{node}"))
    return out


def one_of(value: Any, parameter: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _invalid(parameter, "choice", Text(
            f"{parameter} 应为以下之一：{'、'.join(choices)}",
            f"{parameter} must be one of {', '.join(choices)}"), choices=list(choices))
    return value
