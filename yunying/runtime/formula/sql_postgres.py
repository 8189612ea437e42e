"""Formula SQL for PostgreSQL (公式的 PostgreSQL 编译) (runtime layer).

PostgreSQL's ``numeric`` is exact, so the language's numbers map directly;
the care is in where its functions round or clamp differently:

- ``/`` rounds half-up to 16 places *exactly*: ``div(a·10^17, b)`` is the
  truncated quotient (exact), and rounding a truncated quotient gives the
  same digits as rounding the exact one.
- ``round(numeric, int)`` is half away from zero, as the language's ROUND.
- integer powers are exact (computed at scale 1000, trailing zeros trimmed);
  other powers and SQRT are computed with 40 places and rounded to 16.
- MOD keeps the sign of the divisor: ``mod(mod(a, b) + b, b)``.
- months are added with interval arithmetic (which clamps to month end);
  results outside years 1..9999 become NULL. To stay inside PostgreSQL's own
  date range the arithmetic runs 5600 years (14 Gregorian cycles, so the
  calendar is identical) later, and out-of-range results are caught without
  repeating the expression: ``nullif(nullif(least(greatest(x, LOW), HIGH),
  LOW), HIGH)``.
- texts compare with ``COLLATE "C"`` (code points); UPPER/LOWER use the ICU
  root collation ``und-x-icu`` for Unicode case mapping (a PostgreSQL built
  with ICU is required).

Where an operand must appear twice in the SQL (MOD's divisor, SQRT's
argument …) and is more than a small expression, it is computed once in a
scalar subquery (``OFFSET 0`` keeps the planner from copying it back), so
nested formulas cannot grow the SQL exponentially.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Sequence

from sqlalchemy import (Integer, Numeric, Text, case, cast, collate, extract, func, literal_column,
                        null, type_coerce)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import Grouping

from yunying.runtime.formula import values as fv
from yunying.runtime.formula.sql_dialect import (
    DATE, DATETIME, INTEGER, NUMBER, STRING, E, SqlDialect, binary, bound, call,
    literal_number, share, sql_type)
from yunying.runtime.formula.types import FType

__all__ = ["PostgresDialect"]

_INT, _NUMERIC, _TEXT_TYPE = Integer(), Numeric(), Text()
_N, _S, _B, _D, _DT = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.DATETIME


def _k(text: str) -> E:
    return literal_column(text)


_ZERO, _ONE = _k("0"), _k("1")
_E17, _E_17, _E_100 = _k("1E17"), _k("1E-17"), _k("1E-100")
_PLACES = _k("16")
_PAD40 = _k("CAST(0 AS NUMERIC(40, 40))")
_PAD1000 = _k("CAST(0 AS NUMERIC(1000, 1000))")
_MAX_INT = _k("2147483647")
_CASE_COLLATION = "und-x-icu"
_SHIFT_MONTHS = 5600 * 12            # 14 × 400 Gregorian years: the same calendar
_SHIFT_DAYS = 2045358                # the same 5600 years in days
_SHIFT = _k("INTERVAL '5600 years'")
#: (low, high) sentinels just outside years 1..9999, 5600 years later.
_SENTINELS = {
    _D: (_k("DATE '5600-12-31'"), _k("DATE '15600-01-01'")),
    _DT: (_k("TIMESTAMP '5600-12-31 23:59:59.999999'"), _k("TIMESTAMP '15600-01-01 00:00:00'")),
}


def _numeric(x: E) -> E:
    """``x`` as NUMERIC: integer columns and literals would overflow in integer arithmetic."""
    t = x.type
    if isinstance(t, Integer) or isinstance(getattr(t, "impl", None), Integer):
        return cast(x, _NUMERIC)
    return x


def _num(expr: E) -> E:
    return type_coerce(expr, NUMBER)


def _between_ints(x: E, low: int, high: int) -> E:
    """``x`` truncated to an INTEGER; NULL when outside ``low``..``high`` (x used once)."""
    below, above = _k(str(low - 1)), _k(str(high + 1))
    t = call("least", call("greatest", call("trunc", _numeric(x)), below), above)
    return cast(call("nullif", call("nullif", t, below), above), _INT)


def _bounded(x: E, low: int, high: int) -> E:
    """Like :func:`_between_ints`, folded when ``x`` is a literal."""
    value = literal_number(x)
    if value is None:
        return _between_ints(x, low, high)
    whole = int(value)
    return bound(whole, _INT) if low <= whole <= high else cast(null(), _INT)


def _at_least(x: E, low: int) -> E:
    """A count or position: truncated; below ``low`` → NULL; capped at the INTEGER range."""
    value = literal_number(x)
    if value is not None:
        whole = int(value)
        return bound(min(whole, 2**31 - 1), _INT) if whole >= low else cast(null(), _INT)
    below = _k(str(low - 1))
    # greatest/least ignore NULLs: clamp first, then turn the low sentinel into NULL
    t = call("least", call("greatest", call("trunc", _numeric(x)), below), _MAX_INT)
    return cast(call("nullif", t, below), _INT)


class PostgresDialect(SqlDialect):
    name = "postgresql"

    # --- literals and comparison --------------------------------------------------
    def number(self, value: Decimal) -> E:
        if value == value.to_integral_value() and -2**31 < value < 2**31:
            return bound(int(value), INTEGER)
        return bound(value, NUMBER)

    def comparable(self, expr: E, ftype: FType, other: FType) -> E:
        return collate(expr, "C") if ftype is _S or other is _S else expr

    # --- numbers --------------------------------------------------------------------
    def negate(self, x: E) -> E:
        return _num(-_numeric(x))

    def sum(self, terms: Sequence[tuple[bool, E]]) -> E:
        """``a + b - c …``: (negated, term) pairs, exact."""
        (_, total), *rest = terms
        total = _numeric(total)
        for negated, term in rest:
            total = binary(total, operators.sub if negated else operators.add, _numeric(term), NUMBER)
        return total

    def subtract(self, a: E, b: E) -> E:
        return self.sum([(False, a), (True, b)])

    def product(self, factors: Sequence[E]) -> E:
        total = _numeric(factors[0])
        for factor in factors[1:]:
            total = binary(total, operators.mul, _numeric(factor), NUMBER)
        return total

    def divide(self, a: E, b: E) -> E:
        """a / b rounded half-up to 16 places, exactly; b = 0 or NULL → NULL."""
        quotient = call("div", binary(_numeric(a), operators.mul, _E17, NUMBER),
                        call("nullif", _numeric(b), _ZERO))
        return call("round", binary(quotient, operators.mul, _E_17, NUMBER), _PLACES, type_=NUMBER)

    def divide_or(self, a: E, b: E, alt: E) -> E:
        return share([b], lambda bb: case(
            (func.coalesce(_numeric(bb), _ZERO) == _ZERO, alt), else_=self.divide(a, bb)))

    def power(self, a: E, b: E) -> E:
        def build(x: E, y: E) -> E:
            x, y = _numeric(x), _numeric(y)
            whole = case((func.abs(y) > _k(str(fv.MAX_POWER)), None),
                         (y >= _ZERO, call("trim_scale", func.power(x + _PAD1000, y))),
                         else_=self.divide(_ONE, call("trim_scale", func.power(x + _PAD1000, -y))))
            return case((y == func.trunc(y), whole), (x < _ZERO, None),
                        (x == _ZERO, case((y < _ZERO, None), else_=_ZERO)),
                        else_=func.round(func.power(x + _PAD40, y), _PLACES))
        return _num(share([a, b], build))

    def sqrt(self, x: E) -> E:
        return _num(share([_numeric(x)], lambda v: case(
            (v < _ZERO, None), else_=func.round(func.sqrt(v + _PAD40), _PLACES))))

    def absolute(self, x: E) -> E:
        return _num(func.abs(_numeric(x)))

    def round(self, mode: str, x: E, n: E | None) -> E:
        """ROUND (half-up), ROUNDUP (away from zero), ROUNDDOWN (toward zero)."""
        places = _bounded(n, -fv.MAX_ROUND_DIGITS, fv.MAX_ROUND_DIGITS) if n is not None \
            else bound(0, _INT)
        x = _numeric(x)
        if mode == "half_up":
            return call("round", x, places, type_=NUMBER)
        if mode == "down":
            return call("trunc", x, places, type_=NUMBER)
        fixed = literal_number(n) if n is not None else Decimal(0)

        def build(v: E, p: E) -> E:
            unit = _k(f"1E{-int(fixed)}") if fixed is not None else \
                _E_100 * func.power(cast(_k("10"), _NUMERIC), _k("100") - p)
            t = func.trunc(v, p)
            return t + func.sign(v - t) * unit
        return _num(share([x, places], build))

    def mod(self, a: E, b: E) -> E:
        def build(y: E) -> E:
            y = func.nullif(_numeric(y), _ZERO)
            return func.mod(func.mod(_numeric(a), y) + y, y)
        return _num(share([b], build))

    def extreme(self, kind: str, args: Sequence[E], ftype: FType) -> E:
        fn = func.least if kind == "MIN" else func.greatest
        items = [collate(a, "C") if ftype is _S else a for a in args]
        return fn(*items, type_=sql_type(ftype))

    # --- text -------------------------------------------------------------------------
    def text(self, x: E, ftype: FType) -> E:
        """How ``&`` writes a value (NULL → '' is left to concat)."""
        return _TEXT[ftype](x)

    def concat(self, parts: Sequence[E]) -> E:
        return call("concat", *parts, type_=STRING) if len(parts) > 1 else \
            call("coalesce", parts[0], _k("''"), type_=STRING)

    def length(self, s: E) -> E:
        return call("char_length", s, type_=INTEGER)

    def left(self, s: E, n: E) -> E:
        return call("left", s, self._count(n), type_=STRING)

    def right(self, s: E, n: E) -> E:
        return call("right", s, self._count(n), type_=STRING)

    def mid(self, s: E, start: E, n: E) -> E:
        return call("substr", s, _at_least(start, 1), _at_least(n, 0), type_=STRING)

    @staticmethod
    def _count(n: E) -> E:
        return _at_least(n, 0)

    def upper(self, s: E) -> E:
        # the result gets "C" back, so it combines with other (code-point) texts
        return collate(call("upper", collate(s, _CASE_COLLATION), type_=STRING), "C")

    def lower(self, s: E) -> E:
        return collate(call("lower", collate(s, _CASE_COLLATION), type_=STRING), "C")

    def trim(self, s: E) -> E:
        return call("btrim", s, bound(fv.TRIM_CHARACTERS, STRING), type_=STRING)

    def contains(self, s: E, t: E) -> E:
        return call("strpos", s, t) > _ZERO

    def starts_with(self, s: E, t: E) -> E:
        return call("starts_with", s, t, type_=sql_type(_B))

    def ends_with(self, s: E, t: E) -> E:
        return call("starts_with", call("reverse", s), call("reverse", t), type_=sql_type(_B))

    def substitute(self, s: E, old: E, new: E) -> E:
        return call("replace", s, old, new, type_=STRING)

    # --- dates ------------------------------------------------------------------------
    def add_days(self, d: E, n: E, ftype: FType) -> E:
        """``d ± n`` days (n truncated); outside years 1..9999 → NULL."""
        days = _bounded(n, -3_659_999, 3_659_999)
        if ftype is _D:
            shifted = d + Grouping(days + _k(str(_SHIFT_DAYS)))   # shift first: stay in range
            return type_coerce(_in_range(shifted, _D) - _k(str(_SHIFT_DAYS)), DATE)
        shifted = d + call("make_interval", _ZERO, _k(str(_SHIFT_MONTHS)), _ZERO, days)
        return type_coerce(_in_range(shifted, _DT) - _SHIFT, DATETIME)

    def add_months(self, d: E, months: E, ftype: FType) -> E:
        shifted = cast(d, DATETIME) + call("make_interval", _ZERO, months + _k(str(_SHIFT_MONTHS)))
        if ftype is _D:
            return cast(_in_range(cast(shifted, DATE), _D) - _SHIFT, DATE)
        return type_coerce(_in_range(shifted, _DT) - _SHIFT, DATETIME)

    def date_add(self, d: E, n: E, unit: str, ftype: FType) -> E:
        if unit == "day":
            return self.add_days(d, n, ftype)
        if unit == "month":
            return self.add_months(d, _bounded(n, -119_999, 119_999), ftype)
        return self.add_months(d, _bounded(n, -9_999, 9_999) * _k("12"), ftype)

    def eomonth(self, d: E, n: E, ftype: FType) -> E:
        first = call("date_trunc", "month", cast(d, DATETIME))
        months = _bounded(n, -119_999, 119_999) + _k(str(_SHIFT_MONTHS + 1))
        last = cast(first + call("make_interval", _ZERO, months) - _k("INTERVAL '1 day'"), DATE)
        return cast(_in_range(last, _D) - _SHIFT, DATE)

    def days(self, end: E, start: E) -> E:
        return type_coerce(cast(end, DATE) - cast(start, DATE), INTEGER)

    def make_date(self, y: E, m: E, d: E) -> E:
        parts = [_bounded(y, 1, 9999), _bounded(m, 1, 12), _bounded(d, 1, 31)]
        return share(parts, _checked_date)

    def parse_date(self, s: E) -> E:
        def build(text: E) -> E:
            part = lambda start, length: cast(call("substr", text, start, length), _INT)  # noqa: E731
            return case((text.regexp_match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                         _checked_date(part(1, 4), part(6, 2), part(9, 2))))
        return type_coerce(share([s], build), DATE)

    def date_part(self, part: str, d: E) -> E:
        return _num(extract(part, d))

    # --- aggregates ---------------------------------------------------------------------
    def aggregate(self, name: str, value: E | None, where: E | None, ftype: FType) -> E:
        """An aggregate over the rows where ``where`` is TRUE, as ``FILTER (WHERE …)``."""
        def agg(fn: Any) -> E:
            return fn.filter(where) if where is not None else fn
        if name == "COUNT":
            return _num(agg(func.count(value) if value is not None else func.count()))
        if name == "COUNTDISTINCT":
            return _num(agg(func.count(value.distinct())))
        if name == "SUM":
            return _num(func.coalesce(agg(func.sum(value)), _ZERO))
        if name == "AVG":
            return self.divide(agg(func.sum(value)), agg(func.count(value)))
        fn = func.min if name == "MIN" else func.max
        return type_coerce(agg(fn(collate(value, "C") if ftype is _S else value)), sql_type(ftype))


def _in_range(shifted: E, ftype: FType) -> E:
    low, high = _SENTINELS[ftype]
    return func.nullif(func.nullif(func.least(func.greatest(shifted, low), high), low), high)


def _checked_date(y: E, m: E, d: E) -> E:
    last = extract("day", call("make_date", y, m, _ONE) + _k("INTERVAL '1 month'")
                   - _k("INTERVAL '1 day'"))
    return type_coerce(case((d <= last, call("make_date", y, m, d))), DATE)


_TEXT: dict[FType, Callable[[E], E]] = {
    _S: lambda x: x,
    _N: lambda x: cast(call("trim_scale", _numeric(x)), _TEXT_TYPE),
    _D: lambda x: call("to_char", x, _k("'YYYY-MM-DD'")),
    _DT: lambda x: call("to_char", x, _k("'YYYY-MM-DD HH24:MI:SS'")),
    _B: lambda x: case({True: "TRUE", False: "FALSE"}, value=x),
    FType.NULL: lambda x: _k("''"),
}
