"""Formula SQL for SQLite (公式的 SQLite 编译) (runtime layer).

Arithmetic, rounding, number → text, Unicode case mapping and date
arithmetic call the user functions of :mod:`.sql_functions` (prefix
``yyf_``), which run the Python evaluator's own value functions; the
connection must have them registered (``Database.on_sqlite_connect``).
Comparisons, logic, ``||``, ``trim`` and ``replace`` stay native: SQLite
compares numbers numerically, texts by their UTF-8 bytes (the code-point
order) and ISO dates as text — a date against a datetime is compared as its
midnight, written in SQLAlchemy's storage form ``YYYY-MM-DD HH:MM:SS.ffffff``.
Booleans are 0 and 1.

``SUM`` of a column declared integer (counts, days, headcount) is SQLite's
native ``sum()`` — exact over INTEGER values, and much faster than a Python
aggregate; every other SUM and AVG is the exact Python aggregate ``yyf_sum`` /
``yyf_avg`` (money stays exact).
"""

from __future__ import annotations

from typing import Callable, Sequence

from sqlalchemy import Integer, case, cast, func, literal_column, type_coerce

from yunying.runtime.formula import values as fv
from yunying.runtime.formula.sql_dialect import NUMBER, STRING, E, SqlDialect, bound, call, sql_type
from yunying.runtime.formula.sql_functions import PREFIX
from yunying.runtime.formula.types import FType

__all__ = ["SqliteDialect"]

_N, _S, _B, _D, _DT = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.DATETIME
_INT = Integer()
_MIDNIGHT = literal_column("' 00:00:00.000000'")
_EMPTY = literal_column("''")


def _call(name: str, *args: E, ftype: FType = _N) -> E:
    return call(PREFIX + name, *args, type_=sql_type(ftype))


def _part(start: int, length: int) -> Callable[[E], E]:
    return lambda d: type_coerce(cast(func.substr(d, start, length), _INT), NUMBER)


