"""API tokens for machine clients: ``/api/v1/tokens`` (runtime layer, HTTP edge).

- ``POST {name, expires_in_days?}`` — issue a token for the signed-in user;
  the token is in this one response only (stored as its SHA-256). Only a
  browser session may issue tokens: a leaked token must not be able to mint
  successors that outlive its revocation.
- ``GET [?user=CODE]`` — the caller's tokens (never the secrets); another
  user's with the ``manage_users`` platform permission.
- ``DELETE /<id>`` — revoke one of the caller's tokens; with
  ``manage_users``, anyone's. Someone else's token is 404 to everyone else,
  exactly like a missing one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request

from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.errors import NotFound, PermissionDenied
from yunying.platform.i18n import Text
from yunying.runtime.access.grants import require_platform
from yunying.runtime.api.auth import auth_method
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.formula_values import bad_request, encodable
from yunying.runtime.api.json import object_body

__all__ = ["blueprint", "DEFAULT_TOKEN_DAYS", "MAX_TOKEN_DAYS"]

blueprint = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens")

DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
_ISSUE_KEYS = ("name", "expires_in_days")
_MANAGE_USERS = "manage_users"
_INT32_MAX = 2 ** 31 - 1


def _loads(data: bytes) -> Any:
    return current_app.json.loads(data)


def _info(token: identity.TokenInfo, ctx: Context) -> dict[str, Any]:
    expired = token.expires_at is not None and token.expires_at <= ctx.now()
    return {"id": token.id, "user": token.user_code, "name": token.name,
            "prefix": token.prefix, "created_at": token.created_at,
            "expires_at": token.expires_at, "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
            "active": token.revoked_at is None and not expired}


def _may_manage_users(ctx: Context) -> bool:
    grants = ctx.grants
    return grants is None or grants.superuser or _MANAGE_USERS in grants.platform


def _issue_body() -> tuple[str, int]:
    body = object_body(request, _loads)
    unknown = sorted(str(k)[:50] for k in body if k not in _ISSUE_KEYS)
    if unknown:
        raise bad_request(unknown[0], f"未知参数 {unknown[0]}；可用：name、expires_in_days",
                          f"unknown parameter {unknown[0]!r}; allowed: name, expires_in_days")
    name = body.get("name")
    if not isinstance(name, str):
        raise bad_request("name", "name 为必填项，应为文本（令牌的用途）",
                          "name is required and must be text (what the token is for)")
    days = body.get("expires_in_days", DEFAULT_TOKEN_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise bad_request("expires_in_days",
                          f"expires_in_days 应为 1–{MAX_TOKEN_DAYS} 的整数（天）",
                          f"expires_in_days must be a whole number of days, "
                          f"1–{MAX_TOKEN_DAYS}")
    return encodable("name", name), days


@blueprint.post("")
def issue_token() -> Response:
    """Issue a token for the signed-in user (shown once)."""
    if auth_method() != "session":
        raise PermissionDenied(Text(
            "API 令牌只能在浏览器登录会话（或命令行 yunying user token）中签发，不能用令牌签发",
            "API tokens are issued from a signed-in browser session (or the "
            "`yunying user token` command), not by another token"), code="session_required")
    name, days = _issue_body()
    ctx = request_context()
    with services().db.begin(write=True) as conn:
        issued = identity.issue_token(conn, ctx, ctx.actor, name, timedelta(days=days))
    response = current_app.json.response({
        "id": issued.id, "user": issued.user_code, "name": issued.name,
        "token": issued.token, "prefix": issued.prefix, "expires_at": issued.expires_at})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("")
def list_tokens() -> dict[str, Any]:
    """The caller's tokens, or (``?user=``, manage_users) another user's."""
    ctx = request_context()
    owner = request.args.get("user", ctx.actor)
    if owner != ctx.actor:
        require_platform(ctx, _MANAGE_USERS)
    with services().db.connect() as conn:
        tokens = identity.list_tokens(conn, owner)
    return {"items": [_info(t, ctx) for t in tokens]}


@blueprint.delete("/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    """Revoke a token of the caller's (or anyone's, with manage_users)."""
    ctx = request_context()
    with services().db.begin(write=True) as conn:
        token = identity.get_token(conn, token_id) if token_id <= _INT32_MAX else None
        if token is None or (token.user_code != ctx.actor and not _may_manage_users(ctx)):
            raise NotFound(Text(f"API 令牌 {token_id} 不存在", f"API token {token_id} not found"),
                           details={"token": token_id})
        identity.revoke_token(conn, ctx, token_id)
    return Response(status=204)
