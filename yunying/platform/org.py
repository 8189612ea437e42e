"""The organisation model (platform layer): org units, locations, relation
trees, heads and staff assignments, all effective-dated.

Units carry no parent and no location. Where a unit is, who heads it, who
works in it and which unit it belongs to in a named tree are rows with
``valid_from`` (inclusive) and ``valid_to`` (exclusive, ``None`` = open), so
every question takes an ``as_of`` date and every change takes the date ``on``
it happens. Codes never change: re-parenting, splitting and merging close old
rows at ``on`` and open new ones.

Every function works on the caller's connection; run writes inside one
transaction (``db.begin(write=True)``) so a refused operation leaves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from sqlalchemy import (
    CTE, Connection, Select, Table, and_, delete, false, insert, literal_column, or_, select,
    update,
)

from yunying.platform.errors import Conflict, NotFound, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import (
    location, org_assignment, org_edge, org_head, org_location, org_tree, org_unit,
)

__all__ = [
    "OrgUnit", "Head", "OrgNotFound", "OrgCycle", "OrgOverlap",
    "TREE_KINDS", "LOCATION_KINDS",
    "add_unit", "add_location", "add_tree", "add_edge", "move_location",
    "set_head", "assign", "refuse_cycle",
    "descendants", "ancestors", "children", "parent", "descendants_query", "location_of", "location_path",
    "primary_unit", "heads_above",
]

TREE_KINDS = ("administrative", "discipline", "cost", "temporary")
LOCATION_KINDS = ("campus", "building", "floor", "area")
_MAX_DEPTH = 64  # guards the recursive walks against corrupt (cyclic) data


class OrgNotFound(NotFound):
    """An org unit, tree, location or assignment that does not exist (on that date)."""

    code = "org_not_found"


class OrgCycle(Conflict):
    """A change would make a unit its own ancestor in a tree."""

    code = "org_cycle"


class OrgOverlap(Conflict):
    """A new effective-dated row overlaps an existing one it may not overlap."""

    code = "org_overlap"


@dataclass(frozen=True)
class OrgUnit:
    """An org unit as stored. ``valid_from`` may stay ``None`` for units
    created by :func:`split` / :func:`merge`, which start on ``on``."""

    code: str
    name_zh: str
    name_en: str
    unit_type: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Head:
    """One link of a chain of heads: ``user`` heads ``unit``."""

    unit: str
    user: str


# --- effective-dating helpers ----------------------------------------------

def _active(table: Table, as_of: date):
    return and_(table.c.valid_from <= as_of,
                or_(table.c.valid_to.is_(None), table.c.valid_to > as_of))


def _overlapping(table: Table, start: date, end: date | None):
    starts_before_end = table.c.valid_from < end if end is not None else True
    return and_(starts_before_end,
                or_(table.c.valid_to.is_(None), table.c.valid_to > start))


def _check_period(start: date, end: date | None, what: str) -> None:
    if end is not None and end <= start:
        raise ValidationFailed(Text(
            f"{what} 的失效日期 {end} 必须晚于生效日期 {start}",
            f"{what}: valid_to {end} must be after valid_from {start}"),
            details={"valid_from": str(start), "valid_to": str(end)})


def _open(conn: Connection, table: Table, values: dict, start: date,
          end: date | None, same, what: str) -> None:
    """Insert a row valid over [start, end), refusing overlap with ``same`` rows."""
    _check_period(start, end, what)
    clash = conn.execute(select(table.c.valid_from, table.c.valid_to)
                         .where(same, _overlapping(table, start, end))).first()
    if clash is not None:
        raise OrgOverlap(Text(
            f"{what} 与已有记录（{clash.valid_from} 至 {clash.valid_to or '长期'}）日期重叠",
            f"{what} overlaps an existing row ({clash.valid_from} to "
            f"{clash.valid_to or 'open'})"),
            details={"valid_from": str(start), "valid_to": str(end) if end else None})
    conn.execute(insert(table).values(valid_from=start, valid_to=end, **values))


def _close(conn: Connection, table: Table, where, on: date) -> list:
    """End the rows matching ``where`` that are active on ``on``; returns them.
    A row starting on ``on`` itself would be empty and is deleted."""
    rows = conn.execute(select(table).where(where, _active(table, on))).all()
    ids = [r.id for r in rows]
    if ids:
        conn.execute(delete(table).where(table.c.id.in_(ids), table.c.valid_from == on))
        conn.execute(update(table).where(table.c.id.in_(ids), table.c.valid_from < on)
                     .values(valid_to=on))
    return rows


def _require(conn: Connection, table: Table, code: str, what: Text,
             as_of: date | None = None) -> None:
    query = select(table.c.code).where(table.c.code == code)
    if as_of is not None:
        query = query.where(_active(table, as_of))
    if conn.execute(query).first() is None:
        when = f"（{as_of}）" if as_of else ""
        raise OrgNotFound(Text(
            f"{what.zh} {code} 不存在{when}",
            f"{what.en} {code!r} does not exist" + (f" on {as_of}" if as_of else "")),
            details={"code": code, "as_of": str(as_of) if as_of else None})


_UNIT = Text("组织单元", "org unit")
_TREE = Text("组织树", "org tree")
_LOCATION = Text("位置", "location")


def _choice(value: str, allowed: tuple, what: str) -> None:
    if value not in allowed:
        raise ValidationFailed(Text(
            f"{what} 的类别 {value} 无效，可选：{'、'.join(allowed)}",
            f"{what}: kind {value!r} is not one of {', '.join(allowed)}"),
            details={"kind": value, "allowed": list(allowed)})


# --- building the model ------------------------------------------------------

def add_unit(conn: Connection, unit: OrgUnit) -> None:
    """Create an org unit; its code must be new and ``valid_from`` given."""
    if unit.valid_from is None:
        raise ValidationFailed(Text(f"组织单元 {unit.code} 缺少生效日期",
                                    f"org unit {unit.code!r} needs valid_from"),
                               details={"code": unit.code})
    _check_period(unit.valid_from, unit.valid_to, f"org unit {unit.code}")
    if conn.execute(select(org_unit.c.code).where(org_unit.c.code == unit.code)).first():
        raise Conflict(Text(f"组织单元编码 {unit.code} 已存在",
                            f"org unit code {unit.code!r} already exists"),
                       details={"code": unit.code})
    conn.execute(insert(org_unit).values(**vars(unit)))


def add_location(conn: Connection, code: str, name_zh: str, name_en: str,
                 kind: str, parent: str | None = None) -> None:
    """Create a location (campus → building → floor → area) under ``parent``."""
    _choice(kind, LOCATION_KINDS, f"location {code}")
    if parent is not None:
        _require(conn, location, parent, _LOCATION)
    conn.execute(insert(location).values(code=code, name_zh=name_zh, name_en=name_en,
                                         kind=kind, parent_code=parent))


def add_tree(conn: Connection, code: str, name_zh: str, name_en: str, kind: str,
             valid_from: date, valid_to: date | None = None) -> None:
    """Create a named relation tree (administrative, discipline, cost, temporary)."""
    _choice(kind, TREE_KINDS, f"org tree {code}")
    _check_period(valid_from, valid_to, f"org tree {code}")
    conn.execute(insert(org_tree).values(code=code, name_zh=name_zh, name_en=name_en,
                                         kind=kind, valid_from=valid_from,
                                         valid_to=valid_to))


def add_edge(conn: Connection, tree: str, parent: str, child: str,
             valid_from: date, valid_to: date | None = None) -> None:
    """Put ``child`` under ``parent`` in ``tree`` over [valid_from, valid_to)."""
    _require(conn, org_tree, tree, _TREE, valid_from)
    _require(conn, org_unit, parent, _UNIT, valid_from)
    _require(conn, org_unit, child, _UNIT, valid_from)
    refuse_cycle(conn, tree, child, parent, valid_from)
    _open(conn, org_edge, {"tree_code": tree, "parent_code": parent, "child_code": child},
          valid_from, valid_to,
          and_(org_edge.c.tree_code == tree, org_edge.c.child_code == child),
          f"{tree}: {child} → {parent}")


def move_location(conn: Connection, unit: str, where: str, on: date) -> None:
    """The unit is at location ``where`` from ``on``: one link closed, one opened."""
    _require(conn, org_unit, unit, _UNIT, on)
    _require(conn, location, where, _LOCATION)
    _close(conn, org_location, org_location.c.unit_code == unit, on)
    _open(conn, org_location, {"unit_code": unit, "location_code": where}, on, None,
          org_location.c.unit_code == unit, f"location of {unit}")


def set_head(conn: Connection, unit: str, user: str, on: date,
             until: date | None = None) -> None:
    """``user`` heads ``unit`` from ``on``; the previous head's term ends then."""
    _require(conn, org_unit, unit, _UNIT, on)
    _close(conn, org_head, org_head.c.unit_code == unit, on)
    _open(conn, org_head, {"unit_code": unit, "user_code": user}, on, until,
          org_head.c.unit_code == unit, f"head of {unit}")


