"""``yunying indicators …``: indicators from the command line.

``list`` (the installed indicators and their current version), ``graph``
(which indicator reads which, dependencies first, and the entities each
reads), ``compute`` (one value, live, with drill rows; ``--json`` prints what
the API answers) and ``refresh`` (the snapshot table for a period or a range,
printing progress and what was written or skipped). The CLI operator is a
trusted internal caller. Refusals print in English and Chinese, located,
and exit 1; a malformed period is click's usage error (exit 2). ``cli.py``
registers :data:`indicators_group`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection

from yunying.app import services
from yunying.cli_support import cli_context as _ctx, fail as _fail
from yunying.cli_support import run_in_transaction as _run
from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.api.indicator_schemas import computation_dict, graph_dict, text_dict
from yunying.runtime.api.indicators import drill_names
from yunying.runtime.formula.indicator_check import indicator_graph
from yunying.runtime.indicators.periods import Period, period_range
from yunying.runtime.indicators.snapshot import refresh

__all__ = ["indicators_group"]


class _PeriodType(click.ParamType):
    """A period code: 2025-03, 2025-Q1, 2025-H1 or 2025."""

    name = "PERIOD"

    def convert(self, value: Any, param: Any, ctx: Any) -> Period:
        if isinstance(value, Period):
            return value
        try:
            return Period.parse(value)
        except YunyingError as exc:
            self.fail(f"{exc.message.en} / {exc.message.zh}", param, ctx)


PERIOD = _PeriodType()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Text):
        return text_dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _registry():
    return services(current_app).runtime().registry


@click.group("indicators")
def indicators_group() -> None:
    """List, compute and refresh indicators (指标)."""


@indicators_group.command("list")
@with_appcontext
def list_command() -> None:
    """The installed indicators with their current version."""
    indicators = _registry().indicators
    for code, spec in sorted(indicators.items()):
        current = spec.current
        click.echo(f"{code:32} {spec.period:9} {spec.type:8} {spec.direction:13} "
                   f"v{current.version} ({current.effective_from})  "
                   f"{spec.label.zh} / {spec.label.en}")
    click.echo(f"{len(indicators)} indicator(s)")


@indicators_group.command("graph")
@with_appcontext
def graph_command() -> None:
    """Indicators in dependency order: what each reads (indicators with their
    shift, entities)."""
    registry = _registry()
    try:
        shown = graph_dict(indicator_graph(registry.indicators, registry), registry.indicators)
    except YunyingError as exc:
        _fail(exc)
        return
    reads: dict[str, list[str]] = {}
    for edge in shown["edges"]:
        shift = {"current": "", "prev": f" (prev {edge['n']})"}.get(
            edge["shift"], f" ({edge['shift']})")
        reads.setdefault(edge["from"], []).append(f"@{edge['to']}{shift}")
    for node in shown["nodes"]:
        parts = [*reads.get(node["code"], ()), *node["entities"]]
        click.echo(f"{node['code']} ← {', '.join(parts) or '—'}")
    for cycle in shown["cycles"]:
        click.echo(f"cycle: {' → '.join([*cycle, cycle[0]])}")


@indicators_group.command("compute")
@click.argument("code")
@click.option("--unit", required=True, help="Org unit code (with its descendants).")
@click.option("--period", "period", required=True, type=PERIOD,
              help="2025-03, 2025-Q1, 2025-H1 or 2025.")
@click.option("--tree", default="cost", show_default=True, help="Org tree of the rollup.")
@click.option("--drill", default=None, help="units | persons | dim:<field>.")
@click.option("--restate", is_flag=True, help="Use the current version for past periods.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
@with_appcontext
def compute_command(code: str, unit: str, period: Period, tree: str, drill: str | None,
                    restate: bool, as_json: bool) -> None:
    """Compute one value of indicator CODE, live (with drill rows)."""
    runtime = services(current_app).runtime()

    def work(conn: Connection) -> dict[str, Any]:
        spec = runtime.indicators.spec(code)
        result = runtime.indicators.compute(conn, spec.qualified_code, unit, period,
                                            tree=tree, drill=drill, restate=restate,
                                            today=_ctx().now().date())
        names = drill_names(conn, runtime, spec, result)
        return computation_dict(spec, result, names)
    shown = _run(work, write=False)
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2, default=_json_default))
        return
    _print_value(shown)


def _number(value: Any) -> str:
    return "—" if value is None else format(value, "f")


def _print_value(shown: dict[str, Any]) -> None:
    label = shown["label"]
    click.echo(f"{shown['indicator']} {shown['name']['zh']} / {shown['name']['en']}")
    click.echo(f"{shown['unit']} {shown['period']} (tree {shown['tree']}): "
               f"{label['zh']} / {label['en']}")
    total = shown["total"]
    for row in [total, *shown["members"]]:
        name = row["name"] or {"zh": "", "en": ""}
        key = shown["unit"] if row is total else "  " + (row["key"] or "—")
        ratio = ("" if row["denominator"] is None else
                 f"  = {_number(row['numerator'])} / {_number(row['denominator'])}")
        colour = f"  [{row['colour']}]" if row["colour"] else ""
        click.echo(f"{key:18} {_number(row['value']):>14}{ratio}{colour}  "
                   f"{name['zh']} / {name['en']}")


def _previous_month() -> Period:
    return Period.of("month", _ctx().now().date()).shift(-1)


def _periods(period: Period | None, first: Period | None, last: Period | None
             ) -> tuple[Period, ...]:
    if period is not None and (first is not None or last is not None):
        raise click.UsageError("give --period or --from/--to, not both / 二者只能选一")
    if (first is None) != (last is None):
        raise click.UsageError("--from and --to go together / --from 与 --to 须同时给出")
    if first is not None and last is not None:
        try:
            periods = period_range(first, last)
        except YunyingError as exc:
            raise click.UsageError(f"{exc.message.en} / {exc.message.zh}") from None
        if not periods:
            raise click.UsageError(f"--to {last.code} is before --from {first.code} / "
                                   f"结束期间早于开始期间")
        return periods
    return (period or _previous_month(),)


@indicators_group.command("refresh")
@click.option("--period", "period", default=None, type=PERIOD,
              help="One period (default: the previous month).")
@click.option("--from", "first", default=None, type=PERIOD, help="First period of a range.")
@click.option("--to", "last", default=None, type=PERIOD, help="Last period of a range.")
@click.option("--indicator", "codes", multiple=True, metavar="CODE",
              help="Only these indicators (repeatable; default all).")
@click.option("--tree", default="cost", show_default=True, help="Org tree of the rollup.")
@click.option("--full", is_flag=True, help="Recompute even values that are up to date.")
@with_appcontext
def refresh_command(period: Period | None, first: Period | None, last: Period | None,
                    codes: tuple[str, ...], tree: str, full: bool) -> None:
    """Compute and store the snapshot of indicator values (idempotent;
    incremental unless --full)."""
    periods = _periods(period, first, last)
    runtime = services(current_app).runtime()
    try:
        chosen = [runtime.indicators.spec(c).qualified_code for c in codes] or None
    except YunyingError as exc:
        _fail(exc)
        return
    click.echo(f"refreshing {periods[0].code}…{periods[-1].code} "
               f"({len(periods)} period(s)), tree {tree}")
    report = _run(lambda conn: refresh(
        conn, runtime.indicators, runtime.registry, periods=periods, indicators=chosen,
        tree=tree, full=full, today=_ctx().now().date(),
        progress=lambda message: click.echo(f"… {message}")))
    click.echo(f"done: {report.indicators} indicator(s) × {report.periods} period(s): "
               f"written {report.written}, skipped {report.skipped} (up to date) "
               f"in {report.seconds:.1f} s")
