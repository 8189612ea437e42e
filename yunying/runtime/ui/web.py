"""What every page of the staff UI shares (runtime layer, HTTP edge).

The staff UI is server-rendered Jinja2 over the same services as the JSON
API: the request's :class:`~yunying.platform.context.Context` (signed in by
:mod:`yunying.runtime.api.auth` from the session cookie, CSRF checked there
for every POST), the record service and the workflow engine. This module
gives pages the signed-in check, the language, bilingual text and
:func:`render`, which adds the navigation and the pending-task count that
the layout shows.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from flask import Response, g, redirect, render_template, request, url_for
from sqlalchemy import Connection

from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.runtime.api.context import ANONYMOUS, request_context, services

__all__ = ["services", "ctx", "lang", "tr", "T", "signed_in", "login_required", "render",
           "safe_next", "current_page", "runtime_of"]


_RUNTIME = "yunying_runtime"


def ctx() -> Context:
    """The current request's context (actor, grants, language, clock)."""
    return request_context()


def lang() -> str:
    """The language of the page: ``zh-CN`` or ``en``."""
    return ctx().language


def tr(text: Text | Mapping[str, str] | str | None) -> str:
    """A bilingual value in the page's language ('' for None)."""
    if text is None:
        return ""
    if isinstance(text, Text):
        return text.get(lang())
    if isinstance(text, Mapping):
        return text.get(lang()) or text.get("zh-CN") or text.get("en") or ""
    return str(text)


def T(zh: str, en: str) -> str:  # noqa: N802 — reads like the gettext ``_``
    """Inline bilingual text in the page's language."""
    return en if lang() == "en" else zh


def signed_in() -> bool:
    return ctx().actor != ANONYMOUS


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect)."""
    if not target:
        return default
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default  # browsers read "/\\host" as "//host"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def current_page() -> str:
    """Where "back here" leads: this page for a GET; after a POST (a page
    re-rendered with an error) the page the form was on, from the Referer
    when it is on this site, else home."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return "/"
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_next(path)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages for signed-in users: anybody else is sent to the login page,
    which brings them back here afterwards."""
    @functools.wraps(view)
    def page(*args: Any, **kwargs: Any) -> Any:
        if not signed_in():
            return redirect(url_for("ui_auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return page


def runtime_of(conn: Connection):
    """The runtime (registry, record service, workflow engine) in force for
    ``conn`` — looked up once per request (one query for the metadata
    version), then kept on ``flask.g`` for the layout and the page alike."""
    found = g.get(_RUNTIME)
    if found is None:
        found = services().runtime(conn)
        setattr(g, _RUNTIME, found)
    return found


def render(template: str, status: int = 200, **values: Any) -> Response:
    """Render a page in the layout; the layout's navigation and task count are
    computed here for signed-in users (see :mod:`.navigation`)."""
    from yunying.runtime.ui.navigation import layout_values  # the nav imports web

    page = render_template(template, **layout_values(), **values)
    return Response(page, status=status, mimetype="text/html")
