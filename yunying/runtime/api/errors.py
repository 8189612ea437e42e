"""The HTTP API's one error handler (runtime layer, HTTP edge).

Only here do errors become status codes. A :class:`YunyingError` maps by its
class (nearest class in the MRO wins, via a dict); werkzeug's HTTP errors keep
their status with a bilingual message; anything else is a 500 with a generic
message and a logged traceback. Every body has one shape::

    {"error": {"code", "message", "messages": {"zh-CN", "en"}, "details"}}

``message`` is in the request's language (see :mod:`.context`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from yunying.platform.errors import (
    Conflict, InvalidPackage, InvalidQuery, LossyChange, NotFound, PermissionDenied,
    StaleRecord, TransitionRejected, ValidationFailed, YunyingError,
)
from yunying.platform.i18n import Text
from yunying.runtime.api.context import request_context

__all__ = ["HTML_ERRORS", "STATUS", "status_of", "error_response", "handle_error", "init_errors"]

#: the ``app.extensions`` key of a callable turning a JSON error response into
#: an HTML page (installed by the staff UI).
HTML_ERRORS = "yunying.html_errors"

#: status code per error class; classes not listed use their nearest listed base.
STATUS: Mapping[type, int] = MappingProxyType({
    InvalidQuery: 400,
    InvalidPackage: 422,
    ValidationFailed: 422,
    TransitionRejected: 422,
    NotFound: 404,
    StaleRecord: 409,
    Conflict: 409,
    LossyChange: 409,
    PermissionDenied: 403,
    YunyingError: 400,
})

#: codes and messages of the HTTP-level errors werkzeug raises.
_HTTP: Mapping[int, tuple[str, Text]] = MappingProxyType({
    400: ("bad_request", Text("请求格式不正确", "the request is malformed")),
    404: ("not_found", Text("没有这个地址", "there is no such address")),
    405: ("method_not_allowed", Text("该地址不支持此请求方法",
                                     "this address does not support the request method")),
    413: ("payload_too_large", Text("请求内容过大", "the request body is too large")),
    415: ("unsupported_content_type", Text("不支持的内容类型", "unsupported content type")),
})

_INTERNAL = Text("服务器内部错误，请稍后重试；如仍出现请联系管理员并提供请求编号",
                 "internal server error; please retry, and if it persists contact "
                 "the administrator with the request id")


def status_of(error: YunyingError) -> int:
    """The HTTP status of a Yunying error."""
    for kind in type(error).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return 400


def error_response(status: int, code: str, message: Text, details: Any = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    """The JSON error body in the request's language."""
    language = request_context().language
    body = {"error": {
        "code": code,
        "message": message.get(language),
        "messages": message.as_dict(),
        "details": details if details is not None else {},
    }}
    response = current_app.json.response(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _yunying(error: YunyingError) -> Response:
    return error_response(status_of(error), error.code, error.message, error.details)


def _limit_details(error: HTTPException) -> dict[str, Any]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return {"max_content_length": limit} if error.code == 413 and limit else {}


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = _HTTP.get(status, ("http_error", Text(
        f"请求失败（HTTP {status}）", f"the request failed (HTTP {status})")))
    allow = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return error_response(status, code, message, _limit_details(error), allow)


def _internal(error: Exception) -> Response:
    ctx = request_context()
    current_app.logger.exception("unhandled error in request %s", ctx.request_id,
                                 exc_info=error)
    return error_response(500, "internal_error", _INTERNAL, {"request_id": ctx.request_id})


_HANDLERS = MappingProxyType({
    YunyingError: _yunying,
    HTTPException: _http,
})


def handle_error(error: Exception) -> Response:
    """The one handler: Yunying errors, HTTP errors, then everything else.
    Outside ``/api/`` an app with the staff UI renders the same error as an
    HTML page (:data:`HTML_ERRORS` names the renderer in ``app.extensions``)."""
    response = _json_error(error)
    render = current_app.extensions.get(HTML_ERRORS)
    if render is not None and not request.path.startswith(("/api/", "/static/")):
        return render(response)
    return response


def _json_error(error: Exception) -> Response:
    for kind in type(error).__mro__:
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(error)
    return _internal(error)


def init_errors(app: Flask) -> None:
    """Install :func:`handle_error` on ``app`` for every exception."""
    app.register_error_handler(Exception, handle_error)
