"""The OpenAPI description of sign-in, API tokens and how callers
authenticate (runtime layer, HTTP edge).

For :mod:`.openapi` to merge into the document:

- :data:`SECURITY_SCHEMES` → ``components.securitySchemes``;
- :data:`SECURITY` → the document's top-level ``security`` (every
  operation needs a token or the session cookie);
- :data:`SESSION_PATHS` → ``paths``: the session and token operations. The
  public ones carry ``security: []``; give ``GET /api/v1/openapi.json`` the
  same. Their ``parameters`` hold only their own path parameters;
- :data:`SESSION_SCHEMAS` → ``components.schemas``;
- :data:`UNAUTHENTICATED` → the ``401`` response of every protected
  operation (``components.responses.Error401``).
"""

from __future__ import annotations

from typing import Any, Mapping

from yunying.runtime.api.auth import SESSION_KEY
from yunying.runtime.api.tokens import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS

__all__ = ["SECURITY_SCHEMES", "SECURITY", "SESSION_PATHS", "SESSION_SCHEMAS",
           "UNAUTHENTICATED", "CSRF_HEADER"]

_JSON = "application/json"
#: the header a cookie-authenticated state-changing request carries.
CSRF_HEADER = {"name": "X-CSRFToken", "in": "header", "required": False, "description": (
    "the csrf_token of GET /api/v1/session; required on POST, PUT, PATCH and DELETE "
    "when signed in by the session cookie (not with a bearer token)"),
    "schema": {"type": "string"}}

SECURITY_SCHEMES: Mapping[str, dict[str, Any]] = {
    "bearerToken": {
        "type": "http", "scheme": "bearer", "bearerFormat": "yyt_…",
        "description": "an API token (POST /api/v1/tokens or `yunying user token`); "
                       "no CSRF token needed"},
    "sessionCookie": {
        "type": "apiKey", "in": "cookie", "name": "yunying_session",
        "description": "the browser session of POST /api/v1/session (Flask's signed "
                       f"cookie holding the server-side session id `{SESSION_KEY}`); "
                       "state-changing requests also send the X-CSRFToken header"},
}

SECURITY: list[dict[str, list[str]]] = [{"bearerToken": []}, {"sessionCookie": []}]

UNAUTHENTICATED: dict[str, Any] = {
    "description": "no valid token or session: `authentication_required`, or "
                   "`invalid_token` for an unknown, expired or revoked token",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description":
                                     'Bearer realm="yunying"'}},
    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
}

_USER = {"type": "object", "required": ["code", "name"], "properties": {
    "code": {"type": "string"},
    "name": {"type": "object", "properties": {"zh-CN": {"type": "string"},
                                              "en": {"type": "string"}}}}}
_TIME = {"type": ["string", "null"], "format": "date-time", "description": "UTC"}

SESSION_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "SessionState": {
        "type": "object", "required": ["authenticated", "via", "user", "superuser",
                                       "csrf_token"],
        "properties": {
            "authenticated": {"type": "boolean"},
            "via": {"type": ["string", "null"], "enum": ["session", "token", None]},
            "user": {"oneOf": [_USER, {"type": "null"}]},
            "superuser": {"type": "boolean"},
            "csrf_token": {"type": "string", "description":
                           "send as X-CSRFToken on state-changing cookie requests"},
        }},
    "LoginRequest": {
        "type": "object", "required": ["code", "password"], "additionalProperties": False,
        "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 256},
                       "password": {"type": "string", "minLength": 1}}},
    "TokenRequest": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100,
                     "description": "what the token is for"},
            "expires_in_days": {"type": "integer", "minimum": 1,
                                "maximum": MAX_TOKEN_DAYS, "default": DEFAULT_TOKEN_DAYS}}},
    "IssuedToken": {
        "type": "object", "required": ["id", "user", "name", "token", "prefix", "expires_at"],
        "properties": {
            "id": {"type": "integer"}, "user": {"type": "string"}, "name": {"type": "string"},
            "token": {"type": "string", "description": "shown this once; stored hashed"},
            "prefix": {"type": "string"}, "expires_at": _TIME}},
    "TokenList": {
        "type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "user": {"type": "string"},
                "name": {"type": "string"}, "prefix": {"type": "string"},
                "created_at": _TIME, "expires_at": _TIME, "last_used_at": _TIME,
                "revoked_at": _TIME, "active": {"type": "boolean"}}}}}},
}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _operation(operation_id: str, summary: str, responses: dict[str, Any],
               errors: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    result = dict(responses)
    result.update({status: f"Error{status}" for status in errors})
    return {"operationId": operation_id, "summary": summary, "tags": ["session"],
            "responses": result, **extra}


_PUBLIC: dict[str, Any] = {"security": []}
_TOKEN_ID = {"name": "id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1}}

SESSION_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/session": {
        "get": _operation("readSession", "Who is signed in, and a CSRF token",
                          {"200": _json("the session state", "SessionState")}, (),
                          parameters=[], **_PUBLIC),
        "post": _operation(
            "login", "Sign in (rotates the session; throttled per account and address)",
            {"200": _json("signed in; the new CSRF token", "SessionState")},
            ("400", "403"), parameters=[CSRF_HEADER],
            requestBody={"required": True, "content": {_JSON: {
                "schema": {"$ref": "#/components/schemas/LoginRequest"}}}},
            description="Every failure — unknown code, wrong password, locked account or "
                        "address, inactive user — is the same 403 authentication_failed.",
            **_PUBLIC),
        "delete": _operation("logout", "Sign out (revokes the server-side session)",
                             {"204": {"description": "signed out"}}, ("403",),
                             parameters=[CSRF_HEADER], **_PUBLIC),
    },
    "/api/v1/tokens": {
        "get": _operation("listTokens", "The caller's API tokens (never the secrets)",
                          {"200": _json("the tokens", "TokenList")}, ("401", "403"),
                          parameters=[{"name": "user", "in": "query", "required": False,
                                       "description": "another user's (manage_users)",
                                       "schema": {"type": "string"}}]),
        "post": _operation(
            "issueToken", "Issue an API token for the signed-in user (shown once)",
            {"201": _json("the token, shown this once", "IssuedToken")},
            ("400", "401", "403", "422"), parameters=[CSRF_HEADER],
            description="Only a browser session may issue tokens (403 session_required "
                        "for a bearer token).",
            requestBody={"required": True, "content": {_JSON: {
                "schema": {"$ref": "#/components/schemas/TokenRequest"}}}}),
    },
    "/api/v1/tokens/{id}": {
        "delete": _operation("revokeToken", "Revoke an API token (own; anyone's with "
                             "manage_users)", {"204": {"description": "revoked"}},
                             ("401", "403", "404"), parameters=[_TOKEN_ID, CSRF_HEADER]),
    },
}
