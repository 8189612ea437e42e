"""Evaluating checked formulas in Python (公式求值) (runtime layer).

A :class:`~.checker.Checked` formula is turned once into a tree of small
closures (:func:`prepare`) — dispatch by node class and by function name
happens then, not per row — and the closures run against one record
(:meth:`PreparedFormula.evaluate`) or, for aggregate formulas, over given rows
of each entity (:meth:`PreparedFormula.evaluate_aggregate`: the row-by-row
baseline of the benchmark and the oracle of the SQL property tests).

Value semantics (exact decimals, NULL, Kleene logic, rounding, dates) live in
:mod:`.values`, shared with the SQL compiler's SQLite functions; function and
aggregate calls are built in :mod:`.evaluator_calls`. Record values
are read as ``values[binding.key]`` (the dotted path of field codes; missing →
NULL) and converted to the name's checked type: ints and floats (via
``repr``) become ``Decimal``, ISO texts dates. Nothing but
:class:`FormulaError` escapes: run-time range errors are code ``evaluation``,
located at the node that produced them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from yunying.runtime.formula import ast
from yunying.runtime.formula import values as fv
from yunying.runtime.formula.checker import Checked
from yunying.runtime.formula.errors import WHOLE, FormulaError
from yunying.runtime.formula.evaluator_calls import (Closure, Env, Row, applied, build_call, constant,
                                                     indicator_value, located)
from yunying.runtime.formula.types import FType

__all__ = ["PreparedFormula", "prepare", "evaluate", "evaluate_condition", "evaluate_aggregate"]


class PreparedFormula:
    """A checked formula turned into Python closures, ready to evaluate many times."""

    __slots__ = ("checked", "_run")

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self._run: Closure = _guard(checked, lambda: _Builder(checked).build(checked.tree))

    def evaluate(self, values: Row, *, today: date, now: datetime) -> Any:
        """The formula's value for one record (Decimal, str, bool, date, datetime or None)."""
        if self.checked.aggregates:
            raise FormulaError.single(
                "context", self.checked.tree.span,
                "含汇总函数的公式须按汇总方式计算", "a formula with aggregates is evaluated over rows "
                "(evaluate_aggregate), not against one record")
        return _guard(self.checked, lambda: self._run(values, Env(today, now)))

    def evaluate_condition(self, values: Row, *, today: date, now: datetime) -> bool:
        """The formula as a condition: NULL counts as false."""
        return _truth(self.checked, self.evaluate(values, today=today, now=now))

    def evaluate_aggregate(self, rows: Mapping[str, Iterable[Row]], *, today: date,
                           now: datetime, indicators: Mapping[str, Any] | None = None) -> Any:
        """An aggregate-mode formula over ``rows`` (qualified entity code → its rows,
        each keyed like a record; an entity not given has no rows). ``indicators``
        gives the values of ``@indicator`` references (missing → NULL)."""
        return _guard(self.checked, lambda: self._run({}, Env(today, now, rows, indicators or {})))


def _guard(checked: Checked, work: Callable[[], Any]) -> Any:
    """Run ``work``; anything but FormulaError becomes an ``evaluation`` FormulaError."""
    try:
        return work()
    except FormulaError:
        raise
    except Exception as exc:  # the last line of defence: never leak another exception
        raise FormulaError.single(
            "evaluation", getattr(checked.tree, "span", WHOLE),
            f"公式无法求值（内部错误 {type(exc).__name__}）",
            f"the formula cannot be evaluated (internal error {type(exc).__name__})") from exc


def _truth(checked: Checked, result: Any) -> bool:
    if result is None or result.__class__ is bool:
        return result is True
    raise FormulaError.single("type", checked.tree.span, "条件的结果必须是“是”或“否”",
                              "a condition must give true or false")


def prepare(checked: Checked) -> PreparedFormula:
    """Turn ``checked`` into closures once, to evaluate it against many records."""
    return PreparedFormula(checked)


def evaluate(checked: Checked, values: Row, *, today: date, now: datetime) -> Any:
    """A row formula's value for one record (``values`` keyed by dotted field-code paths)."""
    return PreparedFormula(checked).evaluate(values, today=today, now=now)


def evaluate_condition(checked: Checked, values: Row, *, today: date, now: datetime) -> bool:
    """A row formula as a condition for one record: NULL counts as false."""
    return PreparedFormula(checked).evaluate_condition(values, today=today, now=now)


def evaluate_aggregate(checked: Checked, rows: Mapping[str, Iterable[Row]], *, today: date,
                       now: datetime, indicators: Mapping[str, Any] | None = None) -> Any:
    """An aggregate formula evaluated row by row in Python over ``rows`` per entity."""
    return PreparedFormula(checked).evaluate_aggregate(rows, today=today, now=now,
                                                       indicators=indicators)


# --- building closures -------------------------------------------------------

