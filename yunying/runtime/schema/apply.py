"""Run a schema plan (runtime layer, schema sync).

:func:`apply_plan` checks the plan first and refuses lossy changes before
running anything, then turns every operation into steps: table alterations
(run through Alembic's ``batch_alter_table`` — a table rebuild on SQLite,
plain ALTER statements elsewhere; consecutive alterations of one table share
one rebuild) and data statements (backfills, truncation). The caller owns the
transaction — normally ``Database.schema_transaction()`` — so a failure in
any step leaves the database as it was.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from alembic.operations import BatchOperations, Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, column, func, select, table as sql_table, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable as CreateTableDDL

from yunying.platform.errors import ConfigurationError, LossyChange
from yunying.platform.i18n import Text
from yunying.runtime.schema import ops as o
from yunying.runtime.schema.lossy import Refusal, check_plan

__all__ = ["apply_plan", "lossy_error"]


@dataclass(frozen=True)
class _Alter:
    """A change to one table's structure, run inside ``batch_alter_table``."""

    op: o.Op
    run: Callable[[BatchOperations], None]


@dataclass(frozen=True)
class _Data:
    """A statement run directly on the connection (DDL outside a batch, or DML)."""

    op: o.Op
    run: Callable[[Connection], None]


_Step = _Alter | _Data


def lossy_error(refusals: Iterable[Refusal]) -> LossyChange:
    """The ``LossyChange`` listing ``refusals`` (details ``{"refusals": [...]}``)."""
    items = list(refusals)
    zh = "；".join(r.message.zh for r in items)
    en = "; ".join(r.message.en for r in items)
    return LossyChange(
        Text(f"架构变更会丢失或违反数据，已拒绝（{len(items)} 处）：{zh}",
             f"the schema change would lose or violate data and was refused "
             f"({len(items)} issue(s)): {en}"),
        details={"refusals": [r.as_dict() for r in items]})


def apply_plan(conn: Connection, plan: o.Plan, *, allow_lossy: bool = False) -> None:
    """Run ``plan`` on ``conn`` (inside the caller's transaction).

    Raises LossyChange before running anything when :func:`check_plan`
    refuses a step — with ``allow_lossy`` only for refusals that cannot be
    forced — and LossyChange (code ``schema_apply_failed``) when the database
    rejects a step; the caller's transaction must then roll back. On SQLite a
    plan that alters tables must run in ``Database.schema_transaction()``
    (ConfigurationError otherwise).
    """
    refusals = check_plan(conn, plan)
    blocking = [r for r in refusals if not (allow_lossy and r.forcible)]
    if blocking:
        raise lossy_error(blocking)
    dialect = conn.dialect.name
    steps = [step for op in plan.ops for step in _STEPS[type(op)](op, dialect)]
    if dialect == "sqlite" and any(not isinstance(s.op, o.CreateTable) for s in steps):
        _require_foreign_keys_off(conn)
    operations = Operations(MigrationContext.configure(conn))
    for _key, group in itertools.groupby(steps, key=_group_key):
        _run(conn, operations, list(group))


def _require_foreign_keys_off(conn: Connection) -> None:
    """SQLite rebuilds tables by dropping them; with foreign keys enforced the
    drop would delete child rows (ON DELETE CASCADE). Refuse to start."""
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise ConfigurationError(Text(
            "SQLite 上的结构变更必须在 Database.schema_transaction() 中执行（需关闭外键检查），"
            "否则重建表会级联删除明细行",
            "on SQLite, schema changes must run inside Database.schema_transaction() "
            "(foreign keys off); otherwise a table rebuild would cascade-delete child rows"),
            code="schema_transaction_required")


def _group_key(step: _Step) -> tuple[str, Any]:
    # Consecutive alterations of one table share one batch (one SQLite
    # rebuild). A rename stands alone: later steps name the column's new name,
    # which a batch only knows once it has run.
    if isinstance(step, _Alter) and not isinstance(step.op, o.RenameColumn):
        return ("alter", step.op.table)
    return ("alone", id(step))


def _run(conn: Connection, operations: Operations, group: list[_Step]) -> None:
    try:
        if isinstance(group[0], _Alter):
            with operations.batch_alter_table(group[0].op.table, recreate="auto") as batch:
                for step in group:
                    step.run(batch)  # type: ignore[arg-type]
        else:
            for step in group:
                step.run(conn)  # type: ignore[arg-type]
    except DBAPIError as exc:
        ops = list(dict.fromkeys(step.op for step in group))
        zh = "；".join(op.describe().zh for op in ops)
        en = "; ".join(op.describe().en for op in ops)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise LossyChange(
            Text(f"数据库拒绝了架构变更（{zh}）：{reason}；整个变更将回滚",
                 f"the database rejected the schema change ({en}): {reason}; "
                 f"the whole change is rolled back"),
            code="schema_apply_failed",
            details={"ops": [op.as_dict() for op in ops], "error": reason}) from exc


def _create_table(op: o.CreateTable, dialect: str) -> list[_Step]:
    def run(conn: Connection) -> None:
        table = op.sa_table
        if table is None:
            raise ValueError(f"create_table {op.table} carries no table description")
        fks = {fk for fk in table.foreign_key_constraints if fk.name not in op.deferred}
        conn.execute(CreateTableDDL(table, include_foreign_key_constraints=fks))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            conn.execute(CreateIndex(index))
    return [_Data(op, run)]


