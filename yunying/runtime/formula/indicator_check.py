"""Checking indicator formulas (指标公式检查) (runtime layer, formula integration).

An indicator's versions carry formulas in **indicator** mode: aggregates
over any known entity, ``@code`` references to other indicators (local code
or name label of the same package, ``@[pkg.code]`` for another package's)
and the period functions ``PREV`` / ``LASTYEAR`` / ``YTD``. This module

- builds the checking context (:func:`indicator_context`);
- checks one version (:func:`check_indicator_version`, used by the indicator
  engine): each formula must give a number, a numerator/denominator pair may
  not read other indicators; references come out keyed by **qualified**
  codes (``pkg.code``, ``pkg.code@lastyear`` …);
- is a package check (:func:`check_indicators`, in ``FORMULA_CHECKS``) with
  the issue codes ``formula_<code>`` (the language's own), ``unknown_indicator``,
  ``ratio_with_reference``, ``unknown_dimension`` and ``indicator_cycle``,
  located at ``$.versions[i].formula`` / ``numerator`` / ``denominator``
  (``$.dimensions[j]`` for a dimension) of the indicator file.

The dependency graph between indicators is :mod:`.indicator_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from yunying.metadata.indicators import IndicatorSpec, IndicatorVersion
from yunying.metadata.loader import Finding
from yunying.metadata.spec import PackageSpec
from yunying.platform.i18n import Text
from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.entity_context import aggregate_context
from yunying.runtime.formula.errors import FormulaError, FormulaIssue
from yunying.runtime.formula.indicator_refs import (PERIOD_FUNCTIONS, IndicatorRef, indicator_refs,
                                                    requalified)
from yunying.runtime.formula.parser import parse
from yunying.runtime.formula.types import FType

if TYPE_CHECKING:   # re-exported lazily (see __getattr__ at the end)
    from yunying.runtime.formula.indicator_graph import IndicatorGraph, indicator_graph

__all__ = ["CheckedVersion", "indicator_context", "known_indicators", "qualifier",
           "check_indicator_version", "check_indicators", "version_issues", "RATIO_PARTS",
           "IndicatorGraph", "indicator_graph"]

#: the formulas of a ratio version (they must be plain sums: no references).
RATIO_PARTS = ("numerator", "denominator")


@dataclass(frozen=True)
class CheckedVersion:
    """One indicator version's formulas, checked (references keyed by qualified codes)."""

    formula: Checked | None = None
    numerator: Checked | None = None
    denominator: Checked | None = None

    @property
    def parts(self) -> dict[str, Checked]:
        """The formulas present, by key: ``formula``, or ``numerator`` and ``denominator``."""
        found = {"formula": self.formula, "numerator": self.numerator,
                 "denominator": self.denominator}
        return {key: checked for key, checked in found.items() if checked is not None}

    @property
    def refs(self) -> tuple[IndicatorRef, ...]:
        """The indicator references of ``formula`` (qualified codes; ratios have none)."""
        return indicator_refs(self.formula) if self.formula is not None else ()

    @property
    def entities(self) -> frozenset[str]:
        """The qualified entity codes the formulas aggregate."""
        return frozenset(e for checked in self.parts.values() for e in checked.aggregates.values())


def known_indicators(indicators: Mapping[str, IndicatorSpec],
                     package: str) -> dict[str, Text | None]:
    """What ``@`` may name in ``package``: its indicators by local code (and by
    label), and every indicator by qualified code."""
    known: dict[str, Text | None] = {code: None for code in indicators}
    known.update({spec.code: spec.label for spec in indicators.values()
                  if spec.package == package})
    return known


def indicator_context(entities: object, indicators: Mapping[str, IndicatorSpec],
                      package: str) -> FormulaContext:
    """The indicator-mode context of ``package``'s formulas: every entity of
    ``entities`` (a registry or a mapping by qualified code) and the known indicators."""
    base = aggregate_context(entities, mode="indicator")
    return FormulaContext(mode="indicator", entities=base.entities,
                          indicators=known_indicators(indicators, package), home=package)


def qualifier(package: str) -> Callable[[str], str]:
    """Local code → qualified code (qualified codes pass unchanged)."""
    return lambda code: code if "." in code else f"{package}.{code}"


def check_indicator_version(spec: IndicatorSpec, version: IndicatorVersion, entities: object,
                            indicators: Mapping[str, IndicatorSpec], *,
                            context: FormulaContext | None = None) -> CheckedVersion:
    """``version``'s formulas checked in indicator mode, references qualified.

    ``entities`` is a registry or a mapping of entity specs by qualified
    code; ``indicators`` every known indicator by qualified code; pass
    ``context`` (:func:`indicator_context` for ``spec.package``) to reuse one.
    Raises FormulaError with the issues of the first formula that fails
    (a ratio part reading another indicator is a ``context`` issue).
    """
    context = context or indicator_context(entities, indicators, spec.package)
    checked: dict[str, Checked] = {}
    for key, source in version.formulas.items():
        issues = list(_reference_issues(key, source))
        try:
            found = check(source, context, expect=FType.NUMBER)
        except FormulaError as exc:
            issues = list(exc.issues) + issues
            found = None
        if issues:
            raise FormulaError(sorted(issues, key=lambda i: (i.span.start, i.span.end)))
        assert found is not None
        checked[key] = requalified(found, qualifier(spec.package))
    return CheckedVersion(**checked)


