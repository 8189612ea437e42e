"""HTML error pages of the staff UI (runtime layer, HTTP edge).

The API's one error handler (:mod:`yunying.runtime.api.errors`) builds the
JSON error response for every failure; outside ``/api/`` it hands that
response to :func:`render_error`, which answers with an HTML page of the
same status in the page's language: what went wrong (the error's own
message), a helpful line per status (403: ask the administrator; 404: back
home; 500: the request id to quote) and, for a 422, the located messages.
Never a stack trace: the JSON body never holds one.

A 401 (nobody signed in) sends the browser to the login page, which brings
it back afterwards. A machine client — signed in by API token, or asking
for JSON (``Accept: application/json``, as the UI's own scripts should) —
gets the JSON response unchanged.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from flask import Response, current_app, redirect, request, url_for
from markupsafe import escape

from yunying.platform.i18n import Text
from yunying.runtime.api.auth import auth_method
from yunying.runtime.ui.web import lang, render, tr

__all__ = ["render_error", "TITLES", "HINTS"]

#: the heading of the page per status.
TITLES: Mapping[int, Text] = MappingProxyType({
    400: Text("请求有误", "Bad request"),
    401: Text("需要登录", "Sign-in required"),
    403: Text("无权访问", "Access denied"),
    404: Text("未找到", "Not found"),
    405: Text("不支持的操作", "Operation not supported"),
    409: Text("数据冲突", "Conflict"),
    413: Text("内容过大", "Too large"),
    422: Text("无法保存", "Cannot be accepted"),
    429: Text("请求过于频繁", "Too many requests"),
    500: Text("服务器出错", "Server error"),
})

#: what the user can do about it, per status.
HINTS: Mapping[int, Text] = MappingProxyType({
    400: Text("请检查输入或链接后重试。", "Check what you entered or the link, and try again."),
    401: Text("请先登录。", "Please sign in first."),
    403: Text("你没有执行此操作的权限；如确需使用，请联系系统管理员为你授权。",
              "You lack the right to do this; if you need it, contact your administrator."),
    404: Text("要找的内容不存在、已被删除，或你无权查看。请返回首页重新进入。",
              "What you are looking for does not exist, was deleted, or is not visible "
              "to you. Go back to the home page and try again from there."),
    405: Text("该地址不支持这种操作；请从页面上的按钮或链接进入。",
              "This address does not support that operation; use the buttons and "
              "links on the page."),
    409: Text("数据已被他人修改，或与现有数据冲突；请刷新页面查看最新内容后重试。",
              "The data was changed by someone else or conflicts with existing data; "
              "reload the page to see the latest version and try again."),
    413: Text("提交或上传的内容超过了允许的大小。",
              "What you sent or uploaded is larger than allowed."),
    422: Text("提交的数据未通过校验；请按下面的提示更正后重试。",
              "The data sent did not pass the checks; correct it as shown below and "
              "try again."),
    429: Text("操作过于频繁，请稍候几分钟再试。", "Too many attempts; wait a few minutes and "
              "try again."),
    500: Text("服务器处理请求时出错。请稍后重试；如仍出现，请联系管理员并提供下面的请求编号。",
              "The server failed to handle the request. Try again later; if it keeps "
              "happening, contact your administrator with the request id below."),
})

#: messages written for API callers, told to people in the UI's words.
_UI_MESSAGES: Mapping[str, Text] = MappingProxyType({
    "csrf_failed": Text("页面已过期或不是从本系统提交的；请刷新页面后重试。",
                        "The page has expired or the form did not come from this site; "
                        "reload the page and try again."),
})
#: response headers of the JSON error the page keeps.
_KEPT_HEADERS = ("Allow", "Retry-After")
_JSON, _HTML = "application/json", "text/html"


def render_error(response: Response) -> Response:
    """The HTML page for the JSON error ``response`` (same status)."""
    if _wants_json():
        return response
    status = response.status_code
    if status == 401:
        return _to_login()
    error = _error_of(response)
    try:
        page = render("error.html", status=status, **_values(status, error))
    except Exception:  # the page of last resort must not fail (e.g. the database is down)
        current_app.logger.exception("cannot render the error page for HTTP %s", status)
        page = _plain(status, error)
    for name in _KEPT_HEADERS:
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return page


def _wants_json() -> bool:
    """A machine client: signed in by API token, or asking for JSON."""
    if auth_method() == "token":
        return True
    accept = request.accept_mimetypes
    return accept.best_match((_HTML, _JSON)) == _JSON and accept[_JSON] > accept[_HTML]


def _to_login() -> Response:
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("ui_auth.login", next=target))


def _error_of(response: Response) -> Mapping[str, Any]:
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _values(status: int, error: Mapping[str, Any]) -> dict[str, Any]:
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    message = _UI_MESSAGES.get(error.get("code")) or error.get("messages") or error.get("message")
    return {
        "error_status": status,
        "error_title": tr(TITLES.get(status) or Text(f"请求失败（HTTP {status}）",
                                                     f"The request failed (HTTP {status})")),
        "error_message": tr(message),
        "error_hint": tr(HINTS.get(status)),
        "error_code": error.get("code") or "",
        "error_fields": _fields(details.get("fields")),
        "request_id": details.get("request_id") if status >= 500 else None,
        "max_bytes": details.get("max_content_length") if status == 413 else None,
    }


def _fields(fields: Any) -> list[tuple[str, list[str]]]:
    """``details.fields`` (path → messages) as (path, texts) pairs."""
    if not isinstance(fields, dict):
        return []
    found = []
    for path, messages in fields.items():
        texts = [tr(m.get("message")) for m in messages or () if isinstance(m, dict)]
        found.append((str(path), [t for t in texts if t]))
    return found


def _plain(status: int, error: Mapping[str, Any]) -> Response:
    """A page without the layout, from escaped text only."""
    values = _values(status, error)
    body = (f'<!doctype html><html lang="{escape(lang())}"><head><meta charset="utf-8">'
            f"<title>{escape(values['error_title'])}</title></head><body>"
            f'<main class="error-page"><h1>{status} · {escape(values["error_title"])}</h1>'
            f"<p>{escape(values['error_message'])}</p><p>{escape(values['error_hint'])}</p>")
    if values["request_id"]:
        body += f"<p><code>{escape(values['request_id'])}</code></p>"
    home = escape(tr(Text("返回首页", "Back to the home page")))
    body += f'<p><a href="/">{home}</a></p></main></body></html>'
    return Response(body, status=status, mimetype="text/html")
