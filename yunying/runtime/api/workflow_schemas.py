"""Request bodies of the workflow, inbox, notification and delegation
endpoints as marshmallow schemas (runtime layer, HTTP edge).

Every body is checked strictly before the engine sees it — unknown keys,
wrong JSON types (``true`` is not a number, ``"3"`` is not a list), malformed
dates and user codes, comments over 2,000 characters, lists of more than 100
users — and :func:`load_body` turns marshmallow's findings into one 400
(``invalid_body``) whose ``details.fields`` maps each path
(``approvers.head[2]``) to bilingual messages. The classes also describe the
wire format for the OpenAPI document (:data:`WORKFLOW_INPUTS`).
"""

from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, fields, validate

from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.api.body_errors import described, problems
from yunying.runtime.api.org_schemas import USER_PATTERN

__all__ = ["MAX_USERS", "MAX_COMMENT", "MAX_IDS", "CODE_PATTERN", "load_body",
           "ActionInput", "CommentInput", "FireInput", "ApproveInput", "ReturnInput",
           "TransferInput", "AddSignersInput", "DelegationInput", "ReadInput",
           "WORKFLOW_INPUTS", "StrictInteger"]

#: the most users one body may name (approvers of a node, added signers).
MAX_USERS = 100
MAX_COMMENT = 2000
#: the most notification ids one "mark read" names.
MAX_IDS = 1000
#: node and transition codes as the engine may know them.
CODE_PATTERN = r"[A-Za-z][A-Za-z0-9_.-]{0,63}"
_MAX_ID = 2 ** 63 - 1

# Every marshmallow message is a code (``kind|param|param``) translated below.
_MESSAGES: Mapping[str, Text] = {
    "required": Text("为必填项", "is required"),
    "null": Text("不能为 null", "may not be null"),
    "text": Text("应为文本", "must be text"),
    "date": Text("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"),
    "integer": Text("应为正整数", "must be a positive whole number"),
    "object": Text("应为 JSON 对象", "must be a JSON object"),
    "list": Text("应为数组", "must be an array"),
    "unknown": Text("不是可用的字段", "is not a known field"),
    "code": Text("应为编码：字母开头，1–64 个字母、数字或 _ . -",
                 "must be a code: 1–64 letters, digits or _ . -, starting with a letter"),
    "user": Text("用户账号须为 1–64 个字母、数字或 _ . @ -，以字母或数字开头",
                 "must be a user code: 1–64 letters, digits or _ . @ -, starting with a "
                 "letter or digit"),
    "length": Text("长度须为 {0}–{1} 个字符", "must have {0} to {1} characters"),
    "count": Text("须有 {0}–{1} 项", "needs {0} to {1} item(s)"),
    "choice": Text("应为以下之一：{0}", "must be one of: {0}"),
}


def _errors(kind: str) -> dict[str, str]:
    return {"required": "required", "null": "null", "invalid": kind, "format": kind,
            "invalid_utf8": kind, "type": kind, "validator_failed": kind}


def _pattern(pattern: str, error: str, description: str, **kw: Any) -> fields.String:
    # \Z, not $: "$" would let a trailing newline through
    return fields.String(validate=validate.Regexp(pattern + r"\Z", error=error),
                         error_messages=_errors("text"),
                         metadata={"pattern": f"^{pattern}$", "description": description},
                         **kw)


def _user(description: str = "a user code", **kw: Any) -> fields.String:
    return _pattern(USER_PATTERN, "user", description, **kw)


def _code(description: str, **kw: Any) -> fields.String:
    return _pattern(CODE_PATTERN, "code", description, **kw)


def _users(description: str, *, least: int = 0, **kw: Any) -> fields.List:
    return fields.List(_user(), validate=validate.Length(least, MAX_USERS,
                                                         error="count|{min}|{max}"),
                       error_messages=_errors("list"),
                       metadata={"description": description}, **kw)


def _comment(least: int = 0, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(least, MAX_COMMENT,
                                                  error="length|{min}|{max}"),
                         error_messages=_errors("text"), **kw)


def _date(description: str, **kw: Any) -> fields.Date:
    return fields.Date(error_messages=_errors("date"), metadata={"description": description},
                       **kw)


class StrictInteger(fields.Integer):
    """A JSON whole number from 1 up to 2⁶³−1 (``true``, ``"1"`` and ``1.0`` are
    refused)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(1, _MAX_ID, error="integer"),
                         error_messages=_errors("integer"), **kw)


class _Strict(Schema):
    error_messages = {"unknown": "unknown", "type": "object"}


class ActionInput(_Strict):
    """withdraw, resubmit, remind, reject: an optional comment."""

    comment = _comment(allow_none=True)


class CommentInput(_Strict):
    """A comment on an instance (any participant)."""

    comment = _comment(1, required=True)


class FireInput(_Strict):
    """A manual transition (submit, cancel …)."""

    comment = _comment(allow_none=True)
    approvers = fields.Dict(
        keys=_code("node code"), values=_users("users chosen for the node", least=1),
        validate=validate.Length(0, MAX_USERS, error="count|{min}|{max}"),
        error_messages=_errors("object"),
        metadata={"description": "发起人自选: node code → the users chosen at submit"})


class ApproveInput(_Strict):
    comment = _comment(allow_none=True)
    next_approvers = _users("the approvers of the next node, when it takes the "
                            "previous approver's choice (previous_choice)")


class ReturnInput(_Strict):
    """退回: to the initiator, the previous node or an earlier node (its code)."""

    to = _code("initiator, previous or an earlier node's code", required=True)
    comment = _comment(allow_none=True)


class TransferInput(_Strict):
    """转交: hand the task to another user."""

    to_user = _user("the user taking over the task", required=True)
    comment = _comment(allow_none=True)


class AddSignersInput(_Strict):
    """加签: before (they decide first) or after (they decide too)."""

    users = _users("the added signers", least=1, required=True)
    position = fields.String(validate=validate.OneOf(("before", "after"),
                                                     error="choice|{choices}"),
                             load_default="before", error_messages=_errors("text"))
    comment = _comment(allow_none=True)


class DelegationInput(_Strict):
    """A substitute for a leave (dates inclusive)."""

    substitute = _user("who gets the new tasks", required=True)
    valid_from = _date("first day of the leave", required=True)
    valid_to = _date("last day of the leave (inclusive)", required=True)
    user = _user("whose leave (default: the caller; another user needs manage_users)")


class ReadInput(_Strict):
    """Mark notifications read: these ids, or every unread one when absent."""

    ids = fields.List(StrictInteger(), validate=validate.Length(
        1, MAX_IDS, error="count|{min}|{max}"), error_messages=_errors("list"))


#: every request schema, by OpenAPI component name.
WORKFLOW_INPUTS: Mapping[str, type[Schema]] = {
    schema.__name__: schema for schema in (
        ActionInput, CommentInput, FireInput, ApproveInput, ReturnInput, TransferInput,
        AddSignersInput, DelegationInput, ReadInput)}


# -- turning marshmallow's findings into one located error ---------------------------

def load_body(schema: type[Schema], body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` loaded by ``schema``; a 400 ``invalid_body`` naming every bad path."""
    loaded, found = problems(schema, body, transparent=("_schema", "value", "key"))
    if loaded is not None:
        return loaded
    summary, details = described(
        found, _MESSAGES, fallback=lambda kind: Text("取值无效", "is not a valid value"),
        shown=_shown)
    raise YunyingError(summary, code="invalid_body", details={"fields": details})


def _shown(path: str) -> str:
    """A path as echoed back: bounded, printable (keys come from the caller)."""
    return path[:200].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")
