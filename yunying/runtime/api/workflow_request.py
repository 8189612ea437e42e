"""Reading the requests of the workflow, inbox and notification endpoints
(runtime layer, HTTP edge).

Small, strict readers shared by :mod:`.workflow`, :mod:`.inbox` and
:mod:`.notifications`: query parameters (unknown or repeated ones are a 400
naming them), ids from the URL (out of range is simply not found), an
optional JSON body checked by a schema of :mod:`.workflow_schemas`, and the
``Idempotency-Key`` header that makes a retried action act once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from flask import current_app, request
from marshmallow import Schema

from yunying.platform.errors import InvalidQuery, NotFound, YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.api.json import object_body
from yunying.runtime.api.workflow_schemas import load_body

__all__ = ["IDEMPOTENCY_HEADER", "MAX_KEY", "INT32_MAX", "INT64_MAX", "query_args",
           "bad_query", "positive", "day", "flag", "body", "idempotency_key", "path_id"]

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY = 128
INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1
_KEY = re.compile(r"[\x20-\x7e]{1,%d}" % MAX_KEY)
_IGNORED = ("lang",)

_KINDS: Mapping[str, Text] = {
    "record": Text("记录", "record"),
    "instance": Text("流程实例", "workflow instance"),
    "task": Text("任务", "task"),
    "delegation": Text("委托", "delegation"),
}


def _printable(value: str) -> str:
    return value[:50].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")


def bad_query(name: str, value: str, why: Text) -> InvalidQuery:
    """A 400 naming the query parameter, the value given and what was expected."""
    shown, name = _printable(value), _printable(name)
    return InvalidQuery(Text(f"参数 {name} 有误（{shown!r}）：{why.zh}",
                             f"parameter {name} is invalid ({shown!r}): {why.en}"),
                        details={"parameter": name, "value": shown})


def query_args(*allowed: str) -> dict[str, str]:
    """The query parameters, one value each; unknown or repeated ones are refused."""
    args = request.args.to_dict(flat=False)
    for name in _IGNORED:
        args.pop(name, None)
    for name, values in sorted(args.items()):
        if name not in allowed:
            raise bad_query(name, ",".join(values), Text(
                f"不是可用的参数；可用：{'、'.join(allowed) or '无'}",
                f"not a known parameter; known: {', '.join(allowed) or 'none'}"))
        if len(values) != 1:
            raise bad_query(name, ",".join(values), Text("只能给出一次", "give it once"))
    return {name: values[0] for name, values in args.items()}


def positive(args: Mapping[str, str], name: str, largest: int, default: int | None
             ) -> int | None:
    """A whole number 1..largest, or ``default`` when absent."""
    value = args.get(name)
    if value is None:
        return default
    if value.isascii() and value.isdigit() and len(value) <= 19 and 1 <= int(value) <= largest:
        return int(value)
    raise bad_query(name, value, Text(f"应为 1 到 {largest} 之间的整数",
                                      f"must be a whole number from 1 to {largest}"))


def day(args: Mapping[str, str], name: str) -> date | None:
    """An ISO date YYYY-MM-DD, or None when absent."""
    value = args.get(name)
    if value is None:
        return None
    try:
        if len(value) == 10 and value.isascii():
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise bad_query(name, value, Text("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"))


_FLAGS = {"1": True, "true": True, "0": False, "false": False}


def flag(args: Mapping[str, str], name: str) -> bool | None:
    """``1``/``true`` or ``0``/``false``, or None when absent."""
    value = args.get(name)
    if value is None:
        return None
    if value in _FLAGS:
        return _FLAGS[value]
    raise bad_query(name, value, Text("应为 1 或 0（true 或 false）",
                                      "must be 1 or 0 (true or false)"))


def body(schema: type[Schema]) -> dict[str, Any]:
    """The JSON body checked by ``schema``; an empty body is ``{}`` (so a
    missing required key is named, like any other)."""
    if not request.get_data(cache=True):
        return load_body(schema, {})
    return load_body(schema, object_body(request, current_app.json.loads))


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header (1–128 printable ASCII characters), or
    None when absent; anything else is a 400."""
    value = request.headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if _KEY.fullmatch(value):
        return value
    raise YunyingError(Text(
        f"请求头 {IDEMPOTENCY_HEADER} 须为 1–{MAX_KEY} 个可打印 ASCII 字符",
        f"the {IDEMPOTENCY_HEADER} header must be 1 to {MAX_KEY} printable ASCII "
        f"characters"), code="invalid_idempotency_key",
        details={"header": IDEMPOTENCY_HEADER, "length": len(value)})


def path_id(value: int, kind: str, largest: int = INT64_MAX) -> int:
    """An id from the URL; one no row could have is simply not found."""
    if 1 <= value <= largest:
        return value
    what = _KINDS[kind]
    shown = str(value)[:30]
    raise NotFound(Text(f"{what.zh} {shown} 不存在", f"{what.en} {shown} does not exist"),
                   details={kind: shown})