class _Builder:
    """Builds the closure of each node, dispatching on node class and function name."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked

    def build(self, node: ast.Node) -> Closure:
        return _NODES[node.__class__](self, node)

    def build_all(self, nodes: Iterable[ast.Node]) -> list[Closure]:
        return [self.build(n) for n in nodes]


def _number(b: _Builder, node: ast.Number) -> Closure:
    try:
        return constant(fv.plain(fv.check_range(node.value)))
    except FormulaError as exc:
        raise located(exc, node.span) from None


#: how a record value is made the name's checked type; the class that needs no work.
_CONVERT: Mapping[FType, tuple[Callable[[Any], Any], type | None]] = {
    FType.NUMBER: (fv.to_number, None), FType.STRING: (lambda v: _text(v), str),
    FType.BOOLEAN: (fv.to_boolean, bool), FType.DATE: (fv.to_date, date),
    FType.DATETIME: (fv.to_datetime, None),
}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    raise FormulaError.single("evaluation", WHOLE, f"{value!r:.40} 不是文本", f"{value!r:.40} is not text")


def _name(b: _Builder, node: ast.Name) -> Closure:
    binding = b.checked.bindings[node]
    key, shown, span = binding.key, node.dotted, node.span
    convert, plain = _CONVERT.get(binding.type, (fv.to_value, None))

    def converted(value: Any) -> Any:
        try:
            return convert(value)
        except FormulaError as exc:
            message = exc.issues[0].message
            raise FormulaError.single("evaluation", span, f"“{shown}”的值无效：{message.zh}",
                                      f"the value of {shown!r} is invalid: {message.en}") from None

    if binding.type is FType.NUMBER:
        def number(row: Row, env: Env) -> Any:
            v = row.get(key)
            if v is None or (v.__class__ is Decimal and v.is_finite() and (not v or v.adjusted() < 100)):
                return v
            return converted(v)
        return number

    def value(row: Row, env: Env) -> Any:
        v = row.get(key)
        return v if v is None or v.__class__ is plain else converted(v)
    return value


def _indicator(b: _Builder, node: ast.Indicator) -> Closure:
    return indicator_value(b, node)

def _unary(b: _Builder, node: ast.Unary) -> Closure:
    operand = b.build(node.operand)
    if node.op == "+":
        return operand
    if node.op == "NOT":
        return lambda row, env: fv.kleene_not(operand(row, env))
    return applied(fv.negate, [operand], node.span)


def _and(left: Closure, right: Closure) -> Closure:
    def run(row: Row, env: Env) -> Any:
        a = left(row, env)
        if a is False:
            return False
        b = right(row, env)
        if b is False:
            return False
        return None if a is None or b is None else True
    return run


def _or(left: Closure, right: Closure) -> Closure:
    def run(row: Row, env: Env) -> Any:
        a = left(row, env)
        if a is True:
            return True
        b = right(row, env)
        if b is True:
            return True
        return None if a is None or b is None else False
    return run


def _comparison(op: str) -> Callable[[Closure, Closure, ast.Span], Closure]:
    test = fv.COMPARATORS[op]

    def build(left: Closure, right: Closure, span: ast.Span) -> Closure:
        def run(row: Row, env: Env) -> Any:
            a = left(row, env)
            if a is None:
                return None
            b = right(row, env)
            if b is None:
                return None
            if a.__class__ is b.__class__:
                return test(a, b)
            try:
                return fv.compare(op, a, b)
            except FormulaError as exc:
                raise located(exc, span) from None
        return run
    return build


_ARITHMETIC: Mapping[str, Callable[..., Any]] = {
    "+": fv.add, "-": fv.subtract, "*": fv.multiply, "/": fv.divide, "^": fv.power, "&": fv.concat}
_BINARY: Mapping[str, Callable[[Closure, Closure, ast.Span], Closure]] = {
    "AND": lambda left, right, span: _and(left, right),
    "OR": lambda left, right, span: _or(left, right),
    **{op: _comparison(op) for op in ast.COMPARISONS},
    **{op: (lambda fn: lambda left, right, span: applied(fn, [left, right], span))(fn)
       for op, fn in _ARITHMETIC.items()},
}


def _binary(b: _Builder, node: ast.Binary) -> Closure:
    return _BINARY[node.op](b.build(node.left), b.build(node.right), node.span)


def _in(b: _Builder, node: ast.In) -> Closure:
    operand, items, span = b.build(node.operand), b.build_all(node.items), node.span
    found, missing = (False, True) if node.negated else (True, False)

    def run(row: Row, env: Env) -> Any:
        x = operand(row, env)
        if x is None:
            return None
        saw_null = False
        for item in items:
            v = item(row, env)
            if v is None:
                saw_null = True
            elif x.__class__ is v.__class__:
                if x == v:
                    return found
            else:
                try:
                    if fv.compare("=", x, v):
                        return found
                except FormulaError as exc:
                    raise located(exc, span) from None
        return None if saw_null else missing
    return run


def _between(b: _Builder, node: ast.Between) -> Closure:
    operand, low, high, span = b.build(node.operand), b.build(node.low), b.build(node.high), node.span

    def run(row: Row, env: Env) -> Any:
        x = operand(row, env)
        try:
            return fv.kleene_and(fv.compare(">=", x, low(row, env)), fv.compare("<=", x, high(row, env)))
        except FormulaError as exc:
            raise located(exc, span) from None
    return run


def _is_null(b: _Builder, node: ast.IsNull) -> Closure:
    operand, negated = b.build(node.operand), node.negated
    return lambda row, env: (operand(row, env) is None) is not negated


_NODES: Mapping[type, Callable[[_Builder, Any], Closure]] = {
    ast.Number: _number,
    ast.String: lambda b, node: constant(node.value),
    ast.Boolean: lambda b, node: constant(node.value),
    ast.Null: lambda b, node: constant(None),
    ast.Name: _name,
    ast.Indicator: _indicator,
    ast.Unary: _unary,
    ast.Binary: _binary,
    ast.In: _in,
    ast.Between: _between,
    ast.IsNull: _is_null,
    ast.Call: build_call,
}
