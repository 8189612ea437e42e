"""Signing in and out of the staff UI, its language and the user's password
(runtime layer, HTTP edge).

- ``GET/POST /login`` — the login form (``code``, ``password``, ``next``).
  It signs the browser in exactly as ``POST /api/v1/session`` does
  (:func:`yunying.runtime.api.signin.sign_in_browser`: throttled per
  account and per address, audited, session rotated) and goes on to
  ``next`` when it is a path on this site. A failed login is a 401 page
  with one message whatever went wrong; when the client's address is
  locked after too many failures, a 429 page.
- ``POST /logout`` — ends the server-side session, back to the login page.
- ``POST /language`` — ``lang`` (zh-CN or en) kept in the session.
- ``GET/POST /password`` — change one's own password (current, new,
  repeated): the current one is checked like a login (a wrong one counts
  against the throttles), the new one against the platform's password
  rules; every other browser of the user is signed out and this one gets a
  fresh session. Errors show next to the fields (422).

The language chosen survives signing in and out (the rest of the cookie
does not).
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, flash, redirect, request, session, url_for

from yunying.platform import identity
from yunying.platform.errors import InvalidQuery, PermissionDenied, ValidationFailed
from yunying.platform.i18n import LANGUAGES, Text
from yunying.runtime.api.auth import auth_settings
from yunying.runtime.api.context import LANGUAGE_KEY
from yunying.runtime.api.signin import (
    address_blocked, sign_in_browser, sign_out_browser, start_browser_session,
)
from yunying.runtime.ui.web import ctx, login_required, render, safe_next, services, signed_in

__all__ = ["blueprint"]

blueprint = Blueprint("ui_auth", __name__, template_folder="templates")

#: longest user code / password text looked at (longer ones are refused unread).
_MAX_CODE = 256
_MAX_PASSWORD = 4 * identity.MAX_PASSWORD_LENGTH

_REQUIRED = Text("必填", "required")
_TOO_LONG = Text("过长", "too long")
_THROTTLED = Text("来自你所在地址的登录失败次数过多，已暂时锁定；请几分钟后再试",
                  "too many failed sign-ins from your address; it is locked for a few "
                  "minutes — try again later")
_WRONG_CURRENT = Text("当前密码不正确", "the current password is wrong")
_MISMATCH = Text("两次输入的新密码不一致", "the two new passwords differ")
_SAME = Text("新密码不能与当前密码相同", "the new password must differ from the current one")
_CHANGED = Text("密码已修改；你在其他设备上的登录已退出",
                "password changed; you were signed out everywhere else")
_SIGNED_OUT = Text("你已退出登录", "you are signed out")
_FORM_ERRORS = Text("请更正标出的字段", "please correct the marked fields")


def _next_url(target: str | None) -> str:
    """A local path to go on to (``/`` for anything else)."""
    if target and any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"  # browsers read "/\\host" as "//host"
    return safe_next(target)


def _landing(target: str | None) -> str:
    """Where a login goes on to: ``next``, but never the login page itself
    (a signed-in user would be sent round in circles)."""
    target = _next_url(target)
    return "/" if urlsplit(target).path == url_for("ui_auth.login") else target


def _keep_language(action: Any, *args: Any) -> Any:
    """Run ``action`` (which clears the session) keeping the chosen language."""
    chosen = session.get(LANGUAGE_KEY)
    result = action(*args)
    if chosen:
        session[LANGUAGE_KEY] = chosen
    return result


# ---------------------------------------------------------------- login

def _login_page(target: str, *, code: str = "", status: int = 200, error: Text | None = None,
                errors: Mapping[str, list[Text]] | None = None) -> Response:
    return render("login.html", status=status, next_url=target, code=code, error=error,
                  errors=errors or {})


def _login_errors(code: str, password: str) -> dict[str, list[Text]]:
    errors: dict[str, list[Text]] = {}
    for key, value, limit in (("code", code, _MAX_CODE), ("password", password, _MAX_PASSWORD)):
        if not value:
            errors[key] = [_REQUIRED]
        elif len(value) > limit:
            errors[key] = [_TOO_LONG]
    return errors


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """The login form; on success go on to ``next``."""
    target = _landing(request.values.get("next"))
    if request.method == "GET":
        return redirect(target) if signed_in() else _login_page(target)
    code = request.form.get("code", "").strip()
    password = request.form.get("password", "")
    errors = _login_errors(code, password)
    if errors:
        return _login_page(target, code=code[:_MAX_CODE], status=422, errors=errors,
                           error=_FORM_ERRORS)
    try:
        _keep_language(sign_in_browser, code, password)
    except PermissionDenied as exc:
        if exc.code != "authentication_failed":
            raise
        if address_blocked():
            return _login_page(target, code=code, status=429, error=_THROTTLED)
        return _login_page(target, code=code, status=401, error=identity.LOGIN_FAILED)
    return redirect(target)


@blueprint.post("/logout")
def logout() -> Response:
    """Sign out and go to the login page."""
    _keep_language(sign_out_browser)
    flash(_SIGNED_OUT.as_dict(), "info")
    return redirect(url_for("ui_auth.login"))


# ---------------------------------------------------------------- language

def _without_lang(target: str) -> str:
    """``target`` without a ``lang`` query parameter (it would override the choice)."""
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return urlunsplit(parts._replace(query=urlencode(query)))


@blueprint.post("/language")
def language() -> Response:
    """Switch the UI's language, then go back to ``next``."""
    chosen = request.form.get("lang", "")
    if chosen not in LANGUAGES:
        raise InvalidQuery(Text(f"不支持的语言：{chosen[:20]!r}；可选 zh-CN、en",
                                f"unsupported language {chosen[:20]!r}; choose zh-CN or en"),
                           code="unknown_language", details={"lang": chosen[:20]})
    session[LANGUAGE_KEY] = chosen
    return redirect(_without_lang(_next_url(request.form.get("next"))))


