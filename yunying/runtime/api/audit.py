"""The audit trail endpoints of the JSON API (runtime layer, HTTP edge).

* ``GET /api/v1/records/<entity>/<id>/history`` — every event of one record,
  oldest first, for anyone who may read the record: the record service
  decides (a record out of the caller's scope is the same 404 as a missing
  one) and names the fields hidden from the caller on that record, which are
  stripped from the changes.
* ``GET /api/v1/audit?kind=&actor=&entity=&record_id=&since=&until=&limit=&before_id=``
  — the admin query (platform action ``manage_users``), newest first; page
  on with ``before_id`` = ``next_before_id`` of the previous answer.

A malformed, repeated or unknown query parameter is a 400 naming it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from flask import Blueprint, request
from sqlalchemy import Connection

from yunying.platform.audit import DEFAULT_LIMIT, EVENT_KINDS, MAX_LIMIT, history, query_events
from yunying.platform.context import Context
from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text
from yunying.runtime.access.grants import require_platform
from yunying.runtime.api.context import request_context, services
from yunying.runtime.records import RecordService
from yunying.runtime.records.audit_changes import strip_changes

__all__ = ["blueprint", "AUDIT_PATHS", "AUDIT_SCHEMAS"]

blueprint = Blueprint("audit", __name__)

_IGNORED = ("lang",)
_MAX_DIGITS = 19
_MAX_MOMENT = 40


@blueprint.get("/api/v1/records/<entity>/<int:record_id>/history")
def record_history(entity: str, record_id: int) -> dict[str, Any]:
    ctx = request_context()
    svc = services()
    with svc.db.begin() as conn:
        hidden = _hidden_fields(conn, ctx, svc.runtime(conn).records, entity, record_id)
        events = history(conn, entity, record_id)
    return {"items": [{**event, "changes": strip_changes(event["changes"], hidden)}
                      for event in events]}


@blueprint.get("/api/v1/audit")
def audit_events() -> dict[str, Any]:
    ctx = request_context()
    require_platform(ctx, "manage_users")
    filters = _query(request.args.to_dict(flat=False))
    with services().db.begin() as conn:
        items = query_events(conn, **filters)
    more = bool(items) and len(items) == filters.get("limit", DEFAULT_LIMIT)
    return {"items": items, "next_before_id": items[-1]["id"] if more else None}


def _hidden_fields(conn: Connection, ctx: Context, records: RecordService, entity: str,
                   record_id: int) -> frozenset[str]:
    """The fields (``field`` / ``child.field``) the caller may not see on this
    record, stripped from its history. NotFound — the same as reading the
    record — when it is missing or outside the caller's scope."""
    return records.hidden_fields(conn, ctx, entity, record_id)


# ---------------------------------------------------------------- query parameters

def _query(args: Mapping[str, list[str]]) -> dict[str, Any]:
    """The admin query's filters from the query string, typed (ranges and
    kinds are checked by ``query_events``)."""
    filters: dict[str, Any] = {}
    for name, values in args.items():
        if name in _IGNORED:
            continue
        parse = _PARSERS.get(name)
        if parse is None:
            raise _bad(str(name), str(name), Text(
                "未知参数；可用：" + "、".join(_PARSERS),
                "unknown parameter; allowed: " + ", ".join(_PARSERS)))
        if len(values) != 1:
            raise _bad(name, ",".join(values), Text("只能给出一次", "may be given only once"))
        filters[name] = parse(name, values[0])
    return filters


def _text(name: str, value: str) -> str:
    return value


def _integer(name: str, value: str) -> int:
    if value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
        return int(value)
    raise _bad(name, value, Text("应为正整数", "must be a positive whole number"))


