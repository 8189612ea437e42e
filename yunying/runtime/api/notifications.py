"""The in-app notification endpoints of the JSON API (runtime layer, HTTP
edge).

* ``GET /api/v1/notifications?unread=1&before=<id>&limit=<n>`` — the caller's
  notifications, newest first; page on with ``before`` = ``next_before`` of
  the previous answer (null: no more);
* ``POST /api/v1/notifications/read`` with ``{"ids": [...]}`` — mark those
  read (ids of other users' notifications are ignored), or every unread one
  when ``ids`` is absent; answers how many changed;
* ``GET /api/v1/notifications/unread-count``.

The rows are :mod:`yunying.platform.notifications`'; a malformed, repeated
or unknown parameter is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from yunying.platform.notifications import list_notifications, mark_read, unread_count
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.workflow_request import INT64_MAX, body, flag, positive, query_args
from yunying.runtime.api.workflow_schemas import ReadInput

__all__ = ["blueprint", "DEFAULT_LIMIT", "MAX_LIMIT"]

blueprint = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@blueprint.get("")
def list_mine() -> dict[str, Any]:
    args = query_args("unread", "before", "limit")
    unread = flag(args, "unread") or False
    before = positive(args, "before", INT64_MAX, None)
    limit = positive(args, "limit", MAX_LIMIT, DEFAULT_LIMIT) or DEFAULT_LIMIT
    ctx = request_context()
    with services().db.begin() as conn:
        items = list_notifications(conn, ctx.actor, unread_only=unread, before_id=before,
                                   limit=limit)
    more = len(items) == limit
    return {"items": items, "next_before": items[-1]["id"] if more else None}


@blueprint.post("/read")
def read() -> dict[str, int]:
    query_args()
    given = body(ReadInput)
    ctx = request_context()
    with services().db.begin(write=True) as conn:
        changed = mark_read(conn, ctx.actor, ctx.now(), given.get("ids"))
    return {"marked": changed}


@blueprint.get("/unread-count")
def count_unread() -> dict[str, int]:
    query_args()
    ctx = request_context()
    with services().db.begin() as conn:
        return {"unread": unread_count(conn, ctx.actor)}
