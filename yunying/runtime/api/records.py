"""The record endpoints of the JSON API (runtime layer, HTTP edge).

``/api/v1/records/<entity>`` for every installed entity (``entity`` is the
qualified code, ``materials.requisition``). Each request is one transaction
over the record service; this module only translates HTTP to service calls:
query arguments to a ListQuery, bodies to dicts, results to JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from yunying.platform.errors import InvalidQuery, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.json import object_body
from yunying.runtime.records import ListQuery

__all__ = ["blueprint"]

blueprint = Blueprint("records", __name__, url_prefix="/api/v1/records")

_INT32_MAX = 2 ** 31 - 1


def _loads(data: bytes) -> Any:
    return current_app.json.loads(data)


@blueprint.get("/<entity>")
def list_records(entity: str) -> dict[str, Any]:
    ctx = request_context()
    svc = services()
    args = request.args.to_dict(flat=False)
    args.pop("lang", None)
    with svc.db.begin() as conn:
        runtime = svc.runtime(conn)
        query = runtime.records.query(ctx, entity, args)
        page = runtime.records.list(conn, ctx, entity, query)
    return {"items": page.items, "total": page.total,
            "page": page.page, "page_size": page.page_size}


@blueprint.post("/<entity>")
def create_record(entity: str) -> Response:
    ctx = request_context()
    data = object_body(request, _loads)
    svc = services()
    with svc.db.begin(write=True) as conn:
        record = svc.runtime(conn).records.create(conn, ctx, entity, data)
    response = current_app.json.response(record)
    response.status_code = 201
    response.headers["Location"] = url_for(
        "records.get_record", entity=entity, record_id=record["id"])
    return response


@blueprint.get("/<entity>/<int:record_id>")
def get_record(entity: str, record_id: int) -> dict[str, Any]:
    ctx = request_context()
    svc = services()
    with svc.db.begin() as conn:
        return svc.runtime(conn).records.get(conn, ctx, entity, record_id)


@blueprint.patch("/<entity>/<int:record_id>")
def update_record(entity: str, record_id: int) -> dict[str, Any]:
    ctx = request_context()
    data = object_body(request, _loads)
    if "version" not in data:
        raise _version_required()
    version = data.pop("version")
    svc = services()
    with svc.db.begin(write=True) as conn:
        return svc.runtime(conn).records.update(conn, ctx, entity, record_id, data,
                                                version=version)


@blueprint.delete("/<entity>/<int:record_id>")
def delete_record(entity: str, record_id: int) -> Response:
    ctx = request_context()
    version = _query_version(request.args.getlist("version"))
    svc = services()
    with svc.db.begin(write=True) as conn:
        svc.runtime(conn).records.delete(conn, ctx, entity, record_id, version=version)
    return Response(status=204)


def _version_required() -> ValidationFailed:
    """A PATCH without ``version`` (its type is the record service's to check)."""
    message = Text("版本号 version 为必填项（请带上读取记录时得到的 version）",
                   "version is required (send the version you read the record with)")
    entry = {"code": "required", "message": message.as_dict(), "params": {}}
    return ValidationFailed(Text(f"更新被拒绝：{message.zh}", f"update refused: {message.en}"),
                            details={"fields": {"version": [entry]}})


def _query_version(values: list[str]) -> int | None:
    """``?version=n`` of a DELETE: absent, or one positive int; 400 otherwise."""
    if not values:
        return None
    if len(values) == 1 and values[0].isascii() and values[0].isdigit() \
            and 1 <= int(values[0]) <= _INT32_MAX:
        return int(values[0])
    shown = ",".join(values)[:50]
    raise InvalidQuery(Text(
        f"参数 version 应为一个正整数，收到 {shown!r}",
        f"the version parameter must be one positive whole number; got {shown!r}"),
        details={"parameter": "version", "value": shown})
