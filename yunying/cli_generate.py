"""``yunying generate``: fill entity tables with synthetic data from a package's
generator document (docs/generator.md), and the demo's data step.

Generation runs in one transaction (refused or failed: nothing written);
the indicator snapshot refresh of the generated months runs after it, in its
own transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from yunying.app import services
from yunying.cli_support import cli_context, fail
from yunying.metadata.generators import GeneratorSpec
from yunying.platform.errors import YunyingError
from yunying.runtime.generator import (
    GenerateOptions, GenerateReport, find_generator, generate, generated_entities,
)
from yunying.runtime.indicators.periods import Period, period_range
from yunying.runtime.indicators.snapshot import refresh

__all__ = ["generate_command", "run_demo_generators"]

Say = Callable[[str], None]


class _Month(click.ParamType):
    """A month YYYY-MM."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        try:
            if isinstance(value, str) and len(value) == 7:
                return date.fromisoformat(f"{value}-01")
        except ValueError:
            pass
        self.fail(f"{value!r} is not a month YYYY-MM / 不是月份", param, ctx)


class _Scale(click.ParamType):
    """A positive decimal (0.02)."""

    name = "SCALE"

    def convert(self, value: Any, param: Any, ctx: Any) -> Decimal:
        try:
            number = Decimal(str(value))
            if number.is_finite() and 0 < number <= 100:
                return number
        except InvalidOperation:
            pass
        self.fail(f"{value!r} is not a scale in (0, 100] / 比例应在 (0, 100] 之间", param, ctx)


def _echo(line: str) -> None:
    click.echo(f"… {line}")


def _print(report: GenerateReport) -> None:
    click.echo(f"{report.generator}: {report.months} months {report.first:%Y-%m} … "
               f"{report.last:%Y-%m}, scale {report.scale}, seed {report.seed}, "
               f"{report.people} people ({report.users_created} new)")
    for entity, rows in report.rows.items():
        click.echo(f"  {entity:32} {rows:>10} rows")
    click.echo(f"done in {report.seconds:.1f} s")


def _run(spec_code: str | None, spec: GeneratorSpec | None, options: GenerateOptions,
         say: Say) -> GenerateReport:
    svc = services(current_app)
    with svc.db.begin(write=True) as conn:
        registry = svc.runtime(conn).registry
        found = spec or find_generator(registry, spec_code or "")
        return generate(conn, cli_context(), registry, found, options, progress=say)


#: months of indicator snapshot the demo refreshes (the latest): refreshing all
#: 36 takes minutes; the dashboards compute missing values live.
DEMO_REFRESH_MONTHS = 1


def _refresh(report: GenerateReport, say: Say, *, last: int | None = None) -> None:
    """Refresh the indicator snapshot of the generated months, or of the ``last``
    ones (when there are indicators)."""
    svc = services(current_app)
    with svc.db.begin(write=True) as conn:
        runtime = svc.runtime(conn)
        if not runtime.registry.indicators:
            return
        periods = period_range(Period.of("month", report.first), Period.of("month", report.last))
        periods = periods[-last:] if last else periods
        done = refresh(conn, runtime.indicators, runtime.registry, periods=periods)
    say(f"indicator snapshot: {done.written} values for {done.indicators} indicators × "
        f"{done.periods} months ({done.seconds:.1f} s)")


@click.command("generate")
@click.argument("code", metavar="PKG.CODE")
@click.option("--scale", type=_Scale(), default="1", show_default=True,
              help="Multiply the row counts (0.02 = 2 %).")
@click.option("--months", type=click.IntRange(1, 240), default=None,
              help="History length in months (default: the document's, usually 36).")
@click.option("--end", type=_Month(), default=None,
              help="The last generated month (default: the last complete month).")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Random seed (default: the document's).")
@click.option("--replace", is_flag=True,
              help="Delete the entities' rows in the window first (else refuse).")
@click.option("--no-refresh", is_flag=True, help="Do not refresh the indicator snapshot.")
@with_appcontext
def generate_command(code: str, scale: Decimal, months: int | None, end: date | None,
                     seed: int | None, replace: bool, no_refresh: bool) -> None:
    """Generate synthetic data with a package's generator (bypasses the record
    service; one transaction), then refresh the indicator snapshot."""
    options = GenerateOptions(scale=scale, months=months, end=end, seed=seed, replace=replace)
    try:
        report = _run(code, None, options, _echo)
        _print(report)
        if not no_refresh:
            _refresh(report, _echo)
    except YunyingError as exc:
        fail(exc)


def _has_rows(spec: GeneratorSpec) -> bool:
    svc = services(current_app)
    with svc.db.connect() as conn:
        registry = svc.runtime(conn).registry
        for code in generated_entities(spec):
            tables = registry.tables(code)
            if tables is not None and conn.execute(
                    select(func.count()).select_from(tables.table)).scalar_one():
                return True
    return False


def run_demo_generators(say: Say = _echo) -> None:
    """Run every installed generator at its demo scale, skipping those whose
    entities already hold rows (the demo may start many times), then refresh
    the indicator snapshot of the latest generated month (``yunying indicators
    refresh --from … --to …`` fills the others)."""
    svc = services(current_app)
    with svc.db.connect() as conn:
        registry = svc.runtime(conn).registry
        specs = [g for p in registry.packages.values() for g in p.generators]
    try:
        for spec in specs:
            if _has_rows(spec):
                say(f"{spec.qualified_code}: data already there, not generated again")
                continue
            report = _run(None, spec, GenerateOptions(scale=spec.demo_scale), lambda _m: None)
            say(f"{spec.qualified_code}: " + ", ".join(
                f"{rows} {entity}" for entity, rows in report.rows.items())
                + f" ({report.seconds:.1f} s)")
            _refresh(report, say, last=DEMO_REFRESH_MONTHS)
    except YunyingError as exc:
        fail(exc)
