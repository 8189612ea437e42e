"""Type-checking every formula of a package (runtime layer, formula integration).

:func:`check_formulas` is a :data:`~yunying.metadata.loader.PackageCheck`:
the loader calls it on each package it loads (``load_packages(...,
checks=FORMULA_CHECKS)``) and turns its findings into located issues. For
every entity and child table it checks, in row mode over that table's
fields:

- computed fields (``formula``) — the type must fit the field's ``result``;
- default formulas (``default_formula``) — the type must fit the field;
- rules (``rules[].formula``) — the type must be boolean;

and reports computed / default-formula fields that depend on each other in a
cycle. :func:`check_role_filters` checks the ``filter`` of every role grant
with scope ``formula``: a boolean row formula over the grant's entity.

Issue codes are ``formula_<code>`` of the language's own codes
(``formula_syntax``, ``formula_unknown_name``, ``formula_type`` …) and
``formula_cycle``; each names the formula key's JSON path (a role filter's
is ``$.grants[<i>].filter`` in the role file) and, in its message, the
position in the formula and any "did you mean" suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from yunying.metadata.loader import Finding, PackageCheck
from yunying.metadata.spec import EntitySpec, FieldSpec, PackageSpec
from yunying.metadata.versions import dependency_order
from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.context import EntityInfo, FormulaContext
from yunying.runtime.formula.entity_context import Owner, context_for
from yunying.runtime.formula.errors import FormulaError, FormulaIssue
from yunying.runtime.formula.types import FIELD_TYPE_MAP, FType
from yunying.runtime.formula.indicator_check import check_indicators
from yunying.runtime.generator.check import check_generators
from yunying.runtime.workflow.package_check import check_workflow_formulas

__all__ = ["DERIVED_ROLES", "check_formulas", "check_role_filters", "FORMULA_CHECKS", "Formula",
           "formulas_of",
           "derived_order", "describe_issue"]

_SHOWN = 40  # characters of the offending text quoted in a message


#: the formula roles that give a field its value (the others only check).
DERIVED_ROLES = ("computed", "default")


@dataclass(frozen=True)
class Formula:
    """One formula of an entity or child table and where it is written.

    ``role`` is ``computed``, ``default``, ``rule`` or a form condition
    (``visible_when``, ``required_when``, ``readonly_when``); ``code`` the field or
    rule code; ``path`` the JSON path of the formula key in the entity file.
    """

    role: str
    code: str
    source: str
    expect: FType
    path: str
    label: Text


def formulas_of(owner: Owner, prefix: str = "$") -> list[Formula]:
    """Every formula of ``owner``, in file order (fields, then rules)."""
    found: list[Formula] = []
    for i, f in enumerate(owner.fields):
        path = f"{prefix}.fields[{i}]"
        expect = FIELD_TYPE_MAP.get(f.value_type, FType.UNKNOWN)
        if f.type == "computed" and f.formula is not None:
            found.append(Formula("computed", f.code, f.formula, expect, f"{path}.formula",
                                 Text(f"计算字段 {f.code} 的公式", f"the formula of {f.code}")))
        if f.default_formula is not None:
            found.append(Formula("default", f.code, f.default_formula, expect,
                                 f"{path}.default_formula",
                                 Text(f"字段 {f.code} 的默认值公式",
                                      f"the default formula of {f.code}")))
    for k, rule in enumerate(owner.rules):
        found.append(Formula("rule", rule.code, rule.formula, FType.BOOLEAN,
                             f"{prefix}.rules[{k}].formula",
                             Text(f"规则 {rule.code} 的公式", f"the formula of rule {rule.code}")))
    form = getattr(owner, "form", None)  # only entities (not child tables) have forms
    for field, kind, formula, path in (form.conditions() if form is not None else ()):
        found.append(Formula(kind, field, formula, FType.BOOLEAN, path,
                             Text(f"字段 {field} 的表单条件 {kind}",
                                  f"the form condition {kind} of field {field}")))
    return found


def derived_order(fields: Iterable[FieldSpec], checked: Mapping[str, Checked]
                  ) -> tuple[list[str], list[list[str]]]:
    """The order to compute derived fields in, and the cycles among them.

    ``checked`` maps the code of each computed or default-formula field to its
    checked formula; a field depends on the derived fields its paths start
    with (``item.unit_price`` starts with ``item``).
    """
    codes = [f.code for f in fields if f.code in checked]
    graph = {code: [p.split(".", 1)[0] for p in checked[code].dependencies.fields]
             for code in codes}
    return dependency_order(graph)


def check_formulas(spec: PackageSpec, packages: Mapping[str, PackageSpec]) -> list[Finding]:
    """Every formula problem of ``spec``; ``packages`` resolve paths into other packages."""
    entities = {e.qualified_code: e for p in packages.values() for e in p.entities}
    entities.update({e.qualified_code: e for e in spec.entities})
    cache: dict[str, EntityInfo] = {}
    findings: list[Finding] = []
    for entity in spec.entities:
        owners: list[tuple[Owner, str]] = [(entity, "$")]
        owners += [(child, f"$.children[{j}]") for j, child in enumerate(entity.children)]
        for owner, prefix in owners:
            context = context_for(owner, entities, parent=entity, cache=cache)
            findings += _check_owner(entity, owner, prefix, context)
    return findings


def check_role_filters(spec: PackageSpec, packages: Mapping[str, PackageSpec]
                       ) -> list[Finding]:
    """Every problem of the role grants' ``filter`` formulas of ``spec``
    (grants on unknown entities are reported by the cross-reference check)."""
    entities = {e.qualified_code: e for p in packages.values() for e in p.entities}
    entities.update({e.qualified_code: e for e in spec.entities})
    cache: dict[str, EntityInfo] = {}
    findings: list[Finding] = []
    for role in spec.roles:
        for i, grant in enumerate(role.grants):
            entity = entities.get(grant.entity)
            if grant.filter is None or entity is None:
                continue
            context = context_for(entity, entities, parent=entity, cache=cache)
            try:
                check(grant.filter, context, expect=FType.BOOLEAN)
            except FormulaError as exc:
                label = Text(f"角色 {role.code} 对 {entity.code} 的 filter",
                             f"the filter of role {role.code} on {entity.code}")
                findings += [_located(label, grant.filter, issue, "role", role.code,
                                      f"$.grants[{i}].filter") for issue in exc.issues]
    return findings


#: the checks every real package load runs (installer, CLI).
FORMULA_CHECKS: tuple[PackageCheck, ...] = (check_formulas, check_role_filters,
                                             check_workflow_formulas, check_indicators,
                                             check_generators)


def _check_owner(entity: EntitySpec, owner: Owner, prefix: str,
                 context: FormulaContext) -> list[Finding]:
    findings: list[Finding] = []
    derived: dict[str, Checked] = {}
    for formula in formulas_of(owner, prefix):
        try:
            checked = check(formula.source, context, expect=formula.expect)
        except FormulaError as exc:
            findings += [_finding(entity, formula, issue) for issue in exc.issues]
            continue
        if formula.role in DERIVED_ROLES:
            derived[formula.code] = checked
    _, cycles = derived_order(owner.fields, derived)
    paths = {f.code: f"{prefix}.fields[{i}]" for i, f in enumerate(owner.fields)}
    kinds = {f.code: f.type for f in owner.fields}
    for cycle in cycles:
        ring = " → ".join([*cycle, cycle[0]])
        for code in cycle:
            key = "formula" if kinds[code] == "computed" else "default_formula"
            findings.append(Finding("formula_cycle", Text(
                f"字段 {code} 的公式循环依赖自身：{ring}",
                f"the formula of {code} depends on itself: {ring}"),
                "entity", entity.code, f"{paths[code]}.{key}"))
    return findings


def _finding(entity: EntitySpec, formula: Formula, issue: FormulaIssue) -> Finding:
    return _located(formula.label, formula.source, issue, "entity", entity.code, formula.path)


def _located(label: Text, source: str, issue: FormulaIssue, kind: str, item: str,
             path: str) -> Finding:
    message = describe_issue(source, issue)
    return Finding(f"formula_{issue.code}", Text(
        f"{label.zh}：{message.zh}", f"{label.en}: {message.en}"), kind, item, path)


def describe_issue(source: str, issue: FormulaIssue) -> Text:
    """An issue's message with its position (and the text there) and suggestions."""
    span = issue.span
    shown = source[span.start:span.end] if 0 <= span.start < span.end else ""
    quote = (bool(shown) and len(shown) <= _SHOWN and "\n" not in shown
             and shown not in issue.message.en)
    where = Text(f"第 {span.line} 行第 {span.column} 列" + (f"“{shown}”" if quote else ""),
                 f"line {span.line}, column {span.column}" + (f" ('{shown}')" if quote else ""))
    hint = Text("", "")
    listed = [s for s in issue.suggestions if s not in issue.message.en]
    if listed:
        hint = Text(f"（是否指 {'、'.join(listed)}？）", f" (did you mean {', '.join(listed)}?)")
    return Text(f"{where.zh}：{issue.message.zh}{hint.zh}",
                f"{where.en}: {issue.message.en}{hint.en}")
