"""Function and aggregate calls of the Python evaluator (公式函数求值) (runtime layer).

The closure toolkit shared with :mod:`.evaluator` — the evaluation
environment (:class:`Env`), :func:`applied` (call a plain function of
:mod:`.values` on the arguments' values, locating its errors at the node) —
and the builders of ``Call`` nodes, chosen by ``Call.name``: the lazy logic
functions (IF, IFS, COALESCE), the clock (TODAY, NOW), the plain functions,
and the aggregates (evaluated over the rows given per entity).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from yunying.runtime.formula import ast
from yunying.runtime.formula import values as fv
from yunying.runtime.formula.checker import Checked
from yunying.runtime.formula.errors import WHOLE, FormulaError

__all__ = ["Row", "Closure", "Env", "Builder", "located", "constant", "applied", "build_call",
           "indicator_value"]

Row = Mapping[str, Any]
Closure = Callable[[Row, "Env"], Any]
_ZERO = Decimal(0)


class Env:
    """What one evaluation sees besides the record: the clock, aggregate rows, indicators."""

    __slots__ = ("today", "now", "rows", "indicators", "_lists")

    def __init__(self, today: Any, now: Any, rows: Mapping[str, Iterable[Row]] | None = None,
                 indicators: Mapping[str, Any] | None = None) -> None:
        self.today = fv.to_date(today)
        self.now = fv.to_datetime(now)
        self.rows = rows
        self.indicators = indicators
        self._lists: dict[str, Sequence[Row]] = {}

    def rows_of(self, entity: str) -> Sequence[Row]:
        """The rows of ``entity`` (read once, even from a generator; none when not given)."""
        rows = self._lists.get(entity)
        if rows is None:
            source = self.rows.get(entity, ()) if self.rows is not None else ()
            rows = source if isinstance(source, (list, tuple)) else list(source)
            self._lists[entity] = rows
        return rows


class Builder(Protocol):
    """What call builders need from the evaluator's tree builder."""

    checked: Checked

    def build(self, node: ast.Node) -> Closure: ...

    def build_all(self, nodes: Iterable[ast.Node]) -> list[Closure]: ...


def located(exc: FormulaError, span: ast.Span) -> FormulaError:
    """``exc`` placed at ``span`` unless an inner node already placed it."""
    if exc.issues[0].span is not WHOLE:
        return exc
    return FormulaError([replace(issue, span=span) for issue in exc.issues])


def constant(value: Any) -> Closure:
    return lambda row, env: value


def applied(fn: Callable[..., Any], args: list[Closure], span: ast.Span) -> Closure:
    """The closure calling ``fn`` on the arguments' values; errors located at ``span``."""
    if len(args) == 1:
        (first,) = args

        def one(row: Row, env: Env) -> Any:
            try:
                return fn(first(row, env))
            except FormulaError as exc:
                raise located(exc, span) from None
        return one
    if len(args) == 2:
        left, right = args

        def two(row: Row, env: Env) -> Any:
            try:
                return fn(left(row, env), right(row, env))
            except FormulaError as exc:
                raise located(exc, span) from None
        return two

    def many(row: Row, env: Env) -> Any:
        try:
            return fn(*[a(row, env) for a in args])
        except FormulaError as exc:
            raise located(exc, span) from None
    return many


def build_call(b: Builder, node: ast.Call) -> Closure:
    """The closure of a function or aggregate call."""
    if node in b.checked.aggregates:
        return _aggregate(b, node)
    special = _SPECIAL.get(node.name)
    if special is not None:
        return special(b, node)
    fn = _FUNCTIONS.get(node.name)
    if fn is None:
        raise FormulaError.single("unknown_function", node.name_span, f"无法计算函数 {node.name}",
                                  f"the function {node.name} cannot be evaluated")
    return applied(fn, b.build_all(node.args), node.span)


# --- functions that are not plain functions of their values -----------------------

def indicator_value(b: Builder, node: ast.Indicator | ast.Call) -> Closure:
    """``@x`` or a period function (``PREV(@x)`` …): the value given for its reference's key."""
    ref = b.checked.refs.get(node)
    key = ref.key if ref is not None else getattr(node, "code", node.name)  # type: ignore[union-attr]
    span = node.span

    def run(row: Row, env: Env) -> Any:
        if env.indicators is None:
            raise FormulaError.single("context", span, f"指标 @{key} 只能在指标计算中使用",
                                      f"the indicator @{key} is only available when computing indicators")
        try:
            return fv.to_number(env.indicators.get(key))
        except FormulaError as exc:
            raise located(exc, span) from None
    return run