def _fill(op: o.Op, value: Any, type_: Any = None, *, only_null: bool) -> _Data:
    def run(conn: Connection) -> None:
        target = sql_table(op.table, column(op.column, type_))
        stmt = update(target).values({op.column: value})
        if only_null:
            stmt = stmt.where(target.c[op.column].is_(None))
        conn.execute(stmt)
    return _Data(op, run)


def _add_column(op: o.AddColumn, dialect: str) -> list[_Step]:
    type_ = op.type.to_sqlalchemy()
    steps: list[_Step] = [_Alter(op, lambda b: b.add_column(Column(op.column, type_)))]
    if op.default is not None:
        steps.append(_fill(op, op.default, type_, only_null=False))
    if not op.nullable:
        steps.append(_Alter(op, lambda b: b.alter_column(
            op.column, nullable=False, existing_type=type_)))
    return steps


def _set_not_null(op: o.SetNotNull, dialect: str) -> list[_Step]:
    steps: list[_Step] = []
    if op.default is not None:
        steps.append(_fill(op, op.default, only_null=True))
    steps.append(_Alter(op, lambda b: b.alter_column(op.column, nullable=False)))
    return steps


def _truncate(op: o.NarrowType) -> _Data:
    def run(conn: Connection) -> None:
        target = sql_table(op.table, column(op.column))
        col = target.c[op.column]
        conn.execute(update(target).where(func.length(col) > op.new.length)
                     .values({op.column: func.substr(col, 1, op.new.length)}))
    return _Data(op, run)


def _round(op: o.NarrowType) -> _Data:
    """Round values to the new scale, half-up, in Python (SQLite keeps REALs)."""
    scale = op.new.scale or 0
    quantum = Decimal(1).scaleb(-scale)

    def run(conn: Connection) -> None:
        source = sql_table(op.table, column("id"), column(op.column))
        col = source.c[op.column]
        rows = conn.execute(select(source.c.id, col).where(
            col.is_not(None), col != func.round(col, scale))).all()
        target = sql_table(op.table, column("id"), column(op.column, op.new.to_sqlalchemy()))
        for row_id, value in rows:  # str(): SQLite hands back floats
            rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
            conn.execute(update(target).where(target.c.id == row_id)
                         .values({op.column: rounded}))
    return _Data(op, run)


def _alter_type(op: o._TypeOp, dialect: str, **kw: Any) -> _Alter:
    new = op.new.to_sqlalchemy()
    return _Alter(op, lambda b: b.alter_column(op.column, type_=new, **kw))


def _widen(op: o.WidenType, dialect: str) -> list[_Step]:
    return [_alter_type(op, dialect)]


def _narrow(op: o.NarrowType, dialect: str) -> list[_Step]:
    """Values that do not fit were refused; forced, strings are truncated and
    decimals rounded to the new scale."""
    steps: list[_Step] = []
    if op.new.kind == "string":
        steps.append(_truncate(op))
    elif op.old.kind == "decimal":
        steps.append(_round(op))
    return steps + [_alter_type(op, dialect)]


def _change_type(op: o.ChangeType, dialect: str) -> list[_Step]:
    """Unrelated types: the old values cannot be kept (refused unless forced)."""
    kw: dict[str, Any] = {}
    if dialect == "postgresql":
        kw["postgresql_using"] = f"NULL::{op.new}"
    return [_fill(op, None, only_null=False), _alter_type(op, dialect, **kw)]


def _drop_table(op: o.DropTable, dialect: str) -> list[_Step]:
    def run(conn: Connection) -> None:
        name = conn.dialect.identifier_preparer.quote(op.table)
        # CASCADE drops other tables' foreign keys into it (PostgreSQL), never rows
        suffix = " CASCADE" if dialect == "postgresql" else ""
        conn.exec_driver_sql(f"DROP TABLE {name}{suffix}")
    return [_Data(op, run)]


def _alter(run: Callable[[Any, BatchOperations], None]) -> Callable[[Any, str], list[_Step]]:
    return lambda op, dialect: [_Alter(op, lambda b: run(op, b))]


def _nothing(op: o.Op, dialect: str) -> list[_Step]:
    return []


_STEPS: Mapping[type, Callable[[Any, str], list[_Step]]] = MappingProxyType({
    o.CreateTable: _create_table,
    o.AddColumn: _add_column,
    o.DropColumn: _alter(lambda op, b: b.drop_column(op.column)),
    o.KeepColumn: lambda op, dialect: (
        [_Alter(op, lambda b: b.alter_column(op.column, nullable=True))]
        if op.relax_not_null else []),
    o.RenameColumn: _alter(lambda op, b: b.alter_column(op.old, new_column_name=op.column)),
    o.WidenType: _widen,
    o.NarrowType: _narrow,
    o.ChangeType: _change_type,
    o.SetNotNull: _set_not_null,
    o.DropNotNull: _alter(lambda op, b: b.alter_column(op.column, nullable=True)),
    o.AddIndex: _alter(lambda op, b: b.create_index(op.name, list(op.columns),
                                                    unique=op.unique)),
    o.DropIndex: _alter(lambda op, b: b.drop_index(op.name)),
    o.AddUnique: _alter(lambda op, b: b.create_unique_constraint(op.name, list(op.columns))),
    o.DropUnique: _alter(lambda op, b: b.drop_constraint(op.name, type_="unique")),
    o.AddForeignKey: _alter(lambda op, b: b.create_foreign_key(
        op.name, op.ref_table, list(op.columns), list(op.ref_columns),
        ondelete=op.ondelete)),
    o.DropForeignKey: _alter(lambda op, b: b.drop_constraint(op.name, type_="foreignkey")),
    o.KeepTable: _nothing,
    o.DropTable: _drop_table,
})
