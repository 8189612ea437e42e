"""Aggregate formulas → one grouped SELECT (汇总公式编译为分组查询) (runtime layer).

``compile_aggregate(checked, sources, group_by=…, dialect=…, today=…, now=…)``
turns an aggregate-mode formula such as ::

    COUNT(出院记录, 手术 = TRUE) / COUNT(出院记录)

into **one** query giving one row per group: the group keys (labelled by
their dimension names) and ``value``, the formula's result. Each aggregate's
condition becomes ``FILTER (WHERE …)`` on PostgreSQL and ``CASE WHEN … THEN x
END`` on SQLite; SUM, COUNT and COUNTDISTINCT over no rows are 0, AVG is the
exact sum over the count rounded half-up to 16 places; the arithmetic around
the aggregates (ratios, IFs, ROUND …) is computed in the same SELECT with the
row compiler's semantics (:mod:`.sql`).

How the indicator engine drives it
----------------------------------
Each entity the formula aggregates gets an :class:`AggregateSource`:

- ``rows`` — where its rows are: the entity's table, or any FROM clause —
  e.g. the table joined to the org-unit closure of the unit being computed,
  so that each row carries the child unit it rolls up to;
- ``columns`` — where each field is (default ``rows.c[<field code>]``; give a
  mapping by dotted path or a function of the Binding for paths through
  references or for joined tables);
- ``where`` — the filter every aggregate of this entity obeys: the org unit
  and its descendants, the period's date range, a data scope;
- ``dimensions`` — the group-by dimensions this entity offers, by name: an
  expression over ``rows`` (the org dimension field, the child unit from the
  closure join, a person field for drill-down to doctors, a month).

``group_by`` names the dimensions to group by (each aggregated entity must
offer all of them); ``keys`` optionally lists group keys to report even when
no row has them (a FROM clause with columns named like ``group_by``: every
child unit, so an empty department shows 0, not nothing).

The query shape: a formula over one entity (and no ``keys``) is one grouped
``SELECT … FROM rows WHERE where GROUP BY dims``. Over several entities each
entity's aggregates are computed by one grouped SELECT of its own, combined
with ``UNION ALL`` (one row per entity and group, the other entities'
columns NULL), and one outer SELECT groups that by the keys and computes the
formula — one statement, no join on keys (so NULL keys group as one) and no
query per group. ``@indicator`` values, when the formula names any, are
given as SQL expressions in ``indicators``.

The result columns are the ``group_by`` dimensions, in order, then
:data:`VALUE` (so no dimension may be called ``value``); rows come in no
particular order — add ``query.order_by(*query.selected_columns[:k])``.

``compile_aggregates({"numerator": n, "denominator": d}, …)`` computes several
formulas over the same rows and groups in one statement: the dimensions,
then one column per label (an indicator's numerator and denominator in one
query); ``compile_aggregate`` is its one-formula case.
Read a row's value as the formula's type (numbers as ``Decimal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from sqlalchemy import Select, cast, func, null, select, union_all
from sqlalchemy.sql.expression import FromClause

from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Binding, Checked
from yunying.runtime.formula.errors import WHOLE, FormulaError
from yunying.runtime.formula.sql import Aggregate, Columns, SqlCompiler, column_resolver, dialect_for
from yunying.runtime.formula.sql_dialect import E, SqlDialect, sql_type
from yunying.runtime.formula.types import FType

__all__ = ["AggregateSource", "compile_aggregate", "compile_aggregates", "VALUE"]

#: the label of the formula's result column.
VALUE = "value"
_ZERO_WHEN_EMPTY = frozenset({"SUM", "COUNT", "COUNTDISTINCT"})


@dataclass(frozen=True)
class AggregateSource:
    """Where the rows of one aggregated entity come from (see the module docstring)."""

    rows: FromClause
    columns: Columns | None = None
    where: E | None = None
    dimensions: Mapping[str, E] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))

    def resolver(self) -> Callable[[Binding], E]:
        if self.columns is not None:
            return column_resolver(self.columns)
        rows = self.rows

        def default(binding: Binding) -> E:
            if len(binding.path) != 1 or binding.path[0] not in rows.c:
                raise FormulaError.single(
                    "context", WHOLE, f"字段“{binding.entity}.{binding.key}”没有对应的数据库列",
                    f"the field {binding.entity}.{binding.key} has no column to read it from")
            return rows.c[binding.path[0]]
        return default


def compile_aggregate(checked: Checked, sources: Mapping[str, AggregateSource], *,
                      group_by: Sequence[str] = (), dialect: str, today: date, now: datetime,
                      keys: FromClause | None = None,
                      indicators: Mapping[str, E] | None = None) -> Select:
    """One SELECT of the group keys (labelled by dimension name) and ``value``.

    ``sources`` maps each qualified entity code the formula aggregates to its
    :class:`AggregateSource`. Raises FormulaError (``context``) when an entity
    has no source, lacks a ``group_by`` dimension, or a field has no column.
    """
    return compile_aggregates({VALUE: checked}, sources, group_by=group_by, dialect=dialect,
                              today=today, now=now, keys=keys, indicators=indicators)


def compile_aggregates(formulas: Mapping[str, Checked], sources: Mapping[str, AggregateSource], *,
                       group_by: Sequence[str] = (), dialect: str, today: date, now: datetime,
                       keys: FromClause | None = None,
                       indicators: Mapping[str, E] | None = None) -> Select:
    """One SELECT of the group keys, then one column per label of ``formulas``.

    Each column is what :func:`compile_aggregate` gives for that formula, all
    over the same rows and groups in one statement (an indicator's numerator
    and denominator: one query). Labels must be distinct from ``group_by``.
    """
    if not formulas:
        raise ValueError("compile_aggregates needs at least one formula")
    clash = set(formulas) & set(group_by)
    if clash:
        raise ValueError(f"result labels {sorted(clash)} are also group-by dimensions")
    d = dialect_for(dialect, today, now)
    entities = list(dict.fromkeys(e for checked in formulas.values()
                                  for e in checked.aggregates.values()))
    for checked in formulas.values():
        _require(checked, sources, list(dict.fromkeys(checked.aggregates.values())), group_by,
                 keys, any_entity=bool(entities))
    resolvers = {e: sources[e].resolver() for e in entities}
    columns = lambda binding: resolvers[binding.entity](binding)  # noqa: E731
    parts = _Parts(formulas, d, columns, indicators)
    if not entities and keys is None:
        return select(*parts.values(None))
    if len(entities) == 1 and keys is None:
        return _single(parts, sources[entities[0]], group_by)
    return _combined(parts, sources, entities, group_by, keys)


@dataclass(frozen=True)
class _Parts:
    """The formulas of one compile and what compiling each needs."""

    formulas: Mapping[str, Checked]
    d: SqlDialect
    columns: Callable[[Binding], E]
    indicators: Mapping[str, E] | None

    def values(self, aggregate: Aggregate | None) -> list[E]:
        """Each formula compiled (aggregates by ``aggregate``), labelled."""
        return [SqlCompiler(checked, self.d, self.columns, aggregate=aggregate,
                            indicators=self.indicators).compile().label(label)
                for label, checked in self.formulas.items()]


def _require(checked: Checked, sources: Mapping[str, AggregateSource], entities: list[str],
             group_by: Sequence[str], keys: FromClause | None, *, any_entity: bool) -> None:
    for entity in entities:
        source = sources.get(entity)
        if source is None:
            raise FormulaError.single("context", checked.tree.span,
                                      f"没有提供实体 {entity} 的数据来源",
                                      f"no rows were given for the entity {entity}")
        for name in group_by:
            if name not in source.dimensions:
                raise FormulaError.single(
                    "context", checked.tree.span, f"实体 {entity} 没有分组维度“{name}”",
                    f"the entity {entity} cannot be grouped by {name!r}")
    if group_by and not any_entity and keys is None:
        raise FormulaError.single("context", checked.tree.span,
                                  "公式没有汇总任何实体，无法分组",
                                  "the formula aggregates no entity, so there is nothing to group")


def _aggregate(c: SqlCompiler, node: ast.Call) -> E:
    """One aggregate call over its entity's rows."""
    target, *condition = node.args
    binding = c.bindings.get(target) if isinstance(target, ast.Name) else None
    value = None if binding is not None and not binding.path else c.own(target, FType.STRING)
    where = c.arg(condition[0], FType.BOOLEAN) if condition else None
    return c.d.aggregate(node.name, value, where, c.types[node])


