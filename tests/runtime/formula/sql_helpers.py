"""Helpers for the formula SQL tests: a typed table on the test database, and
the comparison of a database answer with the Python evaluator's.

PostgreSQL answers are compared exactly. SQLite keeps decimals as REAL, exact
to 15 significant digits (the documented limit): there numbers — also numbers
written inside texts — are compared after normalising to 15 significant digits.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from yunying.platform.database import Database
from yunying.runtime.formula import sql_functions
from yunying.runtime.formula.checker import Checked
from yunying.runtime.formula.sql import compile_row
from yunying.runtime.formula.types import FType

TODAY = date(2024, 3, 15)
NOW = datetime(2024, 3, 15, 8, 30, 15)

#: the row fields of the test table: code → (formula type, SQL type)
FIELDS: Mapping[str, tuple[FType, Any]] = {
    "n": (FType.NUMBER, sa.Numeric(18, 4)),
    "m": (FType.NUMBER, sa.Numeric(18, 4)),
    "x": (FType.NUMBER, sa.Numeric(18, 4)),
    "i": (FType.NUMBER, sa.Integer()),
    "s": (FType.STRING, sa.String(100)),
    "t": (FType.STRING, sa.String(100)),
    "d": (FType.DATE, sa.Date()),
    "d2": (FType.DATE, sa.Date()),
    "dt": (FType.DATETIME, sa.DateTime()),
    "b": (FType.BOOLEAN, sa.Boolean(create_constraint=False)),
}
TYPES = {code: ftype for code, (ftype, _) in FIELDS.items()}
_FIFTEEN = Context(prec=15, rounding=ROUND_HALF_EVEN)
_NUMBER_IN_TEXT = re.compile(r"-?\d+\.\d+|-?\d{16,}")


def formula_table(db: Database, name: str = "fs_rows", extra: Sequence[sa.Column] = ()) -> sa.Table:
    """A table with every field of FIELDS (plus ``extra``), created on ``db``, whose
    SQLite connections get the formula functions."""
    db.on_sqlite_connect(sql_functions.register)
    table = sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     *[sa.Column(code, sql_type) for code, (_, sql_type) in FIELDS.items()],
                     *extra)
    with db.begin() as conn:
        table.metadata.create_all(conn)
    return table


def columns(table: sa.Table) -> dict[str, Any]:
    return {code: table.c[code] for code in FIELDS}


def fill(db: Database, table: sa.Table, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Replace the table's rows; returns them with ids and every field (missing → None)."""
    full = [{"id": k + 1, **{code: row.get(code) for code in FIELDS}} for k, row in enumerate(rows)]
    with db.begin() as conn:
        conn.execute(table.delete())
        if full:
            conn.execute(table.insert(), full)
    return full


def sql_values(db: Database, table: sa.Table, checked: Checked) -> list[Any]:
    """The formula computed by the database for every row, ordered by id."""
    expr = compile_row(checked, columns(table), dialect=db.dialect, today=TODAY, now=NOW)
    with db.connect() as conn:
        return list(conn.execute(sa.select(expr).select_from(table).order_by(table.c.id)).scalars())


def fifteen(x: Decimal) -> Decimal:
    return _FIFTEEN.plus(x)


def _near(a: Decimal, b: Decimal) -> bool:
    """Equal to 15 significant digits (or within one unit of the 15th digit)."""
    if a == b or fifteen(a) == fifteen(b):
        return True
    scale = max(a.copy_abs(), b.copy_abs())
    return (a - b).copy_abs() <= Decimal(1).scaleb(scale.adjusted() - 14)


def _texts_near(a: str, b: str) -> bool:
    if a == b:
        return True
    split_a, split_b = _NUMBER_IN_TEXT.split(a), _NUMBER_IN_TEXT.split(b)
    numbers_a, numbers_b = _NUMBER_IN_TEXT.findall(a), _NUMBER_IN_TEXT.findall(b)
    return (split_a == split_b and len(numbers_a) == len(numbers_b)
            and all(_near(Decimal(x), Decimal(y)) for x, y in zip(numbers_a, numbers_b)))


def same(got: Any, expected: Any, dialect: str) -> bool:
    """Whether the database's ``got`` is the evaluator's ``expected`` (same kind too)."""
    if expected is None or got is None:
        return got is None and expected is None
    if isinstance(expected, bool):
        return got is expected
    if isinstance(expected, Decimal):
        if not isinstance(got, Decimal):
            return False
        return got == expected if dialect != "sqlite" else _near(got, expected)
    if type(got) is not type(expected):
        return False
    if isinstance(expected, str) and dialect == "sqlite":
        return _texts_near(got, expected)
    return got == expected
