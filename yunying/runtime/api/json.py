"""JSON on the wire for the HTTP API (runtime layer, HTTP edge).

Money never passes through ``float``: numbers with a fraction or exponent are
parsed as :class:`~decimal.Decimal`, and a Decimal is written as a string that
keeps its digits (``"32.5000"``). Dates and datetimes are ISO 8601. Request
bodies are read here, strictly: the right content type, valid UTF-8 JSON, and
an object where one is required — otherwise a located 400.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Callable, Mapping

from flask import Request
from flask.json.provider import DefaultJSONProvider

from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text

__all__ = ["YunyingJSONProvider", "decimal_text", "object_body", "json_value"]


def decimal_text(value: Decimal) -> str:
    """A Decimal in plain notation with every digit it carries."""
    return format(value, "f")


def _iso(value: date | datetime | time) -> str:
    return value.isoformat()


_ENCODERS: Mapping[type, Callable[[Any], Any]] = {
    Decimal: decimal_text,
    date: _iso,
    datetime: _iso,
    time: _iso,
    set: sorted,
    frozenset: sorted,
    tuple: list,
}


def _default(value: Any) -> Any:
    encode = _ENCODERS.get(type(value))
    if encode is not None:
        return encode(value)
    for kind, encode in _ENCODERS.items():  # subclasses (rare)
        if isinstance(value, kind):
            return encode(value)
    if isinstance(value, Text):
        return value.as_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class YunyingJSONProvider(DefaultJSONProvider):
    """Flask JSON provider: Decimal in, Decimal-as-string out, ISO dates."""

    default = staticmethod(_default)  # type: ignore[assignment]
    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        kwargs.setdefault("parse_constant", _no_constants)
        return json.loads(s, **kwargs)


_JSON_TYPES = ("application/json",)


def _is_json(request: Request) -> bool:
    mimetype = request.mimetype
    return mimetype in _JSON_TYPES or (mimetype.startswith("application/")
                                       and mimetype.endswith("+json"))


def json_value(request: Request, loads: Callable[[bytes], Any]) -> Any:
    """The request body parsed as JSON (any JSON value).

    Raises YunyingError (400) for a wrong content type or malformed JSON.
    """
    if not _is_json(request):
        raise YunyingError(Text(
            f"请求体必须是 JSON（Content-Type: application/json），收到的是"
            f"“{request.mimetype or '无'}”",
            f"the request body must be JSON (Content-Type: application/json); "
            f"got '{request.mimetype or 'none'}'"),
            code="unsupported_content_type",
            details={"content_type": request.mimetype})
    data = request.get_data(cache=True)
    try:
        return loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise YunyingError(Text(
            f"请求体不是有效的 JSON：{_reason(exc)}",
            f"the request body is not valid JSON: {_reason(exc)}"),
            code="invalid_json", details=_position(exc)) from exc


def object_body(request: Request, loads: Callable[[bytes], Any]) -> dict[str, Any]:
    """The request body as a JSON object (field → value); 400 otherwise."""
    value = json_value(request, loads)
    if not isinstance(value, dict):
        raise YunyingError(Text(
            f"请求体必须是 JSON 对象（字段名到值），收到的是{_kind(value).zh}",
            f"the request body must be a JSON object (field → value); "
            f"got {_kind(value).en}"),
            code="invalid_body", details={"expected": "object"})
    return value


_KINDS: Mapping[type, Text] = {
    list: Text("数组", "an array"),
    str: Text("字符串", "a string"),
    int: Text("数字", "a number"),
    Decimal: Text("数字", "a number"),
    bool: Text("布尔值", "a boolean"),
    type(None): Text("null", "null"),
}


def _kind(value: Any) -> Text:
    return _KINDS.get(type(value), Text("其他值", "another value"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    return str(exc)[:200]


def _position(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, json.JSONDecodeError):
        return {"line": exc.lineno, "column": exc.colno}
    return {}
