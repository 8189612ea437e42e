"""Browser sign-in: ``/api/v1/session`` (runtime layer, HTTP edge).

- ``GET`` — who is signed in, and the CSRF token for the next
  state-changing request (an anonymous caller gets one too: the login
  itself needs it, so a foreign page cannot sign a browser in to an
  account of its choosing);
- ``POST {code, password}`` — sign in: throttled per account and per
  address, one answer (403 ``authentication_failed``) for every failure;
  on success the session is rotated — the previous server-side session is
  revoked, Flask's session is cleared and a fresh id is issued — and a new
  CSRF token is returned;
- ``DELETE`` — sign out: the server-side session is revoked and the cookie
  cleared.

The session cookie is Flask's signed session (``yunying_session``,
HttpOnly, SameSite=Lax, Secure as configured) holding the session id and
the CSRF secret; the id is looked up hashed in ``yy_web_session``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_wtf.csrf import generate_csrf

from yunying.platform import identity
from yunying.runtime.api.auth import auth_method
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.formula_values import bad_request, encodable
from yunying.runtime.api.json import object_body
from yunying.runtime.api.signin import sign_in_browser, sign_out_browser

__all__ = ["blueprint"]

blueprint = Blueprint("session", __name__, url_prefix="/api/v1")

_LOGIN_KEYS = ("code", "password")
_MAX_CODE = 256


def _loads(data: bytes) -> Any:
    return current_app.json.loads(data)


def _no_store(body: dict[str, Any], status: int = 200) -> Response:
    response = current_app.json.response(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _user_body(user: identity.User) -> dict[str, Any]:
    return {"code": user.code, "name": user.name.as_dict()}


def _state(user: identity.User | None) -> Response:
    ctx = request_context()
    grants = ctx.grants
    return _no_store({
        "authenticated": user is not None,
        "via": auth_method(),
        "user": _user_body(user) if user is not None else None,
        "superuser": bool(grants is not None and grants.superuser),
        "csrf_token": generate_csrf(),
    })


@blueprint.get("/session")
def read_session() -> Response:
    """Who is signed in (if anyone) and a CSRF token."""
    if auth_method() is None:
        return _state(None)
    with services().db.connect() as conn:
        return _state(identity.get_user(conn, request_context().actor))


def _credentials() -> tuple[str, str]:
    body = object_body(request, _loads)
    unknown = sorted(str(k)[:50] for k in body if k not in _LOGIN_KEYS)
    if unknown:
        raise bad_request(unknown[0], f"未知参数 {unknown[0]}；可用：code、password",
                          f"unknown parameter {unknown[0]!r}; allowed: code, password")
    for key in _LOGIN_KEYS:
        value = body.get(key)
        if not isinstance(value, str) or not value or len(value) > _MAX_CODE * 4:
            raise bad_request(key, f"{key} 为必填项，应为非空文本",
                              f"{key} is required and must be non-empty text")
        encodable(key, value)
    if len(body["code"]) > _MAX_CODE:
        raise bad_request("code", "账号过长", "the code is too long")
    return body["code"], body["password"]


@blueprint.post("/session")
def login() -> Response:
    """Sign in with a code and password; rotates the session."""
    code, password = _credentials()
    return _state(sign_in_browser(code, password))


@blueprint.delete("/session")
def logout() -> Response:
    """Sign out: revoke the server-side session and clear the cookie."""
    sign_out_browser()
    return Response(status=204)
