"""Indicator values for the dashboards: the snapshot first, live computation
for what it lacks (runtime layer, HTTP edge — the dashboards' data access).

Dashboards read the snapshot table ``yy_indicator_value`` that ``yunying
indicators refresh`` fills (:mod:`yunying.runtime.indicators.snapshot`): all
the cards of a page — every indicator, the period and its 环比 / 同比 base
periods — come from **one** query, a trend from one more, a drill level
from one more. A value the snapshot does not hold (a period never refreshed,
an indicator added since) is computed live by the engine
(:meth:`IndicatorEngine.compute`), so a page is never wrong, only slower.

Values are the displayed ones: × factor, rounded half-up to the
indicator's decimals, with the version that computed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, select

from yunying.platform.org import children
from yunying.platform.tables import indicator_value, org_unit
from yunying.runtime.indicators.periods import Period

__all__ = ["Value", "DashboardValues", "latest_period", "unit_exists"]


@dataclass(frozen=True)
class Value:
    """One indicator value of a unit (or person) and period."""

    value: Decimal | None
    version: int | None = None
    restated: bool = False


_MISSING = Value(None)


def unit_exists(conn: Connection, code: str) -> bool:
    return conn.execute(select(org_unit.c.code).where(org_unit.c.code == code)).first() is not None


def latest_period(conn: Connection, tree: str, indicators: Iterable[str]) -> Period | None:
    """The latest month the snapshot holds a value for (None: an empty snapshot)."""
    t = indicator_value
    codes = list(indicators)
    if not codes:
        return None
    found = conn.execute(select(t.c.period)
                         .where(t.c.tree == tree, t.c.period_kind == "month",
                                t.c.indicator.in_(codes), t.c.value.is_not(None))
                         .order_by(t.c.period.desc()).limit(1)).scalar()
    return Period.parse(found) if found else None


class DashboardValues:
    """The values one dashboard page shows, for one tree: snapshot reads
    (one query per question) with live computation of what is missing."""

    def __init__(self, conn: Connection, engine: Any, tree: str) -> None:
        self.conn = conn
        self.engine = engine
        self.tree = tree

    # -- the snapshot -------------------------------------------------------

    def _snapshot(self, indicators: Sequence[str], units: Sequence[str],
                  periods: Sequence[Period], person: str = "") -> dict[tuple, Value]:
        """(indicator, unit, period code) → Value of the snapshot rows asked for."""
        if not indicators or not units or not periods:
            return {}
        t = indicator_value
        rows = self.conn.execute(
            select(t.c.indicator, t.c.unit, t.c.period, t.c.value, t.c.version)
            .where(t.c.tree == self.tree, t.c.person == person,
                   t.c.indicator.in_(sorted(set(indicators))),
                   t.c.unit.in_(sorted(set(units))),
                   t.c.period.in_(sorted({p.code for p in periods}))))
        return {(r.indicator, r.unit, r.period): Value(self._decimal(r.indicator, r.value),
                                                       r.version)
                for r in rows}

    # -- questions ------------------------------------------------------------

    def totals_of(self, wanted: Sequence[tuple[str, Period]],
                  unit: str) -> dict[tuple[str, str], Value]:
        """(indicator, period code) → the value of ``unit`` (with everything
        below it) for each wanted pair: one snapshot query, live computation
        of what it lacks."""
        pairs = list(dict.fromkeys((code, period) for code, period in wanted))
        found = self._snapshot([c for c, _ in pairs], [unit], [p for _, p in pairs])
        result: dict[tuple[str, str], Value] = {}
        for code, period in pairs:
            value = found.get((code, unit, period.code))
            result[(code, period.code)] = value if value is not None else self._live(
                code, unit, period)
        return result

    def units(self, indicator: str, unit: str, period: Period) -> list[tuple[str, Value]]:
        """The direct children of ``unit`` (tree, period end) with their values."""
        codes = children(self.conn, self.tree, unit, period.end)
        found = self._snapshot([indicator], codes, [period])
        missing = [c for c in codes if (indicator, c, period.code) not in found]
        live = self._live_members(indicator, unit, period, "units") if missing else {}
        return [(c, found.get((indicator, c, period.code)) or live.get(c, _MISSING))
                for c in codes]

    def persons(self, indicator: str, unit: str, period: Period) -> list[tuple[str, Value]]:
        """The persons (doctors) of ``unit``'s rows with their values, by code."""
        t = indicator_value
        rows = self.conn.execute(
            select(t.c.person, t.c.value, t.c.version)
            .where(t.c.tree == self.tree, t.c.indicator == indicator, t.c.unit == unit,
                   t.c.period == period.code, t.c.person != "")
            .order_by(t.c.person)).all()
        if rows:
            return [(r.person, Value(self._decimal(indicator, r.value), r.version))
                    for r in rows]
        live = self._live_members(indicator, unit, period, "persons")
        return sorted(live.items())

    def _decimal(self, indicator: str, value: Any) -> Decimal | None:
        """A stored value at the indicator's decimals (the column keeps ten)."""
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        places = Decimal(1).scaleb(-self.engine.spec(indicator).decimals)
        return number.quantize(places, rounding=ROUND_HALF_UP)

    # -- live computation -------------------------------------------------------

    def _live(self, indicator: str, unit: str, period: Period) -> Value:
        result = self.engine.compute(self.conn, indicator, unit, period, tree=self.tree)
        return Value(result.total.value, result.version, result.restated)

    def _live_members(self, indicator: str, unit: str, period: Period,
                      drill: str) -> dict[str, Value]:
        result = self.engine.compute(self.conn, indicator, unit, period, tree=self.tree,
                                     drill=drill)
        return {m.key: Value(m.value, result.version, result.restated)
                for m in result.members if m.key and m.key != unit}


