"""Where an indicator's rows come from: entity rows under an org unit (runtime layer).

For one computation the engine needs, per aggregated entity, an
:class:`~yunying.runtime.formula.aggregate_sql.AggregateSource`: the entity's
table, the rows whose ``date_dimension`` lies in a date range and whose
``org_dimension`` is the unit or one of its descendants in a relation tree,
and the expression the rows are grouped by for a drill-down (``member``):

- ``units`` — the direct child of the unit each row's unit rolls up to (the
  unit's own rows keep the unit's code) — a :class:`Rollup` read from the
  tree's edges as of one date;
- ``persons`` — the entity's ``person_dimension`` (the doctor);
- ``dim:<field>`` — a declared dimension field.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Mapping, Sequence

from sqlalchemy import (
    Connection, DateTime, String, Table, and_, bindparam, case, literal, or_, select, union_all,
)
from sqlalchemy.sql.expression import FromClause

from yunying.metadata.spec import EntitySpec
from yunying.platform.errors import ConfigurationError, InvalidQuery
from yunying.platform.i18n import Text
from yunying.platform.org import OrgNotFound
from yunying.platform.tables import org_edge, org_tree, org_unit
from yunying.runtime.formula.aggregate_sql import AggregateSource
from yunying.runtime.formula.sql_dialect import E
from yunying.runtime.registry import Registry

__all__ = ["MEMBER", "PERSON", "Rollup", "TreeEdges", "rollup", "tree_edges", "require_tree",
           "require_unit", "entity_source", "closure_source", "closure_relation", "member_keys",
           "window", "TREE", "AS_OF", "UNITS"]

#: the name of the drill-down dimension in the compiled queries.
MEMBER = "member"
#: the person dimension of the snapshot's (unit, person) query.
PERSON = "person"
ANCESTOR = "ancestor"
#: bound parameters of the queries (see :func:`window`): date range, datetime range, units.
FROM, TO, FROM_TS, UNTIL_TS, UNITS = "yy_from", "yy_to", "yy_from_ts", "yy_until_ts", "yy_units"
#: bound parameters of :func:`closure_relation`: the tree and the day its edges are read.
TREE, AS_OF = "yy_tree", "yy_as_of"


@dataclass(frozen=True)
class Rollup:
    """A unit and everything below it in ``tree`` on ``as_of``: ``members`` maps
    each such unit's code to the direct child of ``unit`` it rolls up to (the
    unit itself to itself); ``children`` are the direct children, by code."""

    tree: str
    unit: str
    as_of: date
    members: Mapping[str, str]
    children: tuple[str, ...]

    @property
    def units(self) -> tuple[str, ...]:
        """The unit and every unit below it."""
        return tuple(self.members)

    @property
    def shape(self) -> tuple:
        """What a units drill-down's SQL depends on (a cache key): members and children."""
        return (self.unit, tuple(self.members.items()), self.children)


