"""Checking the period functions PREV, LASTYEAR and YTD (期间函数的检查) (runtime layer).

Called by the checker (:mod:`.checker`) for a call of the ``period`` group.
A period function is allowed only in **indicator** formulas, and its first
argument must be an ``@indicator`` reference written directly
(``LASTYEAR(@op_avg_cost)``, not ``LASTYEAR(@a + @b)``); ``PREV``'s optional
second argument is a positive whole-number literal. The call is a number; it
is recorded as an :class:`~.indicator_refs.IndicatorRef` with its shift (the
reference inside it is not a reference of the current period).

Issues: ``arity`` (wrong argument count), ``context`` (outside indicator
formulas, or an argument that is not ``@code``), ``type`` (``n`` not a
positive integer literal), and the name issues of an unknown indicator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from yunying.platform.i18n import Text
from yunying.runtime.formula import ast
from yunying.runtime.formula.functions import FunctionSpec
from yunying.runtime.formula.indicator_refs import PERIOD_FUNCTIONS, IndicatorRef
from yunying.runtime.formula.names import Scope, Unresolved
from yunying.runtime.formula.types import FType

if TYPE_CHECKING:
    from yunying.runtime.formula.checker import _Checker

__all__ = ["check_period_call", "MAX_PERIODS_BACK"]

#: the furthest PREV may look back (periods).
MAX_PERIODS_BACK = 1000
_N, _UNKNOWN = FType.NUMBER, FType.UNKNOWN


def check_period_call(c: "_Checker", node: ast.Call, spec: FunctionSpec, scope: Scope) -> FType:
    """The type of a period function call (NUMBER), recording its reference."""
    if spec.signature(len(node.args)) is None:
        c.skip(node.args)
        return c.arity(node, spec)
    if c.mode != "indicator":
        c.skip(node.args)
        snippet = c.snippet(node)
        return c.issue("context", node.span, Text(
            f"{snippet}：期间函数 {spec.name} 只能用于指标公式",
            f"{snippet}: the period function {spec.name} is only allowed in indicator formulas"))
    first, *rest = node.args
    n = _periods_back(c, spec, rest[0]) if rest else 1
    if type(first) is not ast.Indicator:
        c.visit(first, scope)
        snippet = c.snippet(first)
        return c.issue("context", first.span, Text(
            f"{spec.usage}：{spec.name} 只能作用于指标引用 @code，{snippet} 不是指标引用",
            f"{spec.usage}: {spec.name} applies only to an indicator reference @code; "
            f"{snippet} is not one"))
    c.out.types[first] = _N
    code = c.names.indicator(first.code)
    if isinstance(code, Unresolved):
        return c.issue(code.code, first.span, code.message, code.suggestions)
    c.out.indicators.add(code)
    if n is None:
        return _UNKNOWN
    c.out.refs[node] = IndicatorRef(code, PERIOD_FUNCTIONS[spec.name], n)
    return _N


def _periods_back(c: "_Checker", spec: FunctionSpec, arg: ast.Node) -> int | None:
    """PREV's n: a positive whole-number literal (None, with an issue, otherwise)."""
    c.out.types[arg] = _N
    value = arg.value if type(arg) is ast.Number and not arg.percent else None
    if (isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()
            and 1 <= value <= MAX_PERIODS_BACK):
        return int(value)
    if type(arg) is not ast.Number:
        c.skip([arg])
        c.out.types[arg] = _N
    snippet = c.snippet(arg)
    c.issue("type", arg.span, Text(
        f"{spec.usage}：期数 n 应为 1 到 {MAX_PERIODS_BACK} 之间的整数常量，实际是 {snippet}",
        f"{spec.usage}: the number of periods n must be a whole number literal from 1 to "
        f"{MAX_PERIODS_BACK}, got {snippet}"))
    return None
