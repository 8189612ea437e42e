"""The explicit per-request context of the HTTP API (runtime layer, HTTP edge).

Each request gets one :class:`~yunying.platform.context.Context`: the
language (``?lang=`` or ``Accept-Language``, default zh-CN), a request id (a
well-formed ``X-Request-Id`` header, else a fresh one) that is echoed on the
response, and the client address (``request.remote_addr``: the peer, or what
trusted proxies forwarded when ``PROXY_COUNT`` is set). It starts as the
:data:`ANONYMOUS` actor without grants; :mod:`.auth` replaces it with the
signed-in user and the user's grants (:func:`sign_in`). Services receive
this context; they never read ``flask.g``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request, session

from yunying.platform.context import Context
from yunying.platform.i18n import DEFAULT_LANGUAGE, pick_language
from yunying.runtime.access.grants import Grants

if TYPE_CHECKING:  # the container imports the record service; keep this edge light
    from yunying.runtime.container import Services

__all__ = ["ANONYMOUS", "REQUEST_ID_HEADER", "LANGUAGE_KEY", "request_context", "sign_in", "services",
           "init_context"]

#: the actor of a request nobody signed in to (only public endpoints serve it).
ANONYMOUS = "anonymous"
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def services() -> "Services":
    """The service container of the current app."""
    return current_app.extensions["yunying"]


#: the key of the language a user chose in the staff UI, in Flask's session.
LANGUAGE_KEY = "lang"


def _language() -> str:
    """``?lang=``, else the language chosen in the staff UI; then the API
    follows Accept-Language and the staff UI speaks zh-CN."""
    chosen = request.args.get("lang") or session.get(LANGUAGE_KEY)
    if chosen:
        return pick_language(chosen)
    if not request.path.startswith("/api/"):
        return DEFAULT_LANGUAGE
    return pick_language(request.headers.get("Accept-Language"))


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def request_context() -> Context:
    """The Context of the current request (built once per request)."""
    ctx = g.get("yunying_context")
    if ctx is None:
        # nobody signed in holds empty grants — never the trusted internal
        # principal (grants None), whatever page forgets to ask for a user
        ctx = Context(actor=ANONYMOUS, language=_language(), request_id=_request_id(),
                      address=request.remote_addr or None, grants=Grants(user=ANONYMOUS))
        g.yunying_context = ctx
    return ctx


def sign_in(actor: str, grants: Any) -> Context:
    """Make ``actor`` (with ``grants``) the actor of the current request."""
    ctx = replace(request_context(), actor=actor, grants=grants)
    g.yunying_context = ctx
    return ctx


def _echo_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_context().request_id
    return response


def init_context(app: Flask) -> None:
    """Echo the request id on every response of ``app``."""
    app.after_request(_echo_request_id)
