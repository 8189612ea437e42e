"""Package check of generator documents (runtime layer, data generator).

:func:`check_generators` is a :data:`~yunying.metadata.loader.PackageCheck`
(in ``FORMULA_CHECKS``): it verifies every ``generators/*.yaml`` of a
package against the entities it fills, so a bad document is refused at load
with located issues (file, line, JSON path) before anything is drawn:

- ``generator_unknown_entity`` / ``generator_unknown_field`` / ``generator_unknown_group``
  / ``generator_unknown_role``: a name that does not exist;
- ``generator_field_type``: a generator that cannot give the field's type
  (``person`` on a non-user field, a number on a text …), a choice value that is
  not an item of the enum's dictionary or not a number for a number field;
- ``generator_order``: a formula, ``times`` or ``switch`` reading a field not drawn
  before it; a ``from`` entity not generated earlier;
- ``generator_plan``: a plan without ``units``/``rows`` (or a derived plan with
  them), ``copy`` outside a derived plan, a required field left undrawn;
- ``generator_pattern``: a code pattern with an unknown token or without ``{n}``;
- ``formula_*``: the formula language's own codes, for ``formula``, ``copy`` and ``when``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from yunying.metadata.generators import (
    EntityPlan, FieldGenerator, GeneratorSpec, NUMBER_KINDS, NumberParams, SwitchParams,
)
from yunying.metadata.loader import Finding
from yunying.metadata.spec import DictionarySpec, EntitySpec, FieldSpec, PackageSpec
from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.types import FIELD_TYPE_MAP, FType
from yunying.runtime.generator.draws import CODE_TOKEN

__all__ = ["check_generators", "FIELD_KINDS"]

_NUMBERS = ("integer", "decimal", "money")
_CODES = ("string", "text", "enum", "user", "org_unit")
#: generator kind → the field value types it can fill (None: any type).
FIELD_KINDS: Mapping[str, tuple[str, ...] | None] = {
    "date_in_month": ("date",), "month_start": ("date",), "unit": ("org_unit", "string"),
    "person": ("user", "string"), "people_count": _NUMBERS, "choice": None,
    "normal": _NUMBERS, "lognormal": _NUMBERS, "uniform": _NUMBERS, "boolean": ("boolean",),
    "sequence": ("string", "text"), "formula": None, "copy": None, "fixed": None,
    "switch": None,
}
_SEQUENCE_TOKENS = ("n", "unit", "yyyy", "yy", "mm", "yyyymm")


class _Check:
    """The findings of one generator document."""

    def __init__(self, spec: GeneratorSpec, entities: Mapping[str, EntitySpec],
                 dictionaries: Mapping[str, DictionarySpec]) -> None:
        self.spec = spec
        self.entities = entities
        self.dictionaries = dictionaries
        self.findings: list[Finding] = []
        self.roles = {p.role for p in spec.people}
        self.derived = False          # whether the plan being checked is a `from` plan

    def add(self, code: str, path: str, zh: str, en: str) -> None:
        self.findings.append(Finding(code, Text(zh, en), "generator", self.spec.code, path))

    def groups(self, names: Iterable[str], path: str) -> None:
        for i, name in enumerate(names):
            if self.spec.group(name) is None:
                known = ", ".join(g.code for g in self.spec.groups) or "-"
                self.add("generator_unknown_group", f"{path}[{i}]",
                         f"未定义的单位组 {name}（groups 中有：{known}）",
                         f"unknown unit group {name!r} (groups: {known})")


def check_generators(spec: PackageSpec, packages: Mapping[str, PackageSpec]) -> list[Finding]:
    """Every problem of the generator documents of ``spec``."""
    entities = {e.qualified_code: e for p in packages.values() for e in p.entities}
    entities.update({e.qualified_code: e for e in spec.entities})
    dictionaries = {d.qualified_code: d for p in (*packages.values(), spec) for d in p.dictionaries}
    findings: list[Finding] = []
    for generator in spec.generators:
        run = _Check(generator, entities, dictionaries)
        for i, people in enumerate(generator.people):
            run.groups(people.units, f"$.people[{i}].units")
            _pattern(run, people.code, f"$.people[{i}].code", ("n", "unit"))
        done: set[str] = set()
        for plan in generator.entities:
            _plan(run, plan, done)
            done.add(plan.entity)
        findings += run.findings
    return findings


def _pattern(run: _Check, pattern: str, path: str, allowed: tuple[str, ...]) -> None:
    tokens = [m.group(1) for m in CODE_TOKEN.finditer(pattern)]
    stray = CODE_TOKEN.sub("", pattern)
    bad = [t for t in tokens if t not in allowed]
    if bad or "{" in stray or "}" in stray or "n" not in tokens:
        run.add("generator_pattern", path,
                f"编码模式 {pattern} 无效：须含 {{n}}（或 {{n:04}}），只能用 "
                f"{'、'.join('{' + t + '}' for t in allowed)}",
                f"invalid code pattern {pattern!r}: it needs {{n}} (or {{n:04}}) and may use "
                f"only {', '.join('{' + t + '}' for t in allowed)}")


def _plan(run: _Check, plan: EntityPlan, done: set[str]) -> None:
    base = f"$.entities[{plan.index}]"
    entity = run.entities.get(plan.entity)
    if entity is None:
        run.add("generator_unknown_entity", f"{base}.entity", f"未知实体 {plan.entity}",
                f"unknown entity {plan.entity}")
        return
    parent = _shape(run, plan, base, done)
    run.derived = plan.parent is not None
    drawn: list[str] = [plan.each[0]] if plan.each else []
    if plan.each and entity.field(plan.each[0]) is None:
        _unknown_field(run, entity, plan.each[0], f"{base}.each.field")
    for gen in plan.fields:
        _field(run, entity, parent, gen, f"{base}.fields.{gen.field}", drawn)
        drawn.append(gen.field)
    for j, override in enumerate(plan.overrides):
        run.groups(override.units, f"{base}.overrides[{j}].units")
        for gen in override.fields:
            path = f"{base}.overrides[{j}].fields.{gen.field}"
            if plan.field(gen.field) is None:
                run.add("generator_unknown_field", path,
                        f"覆盖的字段 {gen.field} 不在 fields 中", f"the overridden field "
                        f"{gen.field} is not among the plan's fields")
                continue
            before = drawn[:drawn.index(gen.field)]
            _field(run, entity, parent, gen, path, before)
    missing = [f.code for f in entity.fields if f.required and f.default is None
               and f.default_formula is None and f.code not in drawn]
    if missing:
        run.add("generator_plan", f"{base}.fields",
                f"必填字段未生成：{'、'.join(missing)}",
                f"required fields are not generated: {', '.join(missing)}")


def _shape(run: _Check, plan: EntityPlan, base: str, done: set[str]) -> EntitySpec | None:
    """Checks the plan's units/rows/from/when; returns the parent entity."""
    if plan.parent is None:
        if not plan.units or plan.rows is None:
            run.add("generator_plan", base, "实体计划须有 units 和 rows（或 from）",
                    "an entity plan needs units and rows (or from)")
        run.groups(plan.units, f"{base}.units")
        if plan.when is not None:
            run.add("generator_plan", f"{base}.when", "when 只用于派生（from）计划",
                    "when applies only to derived (from) plans")
        return None
    if plan.units or plan.rows is not None or plan.each:
        run.add("generator_plan", base, "派生（from）计划不能有 units、rows 或 each",
                "a derived (from) plan takes no units, rows or each")
    if plan.parent not in done:
        run.add("generator_order", f"{base}.from",
                f"{plan.parent} 须在本计划之前生成", f"{plan.parent} must be generated before")
        return None
    parent = run.entities.get(plan.parent)
    if parent is not None and plan.when is not None:
        _formula(run, parent, plan.when, f"{base}.when", None, FType.BOOLEAN)
    return parent


