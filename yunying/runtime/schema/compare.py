"""Compare the database with the target entity model (runtime layer, schema sync).

:func:`plan_sync` asks Alembic's autogenerate comparison for the differences
between the live database and the target ``MetaData`` — restricted to entity
tables — and translates Alembic's diff tuples into Yunying's own operations
(:mod:`.ops`), ordered so they can run. It reads the database and never
changes it. Column types are compared with :mod:`.coltype`, not with the
dialect's rules, so SQLite's and PostgreSQL's reflected names agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column, Connection, ForeignKeyConstraint, Index, MetaData, Table, UniqueConstraint,
)
from sqlalchemy.schema import sort_tables_and_constraints

from yunying.metadata.spec import FieldSpec
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.platform.tables import PLATFORM_PREFIX
from yunying.runtime.entity.tables import EntityModel
from yunying.runtime.schema import ops as o
from yunying.runtime.schema.coltype import (
    CHANGE, NARROW, WIDEN, classify_change, column_type_of,
)

__all__ = ["plan_sync", "literal_default", "VERSION_TABLE"]

#: Alembic's version table of the platform migrations (never compared).
VERSION_TABLE = "yy_alembic_version"

#: defaults that are computed when a record is created, not literals.
_COMPUTED_DEFAULTS = {"date": "today", "datetime": "now"}

_TYPE_OPS: Mapping[str, type[o._TypeOp]] = MappingProxyType({
    WIDEN: o.WidenType, NARROW: o.NarrowType, CHANGE: o.ChangeType,
})

# Diff kinds that carry nothing Yunying declares (comments, server defaults).
_IGNORED = frozenset({
    "modify_default", "modify_comment", "add_table_comment", "remove_table_comment",
})


def plan_sync(conn: Connection, target: EntityModel, *,
              drop_removed: bool = False) -> "o.Plan":
    """The plan that brings the entity tables in ``conn``'s database to ``target``.

    Platform tables (``yy_*``) are never touched. A table or column that the
    target no longer declares is kept with its data (``keep_table`` /
    ``keep_column``) unless ``drop_removed`` is true.
    """
    diffs = list(_diffs(conn, target))
    sync = _Sync(target, drop_removed)
    sync.scan(diffs)
    ops: list[o.Op] = []
    for diff in diffs:
        ops.extend(sync.translate(diff))
    return o.Plan(tuple(_order(ops, target)))


def _include_name(name: str | None, type_: str, _parents: Mapping) -> bool:
    if type_ == "table":
        return not (name or "").startswith(PLATFORM_PREFIX)
    return True


def _compare_type(_ctx, _db_col, _target_col, db_type, target_type) -> bool:
    return column_type_of(db_type) != column_type_of(target_type)


def _comparable(target: EntityModel) -> MetaData:
    """A copy of the target whose foreign keys do not order tables.

    Alembic sorts the target tables before comparing; entities that reference
    each other would make that sort warn about a cycle. Creation order is
    decided later by :func:`_creation_order`, so here no order is needed.
    """
    copy = MetaData()
    for table in target.metadata.tables.values():
        table.to_metadata(copy)
    for table in copy.tables.values():
        for fk in table.foreign_key_constraints:
            fk.use_alter = True
    return copy


def _diffs(conn: Connection, target: EntityModel) -> Iterator[tuple]:
    ctx = MigrationContext.configure(conn, opts={
        "compare_type": _compare_type,
        "compare_server_default": False,
        "include_name": _include_name,
        "version_table": VERSION_TABLE,
    })
    for entry in compare_metadata(ctx, _comparable(target)):
        yield from (entry if isinstance(entry, list) else (entry,))


def literal_default(spec: FieldSpec | None) -> Any:
    """The field's default when it is a literal (not ``today``/``now``), typed."""
    if spec is None or spec.default is None:
        return None
    if _COMPUTED_DEFAULTS.get(spec.type) == spec.default:
        return None
    return _COERCE.get(spec.type, lambda v: v)(spec.default)


