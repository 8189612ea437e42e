"""Per-entity compiled helpers of the record service (runtime layer).

Everything the service would otherwise recompute on each call is derived
here once, when a :class:`RecordService` is built: the marshmallow schemas,
the writable and read-only keys, defaults, dictionary choices, reference
targets, unique sets, the columns to select, the rows that may reference an
entity, a map from constraint names back to fields, and the checked formulas
(computed fields, default formulas, rules) with the reference paths they read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from marshmallow import Schema
from sqlalchemy import (
    Column, ForeignKeyConstraint, Insert, Select, Table, UniqueConstraint, bindparam, func,
    insert, select,
)

from yunying.metadata.spec import (
    CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS, DictionarySpec, EntitySpec, FieldSpec,
)
from yunying.platform.i18n import Text
from yunying.runtime.formula.context import EntityInfo
from yunying.runtime.records.formulas import NO_FORMULAS, TableFormulas, compile_formulas
from yunying.runtime.records.schemas import WRITABLE_TYPES, EntityLabel, build_schema
from yunying.runtime.registry import Registry

__all__ = ["Choices", "Part", "Referrer", "Constraint", "EntityPlan", "compile_plans",
           "ids_in"]


@dataclass(frozen=True)
class Choices:
    """The items of a dictionary an enum field may hold, with their validity."""

    label: Text
    items: Mapping[str, tuple[bool, date | None, date | None]]

    def allows(self, code: Any, today: date) -> bool:
        item = self.items.get(code)
        if item is None:
            return False
        active, valid_from, valid_to = item
        return active and (valid_from is None or valid_from <= today) and (
            valid_to is None or today <= valid_to)


@dataclass(frozen=True)
class Part:
    """One table of an entity — the main table (``code`` None) or a child."""

    code: str | None
    label: Text
    table: Table
    fields: Mapping[str, FieldSpec]        # the fields a client may write
    computed: Mapping[str, FieldSpec]      # computed fields (stored, never written)
    schema: Schema
    read_only: frozenset[str]
    defaults: tuple[tuple[FieldSpec, Any], ...]
    choices: tuple[tuple[str, Choices], ...]
    references: tuple[tuple[str, str], ...]   # field code → target entity
    attachments: tuple[str, ...]
    uniques: tuple[tuple[str, ...], ...]      # single unique fields and unique indexes
    columns: tuple[Column, ...]               # what a read returns, in order
    # statements built once; executed with bound parameters
    read: Select           # main: by :record_id — child: by :parent_id, in line order
    listing: Select        # every row's columns (list adds WHERE, ORDER, LIMIT)
    count: Select          # COUNT(*) of the table (list adds WHERE)
    insert: Insert         # one or many rows, RETURNING the columns in parameter order
    formulas: TableFormulas = NO_FORMULAS

    @property
    def stored(self) -> tuple[str, ...]:
        """Every field column of the table: the writable and the computed ones."""
        return (*self.fields, *self.computed)

    @property
    def labels(self) -> dict[str, Text]:
        return {code: f.label for code, f in (*self.fields.items(), *self.computed.items())}


@dataclass(frozen=True)
class Referrer:
    """A column of some table that holds ids of this entity's rows."""

    entity: str
    label: Text
    table: Table
    column: str


@dataclass(frozen=True)
class Constraint:
    """What a named database constraint protects, for translating its errors."""

    kind: str              # "unique" | "reference"
    part: str | None       # child code, None for the main table
    fields: tuple[str, ...]


@dataclass(frozen=True)
class EntityPlan:
    spec: EntitySpec
    main: Part
    children: Mapping[str, Part]
    exists: Mapping[str, Select]            # referenced entity → ids IN :ids
    target_labels: Mapping[str, Text]
    referrers: tuple[Referrer, ...]
    constraints: Mapping[str, Constraint]   # by constraint name
    part_by_table: Mapping[str, str | None]  # table name → child code (None: main)

    @property
    def label(self) -> Text:
        return self.spec.label

    @property
    def entity(self) -> str:
        return self.spec.qualified_code


def compile_plans(registry: Registry) -> Mapping[str, EntityPlan]:
    """One plan per entity of ``registry``, keyed by qualified code."""
    choices = {code: _choices(d) for code, d in registry.dictionaries.items()}
    label = _labeller(registry)
    infos: dict[str, EntityInfo] = {}  # formula views of entities, shared by every plan
    return MappingProxyType({code: _entity_plan(registry, spec, choices, label, infos)
                             for code, spec in registry.entities.items()})


