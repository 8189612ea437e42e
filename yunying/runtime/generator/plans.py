"""Entity plans compiled for drawing (runtime layer, data generator).

A :class:`CompiledPlan` is one entity of a generator ready to run: its units
(from the groups it names), a :class:`Variant` per override (rows,
probability and the drawing closure of every field, in document order), the
row-count factor of a unit-month (size × seasonality × growth × scale), the
``each`` values, the ``when`` condition on the parent row and the plans
derived from it. Compiled once per run; the random streams live in the
:class:`~.draws.Cell` of each unit-month.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

from yunying.metadata.generators import EntityPlan, FieldGenerator, GeneratorSpec, Range
from yunying.runtime.formula.evaluator import PreparedFormula
from yunying.runtime.formula.types import FType
from yunying.runtime.generator.draws import Cell, Compiler, Draw, typed
from yunying.runtime.generator.people import Staff, Unit, members
from yunying.runtime.registry import Registry

__all__ = ["Variant", "CompiledPlan", "compile_plans"]


@dataclass(frozen=True)
class Variant:
    """Rows per unit-month, probability and field draws for some units."""

    rows: Range | None
    probability: float
    draws: tuple[tuple[str, Draw], ...]

    def count(self, rng: random.Random, factor: float) -> int:
        """Rows of one unit-month: uniform in the range × factor, rounded at random
        (2.3 rows → 2 or 3), so small scales still give rows on average."""
        if self.rows is None:
            return 0
        wanted = rng.uniform(float(self.rows.low), float(self.rows.high)) * factor
        whole = int(wanted)
        return whole + (1 if rng.random() < wanted - whole else 0)


@dataclass
class CompiledPlan:
    """One entity plan ready to draw rows."""

    entity: str
    parent: str | None
    seed: int
    scaled: bool
    units: tuple[Unit, ...]
    base: Variant
    by_unit: Mapping[str, Variant]
    seasonality: tuple[float, ...]
    growth: float
    each_field: str | None = None
    each_values: tuple[Any, ...] = (None,)
    when: PreparedFormula | None = None
    children: list["CompiledPlan"] = field(default_factory=list)
    _cell: Cell | None = None
    _cell_key: tuple[str, date] | None = None

    def variant(self, unit: str) -> Variant:
        return self.by_unit.get(unit, self.base)

    def row_factor(self, unit: Unit, month: date, years: float, scale: float) -> float:
        """What multiplies the rows range of one unit-month (1 for unscaled plans)."""
        if not self.scaled:
            return 1.0
        return (unit.size * self.seasonality[month.month - 1]
                * (1 + self.growth) ** years * scale)

    def cell(self, unit: Unit, month: date, days: int, years: float, staff: Staff,
             now: datetime) -> Cell:
        """The unit-month's cell with its own random stream (kept while it is current)."""
        key = (unit.code, month)
        if self._cell is None or self._cell_key != key:
            self._cell_key = key
            self._cell = Cell(
                rng=random.Random(f"{self.seed}|{self.entity}|{unit.code}|{month:%Y%m}"),
                unit=unit.code, first=month, days=days, size=unit.size, years=years,
                people={role: units[unit.code] for role, units in staff.items()
                        if unit.code in units},
                counters=self._counters, today=now.date(), now=now)
        return self._cell

    def accepts(self, parent: Mapping[str, Any], cell: Cell, variant: Variant) -> bool:
        """Whether a parent row gets a derived row (``when`` holds, then the probability)."""
        if self.when is not None and not self.when.evaluate_condition(
                parent, today=cell.today, now=cell.now):
            return False
        return variant.probability >= 1 or cell.rng.random() < variant.probability

    def __post_init__(self) -> None:
        self._counters: dict[tuple[str, str], int] = {}


def _variant(compiler: Compiler, fields: tuple[FieldGenerator, ...], rows: Range | None,
             probability: Decimal) -> Variant:
    return Variant(rows, float(probability),
                   tuple((gen.field, compiler.compile(gen)) for gen in fields))


def _merged(base: tuple[FieldGenerator, ...], changed: tuple[FieldGenerator, ...]
            ) -> tuple[FieldGenerator, ...]:
    replaced = {gen.field: gen for gen in changed}
    return tuple(replaced.get(gen.field, gen) for gen in base)


def _compile(spec: GeneratorSpec, plan: EntityPlan, registry: Registry,
             groups: Mapping[str, tuple[Unit, ...]], seed: int) -> CompiledPlan:
    entity = registry.entity(plan.entity)
    parent = registry.entity(plan.parent) if plan.parent else None
    assert entity is not None
    compiler = Compiler(entity, registry.entities, parent)
    base = _variant(compiler, plan.fields, plan.rows, plan.probability)
    by_unit: dict[str, Variant] = {}
    for override in plan.overrides:
        variant = _variant(compiler, _merged(plan.fields, override.fields),
                           override.rows or plan.rows,
                           plan.probability if override.probability is None
                           else override.probability)
        for unit in members(groups, override.units):
            by_unit.setdefault(unit.code, variant)
    each_field, each_values = (plan.each if plan.each else (None, (None,)))
    if each_field is not None:
        target = entity.field(each_field)
        each_values = tuple(typed(target, v) for v in each_values) if target else each_values
    when = (PreparedFormula(compiler.checked(plan.when, on_parent=True, expect=FType.BOOLEAN))
            if plan.when else None)
    return CompiledPlan(
        entity=plan.entity, parent=plan.parent, seed=seed, scaled=plan.scaled,
        units=members(groups, plan.units), base=base, by_unit=by_unit,
        seasonality=tuple(float(s) for s in spec.seasonality), growth=float(spec.growth),
        each_field=each_field, each_values=each_values, when=when)


def compile_plans(spec: GeneratorSpec, registry: Registry,
                  groups: Mapping[str, tuple[Unit, ...]], *, seed: int) -> list[CompiledPlan]:
    """Every plan of ``spec`` compiled, derived plans linked to their parent."""
    compiled = [_compile(spec, plan, registry, groups, seed) for plan in spec.entities]
    by_entity: dict[str, CompiledPlan] = {}
    for plan in compiled:
        if plan.parent is not None:
            by_entity[plan.parent].children.append(plan)
        by_entity.setdefault(plan.entity, plan)
    return compiled
