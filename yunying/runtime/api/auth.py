"""Who is calling: authentication and CSRF for every request (runtime layer,
HTTP edge).

One ``before_request`` hook, :func:`authenticate_request`, runs first on
every request:

1. ``Authorization: Bearer yyt_…`` — an API token
   (:func:`~yunying.platform.identity.verify_token`). A token that is
   unknown, expired or revoked is a 401 on any route, never a fall-back to
   the cookie. Other schemes (``Basic`` from a proxy) are ignored.
2. otherwise the session cookie: Flask's signed session carries the id of a
   server-side session (:mod:`yunying.platform.sessions`).
3. nobody: every ``/api/v1`` route except :data:`PUBLIC_ENDPOINTS` answers
   401 with ``WWW-Authenticate``.

The signed-in user becomes the request Context's actor with the grants of
:func:`_grants_for`. State-changing requests not authenticated by a token
(the cookie, or nobody — the login itself) must carry the CSRF token of
Flask-WTF's :class:`~flask_wtf.csrf.CSRFProtect` (``X-CSRFToken`` header or
``csrf_token`` form field): a token request has no ambient authority a
foreign page could borrow, a cookie request has. A missing or wrong CSRF
token is a 403 ``csrf_failed`` and nothing runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.errors import ConfigurationError, PermissionDenied
from yunying.platform.i18n import Text
from yunying.platform.sessions import SessionPolicy, find_session, touch_session
from yunying.platform.throttle import AddressPolicy, DatabaseAddressThrottle
from yunying.runtime.access.grants import Grants
from yunying.runtime.access.resolve import build_grants
from yunying.runtime.api.context import request_context, services, sign_in
from yunying.runtime.api.errors import error_response

__all__ = [
    "SESSION_KEY", "PUBLIC_ENDPOINTS", "AuthSettings", "auth_settings", "auth_method",
    "attach_user", "authenticate_request", "init_auth",
]

#: the key of the server-side session id inside Flask's signed session cookie.
SESSION_KEY = "sid"
#: ``/api/v1`` endpoints that answer without a signed-in user.
PUBLIC_ENDPOINTS = frozenset({
    "session.read_session", "session.login", "session.logout", "openapi.openapi_document",
})
_API_PREFIX = "/api/v1"
_EXTENSION = "yunying.auth"
_BEARER = re.compile(r"bearer +(\S+) *", re.IGNORECASE)
_CHALLENGE = 'Bearer realm="yunying"'

_SIGN_IN = Text("需要登录：请先登录（POST /api/v1/session），或使用 API 令牌"
                "（Authorization: Bearer yyt_…）",
                "authentication required: sign in (POST /api/v1/session) or send an "
                "API token (Authorization: Bearer yyt_…)")
_BAD_TOKEN = Text("API 令牌无效、已过期或已撤销", "the API token is unknown, expired or revoked")
_CSRF_FAILED = Text("缺少或无效的 CSRF 令牌：请从 GET /api/v1/session 获取，并放在请求头 "
                    "X-CSRFToken 中",
                    "missing or invalid CSRF token: get one from GET /api/v1/session and "
                    "send it in the X-CSRFToken header")


@dataclass(frozen=True)
class AuthSettings:
    """The authentication settings of one app, read once from its config."""

    session: SessionPolicy
    throttle: DatabaseAddressThrottle


def auth_settings() -> AuthSettings:
    """The settings of the current app."""
    return current_app.extensions[_EXTENSION]


def auth_method() -> str | None:
    """How the current request signed in: ``"token"``, ``"session"`` or ``None``."""
    return g.get("yunying_auth")


def attach_user(conn: Connection, user: str, via: str) -> Context:
    """Make ``user`` (signed in ``via`` "token" or "session") the actor of the
    current request, with the user's grants read on ``conn``."""
    ctx = sign_in(user, _grants_for(conn, request_context(), user))
    g.yunying_auth = via
    return ctx


# ---------------------------------------------------------------- the hook

def authenticate_request() -> Response | None:
    """Sign the request in (token, else session cookie), answer 401 where a
    user is needed and nobody signed in, then check CSRF."""
    token = _bearer()
    if token is not None:
        if not _sign_in_with_token(token):
            return _unauthenticated("invalid_token", _BAD_TOKEN)
        return None  # a token carries no ambient authority: no CSRF check
    if not _sign_in_with_session() and _requires_user():
        return _unauthenticated("authentication_required", _SIGN_IN)
    _protect_from_csrf()
    return None


def _bearer() -> str | None:
    found = _BEARER.fullmatch(request.headers.get("Authorization", ""))
    return found.group(1) if found else None


