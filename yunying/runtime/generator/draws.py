"""Field generators → drawing closures (runtime layer, data generator).

Each :class:`~yunying.metadata.generators.FieldGenerator` is compiled once
into a closure ``draw(row, cell) -> value``: ``row`` holds the fields drawn
so far (field code → value), ``cell`` the unit-month being filled (its random
stream, unit, month, size factor, people, parent row). Dispatch on the
generator kind happens at compile time through a dict, never per row.

Values come out typed for their column: numbers as ``Decimal`` quantized
half-up to the field's scale (``int`` for integer fields), dates as ``date``.
Random draws are floats internally and become exact decimals once, here.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Mapping

from yunying.metadata.generators import FieldGenerator, NumberParams, SwitchParams
from yunying.metadata.spec import EntitySpec, FieldSpec
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.evaluator import PreparedFormula

__all__ = ["Cell", "Draw", "Compiler", "typed", "render_code", "CODE_TOKEN"]

#: ``{unit}``, ``{yyyy}``, ``{n:06}`` … in sequence and people code patterns.
CODE_TOKEN = re.compile(r"\{([a-z]+)(?::0?([1-9]))?\}")


@dataclass
class Cell:
    """One unit-month being filled (mutable per draw: the random stream advances)."""

    rng: random.Random
    unit: str
    first: date                 # the month's first day
    days: int                   # days in the month
    size: float                 # the unit's size factor
    years: float                # years since the first generated month (growth)
    people: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]]   # role → (codes, cum weights)
    counters: dict[tuple[str, str], int]   # (field, yyyymm) → last number (per entity)
    parent: Mapping[str, Any] | None = None
    today: date = field(default_factory=date.today)
    now: datetime = field(default_factory=datetime.now)


Draw = Callable[[dict[str, Any], Cell], Any]


def render_code(pattern: str, values: Mapping[str, Any]) -> str:
    """``"OP{yyyymm}{n:06}"`` with ``values`` (n, unit, yyyy …) filled in."""
    def one(match: re.Match) -> str:
        value = values[match.group(1)]
        width = match.group(2)
        return f"{value:0{width}d}" if width else str(value)
    return CODE_TOKEN.sub(one, pattern)


def _quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def typed(f: FieldSpec, value: Any, decimals: int | None = None) -> Any:
    """``value`` converted for ``f``'s column (numbers rounded half-up)."""
    if value is None:
        return None
    kind = f.value_type
    if kind == "integer":
        return int(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP))
    if kind in ("decimal", "money"):
        places = f.scale if decimals is None else decimals
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number.quantize(_quantum(places if places is not None else 2), ROUND_HALF_UP)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    if kind in ("string", "text", "enum", "user", "org_unit") and not isinstance(value, str):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


class Compiler:
    """Compiles the field generators of one entity plan.

    ``entity`` is the plan's entity, ``parent`` the entity it derives from
    (for ``copy``), ``entities`` every entity spec by qualified code (paths).
    Formula problems surface as FormulaError (the package check reports them
    as located issues before anything runs).
    """

    def __init__(self, entity: EntitySpec, entities: Mapping[str, EntitySpec],
                 parent: EntitySpec | None = None) -> None:
        self.entity = entity
        self.parent = parent
        self._entities = entities

    def checked(self, source: str, *, on_parent: bool = False, expect=None) -> Checked:
        owner = self.parent if on_parent else self.entity
        return check(source, context_for(owner, self._entities), expect=expect)

    def compile(self, gen: FieldGenerator) -> Draw:
        f = self.entity.field(gen.field)
        assert f is not None, gen.field
        return _KINDS[gen.kind](self, gen, f)


