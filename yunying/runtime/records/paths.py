"""Reading values through references for formulas (runtime layer).

A formula of a requisition line may read ``item.unit_price``: the
``unit_price`` of the item the line's ``item`` field points at. Before a
write evaluates its formulas, the service reads every such value for every
row of the write at once — one query per referenced entity (per step of a
longer path such as ``item.supplier.city``), never one per line — and hands
each row its values keyed by the dotted path, as the evaluator expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, Table, select

from yunying.metadata.spec import FieldSpec
from yunying.runtime.registry import Registry

__all__ = ["PathPlan", "compile_paths", "read_paths", "NO_PATHS"]

_Prefix = tuple[str, ...]


@dataclass(frozen=True)
class PathPlan:
    """The reference paths one table's formulas read.

    ``paths`` are field-code tuples of two or more parts; ``targets`` maps
    each reference chain (a proper prefix of a path) to the entity it leads
    to; ``tables`` holds those entities' tables.
    """

    paths: tuple[_Prefix, ...]
    targets: Mapping[_Prefix, str]
    tables: Mapping[str, Table]

    def __bool__(self) -> bool:
        return bool(self.paths)


NO_PATHS = PathPlan((), MappingProxyType({}), MappingProxyType({}))


def compile_paths(fields: Iterable[FieldSpec], dotted: Iterable[str],
                  registry: Registry) -> PathPlan:
    """The plan for the dotted paths (``item.unit_price``) read from a table
    with ``fields``; plain field codes need no reading and are skipped."""
    own = {f.code: f for f in fields}
    paths: list[_Prefix] = []
    targets: dict[_Prefix, str] = {}
    tables: dict[str, Table] = {}
    for path in sorted({tuple(d.split(".")) for d in dotted if "." in d}):
        found = _follow(path, own, registry)
        if found is None:  # the checker resolved it, so the metadata changed: NULL
            continue
        paths.append(path)
        for prefix, entity in found.items():
            targets[prefix] = entity
            tables[entity] = registry.tables(entity).table  # type: ignore[union-attr]
    return PathPlan(tuple(paths), MappingProxyType(targets), MappingProxyType(tables))


def _follow(path: _Prefix, own: Mapping[str, FieldSpec],
            registry: Registry) -> dict[_Prefix, str] | None:
    """The entity each reference prefix of ``path`` leads to (None: unresolvable)."""
    found: dict[_Prefix, str] = {}
    fields = own
    for n in range(1, len(path)):
        f = fields.get(path[n - 1])
        if f is None or f.type != "reference" or registry.tables(f.reference or "") is None:
            return None
        found[path[:n]] = f.reference  # type: ignore[assignment]
        fields = {g.code: g for g in registry.entity(f.reference).fields}  # type: ignore
    return found if path[-1] in fields else None


def read_paths(conn: Connection, rows: Sequence[tuple[PathPlan, Mapping[str, Any]]]
               ) -> list[dict[str, Any]]:
    """For each (plan, row values): the value of every path of the plan, keyed
    by its dotted path. A reference that is empty or names no row gives NULL."""
    ids: list[dict[_Prefix, Any]] = [{} for _ in rows]
    fetched: dict[str, dict[int, dict[str, Any]]] = {}
    depth = max((len(p) for plan, _ in rows for p in plan.paths), default=0)
    for level in range(1, depth):
        wanted: dict[str, tuple[set[int], set[str]]] = {}
        for n, (plan, values) in enumerate(rows):
            for path in plan.paths:
                if len(path) <= level:
                    continue
                prefix = path[:level]
                rid = ids[n].get(prefix)
                if prefix not in ids[n]:
                    rid = ids[n][prefix] = _id_of(prefix, plan, values, ids[n], fetched)
                if isinstance(rid, int) and not isinstance(rid, bool):
                    need_ids, need_columns = wanted.setdefault(plan.targets[prefix],
                                                               (set(), set()))
                    need_ids.add(rid)
                    need_columns.add(path[level])
        for entity, (need_ids, need_columns) in wanted.items():
            table = next(plan.tables[entity] for plan, _ in rows if entity in plan.tables)
            _fetch(conn, table, need_ids, need_columns, fetched.setdefault(entity, {}))
    return [{".".join(path): _value(path, plan, ids[n], fetched) for path in plan.paths}
            for n, (plan, _values) in enumerate(rows)]


def _id_of(prefix: _Prefix, plan: PathPlan, values: Mapping[str, Any],
           ids: Mapping[_Prefix, Any], fetched: Mapping[str, Mapping[int, Mapping[str, Any]]]
           ) -> Any:
    if len(prefix) == 1:
        return values.get(prefix[0])
    return _value(prefix, plan, ids, fetched)


def _value(path: _Prefix, plan: PathPlan, ids: Mapping[_Prefix, Any],
           fetched: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> Any:
    """The value at the end of ``path`` (its reference chain already read)."""
    chain = path[:-1]
    row = fetched.get(plan.targets[chain], {}).get(ids.get(chain))  # type: ignore[arg-type]
    return None if row is None else row.get(path[-1])


def _fetch(conn: Connection, table: Table, ids: set[int], columns: set[str],
           into: dict[int, dict[str, Any]]) -> None:
    names = sorted(columns)
    stmt = select(table.c.id, *(table.c[name] for name in names)).where(
        table.c.id.in_(sorted(ids)))
    for row in conn.execute(stmt):
        into.setdefault(row[0], {}).update(zip(names, row[1:]))