def _if(b: Builder, node: ast.Call) -> Closure:
    test, then, *rest = b.build_all(node.args)
    otherwise = rest[0] if rest else constant(None)
    return lambda row, env: then(row, env) if test(row, env) is True else otherwise(row, env)


def _ifs(b: Builder, node: ast.Call) -> Closure:
    args = b.build_all(node.args)
    pairs = list(zip(args[::2], args[1::2]))

    def run(row: Row, env: Env) -> Any:
        for test, value in pairs:
            if test(row, env) is True:
                return value(row, env)
        return None
    return run


def _coalesce(b: Builder, node: ast.Call) -> Closure:
    args = b.build_all(node.args)

    def run(row: Row, env: Env) -> Any:
        for arg in args:
            value = arg(row, env)
            if value is not None:
                return value
        return None
    return run


def _isnull(b: Builder, node: ast.Call) -> Closure:
    (operand,) = b.build_all(node.args)
    return lambda row, env: operand(row, env) is None


def _date(b: Builder, node: ast.Call) -> Closure:
    fn = fv.parse_date if len(node.args) == 1 else fv.make_date
    return applied(fn, b.build_all(node.args), node.span)


_SPECIAL: Mapping[str, Callable[[Builder, ast.Call], Closure]] = {
    "IF": _if, "IFS": _ifs, "COALESCE": _coalesce, "ISNULL": _isnull, "DATE": _date,
    "TODAY": lambda b, node: lambda row, env: env.today,
    "NOW": lambda b, node: lambda row, env: env.now,
    "PREV": indicator_value, "LASTYEAR": indicator_value, "YTD": indicator_value,
}

#: functions whose value is a plain function of their arguments' values.
_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "ROUND": fv.round_half_up, "ROUNDUP": fv.round_up, "ROUNDDOWN": fv.round_down,
    "ABS": fv.absolute, "SQRT": fv.sqrt, "POWER": fv.power, "MOD": fv.mod,
    "DIVIDE": fv.divide, "MIN": fv.minimum, "MAX": fv.maximum,
    "LEN": fv.text_length, "LEFT": fv.left, "RIGHT": fv.right, "MID": fv.mid,
    "UPPER": fv.upper, "LOWER": fv.lower, "TRIM": fv.trim, "CONCAT": fv.concat,
    "CONTAINS": fv.contains, "STARTSWITH": fv.starts_with, "ENDSWITH": fv.ends_with,
    "SUBSTITUTE": fv.substitute,
    "YEAR": fv.year, "MONTH": fv.month, "DAY": fv.day, "QUARTER": fv.quarter,
    "DAYS": fv.days_between, "DATEADD": fv.date_add, "EOMONTH": fv.eomonth,
}


# --- aggregates --------------------------------------------------------------------

def _sum(items: list[Any]) -> Decimal:
    total = _ZERO
    for item in items:
        total = fv.CONTEXT.add(total, item)
    return fv.check_range(total)


def _average(items: list[Any]) -> Decimal | None:
    if not items:
        return None
    return fv.divide(_sum(items), Decimal(len(items)))


#: aggregate name → reduction of the non-NULL values of the rows that pass the condition.
_REDUCERS: Mapping[str, Callable[[list[Any]], Any]] = {
    "SUM": _sum,
    "AVG": _average,
    "MIN": lambda items: min(items) if items else None,
    "MAX": lambda items: max(items) if items else None,
    "COUNT": lambda items: Decimal(len(items)),
    "COUNTDISTINCT": lambda items: Decimal(len(set(items))),
}


def _aggregate(b: Builder, node: ast.Call) -> Closure:
    """``F(entity.field[, condition])`` / ``COUNT(entity[, condition])`` over the rows of
    the entity; the condition and the field are read from each row."""
    entity, span = b.checked.aggregates[node], node.span
    target, *rest = node.args
    condition = b.build(rest[0]) if rest else None
    binding = b.checked.bindings.get(target) if isinstance(target, ast.Name) else None
    field = None if binding is not None and not binding.path else b.build(target)
    reduce = _REDUCERS[node.name]

    def run(row: Row, env: Env) -> Any:
        rows = env.rows_of(entity)
        if condition is not None:
            rows = [r for r in rows if condition(r, env) is True]
        if field is None:                       # COUNT(entity[, condition])
            return Decimal(len(rows))
        found = [field(r, env) for r in rows]
        try:
            return reduce([v for v in found if v is not None])
        except FormulaError as exc:
            raise located(exc, span) from None
    return run
