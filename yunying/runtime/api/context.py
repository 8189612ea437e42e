"""The explicit per-request context of the HTTP API (runtime layer, HTTP edge).

Each request gets one :class:`~yunying.platform.context.Context`: the actor
(``"api"`` until identity lands), the language (``?lang=`` or
``Accept-Language``, default zh-CN) and a request id (a well-formed
``X-Request-Id`` header, else a fresh one) that is echoed on the response.
Services receive this context; they never read ``flask.g``.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request

from yunying.platform.context import Context
from yunying.platform.i18n import pick_language

if TYPE_CHECKING:  # the container imports the record service; keep this edge light
    from yunying.runtime.container import Services

__all__ = ["API_ACTOR", "REQUEST_ID_HEADER", "request_context", "services", "init_context"]

API_ACTOR = "api"
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def services() -> "Services":
    """The service container of the current app."""
    return current_app.extensions["yunying"]


def _language() -> str:
    chosen = request.args.get("lang")
    if chosen:
        return pick_language(chosen)
    return pick_language(request.headers.get("Accept-Language"))


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def request_context() -> Context:
    """The Context of the current request (built once per request)."""
    ctx = g.get("yunying_context")
    if ctx is None:
        ctx = Context(actor=API_ACTOR, language=_language(), request_id=_request_id())
        g.yunying_context = ctx
    return ctx


def _echo_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_context().request_id
    return response


def init_context(app: Flask) -> None:
    """Echo the request id on every response of ``app``."""
    app.after_request(_echo_request_id)
