"""The synthetic data generator: spec → rows in the entity tables (runtime layer).

:func:`generate` runs one package generator (docs/generator.md) in the
caller's transaction: it resolves the unit groups, creates the people,
then fills every entity month by month and unit by unit, deriving the rows
of ``from`` entities from each parent row as it is drawn, and inserts them
in batches (:mod:`.writer`, bypassing the record service).

Determinism: every unit-month of every entity draws from its own random
stream seeded by (seed, entity, unit, month), so one seed gives one data
set whatever the order of the work; ``scale`` changes only how many rows
each unit-month gets.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable, Mapping, Sequence

from sqlalchemy import Connection, delete, func, select

from yunying.metadata.generators import GeneratorSpec
from yunying.platform.context import Context
from yunying.platform.errors import Conflict, InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.generator.people import create_people, resolve_units
from yunying.runtime.generator.plans import CompiledPlan, compile_plans
from yunying.runtime.generator.writer import BATCH_ROWS, BatchWriter
from yunying.runtime.registry import Registry

__all__ = ["GenerateOptions", "GenerateReport", "generate", "find_generator", "month_window",
           "generated_entities"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerateOptions:
    """How to run a generator: ``scale`` multiplies the row counts of scaled
    entities; ``months``/``end``/``seed`` override the document (``end`` is
    any day of the last month; default: the last complete month);
    ``replace`` deletes the entities' rows in the window first instead of
    refusing."""

    scale: Decimal = Decimal(1)
    months: int | None = None
    end: date | None = None
    seed: int | None = None
    replace: bool = False
    batch: int = BATCH_ROWS


@dataclass(frozen=True)
class GenerateReport:
    """What a run wrote."""

    generator: str
    first: date                       # first day of the first month
    last: date                        # last day of the last month
    months: int
    scale: Decimal
    seed: int
    people: int                       # people of the generator (created or reused)
    users_created: int
    rows: Mapping[str, int] = field(default_factory=dict)   # entity → rows written
    seconds: float = 0.0


def find_generator(registry: Registry, code: str) -> GeneratorSpec:
    """The generator ``pkg.code``; NotFound when no installed package has it."""
    package, _, local = code.partition(".")
    spec = registry.packages.get(package)
    found = next((g for g in spec.generators if g.code == local), None) if spec else None
    if found is None:
        raise NotFound(Text(f"没有数据生成器 {code}（写作 包编码.生成器编码）",
                            f"no data generator {code!r} (write package.generator)"))
    return found


def month_window(months: int, end: date | None, today: date) -> tuple[date, ...]:
    """First days of ``months`` months ending with ``end``'s month, or with
    the last complete month before ``today``."""
    if months < 1:
        raise InvalidQuery(Text("月数至少为 1", "months must be at least 1"),
                           details={"field": "months"})
    last = end.replace(day=1) if end else _add_months(today.replace(day=1), -1)
    return tuple(_add_months(last, -k) for k in range(months - 1, -1, -1))


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def generated_entities(spec: GeneratorSpec) -> tuple[str, ...]:
    """The qualified codes of the entities a generator fills, in order."""
    return tuple(dict.fromkeys(plan.entity for plan in spec.entities))


def generate(conn: Connection, ctx: Context, registry: Registry, spec: GeneratorSpec,
             options: GenerateOptions = GenerateOptions(), *,
             progress: Progress | None = None) -> GenerateReport:
    """Run ``spec`` in the caller's transaction; see the module docstring.

    Raises Conflict when an entity already has rows in the window (unless
    ``options.replace``), InvalidQuery for a bad scale or month count.
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    if options.scale <= 0:
        raise InvalidQuery(Text("比例须大于 0", "the scale must be greater than 0"),
                           details={"field": "scale"})
    seed = spec.seed if options.seed is None else options.seed
    months = month_window(options.months or spec.months, options.end, ctx.now().date())
    first, last = months[0], _month_end(months[-1])
    _clear(conn, registry, spec, first, last, replace=options.replace)
    groups = resolve_units(conn, spec, first, last)
    staff, created = create_people(conn, ctx, spec, groups, first)
    say(f"{sum(len(v[0]) for units in staff.values() for v in units.values())} people "
        f"({created} new), {first:%Y-%m} … {last:%Y-%m}, scale {options.scale}")
    plans = compile_plans(spec, registry, groups, seed=seed)
    tables = {code: registry.tables(code).table for code in generated_entities(spec)}  # type: ignore[union-attr]
    writer = BatchWriter(conn, tables, actor=ctx.actor, now=ctx.now(), batch=options.batch,
                         progress=say)
    run = _Run(writer, staff, months, first, float(options.scale), ctx.now())
    for plan in plans:
        if plan.parent is None:
            run.fill(plan)
            say(f"{plan.entity}: drawn")
    rows = writer.close()
    people = sum(len(v[0]) for units in staff.values() for v in units.values())
    return GenerateReport(spec.qualified_code, first, last, len(months), options.scale, seed,
                          people, created, rows, time.perf_counter() - started)