@dataclass(frozen=True)
class TreeEdges:
    """The edges of one tree in force on ``as_of``: ``below`` maps a parent to its
    children (by code). One read answers every unit's rollup and the closure."""

    tree: str
    as_of: date
    below: Mapping[str, tuple[str, ...]]

    def rollup(self, unit: str) -> Rollup:
        """``unit``, every unit below it and the direct child each rolls up to."""
        children = self.below.get(unit, ())
        members: dict[str, str] = {unit: unit}
        queue = deque((child, child) for child in children)
        while queue:
            code, top = queue.popleft()
            if code in members:        # corrupt (cyclic) data: visit each unit once
                continue
            members[code] = top
            queue.extend((grandchild, top) for grandchild in self.below.get(code, ()))
        return Rollup(self.tree, unit, self.as_of, MappingProxyType(members), children)

    def closure(self, ancestors: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """``(ancestor, descendant)`` for each of ``ancestors`` and every unit below it
        (itself included)."""
        return tuple((unit, code) for unit in ancestors for code in self.rollup(unit).members)


# the org questions, built once (constant statements: SQLAlchemy caches their SQL)
_AS_OF = bindparam("as_of", type_=org_edge.c.valid_from.type)
_EDGES = (select(org_edge.c.parent_code, org_edge.c.child_code)
          .where(org_edge.c.tree_code == bindparam("tree", type_=String()),
                 org_edge.c.valid_from <= _AS_OF,
                 or_(org_edge.c.valid_to.is_(None), org_edge.c.valid_to > _AS_OF))
          .order_by(org_edge.c.child_code))
_TREE = select(org_tree.c.code).where(org_tree.c.code == bindparam("tree", type_=String()))
_UNIT = select(org_unit.c.code).where(org_unit.c.code == bindparam("unit", type_=String()))


def require_tree(conn: Connection, tree: str) -> None:
    """InvalidQuery (``field`` tree) unless ``tree`` exists."""
    if conn.execute(_TREE, {"tree": tree}).first() is None:
        known = conn.execute(select(org_tree.c.code).order_by(org_tree.c.code)).scalars().all()
        raise InvalidQuery(Text(
            f"组织树 {tree} 不存在，可选：{'、'.join(known) or '（无）'}",
            f"there is no org tree {tree!r}; known trees: {', '.join(known) or '(none)'}"),
            details={"field": "tree", "value": tree, "allowed": list(known)})


def require_unit(conn: Connection, unit: str) -> None:
    """OrgNotFound (``field`` unit) unless ``unit`` exists."""
    if conn.execute(_UNIT, {"unit": unit}).first() is None:
        raise OrgNotFound(Text(f"组织单元 {unit} 不存在", f"org unit {unit!r} does not exist"),
                          details={"field": "unit", "code": unit})


def tree_edges(conn: Connection, tree: str, as_of: date) -> TreeEdges:
    """The edges of ``tree`` in force on ``as_of`` (one query; the tree is not checked)."""
    rows = conn.execute(_EDGES, {"tree": tree, "as_of": as_of}).all()
    below: dict[str, list[str]] = {}
    for parent, child in rows:
        below.setdefault(parent, []).append(child)
    return TreeEdges(tree, as_of, MappingProxyType({p: tuple(c) for p, c in below.items()}))


def rollup(conn: Connection, tree: str, unit: str, as_of: date) -> Rollup:
    """The units below ``unit`` in ``tree`` on ``as_of`` and the child each rolls up to.

    One read of the tree's edges in force on ``as_of``. Raises InvalidQuery
    (``field`` tree) for an unknown tree and OrgNotFound for an unknown unit.
    """
    require_tree(conn, tree)
    require_unit(conn, unit)
    return tree_edges(conn, tree, as_of).rollup(unit)


def _date_range(column) -> E:
    """``from`` ≤ column ≤ ``to`` for a date column; the whole last day for datetimes
    (bound parameters: see :func:`window`)."""
    if isinstance(column.type, DateTime):
        return and_(column >= bindparam(FROM_TS, type_=column.type),
                    column < bindparam(UNTIL_TS, type_=column.type))
    return and_(column >= bindparam(FROM, type_=column.type),
                column <= bindparam(TO, type_=column.type))


def window(start: date, end: date, units: Sequence[str] = ()) -> dict[str, object]:
    """The parameters of a query built by :func:`entity_source`: its date range
    ``start``…``end`` (inclusive) and the units (rows of an :func:`entity_source`)."""
    return {FROM: start, TO: end, FROM_TS: datetime.combine(start, time()),
            UNTIL_TS: datetime.combine(end + timedelta(days=1), time()), UNITS: list(units)}


def _unit_member(column, up: Rollup):
    """The child each row's unit rolls up to: the column itself where it is a child
    or the unit, a CASE for the units deeper down."""
    deeper = {code: top for code, top in up.members.items() if code != top and code != up.unit}
    if not deeper:
        return column
    return case(deeper, value=column, else_=column)


def _require_dimensions(spec: EntitySpec) -> tuple[str, str]:
    if spec.org_dimension is None or spec.date_dimension is None:
        raise ConfigurationError(Text(
            f"实体 {spec.qualified_code} 没有声明组织维度或日期维度，不能用于指标",
            f"the entity {spec.qualified_code} declares no org_dimension or date_dimension, "
            f"so indicators cannot aggregate it"),
            details={"entity": spec.qualified_code})
    return spec.org_dimension, spec.date_dimension


def _entity(registry: Registry, entity: str) -> tuple[Table, EntitySpec, str, str]:
    tables = registry.tables(entity)
    spec = registry.entity(entity)
    if tables is None or spec is None:
        raise ConfigurationError(Text(f"实体 {entity} 没有数据表", f"the entity {entity} has no table"),
                                 details={"entity": entity})
    return (tables.table, spec, *_require_dimensions(spec))


def entity_source(registry: Registry, entity: str, up: Rollup | None,
                  drill: str | None) -> AggregateSource:
    """The rows of ``entity`` whose org dimension is one of the units (bound parameter
    :data:`UNITS`) and whose date lies in the window (:func:`window`), offering the
    ``member`` dimension of ``drill`` (checked by the caller; ``units`` needs ``up``)."""
    table, spec, org_field, date_field = _entity(registry, entity)
    where = and_(table.c[org_field].in_(bindparam(UNITS, expanding=True, type_=String())),
                 _date_range(table.c[date_field]))
    dimensions = {}
    if drill == "units":
        assert up is not None
        dimensions[MEMBER] = _unit_member(table.c[org_field], up)
    elif drill == "persons":
        dimensions[MEMBER] = table.c[spec.person_dimension]
    elif drill is not None:
        dimensions[MEMBER] = table.c[drill.removeprefix("dim:")]
    return AggregateSource(rows=table, where=where, dimensions=dimensions)


def closure_relation() -> FromClause:
    """``(ancestor, descendant)``: each unit of the bound parameter :data:`UNITS` and
    every unit at or below it in the tree :data:`TREE` on :data:`AS_OF` — a recursive
    common table expression over the org edges (SQLite and PostgreSQL), the same
    edges :func:`tree_edges` reads; ``UNION`` (not ALL) stops on corrupt, cyclic data."""
    base = (select(org_unit.c.code.label(ANCESTOR), org_unit.c.code.label("descendant"))
            .where(org_unit.c.code.in_(bindparam(UNITS, expanding=True, type_=String()))))
    found = base.cte("org_closure", recursive=True)
    as_of = bindparam(AS_OF, type_=org_edge.c.valid_from.type)
    below = (select(found.c[ANCESTOR], org_edge.c.child_code)
             .where(org_edge.c.parent_code == found.c.descendant,
                    org_edge.c.tree_code == bindparam(TREE, type_=String()),
                    org_edge.c.valid_from <= as_of,
                    or_(org_edge.c.valid_to.is_(None), org_edge.c.valid_to > as_of)))
    return found.union(below)


def closure_source(registry: Registry, entity: str, closure: FromClause,
                   persons: bool) -> AggregateSource:
    """The rows of ``entity`` in the window (:func:`window`) joined to ``closure``
    (:func:`closure_relation`): one row per (ancestor, row), grouped by :data:`MEMBER` =
    the ancestor, and by :data:`PERSON` = the person dimension when ``persons``."""
    table, spec, org_field, date_field = _entity(registry, entity)
    rows = table.join(closure, closure.c.descendant == table.c[org_field])
    dimensions = {MEMBER: closure.c[ANCESTOR]}
    if persons:
        dimensions[PERSON] = table.c[spec.person_dimension]
    return AggregateSource(rows=rows, columns={c.key: c for c in table.c},
                           where=_date_range(table.c[date_field]), dimensions=dimensions)


def member_keys(codes: tuple[str, ...]) -> FromClause:
    """A FROM clause with one ``member`` row per code: the keys every grouped
    result reports (an empty department shows its value over no rows)."""
    rows = [select(literal(code, String).label(MEMBER)) for code in codes]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).subquery("member_keys")
