"""Indicator parts per drill-down member: the queries behind the engine (runtime layer).

:class:`Evaluator` turns one indicator, version and period into its *raw*
parts per member — ``numerator`` and ``denominator`` (ratios) or ``value``
(formulas), exact and before the factor — keyed by member (``TOTAL`` for the
unit itself):

- an aggregate formula (or the numerator/denominator pair) is **one** SELECT
  per grouping (the unit's total; the drill-down members), both parts as
  columns of it (:func:`~yunying.runtime.formula.aggregate_sql.compile_aggregates`);
- ``time_rollup: last`` aggregates only the last month; ``average`` runs the
  monthly queries and averages each member's parts over the months it has
  them;
- a formula over ``@references`` gets each referenced indicator's exact
  value (× its factor, not rounded) for the shifted period — ``PREV(@x, n)``
  n periods earlier, ``LASTYEAR(@x)`` a year earlier, ``YTD(@x)`` from
  1 January — then is evaluated per member in Python. A formula that also
  aggregates rows gets the values as SQL literals (totals only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Mapping, Sequence

from sqlalchemy import Connection, Select
from sqlalchemy.sql.expression import FromClause

from yunying.metadata.indicators import IndicatorSpec, IndicatorVersion
from yunying.platform.errors import ConfigurationError, InvalidQuery
from yunying.platform.i18n import Text
from yunying.runtime.formula.aggregate_sql import AggregateSource, compile_aggregates
from yunying.runtime.formula.checker import Checked
from yunying.runtime.formula.evaluator import evaluate_aggregate
from yunying.runtime.formula.indicator_check import CheckedVersion, check_indicator_version
from yunying.runtime.formula.sql import dialect_for
from yunying.runtime.formula.sql_dialect import number_value
from yunying.runtime.formula.types import FType
from yunying.runtime.indicators.periods import Period
from yunying.runtime.indicators.sources import (
    MEMBER, Rollup, entity_source, member_keys, require_tree, require_unit, tree_edges, window,
)
from yunying.runtime.registry import Registry

__all__ = ["TOTAL", "Raw", "Parts", "Ask", "Evaluator", "SHIFTS", "version_for", "exact_value",
           "windows", "average", "labelled", "too_deep"]

#: the key of the unit's own total among the members of a :data:`Raw`.
TOTAL = None
#: one member's parts: numerator/denominator or value, exact, before the factor.
Parts = dict[str, Decimal | None]
#: parts by member key (``TOTAL`` for the unit itself).
Raw = dict[str | None, Parts]
_MAX_DEPTH = 16   # @references nest at most this deep (the package check refuses cycles)
_MAX_STATEMENTS = 2048   # built statements kept per engine (then the cache starts over)


@dataclass
class Ask:
    """One compute request: where, how deep, which 口径; checks the tree and unit
    once and reads the tree's edges once per date."""

    unit: str
    tree: str
    drill: str | None
    restate: bool
    today: date
    now: datetime
    rollups: dict[date, Rollup] = field(default_factory=dict)

    def rollup(self, conn: Connection, as_of: date) -> Rollup:
        found = self.rollups.get(as_of)
        if found is None:
            if not self.rollups:
                require_tree(conn, self.tree)
                require_unit(conn, self.unit)
            found = self.rollups[as_of] = tree_edges(conn, self.tree, as_of).rollup(self.unit)
        return found


def version_for(spec: IndicatorSpec, period: Period, restate: bool) -> IndicatorVersion:
    """The version computing ``period``: in force on its first day (the first version
    before that), or the current one when restating."""
    if restate:
        return spec.current
    return spec.version_on(period.start) or spec.versions[0]


def too_deep(spec: IndicatorSpec) -> ConfigurationError:
    """The error of references nested deeper than the engine follows (a cycle?)."""
    return ConfigurationError(Text(
        f"指标 {spec.qualified_code} 的引用层级过深（可能存在循环引用）",
        f"the references of {spec.qualified_code} nest too deep (a cycle?)"),
        details={"indicator": spec.qualified_code})


def exact_value(parts: Mapping[str, Decimal | None], spec: IndicatorSpec) -> Decimal | None:
    """numerator / denominator (no value for a zero denominator), or value, × factor."""
    if "numerator" in parts:
        num, den = parts.get("numerator"), parts.get("denominator")
        return None if num is None or not den else num / den * spec.factor
    value = parts.get("value")
    return None if value is None else value * spec.factor


