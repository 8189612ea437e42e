"""The indicator engine: one indicator, one org unit, one period (runtime layer).

``IndicatorEngine.compute(conn, "ind.avg_fee", "HOSP", Period.parse("2025-03"),
drill="units")`` answers with the unit's value and one value per drill-down
member (direct child units, persons, or values of a declared dimension):

- the **version** is the one in force on the period's first day (before the
  first version: the first, labelled so), or the current one for every
  period when ``restate`` is asked;
- a numerator/denominator indicator is a **ratio of sums** at every level:
  numerator and denominator are summed over the level's rows (one query gives
  both per group) and divided — never an average of lower ratios;
- value = ratio (or formula) × factor, rounded half-up to ``decimals``; the
  exact numerator and denominator are kept (a zero denominator → no value);
- a formula over ``@references`` (``PREV``, ``LASTYEAR``, ``YTD``) computes
  each referenced indicator first, for the same unit and drill and the
  shifted period, then evaluates the formula per member in Python;
- ``time_rollup``: ``sum`` aggregates the whole period, ``last`` its last
  month, ``average`` averages the monthly parts (see :mod:`.evaluation`).

Every query is built by :mod:`.evaluation` from :mod:`.sources`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import Connection

from yunying.metadata.indicators import IndicatorSpec, IndicatorVersion
from yunying.platform.errors import InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.indicators.evaluation import TOTAL, Ask, Evaluator, Raw, exact_value, version_for
from yunying.runtime.indicators.periods import PERIOD_KINDS, Period, period_range
from yunying.runtime.registry import Registry

__all__ = ["Member", "Computation", "IndicatorEngine", "DRILLS", "parts_member"]

#: the drill-downs besides ``dim:<field>``.
DRILLS = ("units", "persons")


@dataclass(frozen=True)
class Member:
    """One row of a result: a unit code, a user code or a dimension value
    (``""`` for the computed unit itself, and for rows without the member)."""

    key: str
    value: Decimal | None          # × factor, rounded half-up to decimals
    numerator: Decimal | None = None    # ratios only: exact, before factor
    denominator: Decimal | None = None
    exact: Decimal | None = field(default=None, compare=False, repr=False)  # × factor, unrounded


@dataclass(frozen=True)
class Computation:
    """An indicator's value for a unit and period, with its drill-down members."""

    indicator: str
    unit: str
    tree: str
    period: Period
    version: int
    effective_from: date
    restated: bool
    drill: str | None
    total: Member
    members: tuple[Member, ...] = ()

    @property
    def label(self) -> Text:
        """Which 口径 computed it: ``按 2025-01-01 起的第 2 版口径`` / ``以现行第 3 版口径重算``."""
        v, since = self.version, self.effective_from.isoformat()
        if self.restated:
            return Text(f"以现行第 {v} 版口径重算（{since} 起）",
                        f"restated with the current version {v} (from {since})")
        if self.period.start < self.effective_from:
            return Text(f"早于口径生效日期，按最早的第 {v} 版口径（{since} 起）计算",
                        f"before any version took effect: computed with the first "
                        f"version {v} (from {since})")
        return Text(f"按 {since} 起的第 {v} 版口径", f"by version {v}, in force from {since}")

    def member(self, key: str) -> Member | None:
        return next((m for m in self.members if m.key == key), None)


def _bad(field_name: str, value: object, zh: str, en: str, **more) -> InvalidQuery:
    return InvalidQuery(Text(zh, en), details={"field": field_name, "value": value, **more})