def _entity_plan(registry: Registry, spec: EntitySpec, choices: Mapping[str, Choices],
                 label: EntityLabel, infos: dict[str, EntityInfo]) -> EntityPlan:
    tables = registry.tables(spec.qualified_code)
    assert tables is not None  # the registry builds a model entry per entity
    main = _part(None, spec.label, tables.table, spec.fields, SYSTEM_COLUMNS,
                 choices, label, spec,
                 compile_formulas(spec, spec, registry, label, infos))
    children = {c.code: _part(c.code, c.label, tables.children[c.code], c.fields,
                              CHILD_SYSTEM_COLUMNS, choices, label, None,
                              compile_formulas(c, spec, registry, label, infos))
                for c in spec.children}
    parts = [main, *children.values()]
    exists: dict[str, Select] = {}
    for target in {t for p in parts for _, t in p.references}:
        target_tables = registry.tables(target)
        if target_tables is not None:  # else nothing can match: every id is missing
            exists[target] = ids_in(target_tables.table)
    return EntityPlan(
        spec=spec, main=main, children=MappingProxyType(children),
        exists=MappingProxyType(exists),
        target_labels=MappingProxyType({t: label(t) for p in parts for _, t in p.references}),
        referrers=tuple(_referrers(registry, spec.qualified_code)),
        constraints=MappingProxyType(_constraints(parts)),
        part_by_table=MappingProxyType({p.table.name: p.code for p in parts}),
    )


def ids_in(table: Table) -> Select:
    """``SELECT id FROM table WHERE id IN :ids`` (an expanding parameter)."""
    return select(table.c.id).where(table.c.id.in_(bindparam("ids", expanding=True)))


def _labeller(registry: Registry) -> EntityLabel:
    def label(entity: str) -> Text:
        spec = registry.entity(entity)
        return spec.label if spec is not None else Text(entity, entity)
    return label


def _choices(spec: DictionarySpec) -> Choices:
    return Choices(spec.label, MappingProxyType({
        i.code: (i.active, i.valid_from, i.valid_to) for i in spec.items}))


def _part(code: str | None, label: Text, table: Table, specs: Iterable[FieldSpec],
          system: Iterable[str], choices: Mapping[str, Choices], entity_label: EntityLabel,
          entity: EntitySpec | None, formulas: TableFormulas) -> Part:
    specs = tuple(specs)
    fields = {f.code: f for f in specs if f.type in WRITABLE_TYPES}
    computed = {f.code: f for f in specs if f.type == "computed"}
    missing = Choices(Text("", ""), MappingProxyType({}))
    uniques = [(f.code,) for f in fields.values() if f.unique]
    if entity is not None:
        uniques += [tuple(i.fields) for i in entity.indexes if i.unique]
    shown = [table.c[c] for c in system if c != "parent_id"] + [
        table.c[f.code] for f in specs if f.code in fields or f.code in computed]
    if code is None:
        read = select(*shown).where(table.c.id == bindparam("record_id"))
    else:
        read = select(*shown).where(table.c.parent_id == bindparam("parent_id")) \
            .order_by(table.c.line_no)
    return Part(
        code=code, label=label, table=table, fields=MappingProxyType(fields),
        computed=MappingProxyType(computed),
        schema=build_schema(f"{table.name}_schema", fields.values(), entity_label),
        read_only=frozenset(system),
        defaults=tuple((f, f.default) for f in fields.values() if f.default is not None),
        choices=tuple((f.code, choices.get(f.dictionary or "", missing))
                      for f in fields.values() if f.type == "enum"),
        references=tuple((f.code, f.reference) for f in fields.values()
                         if f.type == "reference" and f.reference),
        attachments=tuple(f.code for f in fields.values() if f.type == "attachment"),
        uniques=tuple(uniques),
        columns=tuple(shown),
        read=read,
        listing=select(*shown),
        count=select(func.count()).select_from(table),
        insert=insert(table).returning(*shown, sort_by_parameter_order=True),
        formulas=formulas,
    )


def _referrers(registry: Registry, target: str) -> list[Referrer]:
    found = []
    for code, spec in registry.entities.items():
        tables = registry.tables(code)
        if tables is None:
            continue
        owners = [(spec.fields, tables.table)] + [
            (c.fields, tables.children[c.code]) for c in spec.children]
        for fields, table in owners:
            found += [Referrer(code, spec.label, table, f.code) for f in fields
                      if f.type == "reference" and f.reference == target]
    return found


def _constraints(parts: Iterable[Part]) -> dict[str, Constraint]:
    found: dict[str, Constraint] = {}
    for part in parts:
        for constraint in part.table.constraints:
            names = tuple(c.name for c in constraint.columns)
            if isinstance(constraint, UniqueConstraint) and constraint.name:
                found[str(constraint.name)] = Constraint("unique", part.code, names)
            elif isinstance(constraint, ForeignKeyConstraint) and constraint.name:
                found[str(constraint.name)] = Constraint("reference", part.code, names)
    return found
