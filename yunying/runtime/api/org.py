"""The organisation endpoints of the JSON API (runtime layer, HTTP edge).

``/api/v1/org``: units (list, card as of a date, create, rename), trees and
their as-of walks, locations, and the changes — re-parent, split, merge,
move, head, assign — each happening ``on`` a date and never changing a code.
Reading needs a signed-in user (the API's authentication); every write needs
the platform action ``manage_users``. Each request is one transaction over
:mod:`yunying.platform.org` / :mod:`~yunying.platform.org_admin`; bodies are
checked by :mod:`.org_schemas` (422 naming every bad path) and query
parameters here (400 naming the parameter), so hostile input never reaches
the database.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable

from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import Schema
from sqlalchemy import Connection

from yunying.metadata.org_data import UNIT_TYPES
from yunying.platform import org, org_admin
from yunying.platform.audit import record_event
from yunying.platform.errors import InvalidQuery, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.org import OrgNotFound, OrgUnit
from yunying.platform.org_changes import merge, reparent, split
from yunying.runtime.access.grants import require_platform
from yunying.runtime.api.context import request_context, services
from yunying.runtime.api.json import object_body
from yunying.runtime.api.org_paths import ORG_PATHS, ORG_SCHEMAS
from yunying.runtime.api.org_schemas import (
    USER_PATTERN, AssignmentInput, HeadInput, LocationInput, MergeInput, MoveInput,
    OrgTreeInput, OrgUnitInput, OrgUnitPatch, ReparentInput, SplitInput, load_body,
)
from yunying.runtime.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = ["blueprint", "ORG_PATHS", "ORG_SCHEMAS"]

blueprint = Blueprint("org", __name__, url_prefix="/api/v1/org")

_MANAGE = "manage_users"
_USER = re.compile(USER_PATTERN)
_KINDS = {"unit": Text("组织单元", "org unit"), "tree": Text("组织树", "org tree"),
          "user": Text("用户", "user")}


# -- reading the request -------------------------------------------------------------

def _body(schema: type[Schema]) -> dict[str, Any]:
    return load_body(schema, object_body(request, current_app.json.loads))


def _bad_query(name: str, value: str, why: Text) -> InvalidQuery:
    shown = value[:50]
    return InvalidQuery(Text(f"参数 {name} 有误（{shown!r}）：{why.zh}",
                             f"parameter {name} is invalid ({shown!r}): {why.en}"),
                        details={"parameter": name, "value": shown})


def _args(*allowed: str) -> dict[str, str]:
    """The query parameters (one value each); unknown ones are refused."""
    args = request.args.to_dict(flat=False)
    args.pop("lang", None)
    for name, values in sorted(args.items()):
        if name not in allowed:
            raise _bad_query(name, ",".join(values), Text(
                f"不是可用的参数；可用：{'、'.join(allowed) or '无'}",
                f"not a known parameter; known: {', '.join(allowed) or 'none'}"))
        if len(values) != 1:
            raise _bad_query(name, ",".join(values), Text("只能给出一次", "give it once"))
    return {name: values[0] for name, values in args.items()}


def _as_of(args: dict[str, str], name: str = "as_of") -> date:
    """An ISO date parameter; today (by the request's clock) when absent."""
    value = args.get(name)
    if value is None:
        return request_context().now().date()
    try:
        if len(value) == 10 and value.isascii():
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise _bad_query(name, value, Text("应为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD"))


def _number(args: dict[str, str], name: str, largest: int, default: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if value.isascii() and value.isdigit() and 1 <= int(value) <= largest:
        return int(value)
    raise _bad_query(name, value, Text(f"应为 1 到 {largest} 之间的整数",
                                       f"must be a whole number from 1 to {largest}"))


def _path_code(kind: str, code: str) -> str:
    """A code from the URL; one no unit could have is simply not found (404)."""
    pattern = org_admin.CODE_PATTERN if kind != "user" else _USER
    if pattern.fullmatch(code):
        return code
    shown = code[:50].encode("utf-8", "replace").decode("utf-8")
    what = _KINDS[kind]
    raise OrgNotFound(Text(f"{what.zh} {shown} 不存在", f"{what.en} {shown!r} does not exist"),
                      details={"code": shown})


def _write() -> Any:
    """The request's context, once it may change the org model."""
    ctx = request_context()
    require_platform(ctx, _MANAGE)
    return ctx


_AUDITED_BODY = 4000


def _in_write(work: Callable[[Connection], Any]) -> Any:
    """Run one org change and its audit event (``org.change``: which operation,
    on which path, with the request body) in one transaction."""
    with services().db.begin(write=True) as conn:
        result = work(conn)
        record_event(conn, request_context(), "org.change", detail={
            "operation": request.endpoint, "path": request.path,
            "body": request.get_data(as_text=True)[:_AUDITED_BODY]})
        return result


def _created(body: Any, location: str) -> Response:
    response = current_app.json.response(body)
    response.status_code = 201
    response.headers["Location"] = location
    return response


# -- units -----------------------------------------------------------------------------

@blueprint.get("/units")
def list_units() -> dict[str, Any]:
    args = _args("type", "as_of", "page", "page_size")
    kind = args.get("type")
    if kind is not None and kind not in UNIT_TYPES:
        raise _bad_query("type", kind, Text(f"应为以下之一：{'、'.join(UNIT_TYPES)}",
                                            f"must be one of {', '.join(UNIT_TYPES)}"))
    as_of = _as_of(args) if "as_of" in args else None
    page = _number(args, "page", 10 ** 6, 1)
    size = _number(args, "page_size", MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    with services().db.begin() as conn:
        found = org_admin.list_units(conn, unit_type=kind, as_of=as_of, page=page,
                                     page_size=size)
    return {"items": list(found.items), "total": found.total, "page": found.page,
            "page_size": found.page_size}


@blueprint.get("/units/<code>")
def get_unit(code: str) -> dict[str, Any]:
    as_of = _as_of(_args("as_of"))
    with services().db.begin() as conn:
        return org_admin.unit_card(conn, _path_code("unit", code), as_of).as_dict()


@blueprint.post("/units")
def create_unit() -> Response:
    _write()
    body = _body(OrgUnitInput)
    unit = OrgUnit(body["code"], body["name"]["zh"], body["name"]["en"], body["type"],
                   body["valid_from"], body.get("valid_to"))

    def work(conn: Connection) -> dict[str, Any]:
        org_admin.create_unit(conn, unit, location_code=body.get("location"),
                              parents=body.get("parents", {}))
        return org_admin.unit_card(conn, unit.code, unit.valid_from).as_dict()
    card = _in_write(work)
    return _created(card, url_for("org.get_unit", code=unit.code))


@blueprint.patch("/units/<code>")
def update_unit(code: str) -> dict[str, Any]:
    _write()
    body = _body(OrgUnitPatch)
    name = body.get("name", {})

    def work(conn: Connection) -> dict[str, Any]:
        org_admin.update_unit(conn, _path_code("unit", code), name_zh=name.get("zh"),
                              name_en=name.get("en"), unit_type=body.get("type"))
        return org_admin.get_unit(conn, code)
    return _in_write(work)


@blueprint.post("/units/<code>/split")
def split_unit(code: str) -> dict[str, Any]:
    _write()
    body = _body(SplitInput)
    into = [OrgUnit(u["code"], u["name"]["zh"], u["name"]["en"], u["type"])
            for u in body["into"]]
    for unit in into:
        org_admin.check_unit(unit)

    def work(conn: Connection) -> None:
        split(conn, _path_code("unit", code), into, body["on"], body.get("reassign", {}),
              body.get("children", {}))
    _in_write(work)
    return {"on": body["on"], "units": [u.code for u in into], "closed": [code]}


@blueprint.post("/merge")
def merge_units() -> dict[str, Any]:
    _write()
    body = _body(MergeInput)
    if ("into" in body) == ("into_new" in body):
        why = Text("须给出 into（已有单元）或 into_new（新单元）之一",
                   "give either into (an existing unit) or into_new (a new unit)")
        raise ValidationFailed(Text(f"请求内容有误：{why.zh}", f"invalid request: {why.en}"),
                               details={"fields": {"into": [{
                                   "code": "one_of", "message": why.as_dict(),
                                   "params": {}}]}})
    if "into" in body:
        target: str | OrgUnit = body["into"]
    else:
        new = body["into_new"]
        target = OrgUnit(new["code"], new["name"]["zh"], new["name"]["en"], new["type"])
        org_admin.check_unit(target)
    code = target if isinstance(target, str) else target.code

    def work(conn: Connection) -> None:
        merge(conn, body["units"], target, body["on"])
    _in_write(work)
    return {"on": body["on"], "units": [code],
            "closed": [u for u in dict.fromkeys(body["units"]) if u != code]}


@blueprint.post("/units/<code>/location")
def move_unit(code: str) -> dict[str, Any]:
    _write()
    body = _body(MoveInput)
    _in_write(lambda conn: org.move_location(conn, _path_code("unit", code),
                                             body["location"], body["on"]))
    return {"on": body["on"], "units": [code], "closed": []}


@blueprint.post("/units/<code>/head")
def head_unit(code: str) -> dict[str, Any]:
    _write()
    body = _body(HeadInput)
    _in_write(lambda conn: org_admin.head_unit(conn, _path_code("unit", code), body["user"],
                                               body["on"]))
    return {"on": body["on"], "units": [code], "closed": []}


@blueprint.post("/assignments")
def assign_user() -> Response:
    _write()
    body = _body(AssignmentInput)
    _in_write(lambda conn: org_admin.assign_user(conn, body["user"], body["unit"], body["on"],
                                                 primary=body["primary"]))
    return _created({"on": body["on"], "units": [body["unit"]], "closed": []},
                    url_for("org.get_unit", code=body["unit"]))


# -- trees -------------------------------------------------------------------------------

@blueprint.get("/trees")
def list_trees() -> dict[str, Any]:
    _args()
    with services().db.begin() as conn:
        return {"items": org_admin.list_trees(conn)}


@blueprint.post("/trees")
def create_tree() -> Response:
    _write()
    body = _body(OrgTreeInput)
    _in_write(lambda conn: org_admin.create_tree(
        conn, body["code"], body["name"]["zh"], body["name"]["en"], body["kind"],
        body["valid_from"], body.get("valid_to")))
    tree = {"code": body["code"], "name": body["name"], "kind": body["kind"],
            "valid_from": body["valid_from"], "valid_to": body.get("valid_to")}
    return _created(tree, url_for("org.list_trees"))


def _walk(tree: str, unit: str, walk: Callable[..., list[str]]) -> dict[str, Any]:
    as_of = _as_of(_args("as_of"))
    with services().db.begin() as conn:
        units = walk(conn, _path_code("tree", tree), _path_code("unit", unit), as_of)
    return {"tree": tree, "unit": unit, "as_of": as_of, "units": units}


@blueprint.get("/trees/<tree>/descendants/<unit>")
def descendants(tree: str, unit: str) -> dict[str, Any]:
    return _walk(tree, unit, org.descendants)


@blueprint.get("/trees/<tree>/ancestors/<unit>")
def ancestors(tree: str, unit: str) -> dict[str, Any]:
    return _walk(tree, unit, org.ancestors)


@blueprint.post("/trees/<tree>/reparent")
def reparent_unit(tree: str) -> dict[str, Any]:
    _write()
    body = _body(ReparentInput)
    _in_write(lambda conn: reparent(conn, _path_code("tree", tree), body["unit"],
                                    body["parent"], body["on"]))
    return {"on": body["on"], "units": [body["unit"]], "closed": []}


# -- locations and people ---------------------------------------------------------------

@blueprint.get("/locations")
def list_locations() -> dict[str, Any]:
    _args()
    with services().db.begin() as conn:
        return {"items": org_admin.list_locations(conn)}


@blueprint.post("/locations")
def create_location() -> Response:
    _write()
    body = _body(LocationInput)
    _in_write(lambda conn: org_admin.create_location(
        conn, body["code"], body["name"]["zh"], body["name"]["en"], body["kind"],
        body.get("parent")))
    place = {"code": body["code"], "name": body["name"], "kind": body["kind"],
             "parent": body.get("parent")}
    return _created(place, url_for("org.list_locations"))


@blueprint.get("/users/<user>/heads-above")
def heads_above(user: str) -> dict[str, Any]:
    args = _args("tree", "as_of")
    if "tree" not in args:
        raise InvalidQuery(Text("参数 tree 为必填项（组织树编码）",
                                "the tree parameter is required (an org tree code)"),
                           details={"parameter": "tree"})
    as_of = _as_of(args)
    with services().db.begin() as conn:
        heads = org.heads_above(conn, _path_code("user", user),
                                _path_code("tree", args["tree"]), as_of)
    return {"user": user, "tree": args["tree"], "as_of": as_of,
            "heads": [{"unit": h.unit, "user": h.user} for h in heads]}
