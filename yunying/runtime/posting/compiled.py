"""A posting rule with its formulas checked and prepared (runtime layer, posting rules).

:func:`compile_rule` checks every formula of every line once — in the scope
:func:`~.context.line_context` gives it, against the type the slot needs —
turns each into closures, and plans the reference paths the formulas read
(one plan for the header lines, one per child table of ``each`` lines). The
result is evaluated against as many records as needed; the caller keeps it
(:class:`~.service.Postings` caches one per rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import PostingLineSpec, PostingRuleSpec
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import PreparedFormula, prepare
from yunying.runtime.posting.context import FORMULA_SLOTS, LineScope, line_context
from yunying.runtime.posting.problems import Where, posting_failed
from yunying.runtime.registry import Registry

if TYPE_CHECKING:
    from yunying.runtime.records.paths import PathPlan

__all__ = ["CompiledLine", "CompiledRule", "compile_rule"]


@dataclass(frozen=True)
class CompiledLine:
    """One line of a rule: its index in the rule, its spec, and its prepared
    formulas by slot (``amount``, ``account_formula``, ``unit``, ``project``)."""

    index: int
    spec: PostingLineSpec
    formulas: Mapping[str, PreparedFormula]


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate: its lines in order, and the reference paths
    to read per scope (``None``: the record's header; a child code: its lines)."""

    rule: PostingRuleSpec
    entity: EntitySpec
    lines: tuple[CompiledLine, ...]
    paths: Mapping[str | None, PathPlan]

    @property
    def children(self) -> tuple[str, ...]:
        """The child tables the rule's ``each`` lines run over."""
        return tuple(dict.fromkeys(ln.spec.each for ln in self.lines if ln.spec.each))


def compile_rule(rule: PostingRuleSpec, registry: Registry) -> CompiledRule:
    """Check and prepare every formula of ``rule``.

    Raises TransitionRejected (``posting_failed``) naming the line and the
    formula's issues when the rule's entity or child table is unknown or a
    formula does not check.
    """
    where = Where(rule.qualified_code)
    entity = registry.entity(rule.entity)
    if entity is None:
        raise posting_failed(where, "wrong_entity", rule.entity)
    scopes: dict[str | None, LineScope] = {}
    dotted: dict[str | None, set[str]] = {}
    lines = []
    for index, spec in enumerate(rule.lines):
        here = Where(rule.qualified_code, index)
        scope = scopes.get(spec.each)
        if scope is None:
            try:
                scope = scopes[spec.each] = line_context(entity, registry, spec.each)
            except KeyError:
                raise posting_failed(here, "unknown_child", str(spec.each)) from None
        checked = _check_line(spec, scope, here)
        dotted.setdefault(spec.each, set()).update(
            d for c in checked.values() for d in c.dependencies.fields)
        lines.append(CompiledLine(index, spec, MappingProxyType(
            {slot: prepare(c) for slot, c in checked.items()})))
    # deferred: the record service imports this package to post on create
    from yunying.runtime.records.paths import compile_paths
    paths = {each: compile_paths(scopes[each].fields, found, registry)
             for each, found in dotted.items()}
    return CompiledRule(rule, entity, tuple(lines), MappingProxyType(paths))


def _check_line(spec: PostingLineSpec, scope: LineScope, where: Where) -> dict[str, Checked]:
    checked: dict[str, Checked] = {}
    for slot, expect in FORMULA_SLOTS.items():
        source = getattr(spec, slot)
        if source is None:
            continue
        try:
            checked[slot] = check(source, scope.context, expect=expect)
        except FormulaError as exc:
            raise posting_failed(where, "formula", exc.message, formula=slot,
                                 issues=[i.as_dict() for i in exc.issues]) from exc
    return checked
