"""Browser sign-in and sign-out, shared by the JSON API and the staff UI
(runtime layer, HTTP edge).

:func:`sign_in_browser` is the one login of a browser: the credentials are
checked by :func:`yunying.platform.identity.login` (throttled per account
and per client address, audited, one failure for every reason), then the
session is rotated by :func:`start_browser_session` — the previous
server-side session is revoked, Flask's session is cleared (with its CSRF
secret) and a fresh session id is issued. ``POST /api/v1/session`` and the
staff UI's login form both call it, so a browser signs in the same way
whichever door it uses. :func:`sign_out_browser` is the matching logout.
"""

from __future__ import annotations

from flask import current_app, g, session
from sqlalchemy import Connection

from yunying.platform import identity
from yunying.platform.sessions import end_session, start_session
from yunying.runtime.api.auth import SESSION_KEY, attach_user, auth_settings
from yunying.runtime.api.context import request_context, services

__all__ = ["sign_in_browser", "start_browser_session", "sign_out_browser", "address_blocked"]


def sign_in_browser(code: str, password: str) -> identity.User:
    """Check ``code`` / ``password`` and start a fresh session for the user.

    Raises PermissionDenied ``authentication_failed`` (the same for every
    reason) after the failure was recorded for the throttles and the audit
    trail."""
    ctx, svc, settings = request_context(), services(), auth_settings()
    user = identity.login(svc.db, ctx, code, password, address=ctx.address,
                          throttle=settings.throttle)
    with svc.db.begin(write=True) as conn:
        start_browser_session(conn, user.code)
    return user


def start_browser_session(conn: Connection, user_code: str) -> None:
    """Rotate the browser's session to a new server-side session of
    ``user_code`` (already authenticated) on ``conn``: the previous one is
    revoked, the cookie's content (and CSRF secret) replaced."""
    ctx, settings = request_context(), auth_settings()
    previous = session.get(SESSION_KEY)
    if previous:
        end_session(conn, ctx, previous)
    sid = start_session(conn, attach_user(conn, user_code, "session"), user_code,
                        policy=settings.session)
    session.clear()  # the pre-login cookie (and its CSRF secret) is worthless now
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)
    session[SESSION_KEY] = sid
    session.permanent = True


def sign_out_browser() -> None:
    """Revoke the browser's server-side session (if any) and clear its cookie."""
    sid = session.get(SESSION_KEY)
    if sid:
        with services().db.begin(write=True) as conn:
            end_session(conn, request_context(), sid)
    session.clear()


def address_blocked() -> bool:
    """Whether sign-ins from the client's address are locked now (after too
    many failures from it) — the address throttle's own answer, which says
    nothing about any account."""
    ctx = request_context()
    with services().db.connect() as conn:
        return auth_settings().throttle.blocked(conn, ctx, ctx.address)