def _requires_user() -> bool:
    path = request.path
    if path != _API_PREFIX and not path.startswith(_API_PREFIX + "/"):
        return False
    return request.endpoint not in PUBLIC_ENDPOINTS


def _sign_in_with_token(token: str) -> bool:
    ctx = request_context()
    with services().db.begin(write=True) as conn:  # stamps last use, audits token.use
        found = identity.verify_token(conn, ctx, token)
        if found is None:
            return False
        attach_user(conn, found.code, "token")
    return True


def _sign_in_with_session() -> bool:
    sid = session.get(SESSION_KEY)
    if not sid:
        return False
    ctx, svc, policy = request_context(), services(), auth_settings().session
    with svc.db.begin() as conn:
        live = find_session(conn, ctx, sid, policy=policy)
        if live is not None:
            attach_user(conn, live.user_code, "session")
    if live is None:
        session.pop(SESSION_KEY, None)  # the cookie stops naming a dead session
        return False
    if live.touch_due:  # a short write of its own, at most once a minute
        _touch(svc, ctx, sid)
    return True


def _touch(svc: Any, ctx: Context, sid: str) -> None:
    """Stamp the session's last use — best effort: while another transaction
    holds SQLite's one write lock for long (a large Excel import), the stamp
    waits for the lock, then is skipped rather than failing the request; the
    next request stamps it."""
    try:
        with svc.db.begin(write=True) as conn:
            touch_session(conn, ctx, sid)
    except OperationalError:
        current_app.logger.warning("session %s: last use not stamped (database busy)",
                                   ctx.request_id)


def _grants_for(conn: Connection, ctx: Context, user: str) -> Grants:
    """What the signed-in ``user`` may do today, from the access policy and
    the org data (the one place the HTTP edge resolves grants)."""
    return build_grants(conn, services().access, user, ctx.now().date())


def _unauthenticated(code: str, message: Text) -> Response:
    challenge = _CHALLENGE + (', error="invalid_token"' if code == "invalid_token" else "")
    return error_response(401, code, message, headers={"WWW-Authenticate": challenge})


def _protect_from_csrf() -> None:
    config = current_app.config
    if not config["WTF_CSRF_ENABLED"] or request.method not in config["WTF_CSRF_METHODS"]:
        return
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError as exc:
        raise PermissionDenied(_CSRF_FAILED, code="csrf_failed",
                               details={"reason": exc.description}) from exc


# ---------------------------------------------------------------- setup

def _minutes(config: Mapping[str, Any], key: str) -> timedelta:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(Text(f"配置项 {key} 必须是正整数（分钟），当前为 {value!r}",
                                      f"setting {key} must be a positive whole number "
                                      f"of minutes; got {value!r}"))
    return timedelta(minutes=value)


def _count(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(Text(f"配置项 {key} 必须是正整数，当前为 {value!r}",
                                      f"setting {key} must be a positive whole number; "
                                      f"got {value!r}"))
    return value


def _settings(config: Mapping[str, Any]) -> AuthSettings:
    policy = SessionPolicy(lifetime=_minutes(config, "SESSION_LIFETIME_MINUTES"),
                           idle=_minutes(config, "SESSION_IDLE_MINUTES"))
    address = AddressPolicy(max_failures=_count(config, "LOGIN_ADDRESS_MAX_FAILURES"),
                            window=_minutes(config, "LOGIN_ADDRESS_WINDOW_MINUTES"),
                            lock=_minutes(config, "LOGIN_ADDRESS_LOCK_MINUTES"))
    return AuthSettings(policy, DatabaseAddressThrottle(address))


def _cookie_settings(app: Flask, lifetime: timedelta) -> None:
    """Cookie flags: HttpOnly, SameSite=Lax, Secure unless configured off
    (``SESSION_COOKIE_SECURE: null`` means on, except in testing or debug)."""
    config = app.config
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = not (app.testing or app.debug)
    config["SESSION_COOKIE_HTTPONLY"] = True
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    config["PERMANENT_SESSION_LIFETIME"] = lifetime
    config["SESSION_REFRESH_EACH_REQUEST"] = False  # the server-side row decides expiry
    config["WTF_CSRF_CHECK_DEFAULT"] = False        # checked by authenticate_request
    config.setdefault("WTF_CSRF_TIME_LIMIT", int(lifetime.total_seconds()))


def init_auth(app: Flask) -> None:
    """Install CSRF protection and :func:`authenticate_request` on ``app``."""
    settings = _settings(app.config)
    _cookie_settings(app, settings.session.lifetime)
    CSRFProtect(app)  # registers itself as app.extensions["csrf"]
    app.extensions[_EXTENSION] = settings
    app.before_request(authenticate_request)
