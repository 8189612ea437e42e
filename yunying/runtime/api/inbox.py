"""The inbox endpoints of the JSON API (runtime layer, HTTP edge).

``/api/v1/inbox/pending`` (待办), ``done`` (已办), ``initiated`` (我发起的)
and ``cc`` (抄送我) answer one page of the caller's own items (``items``,
``total``, ``page``, ``page_size``), filtered by the query parameters
``entity``, ``workflow``, ``status``, ``state``, ``q`` (text in the title),
``since`` / ``until`` (days, inclusive) and, for cc, ``unread`` (1 or 0);
``counts`` gives every box's size and the unread copies and notifications;
``POST cc/<task_id>/read`` marks a copy read. The queries are
:mod:`yunying.runtime.workflow.inbox`'s; a malformed, repeated or unknown
parameter is a 400 naming it.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from flask import Blueprint

from yunying.platform.i18n import Text
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.workflow_request import (
    bad_query, day, flag, path_id, positive, query_args,
)
from yunying.runtime.workflow import inbox
from yunying.runtime.workflow.inbox import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InboxFilters, InboxPage,
)

__all__ = ["blueprint", "BOX_PARAMETERS"]

blueprint = Blueprint("inbox", __name__, url_prefix="/api/v1/inbox")

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_TEXT_MAX = 200
_MAX_PAGE = 10 ** 6
_COMMON = ("entity", "workflow", "status", "state", "q", "since", "until", "page",
           "page_size")
#: the query parameters each box takes.
BOX_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "pending": _COMMON, "done": _COMMON, "initiated": _COMMON, "cc": (*_COMMON, "unread"),
}


def _code(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    if value is None or _CODE.fullmatch(value):
        return value
    raise bad_query(name, value, Text("应为编码（字母、数字或 _ . -，至多 100 个字符）",
                                      "must be a code (letters, digits or _ . -, at most "
                                      "100 characters)"))


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    if value is None or (0 < len(value) <= _TEXT_MAX and "\x00" not in value):
        return value or None
    raise bad_query(name, value, Text(f"应为 1–{_TEXT_MAX} 个字符的文本",
                                      f"must be text of 1 to {_TEXT_MAX} characters"))


def _filters(box: str) -> InboxFilters:
    args = query_args(*BOX_PARAMETERS[box])
    since, until = day(args, "since"), day(args, "until")
    if since is not None and until is not None and until < since:
        raise bad_query("until", args["until"], Text("不能早于 since", "is before since"))
    return InboxFilters(
        entity=_code(args, "entity"), workflow=_code(args, "workflow"),
        status=_code(args, "status"), state=_code(args, "state"), text=_text(args, "q"),
        since=since, until=until, unread=flag(args, "unread"),
        page=positive(args, "page", _MAX_PAGE, 1) or 1,
        page_size=positive(args, "page_size", MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
        or DEFAULT_PAGE_SIZE)


def _box(box: str, query: Callable[..., InboxPage]) -> dict[str, Any]:
    filters = _filters(box)
    ctx = request_context()
    with services().db.begin() as conn:
        return query(conn, ctx.actor, filters).as_dict()


@blueprint.get("/pending")
def pending() -> dict[str, Any]:
    return _box("pending", inbox.pending)


@blueprint.get("/done")
def done() -> dict[str, Any]:
    return _box("done", inbox.done)


@blueprint.get("/initiated")
def initiated() -> dict[str, Any]:
    return _box("initiated", inbox.initiated)


@blueprint.get("/cc")
def cc() -> dict[str, Any]:
    return _box("cc", inbox.cc)


@blueprint.get("/counts")
def counts() -> dict[str, int]:
    query_args()
    ctx = request_context()
    with services().db.begin() as conn:
        return inbox.counts(conn, ctx.actor)


@blueprint.post("/cc/<int:task_id>/read")
def read_cc(task_id: int) -> dict[str, Any]:
    query_args()
    tid = path_id(task_id, "task")
    ctx = request_context()
    with services().db.begin(write=True) as conn:
        return inbox.mark_cc_read(conn, ctx.actor, tid, ctx.now())