def assign(conn: Connection, user: str, unit: str, on: date, *,
           primary: bool = False, until: date | None = None) -> None:
    """Assign ``user`` to ``unit`` over [on, until); one primary unit at a time."""
    _require(conn, org_unit, unit, _UNIT, on)
    a = org_assignment
    _open(conn, a, {"user_code": user, "unit_code": unit, "is_primary": primary}, on, until,
          and_(a.c.user_code == user,
               or_(a.c.unit_code == unit, and_(a.c.is_primary.is_(True), primary))),
          f"assignment of {user} to {unit}")


def refuse_cycle(conn: Connection, tree: str, unit: str, parent: str, on: date) -> None:
    """Raise OrgCycle when ``parent`` is ``unit`` or below it in ``tree`` on ``on``."""
    if parent == unit or parent in descendants(conn, tree, unit, on):
        raise OrgCycle(Text(
            f"组织树 {tree} 中 {parent} 是 {unit} 自身或其下级，不能作为其上级（{on}）",
            f"in tree {tree!r}, {parent!r} is {unit!r} or below it on {on}: "
            f"it cannot become its parent"),
            details={"tree": tree, "unit": unit, "parent": parent, "on": str(on)})


# --- questions ---------------------------------------------------------------

def _walk_cte(tree: str, start: Select, as_of: date, down: bool, name: str) -> CTE:
    """The recursive walk from the ``(code, depth)`` rows of ``start`` along the
    edges of ``tree`` active on ``as_of`` (down: parent → child)."""
    src, dst = ("parent_code", "child_code") if down else ("child_code", "parent_code")
    walk = start.cte(name, recursive=True, nesting=True)
    step = org_edge.alias(f"{name}_step")
    return walk.union_all(
        select(step.c[dst], walk.c.depth + 1)
        .where(step.c.tree_code == tree, _active(step, as_of), step.c[src] == walk.c.code,
               walk.c.depth < _MAX_DEPTH))


