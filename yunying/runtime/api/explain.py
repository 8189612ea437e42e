"""The access explanation endpoint of the JSON API (runtime layer, HTTP edge).

``GET /api/v1/access/explain?user=<code>&entity=<entity>&id=<record id>``
answers an administrator (platform action ``manage_users``) why the user can
or cannot see the record: every grant the user holds on the entity with its
data scope and domain restriction evaluated against the record, the fields
hidden from and read-only for the user on it, and a final zh-CN / en
sentence (see :mod:`yunying.runtime.access.explain`). The user's grants are
resolved as the HTTP edge would resolve them at sign-in, as of today.

An unknown user, entity or record is a 404 — the administrator may know
what exists; a malformed parameter is a 400 naming it. Nothing is written.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, request

from yunying.platform import identity
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.access.explain import explain
from yunying.runtime.access.grants import require_platform
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.formula_values import bad_request, encodable, utc

__all__ = ["blueprint", "EXPLAIN_PATHS", "EXPLAIN_SCHEMAS"]

blueprint = Blueprint("access_explain", __name__, url_prefix="/api/v1/access")

_ACTION = "manage_users"
_PARAMETERS = ("user", "entity", "id", "lang")
_MAX_TEXT = 200
_INT32_MAX = 2 ** 31 - 1


@blueprint.get("/explain")
def explain_access() -> dict[str, Any]:
    ctx = request_context()
    require_platform(ctx, _ACTION)
    user, entity, rid = _arguments()
    svc = services()
    with svc.db.begin() as conn:
        runtime = svc.runtime(conn)
        identity.get_user(conn, user)
        now = utc(ctx.now())
        grants = build_grants(conn, svc.access, user, now.date())
        return explain(conn, runtime.registry, runtime.records.scopes, grants, entity, rid,
                       now=now)


def _arguments() -> tuple[str, str, int]:
    for name in request.args:
        if name not in _PARAMETERS:
            shown = name[:50]
            raise bad_request(shown, f"未知参数 {shown}；可用：user、entity、id",
                              f"unknown parameter {shown!r}; allowed: user, entity, id")
    user, entity, raw = (_one(name) for name in ("user", "entity", "id"))
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= _INT32_MAX):
        raise bad_request("id", "id 应为记录 id（正整数）",
                          "id must be a record id (a positive whole number)")
    if "\x00" in user:  # no user code holds one; do not send it to the database
        raise NotFound(Text("用户不存在", "user not found"), details={"user": user[:50]})
    return user, entity, int(raw)


def _one(name: str) -> str:
    values = request.args.getlist(name)
    if len(values) != 1 or not values[0] or len(values[0]) > _MAX_TEXT:
        raise bad_request(name, f"参数 {name} 为必填项，只能给出一次（最多 {_MAX_TEXT} 个字符）",
                          f"{name} is required, once (at most {_MAX_TEXT} characters)")
    return encodable(name, values[0])


# -- the OpenAPI description -------------------------------------------------------

_TEXT = {"type": "object", "required": ["zh-CN", "en"],
         "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}}}
_NAMES = {"type": "array", "items": {"type": "string"},
          "description": "field codes; child-table fields as line_code.field"}

#: component schemas of the explanation endpoint, for the OpenAPI document.
EXPLAIN_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "AccessExplanationGrant": {
        "type": "object",
        "required": ["role", "via", "domain", "actions", "reads", "scope", "scope_matches",
                     "domain_matches", "in_scope", "hidden", "read_only", "reason"],
        "properties": {
            "role": {"type": "string"}, "via": {"type": "string", "description":
                                                "the role held directly (inheritance)"},
            "domain": {"type": "string"},
            "actions": {"type": "array", "items": {"type": "string"}},
            "reads": {"type": "boolean", "description": "whether the grant allows read"},
            "scope": {"type": "string"}, "tree": {"type": ["string", "null"]},
            "filter": {"type": ["string", "null"]},
            "scope_matches": {"type": "boolean"},
            "domain_matches": {"type": ["boolean", "null"],
                               "description": "null: the domain does not restrict"},
            "in_scope": {"type": "boolean"},
            "hidden": _NAMES, "read_only": _NAMES, "reason": _TEXT}},
    "AccessExplanation": {
        "type": "object",
        "required": ["user", "entity", "record_id", "today", "superuser", "roles", "grants",
                     "can_read", "actions", "hidden", "read_only", "answer"],
        "properties": {
            "user": {"type": "string"}, "entity": {"type": "string"},
            "record_id": {"type": "integer"}, "today": {"type": "string", "format": "date"},
            "units": {"type": "array", "items": {"type": "string"}},
            "record": {"type": "object", "properties": {
                "org_dimension": {"type": ["string", "null"]},
                "unit": {"type": ["string", "null"]},
                "created_by": {"type": ["string", "null"]}}},
            "superuser": {"type": "boolean"},
            "roles": {"type": "array", "items": {"type": "object", "properties": {
                "role": {"type": "string"}, "domain": {"type": "string"},
                "via": {"type": "string"}, "known": {"type": "boolean"}}}},
            "grants": {"type": "array", "items": {
                "$ref": "#/components/schemas/AccessExplanationGrant"}},
            "can_read": {"type": "boolean"},
            "actions": {"type": "object", "additionalProperties": {"type": "boolean"},
                        "description": "per entity action: whether a grant reaches the record"},
            "hidden": _NAMES, "read_only": _NAMES, "answer": _TEXT}},
}

_QUERY = [
    {"name": "user", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "the user's code"},
    {"name": "entity", "in": "query", "required": True, "schema": {"type": "string"},
     "description": "qualified entity code (materials.requisition)"},
    {"name": "id", "in": "query", "required": True,
     "schema": {"type": "integer", "minimum": 1}, "description": "the record's id"},
]

#: the explanation endpoint's operation, for the OpenAPI document (``parameters``
#: holds the query parameters; add the common ones when wiring).
EXPLAIN_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/access/explain": {"get": {
        "operationId": "explainAccess", "tags": ["access"],
        "summary": "Why a user can or cannot see a record (administrators)",
        "parameters": _QUERY,
        "responses": {
            "200": {"description": "the explanation", "content": {"application/json": {
                "schema": "AccessExplanation"}}},
            **{status: f"Error{status}" for status in ("400", "403", "404")}}}},
}
