"""Schema operations and the plan that lists them (runtime layer, schema sync).

Operations are frozen data, like Alembic's operation objects: the comparison
(:mod:`.compare`) only builds them, :mod:`.lossy` checks them against the rows,
:mod:`.render` prints them and :mod:`.apply` runs them. Each knows its
``kind``, its table and column, a bilingual :meth:`Op.describe` and a
JSON-ready :meth:`Op.as_dict` (stored with the metadata version history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Table

from yunying.platform.i18n import Text
from yunying.runtime.schema.coltype import ColumnType

__all__ = [
    "Op", "ColumnDef", "CreateTable", "AddColumn", "DropColumn", "KeepColumn",
    "RenameColumn", "WidenType", "NarrowType", "ChangeType", "SetNotNull",
    "DropNotNull", "AddIndex", "DropIndex", "AddUnique", "DropUnique",
    "AddForeignKey", "DropForeignKey", "KeepTable", "DropTable", "Plan",
    "json_value",
]


def json_value(value: Any) -> Any:
    """A literal as JSON can carry it: Decimal and dates become strings."""
    if isinstance(value, (Decimal, date, datetime)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def _shown(value: Any) -> str:
    """A default as the dry run shows it: text quoted, numbers and dates plain."""
    return repr(value) if isinstance(value, str) else str(json_value(value))


def _names(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


@dataclass(frozen=True, kw_only=True)
class Op:
    """One step of a schema plan on one table."""

    kind: ClassVar[str] = ""
    #: False for report-only operations (a kept table or column).
    changes_schema: ClassVar[bool] = True

    table: str
    column: str | None = None

    @property
    def subject(self) -> str | None:
        """The column(s) the operation is about, as refusals name them."""
        return self.column

    @property
    def target(self) -> str:
        """``table.column`` (or the table) for messages."""
        return f"{self.table}.{self.column}" if self.column else self.table

    def describe(self) -> Text:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def details(self) -> dict:
        return {}

    def as_dict(self) -> dict:
        return {"kind": self.kind, "table": self.table, "column": self.column,
                **self.details(), "description": self.describe().as_dict()}


@dataclass(frozen=True)
class ColumnDef:
    """A column of a table being created."""

    name: str
    type: ColumnType
    nullable: bool

    def as_dict(self) -> dict:
        return {"name": self.name, "type": str(self.type), "nullable": self.nullable}


@dataclass(frozen=True, kw_only=True)
class CreateTable(Op):
    kind: ClassVar[str] = "create_table"
    entity: str | None = None
    child: str | None = None
    columns: tuple[ColumnDef, ...] = ()
    uniques: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()
    foreign_keys: tuple[str, ...] = ()
    #: foreign keys of a reference cycle, added by later AddForeignKey ops.
    deferred: tuple[str, ...] = ()
    sa_table: Table | None = field(default=None, compare=False, repr=False)

    def describe(self) -> Text:
        n = len(self.columns)
        return Text(f"新建表 {self.table}（{n} 列）", f"create table {self.table} ({n} columns)")

    def details(self) -> dict:
        return {"entity": self.entity, "child": self.child,
                "columns": [c.as_dict() for c in self.columns],
                "uniques": list(self.uniques), "indexes": list(self.indexes),
                "foreign_keys": list(self.foreign_keys)}


@dataclass(frozen=True, kw_only=True)
class AddColumn(Op):
    """A new field's column. Added nullable, filled with ``default`` when the
    field has a literal default, then made NOT NULL when the field is required."""

    kind: ClassVar[str] = "add_column"
    type: ColumnType
    nullable: bool = True
    default: Any = None

    def describe(self) -> Text:
        null = "" if self.nullable else " NOT NULL"
        text = Text(f"新增列 {self.target} {self.type}{null}",
                    f"add column {self.target} {self.type}{null}")
        if self.default is not None:
            value = _shown(self.default)
            text = Text(f"{text.zh}，现有行填入默认值 {value}",
                        f"{text.en}, existing rows filled with the default {value}")
        return text

    def details(self) -> dict:
        return {"type": self.type.as_dict(), "nullable": self.nullable,
                "default": json_value(self.default)}


@dataclass(frozen=True, kw_only=True)
class DropColumn(Op):
    kind: ClassVar[str] = "drop_column"
    type: ColumnType

    def describe(self) -> Text:
        return Text(f"删除列 {self.target}（其数据一并删除）",
                    f"drop column {self.target} (its data is deleted)")


@dataclass(frozen=True, kw_only=True)
class KeepColumn(Op):
    """A removed field: its column and data stay; a NOT NULL column is made
    nullable so new records (which no longer fill it) can still be saved."""

    kind: ClassVar[str] = "keep_column"
    type: ColumnType
    relax_not_null: bool = False

    @property
    def changes_schema(self) -> bool:  # type: ignore[override]
        return self.relax_not_null

    def describe(self) -> Text:
        text = Text(f"字段已移除：保留列 {self.target} 及其数据",
                    f"field removed: column {self.target} and its data are kept")
        if self.relax_not_null:
            text = Text(f"{text.zh}，改为允许为空", f"{text.en}, now nullable")
        return text

    def details(self) -> dict:
        return {"type": self.type.as_dict(), "relax_not_null": self.relax_not_null}


@dataclass(frozen=True, kw_only=True)
class RenameColumn(Op):
    """``old`` becomes ``column`` (the field's ``renamed_from``); data kept."""

    kind: ClassVar[str] = "rename_column"
    old: str

    def describe(self) -> Text:
        return Text(f"重命名列 {self.table}.{self.old} → {self.column}（保留数据）",
                    f"rename column {self.table}.{self.old} → {self.column} (data kept)")

    def details(self) -> dict:
        return {"old": self.old}


@dataclass(frozen=True, kw_only=True)
class _TypeOp(Op):
    old: ColumnType
    new: ColumnType
    #: whether the target column allows NULL (a lossy conversion empties values).
    nullable: bool = True

    def details(self) -> dict:
        return {"old": self.old.as_dict(), "new": self.new.as_dict(),
                "nullable": self.nullable}


@dataclass(frozen=True, kw_only=True)
class WidenType(_TypeOp):
    kind: ClassVar[str] = "widen_type"

    def describe(self) -> Text:
        return Text(f"放宽 {self.target} 的类型：{self.old} → {self.new}",
                    f"widen {self.target}: {self.old} → {self.new}")


@dataclass(frozen=True, kw_only=True)
class NarrowType(_TypeOp):
    kind: ClassVar[str] = "narrow_type"

    def describe(self) -> Text:
        return Text(f"收窄 {self.target} 的类型：{self.old} → {self.new}（检查现有数据）",
                    f"narrow {self.target}: {self.old} → {self.new} (existing values checked)")


@dataclass(frozen=True, kw_only=True)
class ChangeType(_TypeOp):
    kind: ClassVar[str] = "change_type"

    def describe(self) -> Text:
        return Text(f"更改 {self.target} 的类型：{self.old} → {self.new}（现有值无法转换）",
                    f"change type of {self.target}: {self.old} → {self.new} "
                    f"(existing values cannot be converted)")


@dataclass(frozen=True, kw_only=True)
class SetNotNull(Op):
    """The field became required; NULLs are filled with ``default`` if it has one."""

    kind: ClassVar[str] = "set_not_null"
    default: Any = None

    def describe(self) -> Text:
        text = Text(f"{self.target} 改为必填（NOT NULL）",
                    f"make {self.target} required (NOT NULL)")
        if self.default is not None:
            value = _shown(self.default)
            text = Text(f"{text.zh}，空值填入默认值 {value}",
                        f"{text.en}, NULLs filled with the default {value}")
        return text

    def details(self) -> dict:
        return {"default": json_value(self.default)}


@dataclass(frozen=True, kw_only=True)
class DropNotNull(Op):
    kind: ClassVar[str] = "drop_not_null"

    def describe(self) -> Text:
        return Text(f"{self.target} 改为可空", f"make {self.target} optional (NULL allowed)")


@dataclass(frozen=True, kw_only=True)
class _NamedOp(Op):
    """An index or constraint: a name over one or more columns."""

    name: str
    columns: tuple[str, ...] = ()

    @property
    def subject(self) -> str | None:
        return _names(self.columns)

    def details(self) -> dict:
        return {"name": self.name, "columns": list(self.columns)}


@dataclass(frozen=True, kw_only=True)
class AddIndex(_NamedOp):
    kind: ClassVar[str] = "add_index"
    unique: bool = False

    def describe(self) -> Text:
        return Text(f"新建索引 {self.name}：{self.table}({_names(self.columns)})",
                    f"create index {self.name} on {self.table}({_names(self.columns)})")

    def details(self) -> dict:
        return {**super().details(), "unique": self.unique}


@dataclass(frozen=True, kw_only=True)
class DropIndex(_NamedOp):
    kind: ClassVar[str] = "drop_index"

    def describe(self) -> Text:
        return Text(f"删除不再声明的索引 {self.name}（{self.table}）",
                    f"drop index {self.name} on {self.table} (no longer declared)")


@dataclass(frozen=True, kw_only=True)
class AddUnique(_NamedOp):
    kind: ClassVar[str] = "add_unique"

    def describe(self) -> Text:
        return Text(f"新增唯一约束 {self.name}：{self.table}({_names(self.columns)})",
                    f"add unique constraint {self.name} on {self.table}({_names(self.columns)})")


@dataclass(frozen=True, kw_only=True)
class DropUnique(_NamedOp):
    kind: ClassVar[str] = "drop_unique"

    def describe(self) -> Text:
        return Text(f"删除唯一约束 {self.name}（{self.table}）",
                    f"drop unique constraint {self.name} on {self.table}")


@dataclass(frozen=True, kw_only=True)
class AddForeignKey(_NamedOp):
    kind: ClassVar[str] = "add_foreign_key"
    ref_table: str
    ref_columns: tuple[str, ...] = ("id",)
    ondelete: str | None = None

    def describe(self) -> Text:
        cols, ref = _names(self.columns), f"{self.ref_table}({_names(self.ref_columns)})"
        return Text(f"新增外键 {self.name}：{self.table}({cols}) → {ref}",
                    f"add foreign key {self.name}: {self.table}({cols}) → {ref}")

    def details(self) -> dict:
        return {**super().details(), "ref_table": self.ref_table,
                "ref_columns": list(self.ref_columns), "ondelete": self.ondelete}


@dataclass(frozen=True, kw_only=True)
class DropForeignKey(_NamedOp):
    kind: ClassVar[str] = "drop_foreign_key"

    def describe(self) -> Text:
        return Text(f"删除外键 {self.name}（{self.table}）",
                    f"drop foreign key {self.name} on {self.table}")


@dataclass(frozen=True, kw_only=True)
class KeepTable(Op):
    """A table of a removed entity (or child table): kept with its rows."""

    kind: ClassVar[str] = "keep_table"
    changes_schema: ClassVar[bool] = False

    def describe(self) -> Text:
        return Text(f"实体已移除：保留表 {self.table} 及其数据",
                    f"removed entity: table {self.table} and its data are kept")


@dataclass(frozen=True, kw_only=True)
class DropTable(Op):
    kind: ClassVar[str] = "drop_table"

    def describe(self) -> Text:
        return Text(f"删除表 {self.table}（其数据一并删除）",
                    f"drop table {self.table} (its rows are deleted)")


@dataclass(frozen=True)
class Plan:
    """The ordered operations that bring the database to the target model."""

    ops: tuple[Op, ...] = ()

    @property
    def changes(self) -> tuple[Op, ...]:
        """The operations that change the schema (not the report-only ones)."""
        return tuple(op for op in self.ops if op.changes_schema)

    @property
    def is_empty(self) -> bool:
        return not self.ops

    def kinds(self) -> list[str]:
        return [op.kind for op in self.ops]

    def as_dicts(self) -> list[dict]:
        """JSON-ready list of the operations (kept in the metadata history)."""
        return [op.as_dict() for op in self.ops]
