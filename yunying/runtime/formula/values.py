"""Value semantics of the formula language (公式的值语义) (runtime layer).

Small pure functions shared by the Python evaluator and by the SQLite user
functions of the SQL compiler, so both paths give the same answer. Every
function takes plain Python values — ``Decimal``/``int``/``float`` (floats via
``repr``), ``str``, ``bool``, ``date``, ``datetime``, ISO date texts or
``None`` — and returns a plain value; ``None`` is the language's NULL. Numbers
come back as ``Decimal``. Nothing here raises anything but
:class:`FormulaError` (code ``evaluation``, span ``WHOLE``: the evaluator
relocates it to the node).

This module is the one to import: it holds what mixes kinds (``+``/``-`` on
numbers and dates, comparisons, MIN/MAX, Kleene logic, IN) and re-exports the
number (:mod:`.values_number`), date (:mod:`.values_date`) and text
(:mod:`.values_text`) semantics.
"""

from __future__ import annotations

import operator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

from yunying.runtime.formula.values_date import (
    DATE_UNITS, add_days, date_add, date_text, datetime_text, day, days_between, eomonth,
    make_date, month, naive, parse_date, quarter, to_date, to_datetime, year)
from yunying.runtime.formula.values_number import (
    CONTEXT, MAX_MAGNITUDE, MAX_POWER, MAX_ROUND_DIGITS, PLACES, QUANTUM, absolute, check_range,
    divide, evaluation_error, is_number, mod, multiply, negate, number_pair, out_of_range, plain,
    power, round_down, round_half_up, round_up, shown, sqrt, to_integer, to_number)
from yunying.runtime.formula.values_text import (
    MAX_TEXT_LENGTH, TRIM_CHARACTERS, concat, contains, ends_with, left, lower, mid, number_text,
    right, starts_with, substitute, text_length, to_text, trim, upper)

__all__ = [
    # numbers
    "CONTEXT", "PLACES", "QUANTUM", "MAX_MAGNITUDE", "MAX_POWER", "MAX_ROUND_DIGITS",
    "evaluation_error", "out_of_range", "check_range", "plain", "to_number", "to_integer",
    "add", "subtract", "multiply", "negate", "divide", "power", "sqrt", "absolute",
    "round_half_up", "round_up", "round_down", "mod", "minimum", "maximum",
    # text
    "MAX_TEXT_LENGTH", "TRIM_CHARACTERS", "to_text", "number_text", "date_text", "datetime_text",
    "concat", "text_length", "left", "right", "mid", "upper", "lower", "trim", "contains",
    "starts_with", "ends_with", "substitute",
    # dates
    "DATE_UNITS", "to_date", "to_datetime", "make_date", "parse_date", "add_days", "date_add",
    "eomonth", "days_between", "year", "month", "day", "quarter",
    # any kind
    "to_boolean", "to_value", "COMPARATORS", "compare", "kleene_and", "kleene_or",
    "kleene_not", "in_list",
]


def add(a: Any, b: Any) -> Any:
    """``a + b``: numbers exactly; ``date + number`` / ``number + date`` add whole days."""
    if a is None or b is None:
        return None
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return check_range(CONTEXT.add(a, b))
    if isinstance(a, date):
        return add_days(a, b)
    if isinstance(b, date):
        return add_days(b, a)
    x, y = number_pair(a, b)  # type: ignore[misc]
    return check_range(CONTEXT.add(x, y))


def subtract(a: Any, b: Any) -> Any:
    """``a - b``: numbers exactly; ``date - number`` is a date; ``date - date`` is days."""
    if a is None or b is None:
        return None
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return check_range(CONTEXT.subtract(a, b))
    if isinstance(a, date):
        return days_between(a, b) if isinstance(b, date) else add_days(a, negate(b))
    x, y = number_pair(a, b)  # type: ignore[misc]
    return check_range(CONTEXT.subtract(x, y))


def to_boolean(value: Any) -> bool | None:
    """A boolean: bools, 0/1 numbers, 'true'/'false' text; else an ``evaluation`` error."""
    if value is None or value.__class__ is bool:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if is_number(value) and to_number(value) in (0, 1):
        return bool(value)
    raise evaluation_error(f"{shown(value)} 不是是/否值", f"{shown(value)} is not a boolean")


_PLAIN = frozenset({str, bool, date})


def to_value(value: Any) -> Any:
    """Any caller value in the language's representation (ints and floats → Decimal,
    aware datetimes → naive UTC); other kinds are an ``evaluation`` error."""
    if value is None or value.__class__ in _PLAIN:
        return value
    if is_number(value):
        return to_number(value)
    if isinstance(value, datetime):
        return naive(value)
    if isinstance(value, (str, bool, date)):
        return value
    raise evaluation_error(f"无法使用的值 {shown(value)}", f"unusable value {shown(value)}")


# --- comparison and logic ----------------------------------------------------

#: comparison operator → the test on two values of one kind.
COMPARATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}


def _cannot_compare(a: Any, b: Any) -> Exception:
    return evaluation_error(f"无法比较 {shown(a)} 与 {shown(b)}", f"cannot compare {shown(a)} with {shown(b)}")


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two comparable values the same kind (a date is its midnight)."""
    if a.__class__ is b.__class__:
        return a, b
    if isinstance(a, date) and isinstance(b, date):
        return to_datetime(a), to_datetime(b)
    if is_number(a) and is_number(b):
        return to_number(a), to_number(b)
    if isinstance(a, str) and isinstance(b, str):
        return str(a), str(b)
    raise _cannot_compare(a, b)


def compare(op: str, a: Any, b: Any) -> bool | None:
    """``a op b`` for op in ``= != < <= > >=``; NULL on either side → NULL.

    Numbers compare numerically (1.50 = 1.5), texts by code point (case
    sensitive), a date with a datetime as its midnight."""
    if a is None or b is None:
        return None
    if a.__class__ is not b.__class__:
        a, b = _align(a, b)
    try:
        return COMPARATORS[op](a, b)
    except (InvalidOperation, TypeError):   # a NaN Decimal, or kinds that do not order
        raise _cannot_compare(a, b) from None


def minimum(*items: Any) -> Any:
    """MIN(a, b, …): the smallest non-NULL argument (numbers, texts or dates); all NULL → NULL."""
    return _extreme(items, "<")


def maximum(*items: Any) -> Any:
    """MAX(a, b, …): the largest non-NULL argument; all NULL → NULL."""
    return _extreme(items, ">")


def _extreme(items: Iterable[Any], better: str) -> Any:
    best = None
    for item in items:
        if item is None:
            continue
        item = to_value(item)
        if best is None or compare(better, item, best):
            best = item
    return best


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def kleene_not(a: bool | None) -> bool | None:
    return None if a is None else not a


def in_list(x: Any, items: Iterable[Any]) -> bool | None:
    """SQL ``x IN (…)``: NULL operand → NULL; no match but a NULL item → NULL."""
    if x is None:
        return None
    saw_null = False
    for item in items:
        if item is None:
            saw_null = True
        elif compare("=", x, item):
            return True
    return None if saw_null else False
