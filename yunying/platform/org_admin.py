"""Administering the organisation model (platform layer): checked inputs,
listings and a unit's card, for the HTTP API, the CLI and package org data.

:mod:`yunying.platform.org` holds the model and its questions; this module
adds what an outside caller needs on top: codes, names and types checked
before anything is written (a located ``ValidationFailed`` naming the field,
never a database error), users that must exist before they head a unit or
are assigned to one, renaming a unit, creating a unit together with its
location and parents, and the read side — paged unit lists, trees,
locations and one unit's card as of a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

from sqlalchemy import Connection, func, select, update

from yunying.platform.errors import Conflict, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.identity import get_user
from yunying.platform.org import (
    OrgUnit, _active, _require, _UNIT, add_edge, add_location, add_tree, add_unit, assign,
    descendants, location_of, location_path, move_location, set_head,
)
from yunying.platform.tables import (
    location, org_assignment, org_edge, org_head, org_tree, org_unit,
)

__all__ = [
    "CODE_PATTERN", "TYPE_PATTERN", "MAX_NAME", "UnitCard", "UnitPage",
    "check_code", "check_name", "check_type", "check_unit",
    "create_unit", "update_unit", "create_tree", "create_location", "head_unit",
    "assign_user", "get_unit", "list_units", "unit_card", "subtree", "list_trees", "list_locations",
    "unit_dict",
]

#: org unit, tree and location codes: a letter or digit, then letters, digits, _ . -
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: unit types (hospital, campus, department, ward, team …): lower-case words.
TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_NAME = 200


def _invalid(name: str, why: Text, value: Any) -> ValidationFailed:
    shown = value if isinstance(value, str) else repr(value)
    shown = shown[:50].encode("utf-8", "replace").decode("utf-8")
    entry = {"code": "invalid", "message": why.as_dict(), "params": {"value": shown}}
    return ValidationFailed(Text(f"{name} 无效（{shown!r}）：{why.zh}",
                                 f"{name} is invalid ({shown!r}): {why.en}"),
                            details={"fields": {name: [entry]}})


def check_code(name: str, value: Any) -> str:
    """``value`` as an org code (unit, tree, location); ValidationFailed otherwise."""
    if not isinstance(value, str) or not CODE_PATTERN.fullmatch(value):
        raise _invalid(name, Text("编码须为 1–64 个字母、数字或 _ . -，以字母或数字开头",
                                  "a code is 1–64 letters, digits or _ . -, "
                                  "starting with a letter or digit"), value)
    return value


def check_name(name: str, value: Any) -> str:
    """``value`` as a display name: 1–200 characters of text."""
    ok = isinstance(value, str) and value.strip() and len(value) <= MAX_NAME \
        and "\x00" not in value
    if ok:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            ok = False
    if not ok:
        raise _invalid(name, Text(f"名称须为 1–{MAX_NAME} 个字符的文本",
                                  f"a name is text of 1–{MAX_NAME} characters"), value)
    return value


def check_type(name: str, value: Any) -> str:
    """``value`` as a unit type (hospital, department, ward …)."""
    if not isinstance(value, str) or not TYPE_PATTERN.fullmatch(value):
        raise _invalid(name, Text("类型须为 1–32 个小写字母、数字或 _，以字母开头",
                                  "a type is 1–32 lower-case letters, digits or _, "
                                  "starting with a letter"), value)
    return value


def check_unit(unit: OrgUnit) -> None:
    """Check every field of a new unit (dates are checked by ``add_unit``)."""
    check_code("code", unit.code)
    check_name("name_zh", unit.name_zh)
    check_name("name_en", unit.name_en)
    check_type("type", unit.unit_type)


# --- writes --------------------------------------------------------------------

def create_unit(conn: Connection, unit: OrgUnit, *, location_code: str | None = None,
                parents: Mapping[str, str] | None = None) -> None:
    """Create ``unit``, at ``location_code`` and under ``parents`` (tree → parent
    unit) from its ``valid_from``; the edges end with the unit."""
    check_unit(unit)
    add_unit(conn, unit)
    start = unit.valid_from
    assert start is not None  # add_unit refuses a unit without valid_from
    if location_code is not None:
        move_location(conn, unit.code, check_code("location", location_code), start)
    for tree, parent in sorted((parents or {}).items()):
        add_edge(conn, check_code("tree", tree), check_code("parent", parent), unit.code,
                 start, unit.valid_to)


def update_unit(conn: Connection, code: str, *, name_zh: str | None = None,
                name_en: str | None = None, unit_type: str | None = None) -> bool:
    """Rename ``code`` or change its type (never its code or dates); returns
    whether anything changed."""
    _require(conn, org_unit, code, _UNIT)
    wanted: dict[str, str] = {}
    if name_zh is not None:
        wanted["name_zh"] = check_name("name_zh", name_zh)
    if name_en is not None:
        wanted["name_en"] = check_name("name_en", name_en)
    if unit_type is not None:
        wanted["unit_type"] = check_type("type", unit_type)
    row = conn.execute(select(org_unit).where(org_unit.c.code == code)).one()
    changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    if changed:
        conn.execute(update(org_unit).where(org_unit.c.code == code).values(**changed))
    return bool(changed)


def create_tree(conn: Connection, code: str, name_zh: str, name_en: str, kind: str,
                valid_from: date, valid_to: date | None = None) -> None:
    """A new relation tree, its code and names checked first."""
    _new_code(conn, org_tree, check_code("code", code), Text("组织树", "org tree"))
    add_tree(conn, code, check_name("name_zh", name_zh), check_name("name_en", name_en),
             kind, valid_from, valid_to)


def create_location(conn: Connection, code: str, name_zh: str, name_en: str, kind: str,
                    parent: str | None = None) -> None:
    """A new location under ``parent``, its code and names checked first."""
    _new_code(conn, location, check_code("code", code), Text("位置", "location"))
    if parent is not None:
        check_code("parent", parent)
    add_location(conn, code, check_name("name_zh", name_zh), check_name("name_en", name_en),
                 kind, parent)


def _new_code(conn: Connection, table: Any, code: str, what: Text) -> None:
    if conn.execute(select(table.c.code).where(table.c.code == code)).first():
        raise Conflict(Text(f"{what.zh}编码 {code} 已存在",
                            f"{what.en} code {code!r} already exists"),
                       details={"code": code})


def head_unit(conn: Connection, unit: str, user: str, on: date) -> None:
    """``user`` (an existing user) heads ``unit`` from ``on``."""
    get_user(conn, user)
    set_head(conn, unit, user, on)


def assign_user(conn: Connection, user: str, unit: str, on: date, *,
                primary: bool = True) -> None:
    """Assign an existing ``user`` to ``unit`` from ``on``."""
    get_user(conn, user)
    assign(conn, user, unit, on, primary=primary)


# --- reads ---------------------------------------------------------------------

@dataclass(frozen=True)
class UnitPage:
    items: tuple[dict[str, Any], ...]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class UnitCard:
    """One unit as of a date: where it is, its parents and children per tree,
    its heads and its members."""

    unit: dict[str, Any]
    as_of: date
    location: str | None
    location_path: tuple[str, ...]
    parents: Mapping[str, str] = field(default_factory=dict)
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    heads: tuple[dict[str, Any], ...] = ()
    members: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**self.unit, "as_of": self.as_of, "location": self.location,
                "location_path": list(self.location_path), "parents": dict(self.parents),
                "children": {k: list(v) for k, v in self.children.items()},
                "heads": list(self.heads), "members": list(self.members)}


def unit_dict(row: Any) -> dict[str, Any]:
    """A stored unit as the API and CLI show it."""
    return {"code": row.code, "name": {"zh": row.name_zh, "en": row.name_en},
            "type": row.unit_type, "valid_from": row.valid_from, "valid_to": row.valid_to}


def get_unit(conn: Connection, code: str) -> dict[str, Any]:
    """The stored unit ``code``; OrgNotFound when there is none."""
    _require(conn, org_unit, code, _UNIT)
    return unit_dict(conn.execute(select(org_unit).where(org_unit.c.code == code)).one())


def list_units(conn: Connection, *, unit_type: str | None = None,
               as_of: date | None = None, page: int = 1, page_size: int = 50) -> UnitPage:
    """Units by code, of ``unit_type`` and active on ``as_of`` when given."""
    query = select(org_unit)
    if unit_type is not None:
        query = query.where(org_unit.c.unit_type == unit_type)
    if as_of is not None:
        query = query.where(_active(org_unit, as_of))
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(org_unit.c.code)
                        .limit(page_size).offset((page - 1) * page_size))
    return UnitPage(tuple(unit_dict(r) for r in rows), total, page, page_size)


def unit_card(conn: Connection, code: str, as_of: date) -> UnitCard:
    """The card of unit ``code`` as of ``as_of``; OrgNotFound for an unknown code."""
    _require(conn, org_unit, code, _UNIT)
    row = conn.execute(select(org_unit).where(org_unit.c.code == code)).one()
    e = org_edge
    edges = conn.execute(select(e.c.tree_code, e.c.parent_code, e.c.child_code).where(
        (e.c.child_code == code) | (e.c.parent_code == code), _active(e, as_of))
        .order_by(e.c.tree_code, e.c.child_code)).all()
    parents = {r.tree_code: r.parent_code for r in edges if r.child_code == code}
    children: dict[str, tuple[str, ...]] = {}
    for r in edges:
        if r.parent_code == code:
            children[r.tree_code] = children.get(r.tree_code, ()) + (r.child_code,)
    where = location_of(conn, code, as_of)
    return UnitCard(unit_dict(row), as_of, where,
                    tuple(location_path(conn, where)) if where else (), parents, children,
                    _periods(conn, org_head, code, as_of), _members(conn, code, as_of))


def _periods(conn: Connection, table: Any, unit: str, as_of: date) -> tuple[dict, ...]:
    rows = conn.execute(select(table).where(table.c.unit_code == unit, _active(table, as_of))
                        .order_by(table.c.user_code))
    return tuple({"user": r.user_code, "valid_from": r.valid_from, "valid_to": r.valid_to}
                 for r in rows)


def _members(conn: Connection, unit: str, as_of: date) -> tuple[dict, ...]:
    a = org_assignment
    rows = conn.execute(select(a).where(a.c.unit_code == unit, _active(a, as_of))
                        .order_by(a.c.is_primary.desc(), a.c.user_code))
    return tuple({"user": r.user_code, "primary": bool(r.is_primary),
                  "valid_from": r.valid_from, "valid_to": r.valid_to} for r in rows)


def subtree(conn: Connection, tree: str, unit: str, as_of: date) -> list[tuple[int, dict]]:
    """``unit`` and everything below it in ``tree`` on ``as_of``, depth first
    (children by code), as ``(depth, unit)`` pairs — for printing the tree."""
    below = descendants(conn, tree, unit, as_of)
    codes = [unit, *below]
    e = org_edge
    children: dict[str, list[str]] = {}
    for parent, child in conn.execute(
            select(e.c.parent_code, e.c.child_code)
            .where(e.c.tree_code == tree, e.c.child_code.in_(below), _active(e, as_of))
            .order_by(e.c.child_code)):
        children.setdefault(parent, []).append(child)
    units = {r.code: unit_dict(r) for r in conn.execute(
        select(org_unit).where(org_unit.c.code.in_(codes)))}
    result: list[tuple[int, dict]] = []
    stack = [(0, unit)]
    while stack:
        depth, code = stack.pop()
        result.append((depth, units[code]))
        stack.extend((depth + 1, c) for c in reversed(children.get(code, [])))
    return result


def list_trees(conn: Connection) -> list[dict[str, Any]]:
    """Every relation tree by code."""
    return [{"code": r.code, "name": {"zh": r.name_zh, "en": r.name_en}, "kind": r.kind,
             "valid_from": r.valid_from, "valid_to": r.valid_to}
            for r in conn.execute(select(org_tree).order_by(org_tree.c.code))]


def list_locations(conn: Connection) -> list[dict[str, Any]]:
    """Every location by code, with its parent."""
    return [{"code": r.code, "name": {"zh": r.name_zh, "en": r.name_en}, "kind": r.kind,
             "parent": r.parent_code}
            for r in conn.execute(select(location).order_by(location.c.code))]