def _walk(conn: Connection, tree: str, unit: str, as_of: date, down: bool) -> list[str]:
    """Units reachable from ``unit`` in ``tree`` on ``as_of``, nearest first."""
    src, dst = ("parent_code", "child_code") if down else ("child_code", "parent_code")
    _require(conn, org_tree, tree, _TREE)
    _require(conn, org_unit, unit, _UNIT)
    e = org_edge
    start = (select(e.c[dst].label("code"), literal_column("1").label("depth"))
             .where(e.c.tree_code == tree, _active(e, as_of), e.c[src] == unit))
    walk = _walk_cte(tree, start, as_of, down, "org_walk")
    rows = conn.execute(select(walk.c.code).order_by(walk.c.depth, walk.c.code))
    return list(dict.fromkeys(code for (code,) in rows))


def descendants_query(tree: str, units: Iterable[str], as_of: date, *,
                      name: str = "org_descendants") -> Select:
    """``SELECT code`` of ``units`` themselves and every unit below them in
    ``tree`` on ``as_of``: a recursive CTE nested in the statement, for use as
    ``column.in_(descendants_query(...))`` inside a larger query (data scopes).

    Codes that are not org units reach nothing. ``name`` names the CTE; give
    each use in one statement its own. Nothing is checked or executed here.
    """
    codes = sorted(set(units))
    start = (select(org_unit.c.code.label("code"), literal_column("0").label("depth"))
             .where(org_unit.c.code.in_(codes) if codes else false()))
    walk = _walk_cte(tree, start, as_of, True, name)
    return select(walk.c.code)


