"""Schema sync: column types reduced to values and their changes classified."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql, sqlite

from yunying.runtime.schema.coltype import (
    CHANGE, NARROW, WIDEN, ColumnType, classify_change, column_type_of,
)


@pytest.mark.parametrize("declared, reflected", [
    (sqltypes.String(30), sqltypes.VARCHAR(30)),
    (sqltypes.Text(), sqltypes.TEXT()),
    (sqltypes.Numeric(18, 2), sqltypes.NUMERIC(18, 2)),
    (sqltypes.Integer(), sqltypes.INTEGER()),
    (sqltypes.Boolean(create_constraint=False), sqltypes.BOOLEAN()),
    (sqltypes.Date(), sqlite.DATE()),
    (sqltypes.DateTime(), sqlite.DATETIME()),
    (sqltypes.DateTime(), postgresql.TIMESTAMP()),
])
def test_declared_and_reflected_types_reduce_to_the_same_value(declared, reflected):
    assert column_type_of(declared) == column_type_of(reflected)


def test_unknown_types_are_named_and_not_buildable():
    kind = column_type_of(postgresql.JSONB())
    assert kind == ColumnType("other:JSONB")
    assert str(kind) == "JSONB"
    with pytest.raises(ValueError):
        kind.to_sqlalchemy()


@pytest.mark.parametrize("kind, sql", [
    (ColumnType("string", 12), "VARCHAR(12)"),
    (ColumnType("decimal", precision=18, scale=2), "NUMERIC(18, 2)"),
    (ColumnType("datetime"), "TIMESTAMP"),
    (ColumnType("boolean"), "BOOLEAN"),
])
def test_types_print_as_sql_and_build_back(kind, sql):
    assert str(kind) == sql
    assert column_type_of(kind.to_sqlalchemy()) == kind


@pytest.mark.parametrize("old, new, expected", [
    (ColumnType("string", 10), ColumnType("string", 10), None),
    (ColumnType("string", 10), ColumnType("string", 11), WIDEN),
    (ColumnType("string", 10), ColumnType("string", 9), NARROW),
    (ColumnType("string", 10), ColumnType("text"), WIDEN),
    (ColumnType("text"), ColumnType("string", 4000), NARROW),
    (ColumnType("integer"), ColumnType("decimal", precision=12, scale=2), WIDEN),
    (ColumnType("integer"), ColumnType("decimal", precision=11, scale=2), NARROW),
    (ColumnType("integer"), ColumnType("string", 20), CHANGE),
    (ColumnType("decimal", precision=10, scale=2), ColumnType("integer"), CHANGE),
    (ColumnType("date"), ColumnType("datetime"), CHANGE),
    (ColumnType("boolean"), ColumnType("integer"), CHANGE),
    (ColumnType("other:JSON"), ColumnType("text"), CHANGE),
])
def test_classify_change(old, new, expected):
    assert classify_change(old, new) == expected


def _largest(kind: ColumnType) -> Decimal:
    return Decimal(10) ** kind.integer_digits - Decimal(1).scaleb(-kind.scale)


def _fits(value: Decimal, kind: ColumnType) -> bool:
    with localcontext() as ctx:
        ctx.prec = 100  # NUMERIC(38, s) values exceed the default 28 digits
        return (abs(value) < Decimal(10) ** kind.integer_digits
                and value == value.quantize(Decimal(1).scaleb(-kind.scale)))


decimals = st.integers(1, 38).flatmap(
    lambda p: st.integers(0, p).map(lambda s: ColumnType("decimal", precision=p, scale=s)))


@given(decimals, decimals)
def test_a_decimal_change_is_widening_exactly_when_every_old_value_fits(old, new):
    """The extreme old values — the largest and the finest step — decide it."""
    with localcontext() as ctx:
        ctx.prec = 100
        extremes = [_largest(old), Decimal(1).scaleb(-old.scale)]
    keeps_all = all(_fits(v, new) for v in extremes)
    expected = None if old == new else (WIDEN if keeps_all else NARROW)
    assert classify_change(old, new) == expected


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_a_string_change_is_widening_exactly_when_the_length_does_not_shrink(a, b):
    expected = None if a == b else (WIDEN if b > a else NARROW)
    assert classify_change(ColumnType("string", a), ColumnType("string", b)) == expected