def _date_in_month(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    return lambda row, cell: cell.first + timedelta(days=cell.rng.randrange(cell.days))


def _month_start(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    return lambda row, cell: cell.first


def _unit(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    return lambda row, cell: cell.unit


def _person(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    role = gen.params

    def draw(row: dict, cell: Cell) -> Any:
        codes, weights = cell.people.get(role, ((), ()))
        return cell.rng.choices(codes, cum_weights=weights)[0] if codes else None
    return draw


def _people_count(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    role, factor = gen.params
    low, high = (float(factor.low), float(factor.high)) if factor else (1.0, 1.0)

    def draw(row: dict, cell: Cell) -> Any:
        count = len(cell.people.get(role, ((), ()))[0])
        return typed(f, Decimal(repr(count * cell.rng.uniform(low, high))))
    return draw


def _choice(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    values = [typed(f, value) for value, _ in gen.params]
    cumulative, total = [], 0.0
    for _, weight in gen.params:
        total += float(weight)
        cumulative.append(total)
    return lambda row, cell: cell.rng.choices(values, cum_weights=cumulative)[0]


def _lognormal(rng: random.Random, mean: float, sd: float) -> float:
    if mean <= 0 or sd <= 0:
        return mean
    sigma2 = math.log(1 + (sd * sd) / (mean * mean))
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


_SAMPLERS: Mapping[str, Callable[[random.Random, NumberParams, float], float]] = {
    "normal": lambda rng, p, g: rng.gauss(float(p.mean or 0) * g, float(p.sd or 0) * g),
    "lognormal": lambda rng, p, g: _lognormal(rng, float(p.mean or 0) * g, float(p.sd or 0) * g),
    "uniform": lambda rng, p, g: rng.uniform(float(p.minimum or 0), float(p.maximum or 0)) * g,
}


def _places(f: FieldSpec, decimals: int | None) -> int:
    if decimals is not None:
        return decimals
    return 0 if f.value_type == "integer" else (f.scale if f.scale is not None else 2)


def _number(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    p: NumberParams = gen.params
    sample = _SAMPLERS[gen.kind]
    low = float(p.minimum) if p.minimum is not None else -math.inf
    high = float(p.maximum) if p.maximum is not None else math.inf
    growth = float(p.growth or 0)
    shape = f".{_places(f, p.decimals)}f"
    whole = f.value_type == "integer"

    def draw(row: dict, cell: Cell) -> Any:
        # a random draw: float arithmetic, then one exact decimal of the column's scale
        factor = (1 + growth) ** cell.years if growth else 1.0
        value = min(max(sample(cell.rng, p, factor), low), high)
        if p.sized:
            value *= cell.size
        if p.times is not None:
            base = row.get(p.times)
            if base is None:
                return None
            value *= float(base)
        number = Decimal(format(value, shape))
        return int(number) if whole else number
    return draw


def _boolean(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    chance = float(gen.params)
    return lambda row, cell: cell.rng.random() < chance


def code_format(pattern: str) -> str:
    """A code pattern as a ``str.format`` template (``{n:06}`` → ``{n:06d}``)."""
    return CODE_TOKEN.sub(
        lambda m: "{" + m.group(1) + (f":0{m.group(2)}d" if m.group(2) else "") + "}", pattern)


def _sequence(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    template = code_format(gen.params)

    def draw(row: dict, cell: Cell) -> Any:
        first = cell.first
        month = f"{first.year:04d}{first.month:02d}"
        key = (gen.field, month)
        number = cell.counters[key] = cell.counters.get(key, 0) + 1
        return template.format(n=number, unit=cell.unit, yyyy=month[:4], yy=month[2:4],
                               mm=month[4:], yyyymm=month)
    return draw


def _formula(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    prepared = PreparedFormula(c.checked(gen.params))
    return lambda row, cell: typed(f, prepared.evaluate(row, today=cell.today, now=cell.now))


def _copy(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    source = gen.params.strip()
    if c.parent is not None and c.parent.field(source) is not None:
        return lambda row, cell: typed(f, (cell.parent or {}).get(source))
    prepared = PreparedFormula(c.checked(source, on_parent=True))
    return lambda row, cell: typed(f, prepared.evaluate(
        cell.parent or {}, today=cell.today, now=cell.now))


def _fixed(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    value = typed(f, gen.params)
    return lambda row, cell: value


def case_key(value: Any) -> str:
    """How a switch names a field value: booleans as true/false, others as text."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _switch(c: Compiler, gen: FieldGenerator, f: FieldSpec) -> Draw:
    p: SwitchParams = gen.params
    cases = {value: c.compile(case) for value, case in p.cases}
    default = c.compile(p.default) if p.default is not None else None

    def draw(row: dict, cell: Cell) -> Any:
        chosen = cases.get(case_key(row.get(p.field)), default)
        return chosen(row, cell) if chosen is not None else None
    return draw


_KINDS: Mapping[str, Callable[[Compiler, FieldGenerator, FieldSpec], Draw]] = {
    "date_in_month": _date_in_month, "month_start": _month_start, "unit": _unit,
    "person": _person, "people_count": _people_count, "choice": _choice,
    "normal": _number, "lognormal": _number, "uniform": _number, "boolean": _boolean,
    "sequence": _sequence, "formula": _formula, "copy": _copy, "fixed": _fixed,
    "switch": _switch,
}