class SqliteDialect(SqlDialect):
    name = "sqlite"

    def comparable(self, expr: E, ftype: FType, other: FType) -> E:
        return expr.op("||")(_MIDNIGHT) if ftype is _D and other is _DT else expr

    # --- numbers --------------------------------------------------------------------
    def negate(self, x: E) -> E:
        return type_coerce(-x, NUMBER)

    def sum(self, terms: Sequence[tuple[bool, E]]) -> E:
        """``a + b - c …`` as one call (negation is exact on REAL and INTEGER)."""
        return _call("add", *[-term if negated else term for negated, term in terms])

    def subtract(self, a: E, b: E) -> E:
        return self.sum([(False, a), (True, b)])

    def product(self, factors: Sequence[E]) -> E:
        return _call("mul", *factors)

    def divide(self, a: E, b: E) -> E:
        return _call("div", a, b)

    def divide_or(self, a: E, b: E, alt: E) -> E:
        return _call("divide", a, b, alt)

    def power(self, a: E, b: E) -> E:
        return _call("power", a, b)

    def sqrt(self, x: E) -> E:
        return _call("sqrt", x)

    def absolute(self, x: E) -> E:
        return _call("abs", x)

    def round(self, mode: str, x: E, n: E | None) -> E:
        name = {"half_up": "round", "up": "roundup", "down": "rounddown"}[mode]
        return _call(name, x, n if n is not None else bound(0, _INT))

    def mod(self, a: E, b: E) -> E:
        return _call("mod", a, b)

    def extreme(self, kind: str, args: Sequence[E], ftype: FType) -> E:
        return _call(kind.lower(), *args, ftype=ftype)

    # --- text -------------------------------------------------------------------------
    def text(self, x: E, ftype: FType) -> E:
        """How ``&`` writes a value; never NULL."""
        return _TEXT[ftype](x)

    def length(self, s: E) -> E:
        return _call("len", s)

    def left(self, s: E, n: E) -> E:
        return _call("left", s, n, ftype=_S)

    def right(self, s: E, n: E) -> E:
        return _call("right", s, n, ftype=_S)

    def mid(self, s: E, start: E, n: E) -> E:
        return _call("mid", s, start, n, ftype=_S)

    def upper(self, s: E) -> E:
        return _call("upper", s, ftype=_S)

    def lower(self, s: E) -> E:
        return _call("lower", s, ftype=_S)

    def trim(self, s: E) -> E:
        return func.trim(s, bound(fv.TRIM_CHARACTERS, STRING), type_=STRING)

    def contains(self, s: E, t: E) -> E:
        return _call("contains", s, t, ftype=_B)

    def starts_with(self, s: E, t: E) -> E:
        return _call("startswith", s, t, ftype=_B)

    def ends_with(self, s: E, t: E) -> E:
        return _call("endswith", s, t, ftype=_B)

    def substitute(self, s: E, old: E, new: E) -> E:
        # SQLite's replace(s, '', NULL) is s, not NULL: use the language's own
        return _call("substitute", s, old, new, ftype=FType.STRING)

    # --- dates ------------------------------------------------------------------------
    def add_days(self, d: E, n: E, ftype: FType) -> E:
        return _call("add_days", d, n, ftype=ftype)

    def date_add(self, d: E, n: E, unit: str, ftype: FType) -> E:
        return _call("dateadd", d, n, bound(unit, STRING), ftype=ftype)

    def eomonth(self, d: E, n: E, ftype: FType) -> E:
        return _call("eomonth", d, n, ftype=_D)

    def days(self, end: E, start: E) -> E:
        return _call("days", end, start)

    def make_date(self, y: E, m: E, d: E) -> E:
        return _call("make_date", y, m, d, ftype=_D)

    def parse_date(self, s: E) -> E:
        return _call("parse_date", s, ftype=_D)

    def date_part(self, part: str, d: E) -> E:
        return _PARTS[part](d)

    # --- aggregates ---------------------------------------------------------------------
    def aggregate(self, name: str, value: E | None, where: E | None, ftype: FType) -> E:
        """An aggregate over the rows where ``where`` is TRUE, as ``CASE WHEN … THEN x END``."""
        whole = name == "SUM" and value is not None and isinstance(value.type, Integer)
        if where is not None:
            value = case((where, value if value is not None else literal_column("1")))
        if whole:   # an integer field: SQLite's own sum() is exact (and NULL over no row)
            return call("coalesce", func.sum(value), literal_column("0"), type_=NUMBER)
        if name == "COUNT":
            return type_coerce(func.count(value) if value is not None else func.count(),
                               NUMBER)
        if name == "COUNTDISTINCT":
            return type_coerce(func.count(value.distinct()), NUMBER)
        if name == "SUM":   # sqlite3 gives NULL when the aggregate saw no row at all
            return call("coalesce", _call("sum", value), literal_column("0"), type_=NUMBER)
        if name == "AVG":
            return _call("avg", value)
        fn = func.min if name == "MIN" else func.max
        return type_coerce(fn(value), sql_type(ftype))


def _quarter(d: E) -> E:
    # the quarter of month k is the k-th digit of 111222333444 (no integer division needed)
    month = cast(func.substr(d, 6, 2), _INT)
    return type_coerce(cast(func.substr(literal_column("'111222333444'"), month, 1), _INT), NUMBER)


_PARTS = {"year": _part(1, 4), "month": _part(6, 2), "day": _part(9, 2), "quarter": _quarter}

_TEXT: dict[FType, Callable[[E], E]] = {
    _S: lambda x: func.coalesce(x, _EMPTY, type_=STRING),
    _N: lambda x: _call("numtext", x, ftype=_S),
    _D: lambda x: func.coalesce(x, _EMPTY, type_=STRING),
    _DT: lambda x: func.coalesce(func.substr(x, 1, 19), _EMPTY, type_=STRING),
    _B: lambda x: case({1: "TRUE", 0: "FALSE"}, value=cast(x, _INT), else_=_EMPTY),
    FType.NULL: lambda x: _EMPTY,
}
