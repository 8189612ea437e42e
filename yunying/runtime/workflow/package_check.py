"""Type-checking the formulas of workflows and posting rules (runtime layer,
workflow metadata integration).

:func:`check_workflow_formulas` is a
:data:`~yunying.metadata.loader.PackageCheck`, registered in
:data:`~yunying.runtime.formula.package_check.FORMULA_CHECKS` so every real
package load runs it. Row formulas over the workflow's entity:

- a workflow's ``condition``, a transition's ``guard``, a condition node's
  branch ``condition`` — boolean;
- a ``set`` effect's formula — the type of the field it sets (fields that do
  not exist, are computed or are the state field are reported by the
  cross-reference check);

and, in the scope the posting runtime evaluates them in
(:func:`yunying.runtime.posting.line_context`: the rule's entity, or with
``each`` the child line plus the parent record's fields), a posting line's

- ``amount`` — number; ``unit``, ``project``, ``account_formula`` — text
  (:data:`yunying.runtime.posting.FORMULA_SLOTS`).

Issue codes are ``formula_<code>`` of the language's own codes, at the JSON
path of the formula's key in the workflow or posting file
(``$.transitions[0].guard``, ``$.lines[2].amount``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from yunying.metadata.issues import json_path
from yunying.metadata.loader import Finding
from yunying.metadata.spec import EntitySpec, PackageSpec
from yunying.metadata.workflow_spec import PostingRuleSpec, WorkflowSpec
from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FormulaContext
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.types import FIELD_TYPE_MAP, FType
from yunying.runtime.posting.context import FORMULA_SLOTS, line_context

__all__ = ["check_workflow_formulas", "WorkflowFormula", "workflow_formulas",
           "posting_formulas"]


@dataclass(frozen=True)
class WorkflowFormula:
    """One formula of a workflow or posting rule, where it is written and
    the type it must give; ``each`` names the child table a posting line's
    formula runs over."""

    source: str
    expect: FType
    path: str
    label: Text
    each: str | None = None


def check_workflow_formulas(spec: PackageSpec, packages: Mapping[str, PackageSpec]
                            ) -> list[Finding]:
    """Every formula problem of the workflows and posting rules of ``spec``;
    ``packages`` resolve entities of other packages. Workflows and rules of
    unknown entities are skipped (the cross-reference check reports them)."""
    entities = {e.qualified_code: e for p in packages.values() for e in p.entities}
    entities.update({e.qualified_code: e for e in spec.entities})
    cache: dict[str, EntityInfo] = {}
    findings: list[Finding] = []
    for workflow in spec.workflows:
        entity = entities.get(workflow.entity)
        if entity is not None:
            formulas = workflow_formulas(workflow, entity)
            findings += _check_all(formulas, entity, entities, cache, "workflow", workflow.code)
    for rule in spec.postings:
        entity = entities.get(rule.entity)
        if entity is not None:
            formulas = posting_formulas(rule)
            findings += _check_all(formulas, entity, entities, cache, "posting", rule.code)
    return findings


def workflow_formulas(workflow: WorkflowSpec, entity: EntitySpec) -> Iterator[WorkflowFormula]:
    """Every formula of ``workflow``, in file order."""
    name = workflow.code
    if workflow.condition is not None:
        yield WorkflowFormula(workflow.condition, FType.BOOLEAN, "$.condition",
                              Text(f"流程 {name} 的适用条件", f"the condition of workflow {name}"))
    for i, t in enumerate(workflow.transitions):
        path = f"$.transitions[{i}]"
        if t.guard is not None:
            yield WorkflowFormula(t.guard, FType.BOOLEAN, f"{path}.guard",
                                  Text(f"流转 {t.code} 的 guard", f"the guard of {t.code}"))
        for k, effect in enumerate(t.effects):
            for code, formula in effect.set.items():
                target = entity.field(code)
                if target is None or target.type == "computed" or code == workflow.state_field:
                    continue
                yield WorkflowFormula(
                    formula, FIELD_TYPE_MAP.get(target.value_type, FType.UNKNOWN),
                    f"{path}.effects[{k}].set" + json_path([code])[1:],
                    Text(f"流转 {t.code} 对字段 {code} 的赋值", f"the set of {code} by {t.code}"))
    for c, chain in enumerate(workflow.chains):
        for j, node in enumerate(chain.nodes):
            for k, branch in enumerate(node.branches):
                if branch.condition is not None:
                    yield WorkflowFormula(
                        branch.condition, FType.BOOLEAN,
                        f"$.chains[{c}].nodes[{j}].branches[{k}].condition",
                        Text(f"节点 {node.code} 第 {k + 1} 个分支的条件",
                             f"the condition of branch {k + 1} of node {node.code}"))


_SLOT_NAMES = {"amount": ("金额", "amount"), "unit": ("组织单元", "unit"),
               "project": ("项目", "project"), "account_formula": ("科目公式", "account formula")}


def posting_formulas(rule: PostingRuleSpec) -> Iterator[WorkflowFormula]:
    """Every formula of the rule's lines, in file order."""
    for i, line in enumerate(rule.lines):
        for key in _SLOT_NAMES:
            formula = getattr(line, key)
            if formula is not None:
                zh, en = _SLOT_NAMES[key]
                yield WorkflowFormula(formula, FORMULA_SLOTS[key], f"$.lines[{i}].{key}",
                                      Text(f"第 {i + 1} 条分录的{zh}", f"the {en} of line {i + 1}"),
                                      each=line.each)


def _context(entity: EntitySpec, entities: Mapping[str, EntitySpec],
             cache: dict[str, EntityInfo], each: str | None) -> FormulaContext | None:
    """A workflow's formulas run over the record; a posting line's where the
    posting runtime evaluates it; None for an unknown child table."""
    if each is None:
        return context_for(entity, entities, parent=entity, cache=cache)
    try:
        return line_context(entity, entities, each).context
    except KeyError:
        return None


def _check_all(formulas: Iterator[WorkflowFormula], entity: EntitySpec,
               entities: Mapping[str, EntitySpec], cache: dict[str, EntityInfo],
               kind: str, item: str) -> list[Finding]:
    # imported here: formula.package_check imports this module to register the check
    from yunying.runtime.formula.package_check import describe_issue

    contexts: dict[str | None, FormulaContext | None] = {}
    findings: list[Finding] = []
    for formula in formulas:
        if formula.each not in contexts:
            contexts[formula.each] = _context(entity, entities, cache, formula.each)
        context = contexts[formula.each]
        if context is None:
            continue  # an unknown child table: reported by the cross-reference check
        try:
            check(formula.source, context, expect=formula.expect)
        except FormulaError as exc:
            for issue in exc.issues:
                message = describe_issue(formula.source, issue)
                findings.append(Finding(f"formula_{issue.code}", Text(
                    f"{formula.label.zh}：{message.zh}", f"{formula.label.en}: {message.en}"),
                    kind, item, formula.path))
    return findings
