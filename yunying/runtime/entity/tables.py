"""Entity spec → SQLAlchemy ``Table`` (runtime layer).

Every declared field becomes a real typed column (no EAV, no JSON blob); a
computed field is a stored column of its ``result`` type. References become
foreign keys, child tables get ``parent_id`` (cascade delete) and ``line_no``
for ordering, and each table carries the system columns. The functions here
only *describe* tables; creating or altering them is the schema sync's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from sqlalchemy import (
    Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData,
    Numeric, String, Table, Text, UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from yunying.metadata.spec import ChildSpec, EntitySpec, FieldSpec
from yunying.runtime.entity.naming import constraint_name

__all__ = [
    "EntityTables",
    "EntityModel",
    "build_model",
    "column_type",
    "CODE_LENGTH",
    "MONEY_PRECISION",
    "MONEY_SCALE",
]

#: length of columns holding codes (enum item, user, org unit).
CODE_LENGTH = 64
MONEY_PRECISION = 18
MONEY_SCALE = 2


def _string(f: FieldSpec) -> TypeEngine:
    return String(f.length or 255)


def _decimal(f: FieldSpec) -> TypeEngine:
    return Numeric(f.precision or 18, f.scale if f.scale is not None else 2,
                   asdecimal=True)


def _money(f: FieldSpec) -> TypeEngine:
    return Numeric(f.precision or MONEY_PRECISION,
                   f.scale if f.scale is not None else MONEY_SCALE, asdecimal=True)


_TYPES: Mapping[str, Callable[[FieldSpec], TypeEngine]] = MappingProxyType({
    "string": _string,
    "text": lambda f: Text(),
    "integer": lambda f: Integer(),
    "decimal": _decimal,
    "money": _money,
    "boolean": lambda f: Boolean(create_constraint=False),
    "date": lambda f: Date(),
    "datetime": lambda f: DateTime(),
    "enum": lambda f: String(CODE_LENGTH),
    "reference": lambda f: Integer(),
    "user": lambda f: String(CODE_LENGTH),
    "org_unit": lambda f: String(CODE_LENGTH),
    "attachment": lambda f: Integer(),
})


def column_type(f: FieldSpec) -> TypeEngine:
    """The SQL type that stores a field of this spec (a computed field's value
    is stored in a column of its ``result`` type)."""
    return _TYPES[f.value_type](f)


@dataclass(frozen=True)
class EntityTables:
    """The main table of an entity and its child-line tables by child code."""

    spec: EntitySpec
    table: Table
    children: Mapping[str, Table]


@dataclass(frozen=True)
class EntityModel:
    """All entity tables of an installation, in one ``MetaData``."""

    metadata: MetaData
    entities: Mapping[str, EntityTables]  # by qualified entity code

    def get(self, qualified_code: str) -> EntityTables | None:
        return self.entities.get(qualified_code)

    @property
    def table_names(self) -> frozenset[str]:
        return frozenset(self.metadata.tables)


def build_model(entities: Iterable[EntitySpec]) -> EntityModel:
    """Describe every entity's tables in one fresh ``MetaData``.

    References must point at entities in the same iterable (the loader's
    cross-reference check guarantees it for installed packages).
    """
    specs = list(entities)
    metadata = MetaData()
    by_code = {s.qualified_code: s for s in specs}
    result: dict[str, EntityTables] = {}
    for spec in specs:
        table = _main_table(spec, metadata, by_code)
        children = {c.code: _child_table(spec, c, metadata, by_code)
                    for c in spec.children}
        result[spec.qualified_code] = EntityTables(
            spec, table, MappingProxyType(children))
    return EntityModel(metadata, MappingProxyType(result))


def _system_columns() -> list[Column]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("version", Integer, nullable=False, default=1),
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(CODE_LENGTH)),
        Column("updated_at", DateTime, nullable=False),
        Column("updated_by", String(CODE_LENGTH)),
    ]


def _field_column(table_name: str, f: FieldSpec, by_code: Mapping[str, EntitySpec]) -> Column:
    args: list = [f.code, column_type(f)]
    if f.type == "reference" and f.reference in by_code:
        target = by_code[f.reference].table_name
        args.append(ForeignKey(f"{target}.id", ondelete="RESTRICT",
                               name=constraint_name("fk", table_name, f.code)))
    return Column(*args, nullable=not f.required, info={"field": f.code})


def _field_constraints(table_name: str, fields: Iterable[FieldSpec]) -> list:
    items: list = []
    for f in fields:
        if f.unique:
            items.append(UniqueConstraint(
                f.code, name=constraint_name("uq", table_name, f.code)))
        elif f.indexed or f.type == "reference":
            items.append(Index(constraint_name("ix", table_name, f.code), f.code))
    return items


def _main_table(spec: EntitySpec, metadata: MetaData,
                by_code: Mapping[str, EntitySpec]) -> Table:
    name = spec.table_name
    columns = _system_columns()
    columns += [_field_column(name, f, by_code) for f in spec.fields]
    extras = _field_constraints(name, spec.fields)
    for index in spec.indexes:
        kind = "uq" if index.unique else "ix"
        if index.unique:
            extras.append(UniqueConstraint(
                *index.fields, name=constraint_name(kind, name, *index.fields)))
        else:
            extras.append(Index(constraint_name(kind, name, *index.fields),
                                *index.fields))
    # AUTOINCREMENT on SQLite: a deleted record's id is never reused, so
    # rows keyed by (entity, record id) — workflow instances, journal
    # entries, audit events — never attach to a later record.
    return Table(name, metadata, *columns, *extras, sqlite_autoincrement=True,
                 info={"entity": spec.qualified_code})


def _child_table(spec: EntitySpec, child: ChildSpec, metadata: MetaData,
                 by_code: Mapping[str, EntitySpec]) -> Table:
    name = child.table_name
    columns = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("parent_id", Integer,
               ForeignKey(f"{spec.table_name}.id", ondelete="CASCADE",
                          name=constraint_name("fk", name, "parent_id")),
               nullable=False),
        Column("line_no", Integer, nullable=False),
    ]
    columns += [_field_column(name, f, by_code) for f in child.fields]
    extras = _field_constraints(name, child.fields)
    extras.append(UniqueConstraint(
        "parent_id", "line_no", name=constraint_name("uq", name, "parent_id", "line_no")))
    return Table(name, metadata, *columns, *extras,
                 info={"entity": spec.qualified_code, "child": child.code})