def _clear(conn: Connection, registry: Registry, spec: GeneratorSpec, first: date,
           last: date, *, replace: bool) -> None:
    """Refuse (or with ``replace`` delete) rows the entities already have in the window."""
    for code in generated_entities(spec):
        entity, tables = registry.entity(code), registry.tables(code)
        if entity is None or tables is None:
            raise NotFound(Text(f"实体 {code} 未安装", f"entity {code} is not installed"))
        table = tables.table
        where = ([table.c[entity.date_dimension].between(first, last)]
                 if entity.date_dimension else [])
        if replace:
            conn.execute(delete(table).where(*where))
            continue
        count = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        if count:
            raise Conflict(Text(
                f"{code} 在 {first:%Y-%m} 至 {last:%Y-%m} 已有 {count} 行数据；"
                f"加 --replace 先删除它们再生成",
                f"{code} already has {count} row(s) from {first:%Y-%m} to {last:%Y-%m}; "
                f"use --replace to delete them and generate again"),
                details={"entity": code, "rows": count})


class _Run:
    """One generation in progress: the writer, staff and window."""

    def __init__(self, writer: BatchWriter, staff, months: Sequence[date], first: date,
                 scale: float, now) -> None:
        self.writer, self.staff, self.months = writer, staff, months
        self.first, self.scale, self.now = first, scale, now

    def fill(self, plan: CompiledPlan) -> None:
        for month in self.months:
            end = _month_end(month)
            years = ((month.year - self.first.year) * 12 + month.month - self.first.month) / 12
            for unit in plan.units:
                if unit.active(month, end):
                    self._unit_month(plan, unit, month, end, years)

    def _unit_month(self, plan: CompiledPlan, unit, month: date, end: date,
                    years: float) -> None:
        cell = plan.cell(unit, month, end.day, years, self.staff, self.now)
        variant = plan.variant(unit.code)
        factor = plan.row_factor(unit, month, years, self.scale)
        for value in plan.each_values:
            for _ in range(variant.count(cell.rng, factor)):
                row = {plan.each_field: value} if plan.each_field else {}
                for code, draw in variant.draws:
                    row[code] = draw(row, cell)
                self._derive(plan, row, unit, month, end, years)
                self.writer.add(plan.entity, row)

    def _derive(self, parent: CompiledPlan, row: dict, unit, month: date, end: date,
                years: float) -> None:
        for child in parent.children:
            cell = child.cell(unit, month, end.day, years, self.staff, self.now)
            variant = child.variant(unit.code)
            if not child.accepts(row, cell, variant):
                continue
            cell.parent = row
            derived: dict = {}
            for code, draw in variant.draws:
                derived[code] = draw(derived, cell)
            self._derive(child, derived, unit, month, end, years)
            self.writer.add(child.entity, derived)