def _decimal(value: Any) -> Decimal:
    # str() first: a float default must not carry binary noise into money
    return value if isinstance(value, Decimal) else Decimal(str(value))


# The builder already converts defaults; documents written by hand may still
# carry ISO strings or floats.
_COERCE: Mapping[str, Callable[[Any], Any]] = MappingProxyType({
    "date": lambda v: date.fromisoformat(v) if isinstance(v, str) else v,
    "datetime": lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v,
    "decimal": _decimal,
    "money": _decimal,
    "integer": lambda v: int(v) if isinstance(v, str) else v,
})


@dataclass
class _Sync:
    """Translation state of one comparison (lives for one ``plan_sync`` call)."""

    target: EntityModel
    drop_removed: bool
    removed_tables: set[str] = field(default_factory=set)
    created_tables: set[str] = field(default_factory=set)
    dropped_columns: dict[tuple[str, str], Column] = field(default_factory=dict)
    renames: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, new) → old

    def scan(self, diffs: list[tuple]) -> None:
        """Find removed tables and renamed columns before translating."""
        for diff in diffs:
            if diff[0] == "remove_table":
                self.removed_tables.add(diff[1].name)
            elif diff[0] == "add_table":
                self.created_tables.add(diff[1].name)
            elif diff[0] == "remove_column":
                self.dropped_columns[(diff[2], diff[3].name)] = diff[3]
        for diff in diffs:
            if diff[0] == "add_column":
                spec = self.field(diff[2], diff[3].name)
                old = spec.renamed_from if spec else None
                if old and (diff[2], old) in self.dropped_columns:
                    self.renames[(diff[2], diff[3].name)] = old

    def field(self, table_name: str, column: str) -> FieldSpec | None:
        """The field spec behind a target column (None for system columns)."""
        table = self.target.metadata.tables.get(table_name)
        if table is None or column not in table.c:
            return None
        code = table.c[column].info.get("field")
        entity = self.target.get(table.info.get("entity", ""))
        if code is None or entity is None:
            return None
        child = table.info.get("child")
        owner = entity.spec.child(child) if child else entity.spec
        return owner.field(code) if owner is not None else None

    def translate(self, diff: tuple) -> list[o.Op]:
        kind = diff[0]
        if kind in _IGNORED:
            return []
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise ConfigurationError(Text(
                f"无法同步的数据库结构差异：{kind}",
                f"unsupported schema difference: {kind}"),
                code="unsupported_schema_diff", details={"diff": kind})
        return handler(self, diff)

    def whole(self, table: str) -> bool:
        """Index and constraint diffs of created or removed tables are not acted
        on: they come and go with their table."""
        return table in self.removed_tables or table in self.created_tables


def _create_table(sync: _Sync, diff: tuple) -> list[o.Op]:
    # Alembic's diff carries a copy without indexes: use the target's own table
    table: Table = sync.target.metadata.tables[diff[1].name]
    return [o.CreateTable(
        table=table.name, entity=table.info.get("entity"), child=table.info.get("child"),
        columns=tuple(o.ColumnDef(c.name, column_type_of(c.type), bool(c.nullable))
                      for c in table.columns),
        uniques=tuple(sorted(c.name for c in table.constraints
                             if isinstance(c, UniqueConstraint) and c.name)),
        indexes=tuple(sorted(i.name for i in table.indexes if i.name)),
        foreign_keys=tuple(sorted(fk.name for fk in table.foreign_key_constraints if fk.name)),
        sa_table=table)]


def _remove_table(sync: _Sync, diff: tuple) -> list[o.Op]:
    op_class = o.DropTable if sync.drop_removed else o.KeepTable
    return [op_class(table=diff[1].name)]


