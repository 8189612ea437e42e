"""Lookups for the staff UI's reference, user and org-unit inputs (runtime layer, HTTP edge).

``GET /lookup/records/<entity>?q=&limit=`` — records of the entity the
caller may read (the record service's list, so its data scope and field
permissions apply), searched by the entity's ``search_fields`` (else its
title field); ``GET /lookup/users?q=`` — active users; ``GET
/lookup/units?q=`` — org units valid today; both by code or name. Every
answer is ``{"items": [{"value", "text"}]}`` for the browser's lookup
select; errors are the API's JSON errors (401 when nobody is signed in, 400
for a search text over :data:`MAX_QUERY` characters or a bad ``limit``).

The ``*_texts`` functions give the text of values a form already holds
(its current reference, user or unit), fetched in bulk.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any, Callable, Iterable, Mapping

from flask import Blueprint, Response, current_app, request
from sqlalchemy import Connection, and_, or_, select, true

from yunying.metadata.spec import EntitySpec
from yunying.platform.errors import InvalidQuery, YunyingError
from yunying.platform.i18n import Text
from yunying.platform.tables import org_unit, user
from yunying.runtime.api.errors import error_response, status_of
from yunying.runtime.registry import Registry
from yunying.runtime.ui.web import ctx, lang, runtime_of, services, signed_in

__all__ = ["blueprint", "json_endpoint", "MAX_QUERY", "MAX_LIMIT", "record_title",
           "record_texts", "user_texts", "unit_texts", "texts_for"]

blueprint = Blueprint("ui_lookups", __name__, template_folder="templates")

#: characters of a search text at most; a longer one is a 400.
MAX_QUERY = 100
#: items of one answer at most (``limit``), and the default.
MAX_LIMIT = 50
DEFAULT_LIMIT = 20

_SIGN_IN = Text("需要登录：请先登录再查找", "authentication required: sign in to search")


def json_endpoint(view: Callable[..., Any]) -> Callable[..., Response]:
    """A JSON endpoint of the staff UI: signed-in users only (401 JSON
    otherwise), Yunying errors answered as the API's JSON errors (never the
    HTML error page)."""
    @functools.wraps(view)
    def endpoint(*args: Any, **kwargs: Any) -> Response:
        if not signed_in():
            return error_response(401, "authentication_required", _SIGN_IN)
        try:
            return current_app.json.response(view(*args, **kwargs))
        except YunyingError as exc:
            return error_response(status_of(exc), exc.code, exc.message, exc.details)
    return endpoint


def _search_text() -> str:
    values = request.args.getlist("q")
    if len(values) > 1:
        raise _bad("q", Text("参数 q 只能出现一次", "the parameter q may be given once"), "")
    q = (values[0] if values else "").strip()
    if len(q) > MAX_QUERY:
        raise _bad("q", Text(f"查找文本过长（最多 {MAX_QUERY} 个字符）",
                             f"search text too long (at most {MAX_QUERY} characters)"), q[:20])
    if "\x00" in q:
        raise _bad("q", Text("查找文本含有 NUL 字符", "the search text contains a NUL character"),
                   "")
    return q


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT:
        return int(raw)
    raise _bad("limit", Text(f"参数 limit 应为 1 到 {MAX_LIMIT} 的整数",
                             f"limit must be a whole number from 1 to {MAX_LIMIT}"), raw[:20])


def _bad(parameter: str, message: Text, value: str) -> InvalidQuery:
    return InvalidQuery(message, details={"parameter": parameter, "value": value})


# -- records --------------------------------------------------------------------------

def record_title(spec: EntitySpec, row: Mapping[str, Any]) -> str:
    """How a record is named in a lookup: its key and title (``GZ-001 A4纸``),
    whichever it has, else ``#id``."""
    key = row.get(spec.key_field) if spec.key_field else None
    title = row.get(spec.title_field) if spec.title_field else None
    parts = [str(v) for v in dict.fromkeys((key, title)) if v not in (None, "")]
    return " ".join(parts) if parts else f"#{row.get('id')}"


def _record_args(spec: EntitySpec, q: str, limit: int) -> dict[str, list[str]]:
    args = {"page_size": [str(limit)]}
    if not q:
        return args
    if spec.search_fields:
        args["search"] = [q]
    else:
        named = spec.title_field or spec.key_field
        args["filter"] = [f"{named}:contains:{q}"] if named else ["id:eq:0"]
    return args