def windows(spec: IndicatorSpec, period: Period, ytd: bool) -> list[tuple[date, date]]:
    """The date ranges whose parts make up the period, by the time rollup."""
    start = period.year_start() if ytd else period.start
    months = [m for m in (Period("month", period.year, i) for i in range(1, 13))
              if start <= m.start and m.end <= period.end]
    if spec.time_rollup == "last":
        return [(months[-1].start, months[-1].end)]
    if spec.time_rollup == "average":
        return [(m.start, m.end) for m in months]
    return [(start, period.end)]


def average(results: Sequence[Raw]) -> Raw:
    keys = list(dict.fromkeys(k for r in results for k in r))
    averaged: Raw = {}
    for key in keys:
        labels = dict.fromkeys(label for r in results for label in r.get(key, {}))
        parts: Parts = {}
        for label in labels:
            values = [r[key][label] for r in results if r.get(key, {}).get(label) is not None]
            parts[label] = sum(values, Decimal(0)) / len(values) if values else None
        averaged[key] = parts
    return averaged


#: reference shift → (period, ytd) it reads, from the period computed.
SHIFTS = {
    "current": lambda p, n, ytd: (p, ytd),
    "prev": lambda p, n, ytd: (p.shift(-n), ytd),
    "lastyear": lambda p, n, ytd: (p.last_year(), ytd),
    "ytd": lambda p, n, ytd: (p, True),
}


