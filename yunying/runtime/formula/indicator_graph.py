"""The dependency graph between indicators (指标依赖图) (runtime layer).

An indicator whose formula reads ``@x`` (or ``PREV(@x)``, ``LASTYEAR(@x)``,
``YTD(@x)``) depends on ``x``: the engine computes ``x`` first (for the
shifted period). :func:`indicator_graph` builds the graph of every
indicator's **current** version — nodes are qualified codes, each edge keeps
the reference's shift — with the entities each indicator aggregates;
:meth:`IndicatorGraph.order` gives an order to compute them in and
:meth:`IndicatorGraph.cycles` the cycles, reported by the package check as
``indicator_cycle`` ("a → b → a").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from yunying.metadata.indicators import IndicatorSpec
from yunying.metadata.loader import Finding
from yunying.metadata.versions import dependency_order
from yunying.platform.i18n import Text
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.indicator_check import check_indicator_version, indicator_context
from yunying.runtime.formula.indicator_refs import IndicatorRef

__all__ = ["IndicatorGraph", "indicator_graph", "cycle_findings"]


@dataclass(frozen=True)
class IndicatorGraph:
    """Indicators (qualified codes), what each references, what each aggregates.

    ``edges`` maps each node to its references (qualified codes, with shift);
    ``entities`` to the qualified entity codes its current version
    aggregates; ``broken`` lists indicators whose current version does not
    check (they have no edges).
    """

    nodes: tuple[str, ...]
    edges: Mapping[str, tuple[IndicatorRef, ...]]
    entities: Mapping[str, frozenset[str]]
    broken: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", MappingProxyType(dict(self.edges)))
        object.__setattr__(self, "entities", MappingProxyType(dict(self.entities)))

    def depends_on(self, code: str) -> tuple[str, ...]:
        """The indicators ``code`` reads directly (distinct, in order of appearance)."""
        return tuple(dict.fromkeys(ref.code for ref in self.edges.get(code, ())))

    def order(self) -> tuple[str, ...]:
        """Every node, each after the indicators it reads (ties by code)."""
        order, _ = dependency_order({code: self.depends_on(code) for code in self.nodes})
        return tuple(order)

    def cycles(self) -> list[list[str]]:
        """The cycles, each as the codes around it from its smallest code."""
        _, cycles = dependency_order({code: self.depends_on(code) for code in self.nodes})
        return cycles

    def as_dict(self) -> dict[str, Any]:
        """Plain data (the graph endpoint and CLI): nodes, edges with shifts, entities read."""
        return {
            "nodes": list(self.nodes),
            "edges": [{"from": code, "to": ref.code, "shift": ref.shift, "n": ref.n, "key": ref.key}
                      for code in self.nodes for ref in self.edges.get(code, ())],
            "entities": {code: sorted(self.entities.get(code, ())) for code in self.nodes},
        }


def indicator_graph(indicators: Mapping[str, IndicatorSpec], entities: object, *,
                    contexts: Mapping[str, FormulaContext] | None = None) -> IndicatorGraph:
    """The graph of the current versions of ``indicators`` (qualified code → spec).

    ``entities`` is a registry or a mapping of entity specs by qualified code;
    ``contexts`` optionally gives ready checking contexts by package code.
    """
    made: dict[str, FormulaContext] = dict(contexts or {})
    edges: dict[str, tuple[IndicatorRef, ...]] = {}
    read: dict[str, frozenset[str]] = {}
    broken: set[str] = set()
    nodes = tuple(sorted(indicators))
    for code in nodes:
        spec = indicators[code]
        context = made.get(spec.package)
        if context is None:
            context = made[spec.package] = indicator_context(entities, indicators, spec.package)
        try:
            checked = check_indicator_version(spec, spec.current, entities, indicators,
                                              context=context)
        except FormulaError:
            broken.add(code)
            edges[code], read[code] = (), frozenset()
            continue
        edges[code] = tuple(ref for ref in checked.refs if ref.code in indicators)
        read[code] = checked.entities
    return IndicatorGraph(nodes, edges, read, frozenset(broken))


def cycle_findings(graph: IndicatorGraph, mine: Sequence[IndicatorSpec]) -> list[Finding]:
    """``indicator_cycle`` for each of ``mine`` on a cycle, at its current formula."""
    by_code = {spec.qualified_code: spec for spec in mine}
    findings: list[Finding] = []
    for cycle in graph.cycles():
        ring = " → ".join([*cycle, cycle[0]])
        for code in cycle:
            spec = by_code.get(code)
            if spec is None:
                continue
            path = f"$.versions[{len(spec.versions) - 1}].formula"
            findings.append(Finding("indicator_cycle", Text(
                f"指标 {spec.code} 的公式循环引用自身：{ring}",
                f"the formula of indicator {spec.code} depends on itself: {ring}"),
                "indicator", spec.code, path))
    return findings