# ---------------------------------------------------------------- password

_PASSWORD_FIELDS = ("current", "new", "repeat")


def _password_errors(values: Mapping[str, str], user: str) -> dict[str, list[Text]]:
    errors: dict[str, list[Text]] = {}
    for key in _PASSWORD_FIELDS:
        if not values[key]:
            errors[key] = [_REQUIRED]
        elif len(values[key]) > _MAX_PASSWORD:
            errors[key] = [_TOO_LONG]
    if "new" not in errors:
        problems = identity.password_problems(values["new"], code=user)
        if not problems and values["new"] == values["current"]:
            problems = [_SAME]
        if problems:
            errors["new"] = problems
    if not errors.get("repeat") and not errors.get("new") and values["repeat"] != values["new"]:
        errors["repeat"] = [_MISMATCH]
    return errors


def _password_page(errors: Mapping[str, list[Text]] | None = None,
                   status: int = 200) -> Response:
    return render("password.html", status=status, errors=errors or {},
                  error=_FORM_ERRORS if errors else None,
                  min_length=identity.MIN_PASSWORD_LENGTH)


def _change_password(current: str, new: str) -> bool:
    """Check ``current`` like a login, then set ``new`` and rotate the
    session; False (with the failure recorded) when ``current`` is wrong."""
    context = ctx()
    with services().db.begin(write=True) as conn:
        found = identity.authenticate(conn, context, context.actor, current,
                                      address=context.address,
                                      throttle=auth_settings().throttle)
        if found is None:
            return False  # committed: the failure counts against the throttles
        identity.set_password(conn, context, context.actor, new)
        _keep_language(start_browser_session, conn, context.actor)
    return True


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Response:
    """Change the signed-in user's password."""
    if request.method == "GET":
        return _password_page()
    values = {key: request.form.get(key, "") for key in _PASSWORD_FIELDS}
    errors = _password_errors(values, ctx().actor)
    if errors:
        return _password_page(errors, 422)
    try:
        changed = _change_password(values["current"], values["new"])
    except ValidationFailed as exc:  # the platform's rules, should they grow
        return _password_page({"new": [exc.message]}, 422)
    if not changed:
        return _password_page({"current": [_WRONG_CURRENT]}, 422)
    flash(_CHANGED.as_dict(), "success")
    return redirect(url_for("ui_home.home"))
