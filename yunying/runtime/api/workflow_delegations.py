"""The delegation endpoints of the JSON API (runtime layer, HTTP edge).

``/api/v1/workflow/delegations``: while a user is on leave (dates
inclusive), the tasks created for the user go to a substitute. A user lists
(GET), names (POST) and revokes (DELETE ``…/<id>``) the user's own
delegations; naming or listing another user's needs the platform action
``manage_users``. The rules (a real range, not oneself, no overlap, only
one's own to revoke) are :mod:`yunying.runtime.workflow.delegation`'s; each
request is one transaction, and naming one is audited there.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, url_for

from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.access.grants import require_platform
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.org_schemas import USER_PATTERN
from yunying.runtime.api.workflow_request import (
    INT32_MAX, bad_query, body, path_id, query_args,
)
from yunying.runtime.api.workflow_schemas import DelegationInput
from yunying.runtime.workflow.delegation import (
    add_delegation, list_delegations, revoke_delegation,
)

__all__ = ["blueprint"]

blueprint = Blueprint("delegations", __name__, url_prefix="/api/v1/workflow/delegations")

_MANAGE = "manage_users"
_USER = re.compile(USER_PATTERN)


def _whose(ctx: Context, user: str | None) -> str:
    """The user whose delegations are meant: the caller, or (manage_users)
    another user."""
    if user is None or user == ctx.actor:
        return ctx.actor
    require_platform(ctx, _MANAGE)
    return user


@blueprint.get("")
def my_delegations() -> dict[str, Any]:
    args = query_args("user")
    user = args.get("user")
    if user is not None and not _USER.fullmatch(user):
        raise bad_query("user", user, Text("应为用户账号", "must be a user code"))
    ctx = request_context()
    whose = _whose(ctx, user)
    with services().db.begin() as conn:
        return {"items": list_delegations(conn, whose)}


@blueprint.post("")
def create_delegation() -> Response:
    query_args()
    given = body(DelegationInput)
    ctx = request_context()
    whose = _whose(ctx, given.get("user"))
    with services().db.begin(write=True) as conn:
        new_id = add_delegation(conn, ctx, whose, given["substitute"], given["valid_from"],
                                given["valid_to"])
        created = next(d for d in list_delegations(conn, whose) if d["id"] == new_id)
    response = current_app.json.response(created)
    response.status_code = 201
    response.headers["Location"] = url_for("delegations.my_delegations")
    return response


@blueprint.delete("/<int:delegation_id>")
def delete_delegation(delegation_id: int) -> Response:
    query_args()
    did = path_id(delegation_id, "delegation", INT32_MAX)
    ctx = request_context()
    with services().db.begin(write=True) as conn:
        revoke_delegation(conn, ctx, did)
    return Response(status=204)