def _add_column(sync: _Sync, diff: tuple) -> list[o.Op]:
    table, column = diff[2], diff[3]
    old = sync.renames.get((table, column.name))
    if old is not None:
        return _rename(sync, table, sync.dropped_columns[(table, old)], column)
    return [o.AddColumn(table=table, column=column.name, type=column_type_of(column.type),
                        nullable=bool(column.nullable),
                        default=literal_default(sync.field(table, column.name)))]


def _rename(sync: _Sync, table: str, old: Column, new: Column) -> list[o.Op]:
    """The rename plus whatever type or NULL change the renamed field also made."""
    ops: list[o.Op] = [o.RenameColumn(table=table, column=new.name, old=old.name)]
    before, after = column_type_of(old.type), column_type_of(new.type)
    change = classify_change(before, after)
    if change is not None:
        ops.append(_TYPE_OPS[change](table=table, column=new.name, old=before, new=after,
                                     nullable=bool(new.nullable)))
    if old.nullable and not new.nullable:
        ops.append(o.SetNotNull(table=table, column=new.name,
                                default=literal_default(sync.field(table, new.name))))
    elif new.nullable and not old.nullable:
        ops.append(o.DropNotNull(table=table, column=new.name))
    return ops


def _remove_column(sync: _Sync, diff: tuple) -> list[o.Op]:
    table, column = diff[2], diff[3]
    if column.name in {old for (t, _), old in sync.renames.items() if t == table}:
        return []
    kind = column_type_of(column.type)
    if sync.drop_removed:
        return [o.DropColumn(table=table, column=column.name, type=kind)]
    return [o.KeepColumn(table=table, column=column.name, type=kind,
                         relax_not_null=not column.nullable)]


def _modify_type(sync: _Sync, diff: tuple) -> list[o.Op]:
    _, _, table, column, _kw, db_type, target_type = diff
    before, after = column_type_of(db_type), column_type_of(target_type)
    change = classify_change(before, after)
    if change is None:
        return []
    nullable = bool(sync.target.metadata.tables[table].c[column].nullable)
    return [_TYPE_OPS[change](table=table, column=column, old=before, new=after,
                              nullable=nullable)]


def _modify_nullable(sync: _Sync, diff: tuple) -> list[o.Op]:
    _, _, table, column, _kw, _was, nullable = diff
    if nullable:
        return [o.DropNotNull(table=table, column=column)]
    return [o.SetNotNull(table=table, column=column,
                         default=literal_default(sync.field(table, column)))]


def _columns(item: Index | UniqueConstraint | ForeignKeyConstraint) -> tuple[str, ...]:
    if isinstance(item, ForeignKeyConstraint):
        return tuple(item.column_keys)
    return tuple(c.name for c in item.columns)


def _add_index(sync: _Sync, diff: tuple) -> list[o.Op]:
    index: Index = diff[1]
    if sync.whole(index.table.name):
        return []
    return [o.AddIndex(table=index.table.name, name=index.name, columns=_columns(index),
                       unique=bool(index.unique))]


def _remove_index(sync: _Sync, diff: tuple) -> list[o.Op]:
    index: Index = diff[1]
    if sync.whole(index.table.name):
        return []
    return [o.DropIndex(table=index.table.name, name=index.name, columns=_columns(index))]


def _unique(diff: tuple) -> UniqueConstraint:
    constraint = diff[1]
    if not isinstance(constraint, UniqueConstraint):
        raise ConfigurationError(Text(
            f"无法同步的约束差异：{type(constraint).__name__} {constraint.name}",
            f"unsupported constraint difference: {type(constraint).__name__} "
            f"{constraint.name}"), code="unsupported_schema_diff")
    return constraint


def _add_constraint(sync: _Sync, diff: tuple) -> list[o.Op]:
    uq = _unique(diff)
    if sync.whole(uq.table.name):
        return []
    return [o.AddUnique(table=uq.table.name, name=uq.name, columns=_columns(uq))]


def _remove_constraint(sync: _Sync, diff: tuple) -> list[o.Op]:
    uq = _unique(diff)
    if sync.whole(uq.table.name):
        return []
    return [o.DropUnique(table=uq.table.name, name=uq.name, columns=_columns(uq))]


