"""Formulas in the record service: default formulas, computed fields, rules
(runtime layer).

Compiled once per table when the record service is built (checked, turned
into closures, ordered); evaluated on every write, row by row:

1. **default formulas** (create, and new lines on update): a field declaring
   ``default_formula`` and given no value gets the formula's value, validated
   like a value the client sent (numbers rounded half-up to the field's scale
   first);
2. **computed fields**: recomputed from the row as it will be stored (on
   update the stored row merged with the changes), rounded half-up to the
   result's scale and stored in their column;
3. **rules**: a row fails a rule only when its formula is FALSE (NULL
   passes, like an SQL CHECK); the rule's message is reported on its field,
   or on the record (``_record``) / the line;
4. **form conditions** (main row): ``visible_when`` / ``required_when`` /
   ``readonly_when`` of the entity's form hold only when TRUE; a visible
   field required now must have a value, a field read-only now may not be
   given a changed value. Their state is kept on the job (``states``) so
   the UI's live form shows exactly what the server enforces.

Defaults and computed fields run in one dependency order (checked acyclic at
package validation). A formula that reads a field which failed validation is
skipped, so one mistake is reported once. Values reached through references
(``item.unit_price``) are read by :mod:`.paths`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Callable, Mapping

from marshmallow import ValidationError
from marshmallow import fields as mm

from yunying.metadata.spec import EntitySpec, FieldSpec, RuleSpec
from yunying.metadata.views import CONDITION_KINDS
from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo
from yunying.runtime.formula.entity_context import Owner, context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import PreparedFormula, prepare
from yunying.runtime.formula.package_check import DERIVED_ROLES, derived_order, formulas_of
from yunying.runtime.records.messages import ErrorBag, Location, Problem, problems_of
from yunying.runtime.records.paths import NO_PATHS, PathPlan, compile_paths
from yunying.runtime.records.schemas import DEFAULT_SCALE, EntityLabel, field_for
from yunying.runtime.registry import Registry

__all__ = ["Derived", "Rule", "Condition", "TableFormulas", "NO_FORMULAS", "compile_formulas", "Clock",
           "Extra", "RowJob", "run_row"]

#: rounding of computed and defaulted numbers: half-up, wide enough for any value
_ROUNDING = Context(prec=1000, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Derived:
    """A field whose value a formula gives: ``kind`` is ``default`` or ``computed``."""

    field: FieldSpec
    kind: str
    formula: PreparedFormula
    reads: frozenset[str]          # the own fields its paths start with
    store: mm.Field                # validates the value before it is stored


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    formula: PreparedFormula
    reads: frozenset[str]


@dataclass(frozen=True)
class Condition:
    """A form condition (``kind`` one of CONDITION_KINDS) on a main field."""

    field: str
    kind: str
    formula: PreparedFormula
    reads: frozenset[str]
    always_required: bool          # the field is required whatever the condition


@dataclass(frozen=True)
class TableFormulas:
    """The formulas of one table (main or child): derived fields in dependency
    order, rules, and the reference paths they read. ``broken`` explains why
    the installed formulas do not check (writes are then refused)."""

    derived: tuple[Derived, ...] = ()
    rules: tuple[Rule, ...] = ()
    paths: PathPlan = NO_PATHS
    broken: Text | None = None
    conditions: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.derived or self.rules or self.broken or self.conditions)

    @property
    def needs_stored_row(self) -> bool:
        """Whether an update must read the stored row (to recompute or check it)."""
        return bool(self.rules or self.conditions) or any(
            d.kind == "computed" for d in self.derived)


NO_FORMULAS = TableFormulas()


def compile_formulas(owner: Owner, parent: EntitySpec, registry: Registry,
                     label: EntityLabel, cache: dict[str, EntityInfo]) -> TableFormulas:
    """Check, prepare and order the formulas of ``owner`` (``parent`` owns a child)."""
    found = formulas_of(owner)
    if not found:
        return NO_FORMULAS
    context = context_for(owner, registry, parent=parent, cache=cache)
    checked = {}
    try:
        for formula in found:
            checked[(formula.role, formula.code)] = check(formula.source, context,
                                                          expect=formula.expect)
    except FormulaError as exc:
        return TableFormulas(broken=_broken(owner, exc))
    fields = {(role, code): c for (role, code), c in checked.items() if role in DERIVED_ROLES}
    order, cycles = derived_order(owner.fields, {code: c for (_, code), c in fields.items()})
    if cycles:
        return TableFormulas(broken=Text(f"{owner.label.zh} 的计算字段循环依赖",
                                         f"the computed fields of {owner.label.en} form a cycle"))
    by_code = {f.code: f for f in owner.fields}
    derived = tuple(_derived(by_code[code], checked, label) for code in order)
    rules = tuple(Rule(r, prepare(checked[("rule", r.code)]),
                       _reads(checked[("rule", r.code)].dependencies.fields))
                  for r in owner.rules)
    conditions = tuple(
        Condition(code, role, prepare(c), _reads(c.dependencies.fields), by_code[code].required)
        for (role, code), c in checked.items() if role in CONDITION_KINDS)
    dotted = {d for c in checked.values() for d in c.dependencies.fields}
    return TableFormulas(derived, rules, compile_paths(owner.fields, dotted, registry),
                         conditions=conditions)


def _derived(f: FieldSpec, checked: Mapping[tuple[str, str], Any],
             label: EntityLabel) -> Derived:
    kind = "computed" if f.type == "computed" else "default"
    formula = checked[(kind, f.code)]
    store = field_for(replace(f, type=f.value_type, required=False, minimum=None,
                              maximum=None, pattern=None, min_length=None), label) \
        if kind == "computed" else field_for(replace(f, default_formula=None), label)
    return Derived(f, kind, prepare(formula), _reads(formula.dependencies.fields), store)


def _reads(dotted: frozenset[str]) -> frozenset[str]:
    return frozenset(d.split(".", 1)[0] for d in dotted)


def _broken(owner: Owner, exc: FormulaError) -> Text:
    return Text(f"{owner.label.zh} 的公式无法通过检查：{exc.message.zh}",
                f"the formulas of {owner.label.en} do not check: {exc.message.en}")


# -- evaluation ----------------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    """The request's clock as formulas see it (TODAY(), NOW())."""

    today: date
    now: datetime


