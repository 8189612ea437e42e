"""The role administration endpoints of the JSON API (runtime layer, HTTP edge).

Under ``/api/v1/access``, each allowed to holders of the ``manage_users``
platform action only:

* ``GET /roles`` — the roles the installed packages declare, with their
  grants, plus the built-in superuser ``platform.admin``;
* ``GET /users/<code>/roles`` — the user's assignments and the roles they
  resolve to (inherited roles included);
* ``POST /users/<code>/roles`` ``{"role", "domain"}`` — grant (201);
* ``DELETE /users/<code>/roles?role=&domain=`` — revoke (204).

``domain`` defaults to ``*`` (every domain). Each request is one
transaction; the grant or revocation and its audit event commit together.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Response, current_app, request

from yunying.metadata.spec import PLATFORM_ACTIONS, GrantSpec, RoleSpec
from yunying.platform import identity
from yunying.platform.access import ANY_DOMAIN
from yunying.platform.errors import NotFound
from yunying.platform.i18n import Text
from yunying.runtime.access.grants import SUPERUSER_ROLE, require_platform
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.formula_values import bad_request, encodable
from yunying.runtime.api.json import object_body

__all__ = ["blueprint", "ROLES_PATHS", "ROLES_SCHEMAS", "SUPERUSER_LABEL"]

blueprint = Blueprint("roles", __name__, url_prefix="/api/v1/access")

_ACTION = "manage_users"
_MAX_USER = 64  # yy_user.code
_BODY_KEYS = ("role", "domain")
SUPERUSER_LABEL = Text("平台管理员", "platform administrator")


def _loads(data: bytes) -> Any:
    return current_app.json.loads(data)


@blueprint.get("/roles")
def list_roles() -> dict[str, Any]:
    require_platform(request_context(), _ACTION)
    registry = services().runtime().registry
    roles = [_superuser()] + [_role(spec) for _, spec in sorted(registry.roles.items())]
    return {"roles": roles}


@blueprint.get("/users/<code>/roles")
def user_roles(code: str) -> dict[str, Any]:
    require_platform(request_context(), _ACTION)
    svc = services()
    with svc.db.begin() as conn:
        _require_user(conn, code)
        assignments = svc.access.assignments(conn, code)
        held = svc.access.roles_of(conn, code)
    return {"user": code,
            "assignments": [{"role": a.role, "domain": a.domain} for a in assignments],
            "roles": [{"role": role, "domain": domain} for role, domain in held]}


@blueprint.post("/users/<code>/roles")
def grant_role(code: str) -> Response:
    ctx = request_context()
    require_platform(ctx, _ACTION)
    body = object_body(request, _loads)
    unknown = sorted(str(k)[:50] for k in body if k not in _BODY_KEYS)
    if unknown:
        raise bad_request(unknown[0], f"未知参数 {unknown[0]}；可用：role、domain",
                          f"unknown parameter {unknown[0]!r}; allowed: role, domain")
    role = _text("role", body.get("role"))
    domain = _text("domain", body.get("domain", ANY_DOMAIN))
    svc = services()
    with svc.db.begin(write=True) as conn:
        svc.access.grant_role(conn, ctx, code, role, domain)
    response = current_app.json.response({"user": code, "role": role, "domain": domain})
    response.status_code = 201
    return response


@blueprint.delete("/users/<code>/roles")
def revoke_role(code: str) -> Response:
    ctx = request_context()
    require_platform(ctx, _ACTION)
    role = _text("role", _one("role", request.args.getlist("role")))
    domain = _text("domain", _one("domain", request.args.getlist("domain")) or ANY_DOMAIN)
    svc = services()
    with svc.db.begin(write=True) as conn:
        svc.access.revoke_role(conn, ctx, code, role, domain)
    return Response(status=204)


def _require_user(conn: Any, code: str) -> None:
    """NotFound unless ``code`` is a stored user (a code no user can have,
    with a NUL byte or too long, is not sent to the database)."""
    if len(code) > _MAX_USER or "\x00" in code or not _encodable(code):
        raise NotFound(Text(f"用户 {code[:50]!r} 不存在", f"user {code[:50]!r} not found"),
                       details={"user": code[:50]})
    identity.get_user(conn, code)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _one(name: str, values: list[str]) -> str | None:
    if len(values) > 1:
        raise bad_request(name, f"参数 {name} 只能给出一次", f"give {name} once")
    return values[0] if values else None


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request(name, f"{name} 为必填项，应为文本",
                          f"{name} is required and must be text")
    return encodable(name, value)


def _superuser() -> dict[str, Any]:
    return {"code": SUPERUSER_ROLE, "package": None, "builtin": True,
            "label": SUPERUSER_LABEL.as_dict(),
            "description": Text("可执行所有操作：所有实体、所有域、所有字段",
                                "allowed everything: every entity, domain and field").as_dict(),
            "inherits": [], "platform": list(PLATFORM_ACTIONS), "grants": []}


def _role(spec: RoleSpec) -> dict[str, Any]:
    return {"code": spec.qualified_code, "package": spec.package, "builtin": False,
            "label": spec.label.as_dict(),
            "description": spec.description.as_dict() if spec.description else None,
            "inherits": list(spec.inherits), "platform": list(spec.platform),
            "grants": [_grant(grant) for grant in spec.grants]}


def _grant(grant: GrantSpec) -> dict[str, Any]:
    return {"entity": grant.entity, "actions": list(grant.actions), "scope": grant.scope,
            "tree": grant.tree, "filter": grant.filter, "fields": dict(grant.fields)}


# -- the OpenAPI description -------------------------------------------------------

_TEXT = {"type": "object", "required": ["zh-CN", "en"],
         "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}}}
_ROLE_IN_DOMAIN = {"type": "object", "required": ["role", "domain"], "properties": {
    "role": {"type": "string", "description": "qualified role code (materials.clerk)"},
    "domain": {"type": "string", "description": "an org unit code, or * for every domain"}}}

#: component schemas of the role endpoints, for the OpenAPI document.
ROLES_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "RoleInDomain": _ROLE_IN_DOMAIN,
    "RoleGrant": {
        "type": "object", "required": ["entity", "actions", "scope"], "properties": {
            "entity": {"type": "string"},
            "actions": {"type": "array", "items": {"type": "string"}},
            "scope": {"type": "string", "enum": ["all", "own_unit", "unit_tree",
                                                 "own_records", "formula"]},
            "tree": {"type": "string"}, "filter": {"type": ["string", "null"]},
            "fields": {"type": "object", "additionalProperties": {
                "type": "string", "enum": ["hidden", "read_only"]}}}},
    "Role": {
        "type": "object", "required": ["code", "builtin", "label", "grants"], "properties": {
            "code": {"type": "string"}, "package": {"type": ["string", "null"]},
            "builtin": {"type": "boolean"}, "label": _TEXT,
            "description": {"oneOf": [_TEXT, {"type": "null"}]},
            "inherits": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "array", "items": {"type": "string",
                                                    "enum": list(PLATFORM_ACTIONS)}},
            "grants": {"type": "array", "items": {"$ref": "#/components/schemas/RoleGrant"}}}},
    "RoleList": {"type": "object", "required": ["roles"], "properties": {
        "roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}}}},
    "UserRoles": {"type": "object", "required": ["user", "assignments", "roles"], "properties": {
        "user": {"type": "string"},
        "assignments": {"type": "array", "description": "the stored assignments",
                        "items": {"$ref": "#/components/schemas/RoleInDomain"}},
        "roles": {"type": "array", "description": "every role held, inherited ones too",
                  "items": {"$ref": "#/components/schemas/RoleInDomain"}}}},
    "RoleAssignmentRequest": {
        "type": "object", "required": ["role"], "additionalProperties": False, "properties": {
            "role": {"type": "string"},
            "domain": {"type": "string", "default": "*"}}},
    "RoleAssignment": {"type": "object", "required": ["user", "role", "domain"], "properties": {
        "user": {"type": "string"}, "role": {"type": "string"}, "domain": {"type": "string"}}},
}


def _ok(status: str, description: str, schema: str | None = None) -> dict[str, Any]:
    if schema is None:
        return {status: {"description": description}}
    return {status: {"description": description,
                     "content": {"application/json": {"schema": schema}}}}


def _operation(operation_id: str, summary: str, ok: dict[str, Any],
               errors: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    responses = dict(ok)
    responses.update({status: f"Error{status}" for status in ("400", "403", *errors)})
    return {"operationId": operation_id, "summary": summary, "tags": ["access"],
            "responses": responses, **extra}


_CODE = {"name": "code", "in": "path", "required": True, "description": "the user's code",
         "schema": {"type": "string"}}
_QUERY = [{"name": "role", "in": "query", "required": True, "schema": {"type": "string"}},
          {"name": "domain", "in": "query", "required": False,
           "schema": {"type": "string", "default": "*"}}]

#: the role endpoints' operations, for the OpenAPI document (``parameters``
#: holds the path and query parameters; add the common ones when wiring).
ROLES_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/access/roles": {"get": _operation(
        "listRoles", "The roles of the installed packages, with their grants",
        _ok("200", "the roles", "RoleList"), (), parameters=[])},
    "/api/v1/access/users/{code}/roles": {
        "get": _operation("userRoles", "A user's role assignments and effective roles",
                          _ok("200", "the user's roles", "UserRoles"), ("404",),
                          parameters=[_CODE]),
        "post": _operation("grantRole", "Grant a user a role in a domain",
                           _ok("201", "granted", "RoleAssignment"), ("404", "409", "422"),
                           parameters=[_CODE], requestBody={"required": True, "content": {
                               "application/json": {"schema": "RoleAssignmentRequest"}}}),
        "delete": _operation("revokeRole", "Revoke a user's role in a domain",
                             _ok("204", "revoked"), ("404",), parameters=[_CODE, *_QUERY]),
    },
}
