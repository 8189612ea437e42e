"""Static checking of formulas: names, types, contexts, dependencies (runtime layer).

``check(source, context)`` parses and checks a formula and returns a
:class:`Checked` — the tree, the result type, every node's type, what each
name resolved to, and the dependencies — or raises :class:`FormulaError` with
**every** issue found (code, zh-CN/en message, span, suggestions).

The evaluator and the SQL compiler only ever receive a :class:`Checked`.

One walk over the tree gives every node a type. Names resolve through
:mod:`.names` in a *scope*: the current record (row mode), outside any
aggregate (aggregate/indicator mode: no name is a value by itself), or inside
an aggregate over an entity (its condition reads that entity's fields).
Operators are typed by :mod:`.operators`, function calls by the catalogue in
:mod:`.functions`. A failed subexpression gets ``UNKNOWN``, which never causes
another issue, so one mistake is reported once. ``MIN``/``MAX`` are the
aggregate form with one argument, or with two when the second is a
condition (checked once, in the scope it would have as a condition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from yunying.platform.i18n import Text
from yunying.runtime.formula import ast
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.errors import FormulaError, FormulaIssue
from yunying.runtime.formula.functions import FUNCTIONS, ArgProblem, FunctionSpec, type_arguments
from yunying.runtime.formula.indicator_refs import IndicatorRef
from yunying.runtime.formula.names import Names, Resolved, Scope, Unresolved, did_you_mean
from yunying.runtime.formula.operators import (binary_problem, binary_type, comparable, orderable,
                                               unary_problem, unary_type)
from yunying.runtime.formula.parser import parse
from yunying.runtime.formula.period_check import check_period_call
from yunying.runtime.formula.suggest import nearest
from yunying.runtime.formula.types import FType

__all__ = ["Binding", "Dependencies", "Checked", "check"]


@dataclass(frozen=True)
class Binding:
    """What one :class:`ast.Name` resolved to.

    ``entity`` is the qualified entity where the path starts: the current
    entity in row mode, the aggregated entity inside an aggregate. ``path`` is
    the field *codes* followed from there — ``("applicant", "department")``
    follows the reference ``applicant`` and reads ``department`` of the
    referenced record; ``()`` means the name is the entity itself (the first
    argument of ``COUNT(entity, …)``). ``type`` is the value's type.
    """

    entity: str
    path: tuple[str, ...]
    type: FType

    @property
    def key(self) -> str:
        """The dotted field path, e.g. ``"applicant.department"`` (row values are keyed by it)."""
        return ".".join(self.path)


@dataclass(frozen=True)
class Dependencies:
    """What a formula reads. Field paths are dotted codes from their entity."""

    fields: frozenset[str]                 # row mode: dotted paths from the current entity
    entities: frozenset[str]               # qualified entities aggregated or reached by a path
    entity_fields: frozenset[tuple[str, str]]  # (entity, field code) actually read, any mode
    indicators: frozenset[str]
    functions: frozenset[str]

    def as_dict(self) -> dict[str, list]:
        return {"fields": sorted(self.fields), "entities": sorted(self.entities),
                "entity_fields": sorted(f"{e}.{f}" for e, f in self.entity_fields),
                "indicators": sorted(self.indicators), "functions": sorted(self.functions)}


@dataclass(frozen=True)
class Checked:
    """A formula that parsed and type-checked in its context."""

    source: str
    tree: ast.Node
    type: FType
    context: FormulaContext
    dependencies: Dependencies
    types: Mapping[ast.Node, FType]        # every node (identity-keyed) → its type
    bindings: Mapping[ast.Name, Binding]   # every Name node → what it names
    #: aggregate calls (SUM, COUNT, …) → the qualified entity they aggregate
    aggregates: Mapping[ast.Call, str]
    #: indicator references: each ``@x`` node and period call (PREV …) → what it reads
    refs: Mapping[ast.Node, IndicatorRef] = field(default_factory=lambda: MappingProxyType({}))

    def type_of(self, node: ast.Node) -> FType:
        return self.types[node]


_N, _B, _NULL, _UNKNOWN = FType.NUMBER, FType.BOOLEAN, FType.NULL, FType.UNKNOWN
_OUTER: Scope = ("outer", None)
_TYPE_ORDER = (_N, FType.STRING, FType.DATE, FType.DATETIME, _B)


def check(source: str, context: FormulaContext, *, expect: FType | None = None) -> Checked:
    """Parse and check ``source`` in ``context``.

    ``expect`` (e.g. ``FType.BOOLEAN`` for rules and conditions) adds a
    ``type`` issue when the result type does not fit it.
    Raises FormulaError with every issue found.
    """
    tree = parse(source)
    checker = _Checker(source, context)
    scope = ("row", context.entity) if context.mode == "row" else _OUTER
    result = checker.visit(tree, scope)
    out = checker.out
    issues = sorted(out.issues, key=lambda i: (i.span.start, i.span.end))
    if expect is not None and not result.fits(expect):
        issues.append(FormulaIssue("type", Text(
            f"公式结果应为{expect.label.zh}，实际是{result.label.zh}",
            f"the formula must give a {expect.label.en} value, got {result.label.en}"), tree.span))
    if issues:
        raise FormulaError(issues)
    return Checked(
        source=source, tree=tree, type=result, context=context,
        dependencies=Dependencies(frozenset(out.fields), frozenset(out.entities),
                                  frozenset(out.entity_fields), frozenset(out.indicators),
                                  frozenset(out.functions)),
        types=MappingProxyType(out.types), bindings=MappingProxyType(out.bindings),
        aggregates=MappingProxyType(out.aggregates), refs=MappingProxyType(out.refs))


class _Sink:
    """What one walk collects (a fresh one for a trial walk of MIN/MAX's second argument)."""

    __slots__ = ("issues", "types", "bindings", "aggregates", "fields", "entities",
                 "entity_fields", "indicators", "functions", "refs")

    def __init__(self) -> None:
        self.issues: list[FormulaIssue] = []
        self.types: dict[ast.Node, FType] = {}
        self.bindings: dict[ast.Name, Binding] = {}
        self.aggregates: dict[ast.Call, str] = {}
        self.fields: set[str] = set()
        self.entities: set[str] = set()
        self.entity_fields: set[tuple[str, str]] = set()
        self.indicators: set[str] = set()
        self.functions: set[str] = set()
        self.refs: dict[ast.Node, IndicatorRef] = {}

    def merge(self, other: "_Sink") -> None:
        self.issues += other.issues
        for name in ("types", "bindings", "aggregates", "fields", "entities", "entity_fields",
                     "indicators", "functions", "refs"):
            getattr(self, name).update(getattr(other, name))


class _Checker:
    """One walk over one tree: every node gets a type, every issue is collected."""

    __slots__ = ("source", "mode", "names", "out", "ready")

    def __init__(self, source: str, context: FormulaContext) -> None:
        self.source = source
        self.mode = context.mode
        self.names = Names(context)
        self.out = _Sink()
        #: nodes already checked (MIN/MAX's second argument) → their type
        self.ready: dict[ast.Node, FType] = {}

    def visit(self, node: ast.Node, scope: Scope) -> FType:
        if self.ready and node in self.ready:
            return self.ready.pop(node)
        found = _VISITORS[type(node)](self, node, scope)
        self.out.types[node] = found
        return found

    def issue(self, code: str, span: ast.Span, message: Text,
              suggestions: Sequence[str] = ()) -> FType:
        self.out.issues.append(FormulaIssue(code, message, span, tuple(suggestions)))
        return _UNKNOWN

    def snippet(self, node: ast.Node) -> str:
        text = " ".join(self.source[node.span.start:node.span.end].split())
        return text if len(text) <= 40 else text[:39] + "…"

    def skip(self, nodes: Sequence[ast.Node]) -> None:
        """Give ``nodes`` and everything under them UNKNOWN without checking them."""
        stack = list(nodes)
        while stack:
            node = stack.pop()
            self.ready.pop(node, None)
            self.out.types[node] = _UNKNOWN
            stack.extend(ast.children(node))

    # -- operators --------------------------------------------------------
    def unary(self, node: ast.Unary, scope: Scope) -> FType:
        operand = self.visit(node.operand, scope)
        result = unary_type(node.op, operand)
        if result is None:
            return self.issue("type", node.span, unary_problem(node.op, operand, self.snippet(node)))
        return result

    def binary(self, node: ast.Binary, scope: Scope) -> FType:
        left = self.visit(node.left, scope)
        right = self.visit(node.right, scope)
        result = binary_type(node.op, left, right)
        if result is None:
            return self.issue("type", node.span,
                              binary_problem(node.op, left, right, self.snippet(node)))
        return result

    def in_(self, node: ast.In, scope: Scope) -> FType:
        anchor, anchor_node = self.visit(node.operand, scope), node.operand
        for item in node.items:
            found = self.visit(item, scope)
            if anchor is _NULL and found is not _UNKNOWN:
                anchor, anchor_node = found, item
            elif not comparable(anchor, found):
                a, f = anchor.label, found.label
                what, where = self.snippet(item), self.snippet(anchor_node)
                self.issue("type", item.span, Text(
                    f"IN 列表中的 {what} 是{f.zh}，但 {where} 是{a.zh}；列表中的值应与之同类型",
                    f"{what} in the IN list is {f.en}, but {where} is {a.en}: "
                    f"the items must be of its type"))
        return _B

    def between(self, node: ast.Between, scope: Scope) -> FType:
        types = [self.visit(n, scope) for n in (node.operand, node.low, node.high)]
        concrete = [t for t in types if t is not _NULL]
        if _UNKNOWN in types or all(orderable(a, b) for a in concrete for b in concrete):
            return _B
        zh, en = "、".join(t.label.zh for t in types), ", ".join(t.label.en for t in types)
        snippet = self.snippet(node)
        self.issue("type", node.span, Text(
            f"{snippet}：BETWEEN 需要三个同类型且可比较大小的值（数字、文本或日期），实际是{zh}",
            f"{snippet}: BETWEEN needs three values of one type that can be ordered "
            f"(numbers, texts or dates), got {en}"))
        return _B

    def is_null(self, node: ast.IsNull, scope: Scope) -> FType:
        self.visit(node.operand, scope)
        return _B

    # -- names ------------------------------------------------------------
    def name(self, node: ast.Name, scope: Scope) -> FType:
        resolved = self.names.resolve(scope, node.parts, lambda: self.snippet(node))
        return self.bind(node, resolved, row=scope[0] == "row")

    def bind(self, node: ast.Name, resolved: Resolved | Unresolved, *, row: bool) -> FType:
        if isinstance(resolved, Unresolved):
            return self.unresolved(node, resolved)
        out = self.out
        out.bindings[node] = Binding(resolved.entity, resolved.path, resolved.type)
        if row:
            out.fields.add(".".join(resolved.path))
        out.entities.update(resolved.reached)
        out.entity_fields.update(resolved.reads)
        return resolved.type

    def unresolved(self, node: ast.Name, problem: Unresolved) -> FType:
        span = node.spans[problem.part] if problem.part is not None else node.span
        return self.issue(problem.code, span, problem.message, problem.suggestions)

    def indicator(self, node: ast.Indicator, scope: Scope) -> FType:
        if self.mode != "indicator":
            snippet = self.snippet(node)
            return self.issue("context", node.span, Text(
                f"指标引用 {snippet} 只能用于指标公式", f"the indicator reference {snippet} "
                f"is only allowed in indicator formulas"))
        code = self.names.indicator(node.code)
        if isinstance(code, Unresolved):
            return self.issue(code.code, node.span, code.message, code.suggestions)
        self.out.indicators.add(code)
        self.out.refs[node] = IndicatorRef(code)
        return _N

    # -- calls ------------------------------------------------------------
    def call(self, node: ast.Call, scope: Scope) -> FType:
        self.out.functions.add(node.name)
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            return self.unknown_function(node, scope)
        if spec.aggregate_form is not None and self.is_aggregate(node, spec, scope):
            return self.aggregate(node, spec, scope)
        if spec.group == "period":
            return check_period_call(self, node, spec, scope)
        signature = spec.signature(len(node.args))
        if signature is None:
            for arg in node.args:
                self.visit(arg, scope)
            return self.arity(node, spec)
        types = [self.visit(arg, scope) for arg in node.args]
        literals = [arg.value if type(arg) is ast.String else None for arg in node.args]
        result, problems = type_arguments(signature, types, literals)
        for problem in problems:
            self.argument_issue(node, spec, problem)
        return result

    def unknown_function(self, node: ast.Call, scope: Scope) -> FType:
        if scope[0] == "outer":
            self.skip(node.args)
        else:
            for arg in node.args:
                self.visit(arg, scope)
        suggestions = nearest(node.name, FUNCTIONS)
        hint = did_you_mean(suggestions)
        return self.issue("unknown_function", node.name_span, Text(
            f"没有函数 {node.name}{hint.zh}", f"there is no function {node.name}{hint.en}"),
            suggestions)

    def arity(self, node: ast.Call, spec: FunctionSpec) -> FType:
        wanted, count = spec.arity_text(), len(node.args)
        return self.issue("arity", node.name_span, Text(
            f"{spec.name} {wanted.zh}，实际给了 {count} 个：{spec.usage}",
            f"{spec.name} {wanted.en}, got {count}: {spec.usage}"))

    def argument_issue(self, node: ast.Call, spec: FunctionSpec, problem: ArgProblem) -> None:
        arg = node.args[problem.index]
        self.issue("type", arg.span, problem.describe(spec, self.snippet(arg)))

    # -- aggregates -------------------------------------------------------
    def is_aggregate(self, node: ast.Call, spec: FunctionSpec, scope: Scope) -> bool:
        """SUM, AVG, COUNT…: always; MIN/MAX: with one argument, or two where the
        second is a condition, when the first is a name.

        The second argument is checked here once, in the scope it would have
        as a condition, and its type is kept for the caller (``ready``)."""
        args = node.args
        if not spec.signatures:
            return True
        if not args or type(args[0]) is not ast.Name or len(args) > 2:
            return False
        if len(args) == 1:
            return True
        if scope[0] != "outer":   # the condition scope is this scope
            found = self.ready[args[1]] = self.visit(args[1], scope)
            return found is _B
        inner = self.aggregated(args[0])
        if inner is None:
            return False
        saved, self.out = self.out, _Sink()      # a trial: kept only for an aggregate
        try:
            found = self.visit(args[1], inner)
        finally:
            trial, self.out = self.out, saved
        if found is _B or found is _UNKNOWN:
            self.out.merge(trial)
            self.ready[args[1]] = found
            return True
        return False

    def aggregated(self, first: ast.Name) -> Scope | None:
        qualified = self.names.qualify(first.parts)
        return ("inner", qualified[0]) if isinstance(qualified, tuple) else None

    def aggregate(self, node: ast.Call, spec: FunctionSpec, scope: Scope) -> FType:
        if scope[0] != "outer":
            self.skip(node.args)
            return self.misplaced_aggregate(node, spec, scope)
        if not 1 <= len(node.args) <= 2:
            self.skip(node.args)
            return self.arity(node, spec)
        target = self.aggregate_target(node, spec)
        if target is None:
            self.skip(node.args[1:])
            return _UNKNOWN
        entity, value = target
        self.out.aggregates[node] = entity
        self.out.entities.add(entity)
        result = self.aggregate_value(node, spec, entity, value)
        if len(node.args) == 2:
            condition = node.args[1]
            found = self.visit(condition, ("inner", entity))
            if not found.fits(_B):
                snippet = self.snippet(condition)
                self.issue("type", condition.span, Text(
                    f"{spec.name} 的条件 {snippet} 应为是否值，实际是{found.label.zh}",
                    f"the condition {snippet} of {spec.name} must be a boolean, got {found.label.en}"))
        return result

    def misplaced_aggregate(self, node: ast.Call, spec: FunctionSpec, scope: Scope) -> FType:
        snippet = self.snippet(node)
        if scope[0] == "inner":
            return self.issue("context", node.span, Text(
                f"汇总函数不能嵌套：{snippet} 位于另一个汇总函数中",
                f"aggregates cannot be nested: {snippet} is inside another aggregate"))
        scalar = spec.signatures and spec.min_args < 2
        return self.issue("context", node.span, Text(
            f"{snippet}：{spec.name} 是汇总函数，只能用于汇总或指标公式，不能用于单条记录的公式"
            + (f"；比较多个值请给 {spec.name} 两个或更多参数" if scalar else ""),
            f"{snippet}: {spec.name} is an aggregate, allowed only in aggregate or indicator "
            f"formulas, not in a formula over one record"
            + (f"; to compare values give {spec.name} two or more values" if scalar else "")))

    def aggregate_target(self, node: ast.Call, spec: FunctionSpec) -> tuple[str, FType | None] | None:
        """The aggregated entity and the type of the aggregated field (None: the entity itself)."""
        first = node.args[0]
        self.out.types[first] = _UNKNOWN
        if type(first) is not ast.Name:
            self.skip([first])
            snippet = self.snippet(first)
            self.issue("type", first.span, Text(
                f"{spec.usage}：第一个参数应为实体的字段（实体.字段），实际是 {snippet}",
                f"{spec.usage}: the first argument must name a field of an entity "
                f"(entity.field), got {snippet}"))
            return None
        qualified = self.names.aggregated(first.parts, self.snippet(first))
        if isinstance(qualified, Unresolved):
            self.unresolved(first, qualified)
            return None
        entity, index = qualified
        if index == len(first.parts):
            self.out.types[first] = _N
            self.out.bindings[first] = Binding(entity, (), _N)
            return entity, None
        found = self.bind(first, self.names.path(entity, first.parts, index), row=False)
        self.out.types[first] = found
        return entity, found

    def aggregate_value(self, node: ast.Call, spec: FunctionSpec, entity: str,
                        value: FType | None) -> FType:
        form = spec.aggregate_form
        assert form is not None
        first = node.args[0]
        snippet = self.snippet(first)
        if value is None and not form.entity:
            return self.issue("type", first.span, Text(
                f"{spec.usage}：{snippet} 是实体，{spec.name} 需要实体的字段（如 {snippet}.字段）",
                f"{spec.usage}: {snippet} is an entity; {spec.name} needs one of its fields "
                f"(e.g. {snippet}.field)"))
        if value is _UNKNOWN:
            return _UNKNOWN
        if value is not None and form.values is not None and value not in form.values:
            zh = "、".join(t.label.zh for t in _TYPE_ORDER if t in form.values)
            en = ", ".join(t.label.en for t in _TYPE_ORDER if t in form.values)
            return self.issue("type", first.span, Text(
                f"{spec.name} 需要{zh}字段，{snippet} 是{value.label.zh}",
                f"{spec.name} needs a {en} field, {snippet} is {value.label.en}"))
        if form.result == "same":
            return value or _UNKNOWN
        return form.result  # type: ignore[return-value]


_VISITORS: Mapping[type, Callable[[_Checker, Any, Scope], FType]] = MappingProxyType({
    ast.Number: lambda c, n, s: _N,
    ast.String: lambda c, n, s: FType.STRING,
    ast.Boolean: lambda c, n, s: _B,
    ast.Null: lambda c, n, s: _NULL,
    ast.Name: _Checker.name,
    ast.Indicator: _Checker.indicator,
    ast.Unary: _Checker.unary,
    ast.Binary: _Checker.binary,
    ast.In: _Checker.in_,
    ast.Between: _Checker.between,
    ast.IsNull: _Checker.is_null,
    ast.Call: _Checker.call,
})