def _unknown_field(run: _Check, entity: EntitySpec, code: str, path: str) -> None:
    run.add("generator_unknown_field", path, f"实体 {entity.code} 没有字段 {code}",
            f"entity {entity.code} has no field {code!r}")


def _field(run: _Check, entity: EntitySpec, parent: EntitySpec | None, gen: FieldGenerator,
           path: str, drawn: list[str]) -> None:
    f = entity.field(gen.field)
    if f is None:
        _unknown_field(run, entity, gen.field, path)
        return
    allowed = FIELD_KINDS[gen.kind]
    if allowed is not None and f.value_type not in allowed:
        run.add("generator_field_type", path,
                f"{gen.kind} 不能生成 {f.value_type} 类型的字段 {f.code}",
                f"{gen.kind} cannot fill the {f.value_type} field {f.code}")
        return
    _KIND_CHECKS.get(gen.kind, _nothing)(run, entity, parent, gen, f, path, drawn)


def _nothing(*_args: Any) -> None:
    return None


def _order(run: _Check, code: str, path: str, drawn: list[str]) -> None:
    if code not in drawn:
        run.add("generator_order", path, f"{code} 须在此字段之前生成",
                f"{code} must be generated before this field")


def _formula(run: _Check, owner: EntitySpec, source: str, path: str,
             drawn: list[str] | None, expect: FType | None) -> None:
    try:
        checked = check(source, context_for(owner, run.entities), expect=expect)
    except FormulaError as exc:
        # imported here: the formula package check imports this module
        from yunying.runtime.formula.package_check import describe_issue
        for issue in exc.issues:
            run.findings.append(Finding(f"formula_{issue.code}", describe_issue(source, issue),
                                        "generator", run.spec.code, path))
        return
    if drawn is not None:
        for dependency in checked.dependencies.fields:
            _order(run, dependency.split(".", 1)[0], path, drawn)