def _add_fk(sync: _Sync, diff: tuple) -> list[o.Op]:
    return [] if sync.whole(diff[1].table.name) else [_foreign_key(diff[1])]


def _foreign_key(fk: ForeignKeyConstraint) -> o.AddForeignKey:
    refs = [e.target_fullname.rpartition(".") for e in fk.elements]
    return o.AddForeignKey(table=fk.table.name, name=fk.name, columns=_columns(fk),
                           ref_table=refs[0][0], ref_columns=tuple(r[2] for r in refs),
                           ondelete=fk.ondelete)


def _remove_fk(sync: _Sync, diff: tuple) -> list[o.Op]:
    fk: ForeignKeyConstraint = diff[1]
    if sync.whole(fk.table.name):
        return []
    return [o.DropForeignKey(table=fk.table.name, name=fk.name, columns=_columns(fk))]


_HANDLERS: Mapping[str, Callable[[_Sync, tuple], list[o.Op]]] = MappingProxyType({
    "add_table": _create_table,
    "remove_table": _remove_table,
    "add_column": _add_column,
    "remove_column": _remove_column,
    "modify_type": _modify_type,
    "modify_nullable": _modify_nullable,
    "add_index": _add_index,
    "remove_index": _remove_index,
    "add_constraint": _add_constraint,
    "remove_constraint": _remove_constraint,
    "add_fk": _add_fk,
    "remove_fk": _remove_fk,
})

# Within one existing table: free names and constraints first, then columns,
# then new constraints over the final columns. NOT NULL is dropped before a
# type change (which may empty values) and set after it.
_RANK: Mapping[str, int] = MappingProxyType({kind: rank for rank, kinds in enumerate((
    ("drop_foreign_key",), ("drop_index",), ("drop_unique",), ("rename_column",),
    ("add_column",), ("drop_not_null",), ("widen_type", "narrow_type", "change_type"),
    ("set_not_null",), ("keep_column",), ("drop_column",), ("add_unique",),
    ("add_index",), ("add_foreign_key",),
)) for kind in kinds})


def _order(ops: Iterable[o.Op], target: EntityModel) -> list[o.Op]:
    """Creates in foreign-key order, then each table's changes, then removed tables."""
    ops = list(ops)
    creates = {op.table: op for op in ops if isinstance(op, o.CreateTable)}
    ordered = _creation_order(creates, target)
    changes = [op for op in ops if op.kind in _RANK]
    ordered += sorted(changes, key=lambda op: (op.table, _RANK[op.kind],
                                               *_position(op, target)))
    ordered += sorted((op for op in ops if isinstance(op, (o.KeepTable, o.DropTable))),
                      key=lambda op: op.table)
    return ordered


def _position(op: o.Op, target: EntityModel) -> tuple[int, str]:
    """Columns in their declared order; indexes and constraints by name."""
    table = target.metadata.tables.get(op.table)
    names = list(table.c.keys()) if table is not None else []
    if op.column in names:
        return names.index(op.column), ""
    return len(names), op.column or getattr(op, "name", "")


def _creation_order(creates: Mapping[str, o.CreateTable],
                    target: EntityModel) -> list[o.Op]:
    """Referenced tables before referencing ones; foreign keys that close a
    cycle are split off and added once every table exists."""
    tables = [target.metadata.tables[name] for name in sorted(creates)]
    ordered: list[o.CreateTable] = []
    deferred: list[o.AddForeignKey] = []
    for table, fks in sort_tables_and_constraints(tables):
        if table is not None:
            ordered.append(creates[table.name])
            continue
        deferred += [_foreign_key(fk) for fk in sorted(fks, key=lambda fk: fk.name or "")
                     if fk.table.name in creates]
    return [replace(op, deferred=tuple(sorted(fk.name for fk in deferred
                                              if fk.table == op.table)))
            for op in ordered] + deferred
