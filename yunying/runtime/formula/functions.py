"""The formula function catalogue (函数目录) (runtime layer).

One frozen entry per function of the contract — logic, number, text, date
and aggregate functions — shared by the checker (arity and types), the Python
evaluator and the SQL compiler (they dispatch on ``Call.name``; whether a
``MIN``/``MAX`` call is the aggregate or the scalar form is recorded by the
checker in ``Checked.aggregates``).

Argument types are described by small named *kinds* (``number``, ``text``,
``same`` …, see :data:`ARG_KINDS`) and the result by a rule (an
:class:`FType`, ``"same"`` — the one type shared by the ``same``/``ordered``
arguments — or ``"first"`` — the type of the first argument). A function
may have several :class:`Signature` s, chosen by the number of arguments
(``DATE(y, m, d)`` and ``DATE('2024-03-01')``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Literal, Mapping, Sequence

from yunying.platform.i18n import Text
from yunying.runtime.formula.types import FType

__all__ = [
    "ArgKind", "Signature", "AggregateSpec", "FunctionSpec", "ArgProblem",
    "ARG_KINDS", "FUNCTIONS", "AGGREGATES", "DATEADD_UNITS", "dateadd_unit",
    "type_arguments",
]

_N, _S, _B, _D, _DT = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.DATETIME
_NULL, _UNKNOWN = FType.NULL, FType.UNKNOWN


@dataclass(frozen=True)
class ArgKind:
    """How one argument is checked: accepted types (None: any), whether it
    must share one type with the other unifying arguments, and whether it
    must be a text literal from ``literals`` (lower-cased value → meaning)."""

    accepts: frozenset[FType] | None
    expected: Text
    unify: bool = False
    literals: Mapping[str, str] | None = None


#: DATEADD's unit literal (case-insensitive) → "day" | "month" | "year".
DATEADD_UNITS: Mapping[str, str] = MappingProxyType({
    "day": "day", "days": "day", "天": "day", "日": "day",
    "month": "month", "months": "month", "月": "month",
    "year": "year", "years": "year", "年": "year",
})


def dateadd_unit(text: str) -> str | None:
    """The normalised DATEADD unit (``day``/``month``/``year``) of a unit literal."""
    return DATEADD_UNITS.get(text.lower())


_DATES = frozenset({_D, _DT})
ARG_KINDS: Mapping[str, ArgKind] = MappingProxyType({
    "number": ArgKind(frozenset({_N}), Text("数字", "a number")),
    "text": ArgKind(frozenset({_S}), Text("文本", "a text")),
    "boolean": ArgKind(frozenset({_B}), Text("是否（条件）", "a boolean (condition)")),
    "date": ArgKind(_DATES, Text("日期或日期时间", "a date or datetime")),
    "any": ArgKind(None, Text("任意值", "any value")),
    "same": ArgKind(None, Text("与其他参数同类型的值", "a value of the same type as the others"),
                    unify=True),
    "ordered": ArgKind(frozenset({_N, _S, _D, _DT}),
                       Text("数字、文本或日期（各参数同类型）",
                            "numbers, texts or dates (all of one type)"), unify=True),
    "unit": ArgKind(frozenset({_S}),
                    Text("单位文本常量 'day'、'month' 或 'year'（或 '天'、'月'、'年'）",
                         "a unit written as text: 'day', 'month' or 'year' (or '天', '月', '年')"),
                    literals=DATEADD_UNITS),
})

ResultRule = FType | Literal["same", "first"]


@dataclass(frozen=True)
class Signature:
    """One form of a function: the kinds of its leading arguments, the kinds
    repeated (in whole groups) after them for a variadic function, and the
    result rule."""

    params: tuple[str, ...]
    result: ResultRule
    rest: tuple[str, ...] = ()

    def accepts(self, count: int) -> bool:
        extra = count - len(self.params)
        if extra < 0:
            return False
        return extra % len(self.rest) == 0 if self.rest else extra == 0

    def kind(self, index: int) -> str:
        if index < len(self.params):
            return self.params[index]
        return self.rest[(index - len(self.params)) % len(self.rest)]


@dataclass(frozen=True)
class AggregateSpec:
    """The aggregate form of a function: ``F(entity.field[, condition])``.

    ``values`` are the field types it aggregates (None: any); ``entity``
    whether ``F(entity[, condition])`` is allowed (COUNT); ``result`` the
    result type (``"same"``: the field's type); ``empty`` the value over no
    rows (``"zero"`` or ``"null"``)."""

    values: frozenset[FType] | None
    result: ResultRule
    empty: Literal["zero", "null"]
    entity: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the language."""

    name: str
    group: Literal["logic", "number", "text", "date", "aggregate", "period"]
    usage: str                                # e.g. "ROUND(x[, n])"
    signatures: tuple[Signature, ...] = ()    # scalar forms (none: aggregate only)
    aggregate_form: AggregateSpec | None = None

    @property
    def aggregate(self) -> bool:
        """Whether the function has an aggregate form (SUM, AVG, MIN, MAX, COUNT, COUNTDISTINCT)."""
        return self.aggregate_form is not None

    @property
    def min_args(self) -> int:
        counts = [len(s.params) for s in self.signatures]
        return min(counts + [1] if self.aggregate_form else counts)

    @property
    def max_args(self) -> int | None:
        """The most arguments accepted; None when variadic."""
        if any(s.rest for s in self.signatures):
            return None
        counts = [len(s.params) for s in self.signatures]
        return max(counts + [2] if self.aggregate_form else counts)

    @property
    def literal_args(self) -> frozenset[int]:
        """Argument positions that must be text literals (DATEADD's unit)."""
        return frozenset(i for s in self.signatures for i, k in enumerate(s.params)
                         if ARG_KINDS[k].literals is not None)

    def signature(self, count: int) -> Signature | None:
        """The scalar form taking ``count`` arguments, if any."""
        for sig in self.signatures:
            if sig.accepts(count):
                return sig
        return None

    def arity_text(self) -> Text:
        """What argument counts are accepted, as a predicate for messages
        ("takes 1 or 2 arguments" / "接受 1 或 2 个参数")."""
        low, high = self.min_args, self.max_args
        if high == 0:
            return Text("不接受参数", "takes no arguments")
        if any(len(s.rest) > 1 for s in self.signatures):
            return Text(f"接受至少 {low} 个参数且成对出现", f"takes at least {low} arguments, in pairs")
        if high is None:
            return Text(f"接受至少 {low} 个参数",
                        f"takes at least {low} argument{'s' if low != 1 else ''}")
        counts = sorted({len(s.params) for s in self.signatures}
                        | ({1, 2} if self.aggregate_form else set()))
        if len(counts) > 2:
            return Text(f"接受 {low} 到 {high} 个参数", f"takes {low} to {high} arguments")
        return Text(f"接受 {' 或 '.join(map(str, counts))} 个参数",
                    f"takes {' or '.join(map(str, counts))} argument{'s' if counts != [1] else ''}")


@dataclass(frozen=True)
class ArgProblem:
    """An argument that does not fit its signature: ``kind`` is ``type`` (wrong
    type), ``agree`` (differs from the type the other arguments share) or
    ``literal`` (must be one of the kind's text literals)."""

    index: int
    kind: Literal["type", "agree", "literal"]
    expected: Text
    found: FType

    def describe(self, spec: "FunctionSpec", shown: str) -> Text:
        """The message for this problem in a call of ``spec``; ``shown`` is the argument's text."""
        template = _PROBLEM_MESSAGES[self.kind]
        found, expected = self.found.label, self.expected
        fill = {"usage": spec.usage, "name": spec.name, "n": self.index + 1, "arg": shown}
        return Text(template.zh.format(expected=expected.zh, found=found.zh, **fill),
                    template.en.format(expected=expected.en, found=found.en, **fill))


_PROBLEM_MESSAGES: Mapping[str, Text] = MappingProxyType({
    "type": Text("{usage}：第 {n} 个参数 {arg} 应为{expected}，实际是{found}",
                 "{usage}: argument {n} ({arg}) must be {expected}, got {found}"),
    "agree": Text("{name} 的各值应为同一类型：第 {n} 个参数 {arg} 是{found}，而前面的值是{expected}",
                  "{name}: argument {n} ({arg}) is {found}, but the earlier values are "
                  "{expected}; they must be of one type"),
    "literal": Text("{usage}：第 {n} 个参数 {arg} 应为{expected}",
                    "{usage}: argument {n} ({arg}) must be {expected}"),
})


def type_arguments(sig: Signature, types: Sequence[FType],
                   literals: Sequence[str | None]) -> tuple[FType, tuple[ArgProblem, ...]]:
    """The result type of a call of form ``sig`` with argument ``types``.

    ``literals`` holds each argument's value when it is a text literal (else
    None). Returns ``(result, problems)``; the result is UNKNOWN when an
    argument is wrong, or when it depends on an argument that is UNKNOWN.
    """
    problems: list[ArgProblem] = []
    shared = _NULL
    unknown = False
    for index, found in enumerate(types):
        kind = ARG_KINDS[sig.kind(index)]
        if found is _UNKNOWN:
            unknown = unknown or kind.unify or (index == 0 and sig.result == "first")
            continue
        if kind.accepts is not None and found is not _NULL and found not in kind.accepts:
            problems.append(ArgProblem(index, "type", kind.expected, found))
        elif kind.literals is not None and (literals[index] or "").lower() not in kind.literals:
            problems.append(ArgProblem(index, "literal", kind.expected, found))
        elif kind.unify and found is not _NULL:
            if shared is _NULL:
                shared = found
            elif found is not shared:
                problems.append(ArgProblem(index, "agree", shared.label, found))
    if problems:
        return _UNKNOWN, tuple(problems)
    if unknown:
        return _UNKNOWN, ()
    if isinstance(sig.result, FType):
        return sig.result, ()
    return _RESULT_RULES[sig.result](types, shared), ()


#: result rules other than a fixed type: ``same`` → the shared type, ``first`` → arg 0's.
_RESULT_RULES: Mapping[str, Callable[[Sequence[FType], FType], FType]] = MappingProxyType({
    "same": lambda types, shared: shared,
    "first": lambda types, shared: types[0],
})


def _fn(name: str, group: str, usage: str, *signatures: Signature,
        aggregate: AggregateSpec | None = None) -> FunctionSpec:
    return FunctionSpec(name, group, usage, tuple(signatures), aggregate)  # type: ignore[arg-type]


def _sig(result: ResultRule, *params: str, rest: tuple[str, ...] = ()) -> Signature:
    return Signature(tuple(params), result, rest)


_ORDERED = frozenset({_N, _S, _D, _DT})
_CATALOGUE = (
    # logic
    _fn("IF", "logic", "IF(c, a[, b])", _sig("same", "boolean", "same"),
        _sig("same", "boolean", "same", "same")),
    _fn("IFS", "logic", "IFS(c1, v1, …, cN, vN)",
        _sig("same", "boolean", "same", rest=("boolean", "same"))),
    _fn("ISNULL", "logic", "ISNULL(x)", _sig(_B, "any")),
    _fn("COALESCE", "logic", "COALESCE(a, b, …)", _sig("same", "same", rest=("same",))),
    # number
    *(_fn(n, "number", f"{n}(x[, n])", _sig(_N, "number"), _sig(_N, "number", "number"))
      for n in ("ROUND", "ROUNDUP", "ROUNDDOWN")),
    *(_fn(n, "number", f"{n}(x)", _sig(_N, "number")) for n in ("ABS", "SQRT")),
    _fn("POWER", "number", "POWER(a, b)", _sig(_N, "number", "number")),
    _fn("MOD", "number", "MOD(a, b)", _sig(_N, "number", "number")),
    _fn("DIVIDE", "number", "DIVIDE(a, b[, alt])", _sig(_N, "number", "number"),
        _sig(_N, "number", "number", "number")),
    *(_fn(n, "number", f"{n}(a, b, …) / {n}(entity.field[, condition])",
          _sig("same", "ordered", "ordered", rest=("ordered",)),
          aggregate=AggregateSpec(_ORDERED, "same", "null")) for n in ("MIN", "MAX")),
    # text
    _fn("LEN", "text", "LEN(s)", _sig(_N, "text")),
    *(_fn(n, "text", f"{n}(s, n)", _sig(_S, "text", "number")) for n in ("LEFT", "RIGHT")),
    _fn("MID", "text", "MID(s, start, n)", _sig(_S, "text", "number", "number")),
    *(_fn(n, "text", f"{n}(s)", _sig(_S, "text")) for n in ("UPPER", "LOWER", "TRIM")),
    _fn("CONCAT", "text", "CONCAT(a, b, …)", _sig(_S, "any", rest=("any",))),
    *(_fn(n, "text", f"{n}(s, t)", _sig(_B, "text", "text"))
      for n in ("CONTAINS", "STARTSWITH", "ENDSWITH")),
    _fn("SUBSTITUTE", "text", "SUBSTITUTE(s, old, new)", _sig(_S, "text", "text", "text")),
    # date
    _fn("TODAY", "date", "TODAY()", _sig(_D)),
    _fn("NOW", "date", "NOW()", _sig(_DT)),
    _fn("DATE", "date", "DATE(y, m, d) / DATE('2024-03-01')", _sig(_D, "text"),
        _sig(_D, "number", "number", "number")),
    *(_fn(n, "date", f"{n}(d)", _sig(_N, "date")) for n in ("YEAR", "MONTH", "DAY", "QUARTER")),
    _fn("DAYS", "date", "DAYS(end, start)", _sig(_N, "date", "date")),
    _fn("DATEADD", "date", "DATEADD(d, n, 'day'|'month'|'year')",
        _sig("first", "date", "number", "unit")),
    _fn("EOMONTH", "date", "EOMONTH(d, n)", _sig(_D, "date", "number")),
    # aggregate
    _fn("SUM", "aggregate", "SUM(entity.field[, condition])",
        aggregate=AggregateSpec(frozenset({_N}), _N, "zero")),
    _fn("AVG", "aggregate", "AVG(entity.field[, condition])",
        aggregate=AggregateSpec(frozenset({_N}), _N, "null")),
    _fn("COUNT", "aggregate", "COUNT(entity[, condition]) / COUNT(entity.field[, condition])",
        aggregate=AggregateSpec(None, _N, "zero", entity=True)),
    _fn("COUNTDISTINCT", "aggregate", "COUNTDISTINCT(entity.field[, condition])",
        aggregate=AggregateSpec(None, _N, "zero")),
    # period (indicator formulas only; the first argument is an @indicator reference)
    _fn("PREV", "period", "PREV(@indicator[, n])", _sig(_N, "number"),
        _sig(_N, "number", "number")),
    _fn("LASTYEAR", "period", "LASTYEAR(@indicator)", _sig(_N, "number")),
    _fn("YTD", "period", "YTD(@indicator)", _sig(_N, "number")),
)

#: every function by upper-case name.
FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType({f.name: f for f in _CATALOGUE})
#: functions with an aggregate form (MIN and MAX also have a scalar form).
AGGREGATES: frozenset[str] = frozenset(f.name for f in _CATALOGUE if f.aggregate)