@blueprint.get("/lookup/records/<entity>")
@json_endpoint
def records(entity: str) -> dict[str, Any]:
    q, limit = _search_text(), _limit()
    with services().db.begin() as conn:
        service = runtime_of(conn).records
        spec = service.spec(entity)
        query = service.query(ctx(), entity, _record_args(spec, q, limit))
        page = service.list(conn, ctx(), entity, query)
    return {"items": [{"value": row["id"], "text": record_title(spec, row)}
                      for row in page.items]}


def record_texts(conn: Connection, registry: Registry, entity: str,
                 ids: Iterable[Any]) -> dict[Any, str]:
    """The titles of the records ``ids`` of ``entity`` (ids that are not ids,
    or name no record, are left out)."""
    spec, tables = registry.entity(entity), registry.tables(entity)
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)
              and 1 <= i <= 2 ** 31 - 1}
    if spec is None or tables is None or not wanted:
        return {}
    table = tables.table
    names = [n for n in dict.fromkeys((spec.key_field, spec.title_field)) if n]
    rows = conn.execute(select(table.c.id, *(table.c[n] for n in names))
                        .where(table.c.id.in_(sorted(wanted))))
    return {r.id: record_title(spec, r._mapping) for r in rows}


# -- users and org units --------------------------------------------------------------

def _name(row: Any, language: str) -> str:
    name = row.name_en if language == "en" else row.name_zh
    return f"{name} ({row.code})" if name and name != row.code else row.code


def _matching(table: Any, q: str):
    if not q:
        return true()
    return or_(table.c.code.icontains(q, autoescape=True),
               table.c.name_zh.icontains(q, autoescape=True),
               table.c.name_en.icontains(q, autoescape=True))


@blueprint.get("/lookup/users")
@json_endpoint
def users() -> dict[str, Any]:
    q, limit = _search_text(), _limit()
    stmt = (select(user.c.code, user.c.name_zh, user.c.name_en)
            .where(user.c.active.is_(True), _matching(user, q))
            .order_by(user.c.code).limit(limit))
    with services().db.connect() as conn:
        rows = conn.execute(stmt).all()
    return {"items": [{"value": r.code, "text": _name(r, lang())} for r in rows]}


def _valid(today: date):
    return and_(org_unit.c.valid_from <= today,
                or_(org_unit.c.valid_to.is_(None), org_unit.c.valid_to > today))


@blueprint.get("/lookup/units")
@json_endpoint
def units() -> dict[str, Any]:
    q, limit = _search_text(), _limit()
    today = ctx().now().date()
    stmt = (select(org_unit.c.code, org_unit.c.name_zh, org_unit.c.name_en)
            .where(_valid(today), _matching(org_unit, q))
            .order_by(org_unit.c.code).limit(limit))
    with services().db.connect() as conn:
        rows = conn.execute(stmt).all()
    return {"items": [{"value": r.code, "text": _name(r, lang())} for r in rows]}


def _coded(table: Any, codes: Iterable[Any]) -> list[str]:
    limit = table.c.code.type.length or 64
    return sorted({c for c in codes if isinstance(c, str) and 0 < len(c) <= limit
                   and "\x00" not in c})


def user_texts(conn: Connection, codes: Iterable[Any], language: str) -> dict[str, str]:
    """``name (code)`` of the users ``codes``, active or not."""
    return _texts(conn, user, codes, language)


def unit_texts(conn: Connection, codes: Iterable[Any], language: str) -> dict[str, str]:
    """``name (code)`` of the org units ``codes``, valid today or not."""
    return _texts(conn, org_unit, codes, language)


def _texts(conn: Connection, table: Any, codes: Iterable[Any], language: str) -> dict[str, str]:
    wanted = _coded(table, codes)
    if not wanted:
        return {}
    rows = conn.execute(select(table.c.code, table.c.name_zh, table.c.name_en)
                        .where(table.c.code.in_(wanted)))
    return {r.code: _name(r, language) for r in rows}


def texts_for(conn: Connection, registry: Registry, wanted: Mapping[tuple[str, str], set],
              language: str) -> dict[tuple[str, str], dict[Any, str]]:
    """The texts of ``wanted`` values by ``(kind, target)`` (see ``form_model.wanted_texts``)."""
    fetch: Mapping[str, Callable[[str, set], dict[Any, str]]] = {
        "reference": lambda target, values: record_texts(conn, registry, target, values),
        "user": lambda target, values: user_texts(conn, values, language),
        "org_unit": lambda target, values: unit_texts(conn, values, language),
    }
    return {(kind, target): fetch[kind](target, values)
            for (kind, target), values in wanted.items() if kind in fetch}