def _single(parts: _Parts, source: AggregateSource, group_by: Sequence[str]) -> Select:
    dims = [source.dimensions[name] for name in group_by]
    query = select(*[dim.label(name) for dim, name in zip(dims, group_by)],
                   *parts.values(_aggregate))
    query = query.select_from(source.rows)
    if source.where is not None:
        query = query.where(source.where)
    return query.group_by(*dims) if dims else query


def _combined(parts: _Parts, sources: Mapping[str, AggregateSource], entities: list[str],
              group_by: Sequence[str], keys: FromClause | None) -> Select:
    d = parts.d
    owner = {call: checked for checked in parts.formulas.values() for call in checked.aggregates}
    calls = list(owner)
    labels = {call: f"a{i}" for i, call in enumerate(calls)}
    inner = {id(checked): SqlCompiler(checked, d, parts.columns, indicators=parts.indicators)
             for checked in parts.formulas.values()}
    compiled = {call: _aggregate(inner[id(owner[call])], call) for call in calls}
    blanks = {call: cast(null(), sql_type(owner[call].types[call])) for call in calls}
    branches = []
    for entity in entities:
        source = sources[entity]
        dims = [source.dimensions[name] for name in group_by]
        own = [(compiled[c] if owner[c].aggregates[c] == entity else blanks[c]).label(labels[c])
               for c in calls]
        branch = select(*[dim.label(name) for dim, name in zip(dims, group_by)], *own)
        branch = branch.select_from(source.rows)
        if source.where is not None:
            branch = branch.where(source.where)
        branches.append(branch.group_by(*dims) if dims else branch)
    if keys is not None:
        branches.append(select(*[keys.c[name].label(name) for name in group_by],
                               *[blanks[c].label(labels[c]) for c in calls]).select_from(keys))
    rows = union_all(*branches).subquery("formula_groups")

    def outer(c: SqlCompiler, node: ast.Call) -> E:
        picked = func.max(rows.c[labels[node]], type_=sql_type(c.types[node]))
        if node.name in _ZERO_WHEN_EMPTY:
            return func.coalesce(picked, d.number(Decimal(0)), type_=sql_type(FType.NUMBER))
        return picked

    dims = [rows.c[name] for name in group_by]
    query = select(*dims, *parts.values(outer)).select_from(rows)
    return query.group_by(*dims) if dims else query
