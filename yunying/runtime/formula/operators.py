"""Operator typing for formulas (运算符类型规则) (runtime layer).

Frozen tables ``(operator, left type, right type) → result type``, built
once at import from the rules of the contract and its decisions:
arithmetic needs numbers; ``date ± number`` is a date and ``date − date``
a number; ``&`` takes anything; comparisons need values of one type (a date
and a datetime compare); booleans compare only with ``=`` and ``!=``. A
``NULL`` operand fits wherever some type would: the result is the one
result that type could give, or NULL when several are possible. An
``UNKNOWN`` operand (already reported) never causes another issue.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping

from yunying.platform.i18n import Text
from yunying.runtime.formula.ast import COMPARISONS
from yunying.runtime.formula.types import FType

__all__ = ["binary_type", "unary_type", "binary_problem", "unary_problem", "comparable",
           "orderable"]

_N, _S, _B, _D, _DT = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.DATETIME
_NULL, _UNKNOWN = FType.NULL, FType.UNKNOWN
_CONCRETE = (_N, _S, _B, _D, _DT)

_EQUAL = frozenset({(t, t) for t in _CONCRETE} | {(_D, _DT), (_DT, _D)})
_ORDER = _EQUAL - {(_B, _B)}

_Table = Mapping[tuple[FType, FType], FType]


def _pick(results: Iterable[FType]) -> FType:
    distinct = set(results)
    return distinct.pop() if len(distinct) == 1 else _NULL


def _with_null(table: dict[tuple[FType, FType], FType]) -> _Table:
    """Add the rows where an operand is the NULL literal."""
    out = dict(table)
    for t in _CONCRETE:
        left = [res for (a, _b), res in table.items() if a is t]
        right = [res for (_a, b), res in table.items() if b is t]
        if left:
            out[(t, _NULL)] = _pick(left)
        if right:
            out[(_NULL, t)] = _pick(right)
    out[(_NULL, _NULL)] = _pick(table.values())
    return MappingProxyType(out)


_BINARY: Mapping[str, _Table] = MappingProxyType({
    "+": _with_null({(_N, _N): _N, (_D, _N): _D}),
    "-": _with_null({(_N, _N): _N, (_D, _N): _D, (_D, _D): _N}),
    **{op: _with_null({(_N, _N): _N}) for op in ("*", "/", "^")},
    **{op: _with_null({(_B, _B): _B}) for op in ("AND", "OR")},
    "&": _with_null({(a, b): _S for a in _CONCRETE for b in _CONCRETE}),
    **{op: _with_null({pair: _B for pair in _EQUAL}) for op in ("=", "!=")},
    **{op: _with_null({pair: _B for pair in _ORDER}) for op in ("<", "<=", ">", ">=")},
})
#: the result of an operator whose operand is UNKNOWN (when it does not depend on it).
_FIXED: Mapping[str, FType] = MappingProxyType(
    {"AND": _B, "OR": _B, "&": _S, **{op: _B for op in COMPARISONS}})

_UNARY: Mapping[str, Mapping[FType, FType]] = MappingProxyType({
    "-": {_N: _N, _NULL: _N}, "+": {_N: _N, _NULL: _N}, "NOT": {_B: _B, _NULL: _B},
})


def binary_type(op: str, left: FType, right: FType) -> FType | None:
    """The type of ``left op right``; None when the operands do not fit ``op``."""
    if left is _UNKNOWN or right is _UNKNOWN:
        return _FIXED.get(op, _UNKNOWN)
    return _BINARY[op].get((left, right))


def unary_type(op: str, operand: FType) -> FType | None:
    """The type of ``op operand``; None when the operand does not fit."""
    if operand is _UNKNOWN:
        return _B if op == "NOT" else _UNKNOWN
    return _UNARY[op].get(operand)


def comparable(a: FType, b: FType) -> bool:
    """Whether ``a = b`` is allowed (IN items)."""
    return a is _NULL or b is _NULL or a is _UNKNOWN or b is _UNKNOWN or (a, b) in _EQUAL


def orderable(a: FType, b: FType) -> bool:
    """Whether ``a < b`` is allowed (BETWEEN)."""
    return a is _NULL or b is _NULL or a is _UNKNOWN or b is _UNKNOWN or (a, b) in _ORDER


_NUMBERS = Text("数字", "numbers")
_DATE_ARITHMETIC = Text("；日期时间的加减请用 DATEADD 或 DAYS",
                        "; for datetimes use DATEADD or DAYS")
_EXPECTED: Mapping[str, Text] = MappingProxyType({
    "+": Text("数字，或日期加数字", "numbers, or a date plus a number"),
    "-": Text("数字，或日期减数字、日期减日期",
              "numbers, a date minus a number, or a date minus a date"),
    "*": _NUMBERS, "/": _NUMBERS, "^": _NUMBERS,
    "AND": Text("是否值（条件）", "booleans (conditions)"),
    "OR": Text("是否值（条件）", "booleans (conditions)"),
    "=": Text("同类型的值", "values of one type"), "!=": Text("同类型的值", "values of one type"),
    **{op: Text("同类型且可比较大小的值（数字、文本或日期）",
                "values of one type that can be ordered (numbers, texts or dates)")
       for op in ("<", "<=", ">", ">=")},
})
_BOOLEAN_ORDER = Text("；是否值只能用 = 和 != 比较", "; booleans compare only with = and !=")


def binary_problem(op: str, left: FType, right: FType, snippet: str) -> Text:
    """What is wrong with ``snippet`` (= ``left op right``), in both languages."""
    expected = _EXPECTED[op]
    hint = Text("", "")
    if op in ("+", "-") and _DT in (left, right):
        hint = _DATE_ARITHMETIC
    elif op in ("<", "<=", ">", ">=") and left in (_B, _NULL) and right in (_B, _NULL):
        hint = _BOOLEAN_ORDER
    l, r = left.label, right.label
    return Text(f"{snippet}：{op} 需要{expected.zh}，实际是{l.zh}和{r.zh}{hint.zh}",
                f"{snippet}: {op} needs {expected.en}, got {l.en} and {r.en}{hint.en}")


def unary_problem(op: str, operand: FType, snippet: str) -> Text:
    """What is wrong with ``snippet`` (= ``op operand``)."""
    found = operand.label
    if op == "NOT":
        return Text(f"{snippet}：NOT 需要是否值（条件），实际是{found.zh}",
                    f"{snippet}: NOT needs a boolean (condition), got {found.en}")
    return Text(f"{snippet}：{op} 需要数字，实际是{found.zh}",
                f"{snippet}: {op} needs a number, got {found.en}")
