"""Column types as the schema sync sees them (runtime layer, schema sync).

Reflected types differ by dialect (SQLite reflects ``DATETIME``, PostgreSQL
``TIMESTAMP``; ``Text`` is a kind of ``String``), so both sides of a
comparison are reduced to one small value, :class:`ColumnType`, and compared
as values. :func:`classify_change` then says whether a change keeps every
possible value (widen), may not (narrow, checked against the rows), or
converts between unrelated types (change).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeEngine

__all__ = [
    "ColumnType", "column_type_of", "classify_change",
    "WIDEN", "NARROW", "CHANGE", "INTEGER_DIGITS",
]

WIDEN = "widen_type"
NARROW = "narrow_type"
CHANGE = "change_type"

#: decimal digits a 32-bit INTEGER column may need (2147483647).
INTEGER_DIGITS = 10


@dataclass(frozen=True)
class ColumnType:
    """A column type reduced to what matters for data: kind plus size.

    ``kind`` is one of string, text, integer, decimal, boolean, date,
    datetime, or ``other:<NAME>`` for a type Yunying never declares.
    """

    kind: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        return _SQL_NAMES.get(self.kind, lambda t: t.kind.partition(":")[2])(self)

    @property
    def integer_digits(self) -> int | None:
        """Digits left of the decimal point a value may have (None: unbounded)."""
        if self.kind == "integer":
            return INTEGER_DIGITS
        if self.kind == "decimal" and self.precision is not None:
            return self.precision - (self.scale or 0)
        return None

    def to_sqlalchemy(self) -> TypeEngine:
        """The SQLAlchemy type that creates a column of this type."""
        factory = _FACTORIES.get(self.kind)
        if factory is None:
            raise ValueError(f"cannot build a column of type {self}")
        return factory(self)

    def as_dict(self) -> dict:
        data: dict = {"kind": self.kind}
        for key in ("length", "precision", "scale"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


def _sized_string(t: TypeEngine) -> ColumnType:
    return ColumnType("string", length=getattr(t, "length", None))


def _numeric(t: TypeEngine) -> ColumnType:
    precision = getattr(t, "precision", None)
    scale = getattr(t, "scale", None)
    if precision is not None and scale is None:
        scale = 0
    return ColumnType("decimal", precision=precision, scale=scale)


# Looked up along the type's MRO, so TEXT finds Text before String and
# PostgreSQL's TIMESTAMP finds DateTime.
_KINDS: Mapping[type, Callable[[TypeEngine], ColumnType]] = MappingProxyType({
    sqltypes.Text: lambda t: ColumnType("text"),
    sqltypes.String: _sized_string,
    sqltypes.Numeric: _numeric,
    sqltypes.Integer: lambda t: ColumnType("integer"),
    sqltypes.Boolean: lambda t: ColumnType("boolean"),
    sqltypes.DateTime: lambda t: ColumnType("datetime"),
    sqltypes.Date: lambda t: ColumnType("date"),
})

_FACTORIES: Mapping[str, Callable[[ColumnType], TypeEngine]] = MappingProxyType({
    "string": lambda c: sqltypes.String(c.length),
    "text": lambda c: sqltypes.Text(),
    "integer": lambda c: sqltypes.Integer(),
    "decimal": lambda c: sqltypes.Numeric(c.precision, c.scale, asdecimal=True),
    "boolean": lambda c: sqltypes.Boolean(create_constraint=False),
    "date": lambda c: sqltypes.Date(),
    "datetime": lambda c: sqltypes.DateTime(),
})

_SQL_NAMES: Mapping[str, Callable[[ColumnType], str]] = MappingProxyType({
    "string": lambda c: f"VARCHAR({c.length})" if c.length else "VARCHAR",
    "text": lambda c: "TEXT",
    "integer": lambda c: "INTEGER",
    "decimal": lambda c: (f"NUMERIC({c.precision}, {c.scale})"
                          if c.precision is not None else "NUMERIC"),
    "boolean": lambda c: "BOOLEAN",
    "date": lambda c: "DATE",
    "datetime": lambda c: "TIMESTAMP",
})


def column_type_of(type_: TypeEngine) -> ColumnType:
    """Reduce a declared or reflected SQLAlchemy type to a :class:`ColumnType`."""
    for cls in type(type_).__mro__:
        reduce = _KINDS.get(cls)
        if reduce is not None:
            return reduce(type_)
    return ColumnType(f"other:{type(type_).__name__.upper()}")


def _string_to(old: ColumnType, new: ColumnType) -> str:
    if new.kind == "text":
        return WIDEN
    if new.kind != "string":
        return CHANGE
    if new.length is None or (old.length is not None and new.length >= old.length):
        return WIDEN
    return NARROW


def _text_to(old: ColumnType, new: ColumnType) -> str:
    if new.kind == "string":
        return WIDEN if new.length is None else NARROW
    return CHANGE


def _decimal_to(old: ColumnType, new: ColumnType) -> str:
    if new.kind != "decimal":
        return CHANGE
    if new.precision is None:
        return WIDEN
    if old.precision is None:
        return NARROW
    keeps_scale = (new.scale or 0) >= (old.scale or 0)
    keeps_digits = new.integer_digits >= old.integer_digits  # type: ignore[operator]
    return WIDEN if keeps_scale and keeps_digits else NARROW


def _integer_to(old: ColumnType, new: ColumnType) -> str:
    if new.kind != "decimal":
        return CHANGE
    digits = new.integer_digits
    return WIDEN if digits is None or digits >= INTEGER_DIGITS else NARROW


_CHANGES: Mapping[str, Callable[[ColumnType, ColumnType], str]] = MappingProxyType({
    "string": _string_to,
    "text": _text_to,
    "decimal": _decimal_to,
    "integer": _integer_to,
})


def classify_change(old: ColumnType, new: ColumnType) -> str | None:
    """``None`` when equal, else :data:`WIDEN`, :data:`NARROW` or :data:`CHANGE`.

    Widening keeps every value the old type can hold; narrowing may not (the
    rows must be checked); a change converts between unrelated types.
    """
    if old == new:
        return None
    rule = _CHANGES.get(old.kind)
    return rule(old, new) if rule else CHANGE
