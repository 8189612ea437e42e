"""Lossy-change checks: which plan steps would lose or violate data (runtime
layer, schema sync).

:func:`check_plan` runs one counting query per risky operation against the
current rows and returns a :class:`Refusal` for each that would hurt data,
naming the table, the column and the number of rows. Nothing is changed.

A refusal is *forcible* when ``allow_lossy`` may override it because the
apply step can carry it out by giving data up (truncating, rounding,
emptying or deleting values). Others cannot be forced at all — a NOT NULL
column over rows without a value, a unique constraint over duplicates, a
foreign key over missing rows — and stay refused until the data is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from sqlalchemy import (
    Connection, and_, column, exists, func, literal, select, table as sql_table,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from yunying.platform.i18n import Text
from yunying.runtime.schema import ops as o

__all__ = ["Refusal", "check_plan"]


@dataclass(frozen=True)
class Refusal:
    """A plan step refused because of existing rows."""

    table: str
    column: str | None
    rows: int
    kind: str          # the operation kind
    message: Text
    #: whether ``allow_lossy`` may override it (see the module docstring).
    forcible: bool = True

    def as_dict(self) -> dict:
        return {"table": self.table, "column": self.column, "rows": self.rows,
                "kind": self.kind, "forcible": self.forcible,
                "message": self.message.as_dict()}


class _Sources:
    """Where a column of the plan's target lives before the plan runs: renamed
    columns under their old name, added columns nowhere yet."""

    def __init__(self, plan: o.Plan) -> None:
        self.renamed = {(op.table, op.column): op.old for op in plan.ops
                        if isinstance(op, o.RenameColumn)}
        self.added = {(op.table, op.column): op for op in plan.ops
                      if isinstance(op, o.AddColumn)}
        self.created = {op.table for op in plan.ops if isinstance(op, o.CreateTable)}

    def name(self, table: str, col: str) -> str:
        return self.renamed.get((table, col), col)

    def cols(self, table: str, *names: str) -> list[ColumnElement]:
        """The columns, as they are named now, of one table clause."""
        clause = sql_table(table, *(column(self.name(table, n)) for n in names))
        return [clause.c[self.name(table, n)] for n in names]

    def col(self, table: str, name: str) -> ColumnElement:
        return self.cols(table, name)[0]


def _count(conn: Connection, table: str | TableClause, *where: ColumnElement) -> int:
    """Rows of ``table`` matching ``where`` (whose columns must belong to it)."""
    clause = sql_table(table) if isinstance(table, str) else table
    query = select(func.count()).select_from(clause)
    if where:
        query = query.where(and_(*where))
    return int(conn.execute(query).scalar() or 0)


def _refusal(op: o.Op, rows: int, message: Text, *, forcible: bool) -> list[Refusal]:
    if rows <= 0:
        return []
    where = op.target if op.column else (
        f"{op.table}({op.subject})" if op.subject else op.table)
    return [Refusal(op.table, op.subject, rows, op.kind,
                    message.format(target=where, rows=rows), forcible)]


def _drop_column(conn: Connection, op: o.DropColumn, src: _Sources) -> list[Refusal]:
    col = src.col(op.table, op.column)
    rows = _count(conn, col.table, col.is_not(None))
    return _refusal(op, rows, Text(
        "删除列 {target} 会删除 {rows} 行中的数据",
        "dropping column {target} would delete the values of {rows} row(s)"), forcible=True)


def _drop_table(conn: Connection, op: o.DropTable, src: _Sources) -> list[Refusal]:
    return _refusal(op, _count(conn, op.table), Text(
        "删除表 {target} 会删除其中的 {rows} 行",
        "dropping table {target} would delete its {rows} row(s)"), forcible=True)


def _narrow(conn: Connection, op: o.NarrowType, src: _Sources) -> list[Refusal]:
    if op.table in src.created or (op.table, op.column) in src.added:
        return []
    return _NARROW_CHECKS[op.new.kind](conn, op, src.col(op.table, op.column))


def _narrow_string(conn: Connection, op: o.NarrowType, col: ColumnElement) -> list[Refusal]:
    rows = _count(conn, col.table, func.length(col) > op.new.length)
    return _refusal(op, rows, Text(
        f"{{target}}：{{rows}} 行的值超过新长度 {op.new.length}；请先缩短这些值或保留更大的长度"
        f"（强制执行将截断）",
        f"{{target}}: {{rows}} row(s) hold values longer than the new length "
        f"{op.new.length}; shorten them first or keep a larger length (forcing truncates them)"),
        forcible=True)


def _narrow_decimal(conn: Connection, op: o.NarrowType, col: ColumnElement) -> list[Refusal]:
    digits, scale = op.new.integer_digits, op.new.scale or 0
    rounds = op.old.kind == "decimal" and (op.old.scale is None or op.old.scale > scale)
    refusals: list[Refusal] = []
    if digits is not None:
        # judged after rounding: 999.995 becomes 1000.00, too large for NUMERIC(5, 2)
        kept = func.round(col, scale) if rounds else col
        rows = _count(conn, col.table, func.abs(kept) >= literal(10 ** digits))
        refusals += _refusal(op, rows, Text(
            f"{{target}}：{{rows}} 行的值整数部分超过 {digits} 位，{op.new} 无法保存；请先修改这些值",
            f"{{target}}: {{rows}} row(s) hold values with more than {digits} integer "
            f"digit(s), which {op.new} cannot store; change them first"), forcible=False)
    if rounds:
        rows = _count(conn, col.table, col.is_not(None), col != func.round(col, scale))
        refusals += _refusal(op, rows, Text(
            f"{{target}}：{{rows}} 行的值小数位超过 {scale} 位（强制执行将四舍五入）",
            f"{{target}}: {{rows}} row(s) hold values with more than {scale} decimal "
            f"place(s) (forcing rounds them half-up)"), forcible=True)
    return refusals


_NARROW_CHECKS: Mapping[str, Callable[[Connection, o.NarrowType, ColumnElement],
                                      list[Refusal]]] = MappingProxyType({
    "string": _narrow_string,
    "decimal": _narrow_decimal,
})


def _change_type(conn: Connection, op: o.ChangeType, src: _Sources) -> list[Refusal]:
    if op.table in src.created or (op.table, op.column) in src.added:
        return []
    col = src.col(op.table, op.column)
    rows = _count(conn, col.table, col.is_not(None))
    if op.nullable:
        message = Text(
            f"{{target}}：{{rows}} 行的值无法从 {op.old} 转换为 {op.new}（强制执行将清空这些值）",
            f"{{target}}: {{rows}} row(s) hold values that cannot be converted from "
            f"{op.old} to {op.new} (forcing empties them)")
    else:
        message = Text(
            f"{{target}}：{{rows}} 行的值无法从 {op.old} 转换为 {op.new}，而该字段必填；"
            f"请先清理数据或使字段可选",
            f"{{target}}: {{rows}} row(s) hold values that cannot be converted from "
            f"{op.old} to {op.new} and the field is required; clear them first or make "
            f"the field optional")
    return _refusal(op, rows, message, forcible=op.nullable)


def _set_not_null(conn: Connection, op: o.SetNotNull, src: _Sources) -> list[Refusal]:
    if op.default is not None or op.table in src.created:
        return []
    col = src.col(op.table, op.column)
    rows = _count(conn, col.table, col.is_(None))
    return _refusal(op, rows, Text(
        "{target} 改为必填，但有 {rows} 行没有值；请先填写这些值或为字段设置默认值",
        "{target} becomes required but {rows} row(s) have no value; fill them first or "
        "give the field a default"), forcible=False)


def _add_column(conn: Connection, op: o.AddColumn, src: _Sources) -> list[Refusal]:
    if op.nullable or op.default is not None:
        return []
    return _refusal(op, _count(conn, op.table), Text(
        "新增必填字段 {target} 没有默认值，现有 {rows} 行将没有值；请为字段设置默认值或使其可选",
        "new required field {target} has no default, so {rows} existing row(s) would have "
        "no value; give the field a default or make it optional"), forcible=False)


def _duplicate_rows(conn: Connection, table: TableClause,
                    columns: list[ColumnElement]) -> int:
    """Rows that share their values of ``columns`` with another row (NULLs never clash)."""
    groups = select(func.count().label("n")).select_from(table)
    if columns:
        groups = groups.where(*(c.is_not(None) for c in columns)).group_by(*columns)
    groups = groups.having(func.count() > 1).subquery()
    return int(conn.execute(select(func.coalesce(func.sum(groups.c.n), 0))).scalar() or 0)


def _add_unique(conn: Connection, op: o.AddUnique | o.AddIndex, src: _Sources) -> list[Refusal]:
    if op.table in src.created:
        return []
    existing: list[str] = []
    for name in op.columns:
        added = src.added.get((op.table, name))
        if added is None:
            existing.append(name)
        elif added.default is None:
            return []  # the new column is NULL in every row: no duplicates
        # a new column filled with one default is the same in every row
    columns = src.cols(op.table, *existing)
    table = columns[0].table if columns else sql_table(op.table)
    rows = _duplicate_rows(conn, table, columns)
    return _refusal(op, rows, Text(
        "{target}：{rows} 行的值重复，无法建立唯一约束；请先消除重复",
        "{target}: {rows} row(s) share duplicate values, so the unique constraint cannot "
        "be created; remove the duplicates first"),
        forcible=False)


def _add_index(conn: Connection, op: o.AddIndex, src: _Sources) -> list[Refusal]:
    return _add_unique(conn, op, src) if op.unique else []


def _add_foreign_key(conn: Connection, op: o.AddForeignKey, src: _Sources) -> list[Refusal]:
    if op.table in src.created:
        return []
    if any((op.table, c) in src.added and src.added[(op.table, c)].default is None
           for c in op.columns):
        return []
    local = src.cols(op.table, *op.columns)
    present = [c.is_not(None) for c in local]
    if op.ref_table not in src.created:
        ref = sql_table(op.ref_table, *(column(c) for c in op.ref_columns)).alias("ref")
        matched = exists().where(*(ref.c[r] == c for r, c in zip(op.ref_columns, local)))
        present.append(~matched)
    rows = _count(conn, local[0].table, *present)
    return _refusal(op, rows, Text(
        f"{{target}}：{{rows}} 行引用了 {op.ref_table} 中不存在的记录；请先修正这些引用",
        f"{{target}}: {{rows}} row(s) refer to rows missing from {op.ref_table}; "
        f"fix those references first"),
        forcible=False)


_CHECKS: Mapping[type, Callable[[Connection, o.Op, _Sources], list[Refusal]]] = \
    MappingProxyType({
        o.DropColumn: _drop_column,
        o.DropTable: _drop_table,
        o.NarrowType: _narrow,
        o.ChangeType: _change_type,
        o.SetNotNull: _set_not_null,
        o.AddColumn: _add_column,
        o.AddUnique: _add_unique,
        o.AddIndex: _add_index,
        o.AddForeignKey: _add_foreign_key,
    })


def check_plan(conn: Connection, plan: o.Plan) -> list[Refusal]:
    """Every refusal of ``plan`` against the rows now in the database, in plan order."""
    sources = _Sources(plan)
    refusals: list[Refusal] = []
    for op in plan.ops:
        check = _CHECKS.get(type(op))
        if check is not None:
            refusals.extend(check(conn, op, sources))
    return refusals