def descendants(conn: Connection, tree: str, unit: str, as_of: date) -> list[str]:
    """Codes of every unit below ``unit`` in ``tree`` on ``as_of`` (by depth, code)."""
    return _walk(conn, tree, unit, as_of, down=True)


def ancestors(conn: Connection, tree: str, unit: str, as_of: date) -> list[str]:
    """Codes of the units above ``unit`` in ``tree`` on ``as_of``, parent first."""
    return _walk(conn, tree, unit, as_of, down=False)


def children(conn: Connection, tree: str, unit: str, as_of: date) -> list[str]:
    """Codes of the units directly below ``unit`` in ``tree`` on ``as_of``, by code."""
    e = org_edge
    rows = conn.execute(select(e.c.child_code)
                        .where(e.c.tree_code == tree, e.c.parent_code == unit, _active(e, as_of))
                        .order_by(e.c.child_code))
    return [code for (code,) in rows]


def parent(conn: Connection, tree: str, unit: str, as_of: date) -> str | None:
    """The unit directly above ``unit`` in ``tree`` on ``as_of`` (None: a root)."""
    e = org_edge
    return conn.execute(select(e.c.parent_code)
                        .where(e.c.tree_code == tree, e.c.child_code == unit, _active(e, as_of))
                        .order_by(e.c.parent_code).limit(1)).scalar()


def location_of(conn: Connection, unit: str, as_of: date) -> str | None:
    """The location code of ``unit`` on ``as_of`` (``None`` when it has none)."""
    _require(conn, org_unit, unit, _UNIT)
    return conn.execute(select(org_location.c.location_code)
                        .where(org_location.c.unit_code == unit,
                               _active(org_location, as_of))).scalar()


def location_path(conn: Connection, code: str) -> list[str]:
    """The location and its parents, campus last (e.g. area, floor, building, campus)."""
    path: list[str] = []
    current: str | None = code
    while current is not None and len(path) < _MAX_DEPTH:
        row = conn.execute(select(location.c.parent_code)
                           .where(location.c.code == current)).first()
        if row is None:
            _require(conn, location, current, _LOCATION)
        path.append(current)
        current = row.parent_code
    return path


def primary_unit(conn: Connection, user: str, as_of: date) -> str | None:
    """The unit ``user`` is primarily assigned to on ``as_of``."""
    a = org_assignment
    return conn.execute(select(a.c.unit_code).where(
        a.c.user_code == user, a.c.is_primary.is_(True), _active(a, as_of))).scalar()


def heads_above(conn: Connection, user: str, tree: str, as_of: date) -> list[Head]:
    """The chain of heads from the user's primary unit upward in ``tree``,
    nearest first, skipping units without a head and the user himself — the
    approvers of an N-level approval. Raises OrgNotFound without a primary unit."""
    unit = primary_unit(conn, user, as_of)
    if unit is None:
        raise OrgNotFound(Text(f"用户 {user} 在 {as_of} 没有主岗组织单元",
                               f"user {user!r} has no primary org unit on {as_of}"),
                          details={"user": user, "as_of": str(as_of)})
    chain = [unit, *ancestors(conn, tree, unit, as_of)]
    rows = conn.execute(select(org_head.c.unit_code, org_head.c.user_code)
                        .where(org_head.c.unit_code.in_(chain), _active(org_head, as_of))
                        .order_by(org_head.c.user_code)).all()
    heads = {r.unit_code: r.user_code for r in rows}
    return [Head(u, heads[u]) for u in chain if u in heads and heads[u] != user]