def _reference_issues(key: str, source: str) -> Iterator[FormulaIssue]:
    """``context`` issues for the references of a numerator or denominator."""
    if key not in RATIO_PARTS:
        return
    try:
        tree = parse(source)
    except FormulaError:
        return                       # the check reports the syntax error
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        period = isinstance(node, ast.Call) and node.name in PERIOD_FUNCTIONS
        if isinstance(node, ast.Indicator) or period:
            yield FormulaIssue("context", Text(
                f"分子、分母须为汇总（比值按“和之比”计算），不能引用其他指标或使用期间函数："
                f"{source[node.span.start:node.span.end]}",
                f"a numerator or denominator must be a plain aggregate (the value is a ratio "
                f"of sums): it may not use other indicators or period functions: "
                f"{source[node.span.start:node.span.end]}"), node.span)
            continue
        stack.extend(ast.children(node))


# --- the package check ------------------------------------------------------------------

def check_indicators(spec: PackageSpec, packages: Mapping[str, PackageSpec]) -> list[Finding]:
    """Every problem of ``spec``'s indicator formulas (a PackageCheck)."""
    mine = tuple(getattr(spec, "indicators", ()))
    if not mine:
        return []
    entities = {e.qualified_code: e for p in packages.values() for e in p.entities}
    entities.update({e.qualified_code: e for e in spec.entities})
    indicators = {i.qualified_code: i for p in packages.values()
                  for i in getattr(p, "indicators", ())}
    indicators.update({i.qualified_code: i for i in mine})
    context = indicator_context(entities, indicators, spec.code)
    findings: list[Finding] = []
    for indicator in mine:
        findings += version_issues(indicator, entities, context)
    from yunying.runtime.formula.indicator_graph import cycle_findings, indicator_graph
    graph = indicator_graph(indicators, entities, contexts={spec.code: context})
    findings += cycle_findings(graph, mine)
    return findings


def version_issues(indicator: IndicatorSpec, entities: Mapping[str, object],
                   context: FormulaContext) -> list[Finding]:
    """The findings of every version of ``indicator`` (and of its dimensions)."""
    findings: list[Finding] = []
    current: dict[str, Checked] = {}
    last = len(indicator.versions) - 1
    for i, version in enumerate(indicator.versions):
        for key, source in version.formulas.items():
            path = f"$.versions[{i}].{key}"
            issues = list(_reference_issues(key, source))
            findings += [_finding(indicator, "ratio_with_reference", source, issue, path)
                         for issue in issues]
            try:
                checked = check(source, context, expect=FType.NUMBER)
            except FormulaError as exc:
                indicator_spans = _indicator_spans(source)
                findings += [_finding(indicator, _issue_code(issue, indicator_spans), source,
                                      issue, path) for issue in exc.issues]
                continue
            if i == last:
                current[key] = checked
    findings += _dimension_findings(indicator, current, entities)
    return findings


def _indicator_spans(source: str) -> set[tuple[int, int]]:
    try:
        tree = parse(source)
    except FormulaError:
        return set()
    spans: set[tuple[int, int]] = set()
    stack: list[ast.Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Indicator):
            spans.add((node.span.start, node.span.end))
        stack.extend(ast.children(node))
    return spans


def _issue_code(issue: FormulaIssue, indicator_spans: set[tuple[int, int]]) -> str:
    """``unknown_indicator`` for an unknown ``@x``; ``formula_<code>`` otherwise."""
    if issue.code == "unknown_name" and (issue.span.start, issue.span.end) in indicator_spans:
        return "unknown_indicator"
    return f"formula_{issue.code}"


def _finding(indicator: IndicatorSpec, code: str, source: str, issue: FormulaIssue,
             path: str) -> Finding:
    from yunying.runtime.formula.package_check import describe_issue  # it lists this check
    message = describe_issue(source, issue)
    label = Text(f"指标 {indicator.code} 的公式（{path}）",
                 f"the formula of indicator {indicator.code} ({path})")
    return Finding(code, Text(f"{label.zh}：{message.zh}", f"{label.en}: {message.en}"),
                   "indicator", indicator.code, path)


def _dimension_findings(indicator: IndicatorSpec, current: Mapping[str, Checked],
                        entities: Mapping[str, object]) -> list[Finding]:
    """``unknown_dimension``: a dimension field missing on an entity the current version aggregates."""
    aggregated = sorted({e for checked in current.values() for e in checked.aggregates.values()})
    findings: list[Finding] = []
    for j, dimension in enumerate(indicator.dimensions):
        lacking = [code for code in aggregated
                   if dimension not in {f.code for f in getattr(entities.get(code), "fields", ())}]
        if lacking:
            findings.append(Finding("unknown_dimension", Text(
                f"指标 {indicator.code} 的钻取维度 {dimension} 不是实体 {'、'.join(lacking)} 的字段"
                f"（现行口径汇总的每个实体都须有该字段）",
                f"the drill dimension {dimension} of indicator {indicator.code} is not a field "
                f"of {', '.join(lacking)} (every entity its current version aggregates needs it)"),
                "indicator", indicator.code, f"$.dimensions[{j}]"))
    return findings


def __getattr__(name: str) -> object:
    """``IndicatorGraph`` and ``indicator_graph`` live in :mod:`.indicator_graph` (which
    imports this module); they are re-exported here lazily."""
    if name in ("IndicatorGraph", "indicator_graph"):
        from yunying.runtime.formula import indicator_graph as graph
        return getattr(graph, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