def _moment(name: str, value: str) -> datetime:
    """An ISO 8601 date or date-time; with an offset it is turned into UTC."""
    parsed = None
    if value.isascii() and len(value) <= _MAX_MOMENT:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise _bad(name, value, Text("应为 ISO 8601 日期或日期时间（如 2026-11-26T08:00:00Z）",
                                     "must be an ISO 8601 date or date-time "
                                     "(such as 2026-11-26T08:00:00Z)"))
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:00-01:00 has no UTC
            raise _bad(name, value, Text("超出可表示的时间范围", "is out of range")) from None
    return parsed


#: each query parameter and how its text becomes a value for ``query_events``.
_PARSERS = {"kind": _text, "actor": _text, "entity": _text, "record_id": _integer,
            "since": _moment, "until": _moment, "limit": _integer, "before_id": _integer}


def _bad(name: str, value: str, why: Text) -> InvalidQuery:
    shown = value[:50].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")
    name = name[:50].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")
    return InvalidQuery(Text(f"参数 {name} 有误（{shown!r}）：{why.zh}",
                             f"parameter {name} is invalid ({shown!r}): {why.en}"),
                        details={"parameter": name, "value": shown})


# ---------------------------------------------------------------- OpenAPI

def _query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "schema": schema,
            "description": description}


_EVENT = {
    "type": "object",
    "required": ["id", "at", "kind", "actor"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "at": {"type": "string", "format": "date-time", "description": "UTC"},
        "kind": {"type": "string", "enum": list(EVENT_KINDS)},
        "actor": {"type": "string"},
        "address": {"type": ["string", "null"]},
        "request_id": {"type": ["string", "null"]},
        "entity": {"type": ["string", "null"]},
        "record_id": {"type": ["integer", "null"]},
        "changes": {"type": ["object", "null"], "description": (
            "field → [old, new] (decimals as exact strings, dates ISO); a child table → "
            "{added, removed, changed} lists of lines")},
        "detail": {"type": ["object", "null"]},
    },
}

#: component schemas of the audit endpoints, for the OpenAPI document.
AUDIT_SCHEMAS: Mapping[str, dict[str, Any]] = {
    "AuditEvent": _EVENT,
    "AuditEvents": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
        "next_before_id": {"type": ["integer", "null"], "description":
                           "pass as before_id for the next page (null: no more)"}}},
}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{schema}"}}}}


def _errors(statuses: Iterable[str]) -> dict[str, Any]:
    return {status: f"Error{status}" for status in statuses}


_QUERY = [
    _query_parameter("kind", {"type": "string", "enum": list(EVENT_KINDS)}, "event kind"),
    _query_parameter("actor", {"type": "string", "maxLength": 64}, "who acted (user code)"),
    _query_parameter("entity", {"type": "string", "maxLength": 128},
                     "qualified entity code (materials.requisition)"),
    _query_parameter("record_id", {"type": "integer", "minimum": 1}, "record id"),
    _query_parameter("since", {"type": "string", "format": "date-time"},
                     "from this moment (inclusive; ISO 8601, UTC unless an offset is given)"),
    _query_parameter("until", {"type": "string", "format": "date-time"},
                     "before this moment (exclusive)"),
    _query_parameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                               "default": DEFAULT_LIMIT}, "events per page"),
    _query_parameter("before_id", {"type": "integer", "minimum": 1},
                     "only events older than this id (keyset paging)"),
]

#: the audit endpoints' operations (parameters included), for the OpenAPI document.
AUDIT_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/records/{entity}/{id}/history": {"get": {
        "operationId": "recordHistory", "tags": ["audit"],
        "summary": "Every audit event of one record, oldest first",
        "parameters": ["lang", "request_id", "record_id",
                       {"in": "path", "name": "entity", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": _ok("AuditEvents", "the record's events"),
                      **_errors(("400", "404"))}}},
    "/api/v1/audit": {"get": {
        "operationId": "queryAudit", "tags": ["audit"],
        "summary": "Query the audit trail (manage_users), newest first",
        "parameters": ["lang", "request_id", *_QUERY],
        "responses": {"200": _ok("AuditEvents", "one page of events"),
                      **_errors(("400", "403"))}}},
}