class IndicatorEngine:
    """Computes indicators of one registry (built per :class:`Runtime`)."""

    def __init__(self, registry: Registry, dialect: str) -> None:
        self.registry = registry
        self.dialect = dialect
        self.evaluator = Evaluator(registry, dialect)

    # --- lookups -------------------------------------------------------------

    def spec(self, code: str) -> IndicatorSpec:
        """The indicator by qualified code (or an unambiguous local code); NotFound otherwise."""
        indicators: Mapping[str, IndicatorSpec] = self.registry.indicators
        found = indicators.get(code)
        if found is None and "." not in code:
            local = [s for s in indicators.values() if s.code == code]
            found = local[0] if len(local) == 1 else None
        if found is None:
            raise NotFound(Text(f"指标 {code} 不存在", f"there is no indicator {code!r}"),
                           code="indicator_not_found", details={"field": "indicator", "code": code})
        return found

    def version_for(self, spec: IndicatorSpec, period: Period, restate: bool) -> IndicatorVersion:
        """The version that computes ``period``: in force on its first day, else the first;
        the current one when restating."""
        return version_for(spec, period, restate)

    def drills(self, indicator: str) -> tuple[str, ...]:
        """The drill-downs ``indicator`` allows: units, persons (when every entity it
        reads has a person dimension), ``dim:<field>`` for its declared dimensions."""
        spec = self.spec(indicator)
        if self.evaluator.mixed(spec):
            return ()
        entities = [self._entity(e) for e in self.evaluator.entities(spec)]
        found = ["units"]
        if all(e.person_dimension for e in entities):
            found.append("persons")
        found += [f"dim:{d}" for d in spec.dimensions
                  if all(e.field(d) is not None for e in entities)]
        return tuple(found)

    # --- computing -----------------------------------------------------------

    def compute(self, conn: Connection, indicator: str, unit: str, period: Period, *,
                tree: str = "cost", drill: str | None = None, restate: bool = False,
                today: date | None = None) -> Computation:
        """The indicator for ``unit`` (and everything below it in ``tree``) and ``period``.

        Raises NotFound (unknown indicator or unit) and InvalidQuery with
        ``details['field']`` = period | drill | tree for a request it cannot answer.
        """
        spec = self.spec(indicator)
        self._check_period(spec, period)
        drill = self._check_drill(spec, drill)
        day = today or date.today()
        ask = Ask(unit=unit, tree=tree, drill=drill, restate=restate, today=day,
                  now=datetime.combine(day, time()))
        raw = self.evaluator.raw(conn, spec, period, ytd=False, ask=ask)
        return self._computation(spec, period, ask, raw)

    def series(self, conn: Connection, indicator: str, unit: str, first: Period, last: Period,
               *, tree: str = "cost", restate: bool = False,
               today: date | None = None) -> tuple[Computation, ...]:
        """One total per period from ``first`` to ``last`` (a trend)."""
        return tuple(self.compute(conn, indicator, unit, p, tree=tree, restate=restate,
                                  today=today) for p in period_range(first, last))

    def _computation(self, spec: IndicatorSpec, period: Period, ask: Ask, raw: Raw) -> Computation:
        version = self.version_for(spec, period, ask.restate)
        in_force = self.version_for(spec, period, False)
        members = tuple(sorted((parts_member(key, parts, spec) for key, parts in raw.items()
                                if key is not TOTAL), key=lambda m: (m.key == ask.unit, m.key)))
        return Computation(
            indicator=spec.qualified_code, unit=ask.unit, tree=ask.tree, period=period,
            version=version.version, effective_from=version.effective_from,
            restated=ask.restate and version.version != in_force.version, drill=ask.drill,
            total=parts_member("", raw.get(TOTAL, {}), spec), members=members)

    # --- request checks ------------------------------------------------------

    def _check_period(self, spec: IndicatorSpec, period: Period) -> None:
        if PERIOD_KINDS[period.kind] < PERIOD_KINDS[spec.period]:
            raise _bad("period", period.code,
                       f"指标 {spec.qualified_code} 按{_KIND_ZH[spec.period]}或更长的期间计算，"
                       f"不能按{_KIND_ZH[period.kind]}（{period.code}）计算",
                       f"the indicator {spec.qualified_code} is computed per {spec.period} or "
                       f"longer, not per {period.kind} ({period.code})")

    def _check_drill(self, spec: IndicatorSpec, drill: str | None) -> str | None:
        if drill in (None, "", "none"):
            return None
        entities = self.evaluator.entities(spec)
        if drill == "units":
            return drill
        if drill == "persons":
            missing = [e for e in entities if not self._entity(e).person_dimension]
            if missing:
                raise _bad("drill", drill, f"指标 {spec.qualified_code} 汇总的实体 "
                           f"{'、'.join(missing)} 没有人员维度，不能下钻到人员",
                           f"the indicator {spec.qualified_code} aggregates "
                           f"{', '.join(missing)}, which has no person_dimension: "
                           f"it cannot drill down to persons")
            return drill
        name = drill.removeprefix("dim:")
        if drill.startswith("dim:") and name in spec.dimensions and all(
                self._entity(e).field(name) is not None for e in entities):
            return drill
        allowed = [*DRILLS, *(f"dim:{d}" for d in spec.dimensions)]
        raise _bad("drill", drill, f"下钻方式“{drill}”无效，可选：{'、'.join(allowed)}",
                   f"the drill-down {drill!r} is not possible; choose one of {', '.join(allowed)}",
                   allowed=allowed)

    def _entity(self, code: str):
        return self.registry.entities[code]


_KIND_ZH = MappingProxyType({"month": "月", "quarter": "季度", "half_year": "半年", "year": "年"})


def _round(value: Decimal | None, decimals: int) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def parts_member(key: str, parts: Mapping[str, Decimal | None], spec: IndicatorSpec) -> Member:
    """A result row from its exact parts: ratio of sums, or the formula's value, × factor."""
    exact = exact_value(parts, spec)
    value = _round(exact, spec.decimals)
    if "numerator" in parts:
        return Member(key, value, parts.get("numerator"), parts.get("denominator"), exact)
    return Member(key, value, exact=exact)