class Evaluator:
    """Raw parts of indicators of one registry; caches the checked versions and the
    built statements (dates and units are bound parameters: one statement serves
    every period and unit)."""

    def __init__(self, registry: Registry, dialect: str) -> None:
        self.registry = registry
        self.dialect = dialect
        self._checked: dict[tuple[str, int], CheckedVersion] = {}
        self._statements: dict[tuple, Select] = {}

    def checked(self, spec: IndicatorSpec, version: IndicatorVersion) -> CheckedVersion:
        key = (spec.qualified_code, version.version)
        found = self._checked.get(key)
        if found is None:
            found = self._checked[key] = check_indicator_version(
                spec, version, self.registry, self.registry.indicators)
        return found

    def entities(self, spec: IndicatorSpec, depth: int = 0) -> tuple[str, ...]:
        """Every entity any version of ``spec`` aggregates, through its references too."""
        found: dict[str, None] = {}
        for version in spec.versions:
            checked = self.checked(spec, version)
            found.update(dict.fromkeys(sorted(checked.entities)))
            for ref in checked.refs if depth < _MAX_DEPTH else ():
                target = self.registry.indicators[ref.code]
                found.update(dict.fromkeys(self.entities(target, depth + 1)))
        return tuple(found)

    def mixed(self, spec: IndicatorSpec) -> bool:
        """True when a version's formula both aggregates rows and reads references."""
        return any(c.formula is not None and c.refs and c.formula.aggregates
                   for c in (self.checked(spec, v) for v in spec.versions))

    def raw(self, conn: Connection, spec: IndicatorSpec, period: Period, *, ytd: bool,
            ask: Ask, depth: int = 0) -> Raw:
        """The parts of ``spec`` for ``period`` (from 1 January when ``ytd``) per member."""
        if depth > _MAX_DEPTH:
            raise too_deep(spec)
        version = version_for(spec, period, ask.restate)
        checked = self.checked(spec, version)
        if checked.refs:
            return self._from_refs(conn, spec, checked, period, ytd, ask, depth)
        up = ask.rollup(conn, period.end)
        ident = (spec.qualified_code, version.version)
        results = [self._query(conn, ident, checked, up, start, end, ask)
                   for start, end in windows(spec, period, ytd)]
        return results[0] if len(results) == 1 else average(results)

    def _query(self, conn: Connection, ident: tuple[str, int], checked: CheckedVersion,
               up: Rollup, start: date, end: date, ask: Ask) -> Raw:
        """The total and (when drilling) the members, one query each."""
        params = window(start, end, up.units)
        raw: Raw = {TOTAL: self._run(conn, self._statement(ident, checked, up, None, ask), params,
                                     checked, None)[TOTAL]}
        if ask.drill is not None:
            query = self._statement(ident, checked, up, ask.drill, ask)
            raw.update(self._run(conn, query, params, checked, ask.drill))
        return raw

    def _statement(self, ident: tuple[str, int], checked: CheckedVersion, up: Rollup,
                   drill: str | None, ask: Ask) -> Select:
        """The query of ``checked`` grouped by ``drill``, built once per engine for
        each shape (dates and units are bound parameters, see :func:`.sources.window`)."""
        key = (*ident, drill,
               up.shape if drill == "units" else None, ask.today, ask.now)
        found = self._statements.get(key)
        if found is None:
            if len(self._statements) >= _MAX_STATEMENTS:
                self._statements.clear()
            keys = member_keys(up.children) if drill == "units" and up.children else None
            found = self._statements[key] = self._compile(checked, up, drill, ask, keys)
        return found

    def _compile(self, checked: CheckedVersion, up: Rollup | None, drill: str | None, ask: Ask,
                 keys: FromClause | None = None,
                 indicators: Mapping[str, object] | None = None) -> Select:
        sources: dict[str, AggregateSource] = {
            e: entity_source(self.registry, e, up, drill) for e in sorted(checked.entities)}
        group_by = (MEMBER,) if drill is not None else ()
        return compile_aggregates(labelled(checked), sources, group_by=group_by,
                                  dialect=self.dialect, today=ask.today, now=ask.now, keys=keys,
                                  indicators=indicators)  # type: ignore[arg-type]

    @staticmethod
    def _run(conn: Connection, query: Select, params: Mapping[str, object],
             checked: CheckedVersion, drill: str | None) -> Raw:
        labels = labelled(checked)
        result: Raw = {}
        for row in conn.execute(query, params).mappings():
            key = TOTAL if drill is None else (row[MEMBER] if row[MEMBER] is not None else "")
            result[key] = {label: number_value(row[label]) for label in labels}
        return result

    def _from_refs(self, conn: Connection, spec: IndicatorSpec, checked: CheckedVersion,
                   period: Period, ytd: bool, ask: Ask, depth: int) -> Raw:
        values: dict[str, dict[str | None, Decimal | None]] = {}
        for ref in checked.refs:
            target = self.registry.indicators[ref.code]
            shifted, shifted_ytd = SHIFTS[ref.shift](period, ref.n, ytd)
            raw = self.raw(conn, target, shifted, ytd=shifted_ytd, ask=ask, depth=depth + 1)
            values[ref.key] = {key: exact_value(parts, target) for key, parts in raw.items()}
        formula = checked.formula
        assert formula is not None  # a ratio may not reference indicators
        if formula.aggregates:
            return self._mixed(conn, spec, checked, formula, period, ytd, ask, values)
        keys = list(dict.fromkeys(k for found in values.values() for k in found))
        if TOTAL not in keys:
            keys.insert(0, TOTAL)
        return {key: {"value": number_value(evaluate_aggregate(
                    formula, {}, today=ask.today, now=ask.now,
                    indicators={name: found.get(key) for name, found in values.items()}))}
                for key in keys}

    def _mixed(self, conn: Connection, spec: IndicatorSpec, checked: CheckedVersion,
               formula: Checked, period: Period, ytd: bool, ask: Ask,
               values: Mapping[str, Mapping[str | None, Decimal | None]]) -> Raw:
        """A formula aggregating rows *and* reading references: the total only, in SQL."""
        if ask.drill is not None:
            raise InvalidQuery(Text(
                f"指标 {spec.qualified_code} 的公式同时汇总数据和引用其他指标，暂不支持下钻",
                f"the indicator {spec.qualified_code} both aggregates rows and reads other "
                f"indicators: it cannot be drilled down yet"),
                details={"field": "drill", "value": ask.drill})
        d = dialect_for(self.dialect, ask.today, ask.now)
        literals = {name: (d.number(found[TOTAL]) if found.get(TOTAL) is not None
                           else d.null(FType.NUMBER)) for name, found in values.items()}
        start, end = windows(spec, period, ytd)[0][0], period.end
        up = ask.rollup(conn, period.end)
        query = self._compile(checked, up, None, ask, indicators=literals)
        return self._run(conn, query, window(start, end, up.units), checked, None)


def labelled(checked: CheckedVersion) -> dict[str, Checked]:
    """The version's formulas by result label: numerator and denominator, or value."""
    return {("value" if label == "formula" else label): part
            for label, part in checked.parts.items()}