#: checks a defaulted value beyond its field (enum items valid today); None passes.
Extra = Callable[[FieldSpec, Any], Problem | None]


@dataclass
class RowJob:
    """One row to derive: what it will store, what was given, where it is."""

    values: dict[str, Any]         # the row as it will be stored (stored ⊕ given)
    given: dict[str, Any]          # the payload's values: derived values go here too
    creating: bool
    location: Location
    labels: Mapping[str, Text]     # field code → label
    record_key: str                # where a rule without a field reports
    stored: Mapping[str, Any] = field(default_factory=dict)  # the row before (update)
    #: filled by run_row: per field with form conditions, whether it is
    #: visible, required and read-only for this row
    states: dict[str, dict[str, bool]] = field(default_factory=dict)


def run_row(formulas: TableFormulas, job: RowJob, paths: Mapping[str, Any], clock: Clock,
            errors: ErrorBag, extra: Extra) -> None:
    """Derive one row's defaults and computed fields, then check its rules."""
    failed = {code for code in job.labels if job.location.path(code) in errors.fields}
    sent = frozenset(job.given)  # what the client gave, before derived values join it
    env: dict[str, Any] = {**paths, **job.values}
    for step in formulas.derived:
        code = step.field.code
        if step.kind == "default" and (not job.creating or code in job.given or code in failed):
            continue
        if step.reads & failed:
            failed.add(code)
            continue
        value = _derive(step, env, clock, extra, errors, job)
        if value is _FAILED:
            failed.add(code)
            continue
        env[code] = job.values[code] = job.given[code] = value
    for rule in formulas.rules:
        if not rule.reads & failed:
            _check_rule(rule, env, clock, errors, job)
    if formulas.conditions:
        job.states = _condition_states(formulas.conditions, env, clock, failed)
        _enforce_conditions(job, sent, failed, errors)


_FAILED = object()
_STATE_OF = {"visible_when": "visible", "required_when": "required",
             "readonly_when": "readonly"}


def _condition_states(conditions: tuple[Condition, ...], env: Mapping[str, Any], clock: Clock,
                      failed: set[str]) -> dict[str, dict[str, bool]]:
    """Per field: visible / required / read-only now (a condition that reads a
    failed field or cannot be evaluated does not hold)."""
    states: dict[str, dict[str, bool]] = {}
    for c in conditions:
        state = states.setdefault(c.field, {"visible": True, "required": c.always_required,
                                            "readonly": False})
        holds = False
        if not c.reads & failed:
            try:
                holds = c.formula.evaluate(env, today=clock.today, now=clock.now) is True
            except FormulaError:
                holds = False
        key = _STATE_OF[c.kind]
        state[key] = state[key] or holds if key == "required" else holds
    return states


def _enforce_conditions(job: RowJob, sent: frozenset[str], failed: set[str],
                        errors: ErrorBag) -> None:
    for code, state in job.states.items():
        if code in failed:
            continue
        label = job.labels.get(code, Text(code, code))
        value = job.values.get(code)
        if state["visible"] and state["required"] and (value is None or value == ""):
            errors.add(code, Problem("required"), label, job.location)
        if state["readonly"] and code in sent and \
                (job.given.get(code) is not None if job.creating
                 else job.given.get(code) != job.stored.get(code)):
            errors.add(code, Problem("read_only_now"), label, job.location)


def _derive(step: Derived, env: Mapping[str, Any], clock: Clock, extra: Extra,
            errors: ErrorBag, job: RowJob) -> Any:
    code, label = step.field.code, job.labels.get(step.field.code, step.field.label)
    try:
        raw = step.formula.evaluate(env, today=clock.today, now=clock.now)
    except FormulaError as exc:
        errors.add(code, Problem("formula", {"reason": exc.message}), label, job.location)
        return _FAILED
    try:
        value = step.store.deserialize(_rounded(step.field, raw))
    except ValidationError as exc:
        for problem in problems_of(exc.messages):
            problem = Problem("required") if problem.code == "null" else problem
            errors.add(code, problem, label, job.location)
        return _FAILED
    problem = extra(step.field, value) if step.kind == "default" else None
    if problem is not None:
        errors.add(code, problem, label, job.location)
        return _FAILED
    return value


def _check_rule(rule: Rule, env: Mapping[str, Any], clock: Clock, errors: ErrorBag,
                job: RowJob) -> None:
    key = rule.spec.field or job.record_key
    params: dict[str, Any] = {"rule": rule.spec.code}
    try:
        passed = rule.formula.evaluate(env, today=clock.today, now=clock.now) is not False
    except FormulaError as exc:
        passed, params["error"] = False, exc.message
    if not passed:
        errors.add_message(key, Problem("rule", params), rule.spec.message, job.location)


def _rounded(f: FieldSpec, value: Any) -> Any:
    """Numbers rounded half-up to the field's scale (0 for integers)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    kind = f.value_type
    if kind == "integer":
        return int(_ROUNDING.quantize(value, Decimal(1)))
    if kind in ("decimal", "money"):
        scale = DEFAULT_SCALE if f.scale is None else f.scale
        return _ROUNDING.quantize(value, Decimal(1).scaleb(-scale))
    return value