def _expect(f: FieldSpec) -> FType | None:
    found = FIELD_TYPE_MAP.get(f.value_type)
    return None if found in (None, FType.UNKNOWN) else found


def _check_formula(run, entity, parent, gen, f, path, drawn) -> None:
    _formula(run, entity, gen.params, path, drawn, _expect(f))


def _check_copy(run, entity, parent, gen, f, path, drawn) -> None:
    if parent is None:  # a derived plan's unknown parent is reported at its `from`
        if not run.derived:
            run.add("generator_plan", path, "copy 只用于派生（from）计划",
                    "copy applies only to derived (from) plans")
        return
    _formula(run, parent, gen.params, path, None, _expect(f))


def _check_number(run, entity, parent, gen, f, path, drawn) -> None:
    p: NumberParams = gen.params
    if p.times is not None:
        _order(run, p.times, f"{path}.{gen.kind}.times", drawn)
    if gen.kind != "uniform" and p.mean is None:
        run.add("generator_field_type", f"{path}.{gen.kind}", f"{gen.kind} 须有 mean",
                f"{gen.kind} needs a mean")
    if gen.kind == "uniform" and (p.minimum is None or p.maximum is None):
        run.add("generator_field_type", f"{path}.{gen.kind}", "uniform 须有 min 和 max",
                "uniform needs min and max")


def _check_choice(run, entity, parent, gen, f, path, drawn) -> None:
    dictionary = None
    if f.value_type == "enum" and f.dictionary:
        dictionary = run.dictionaries.get(f.dictionary)
    for value, _weight in gen.params:
        if dictionary is not None and dictionary.item(value) is None:
            run.add("generator_field_type", f"{path}.choice.{value}",
                    f"{value} 不是字典 {f.dictionary} 的字典项",
                    f"{value!r} is not an item of {f.dictionary}")
        elif f.value_type in _NUMBERS and not _is_number(value):
            run.add("generator_field_type", f"{path}.choice.{value}",
                    f"{value} 不是数字", f"{value!r} is not a number")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _check_sequence(run, entity, parent, gen, f, path, drawn) -> None:
    _pattern(run, gen.params, f"{path}.sequence", _SEQUENCE_TOKENS)


def _check_person(run, entity, parent, gen, f, path, drawn) -> None:
    role = gen.params if gen.kind == "person" else gen.params[0]
    if role not in run.roles:
        run.add("generator_unknown_role", f"{path}.{gen.kind}",
                f"people 中没有角色 {role}", f"no people with role {role!r}")


def _check_switch(run, entity, parent, gen, f, path, drawn) -> None:
    p: SwitchParams = gen.params
    _order(run, p.field, f"{path}.switch.field", drawn)
    for value, case in p.cases:
        _field(run, entity, parent, case, f"{path}.switch.cases.{value}", drawn)
    if p.default is not None:
        _field(run, entity, parent, p.default, f"{path}.switch.default", drawn)


_KIND_CHECKS = {
    "formula": _check_formula, "copy": _check_copy, "choice": _check_choice,
    "sequence": _check_sequence, "person": _check_person, "people_count": _check_person,
    "switch": _check_switch, **{kind: _check_number for kind in NUMBER_KINDS},
}
