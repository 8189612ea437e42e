"""The indicator snapshot: stored values for the dashboards, and their refresh (runtime layer).

``refresh`` computes, for every indicator × period, the value of the root
unit, of every unit below it in the tree (as of the period's end) and of
every person within each unit, and stores them in ``yy_indicator_value``
(person ``''`` = the unit's total) with the version that computed them.

- **Idempotent**: an (indicator, period)'s rows for those units are replaced
  in one go; running twice leaves the same rows.
- **Incremental**: an (indicator, period) is skipped when its snapshot was
  computed after the newest ``updated_at`` of the source rows it reads (its
  entities, over its date ranges, through its references too) and by the
  version in force now. Deleted rows and org-tree changes leave no
  ``updated_at`` behind: refresh with ``full`` after those.

The read functions answer the dashboards: one unit's value and its members
(child units or persons), the cards of many indicators, a trend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from sqlalchemy import Connection, and_, delete, func, insert, or_, select

from yunying.metadata.indicators import IndicatorSpec
from yunying.platform.context import utcnow
from yunying.platform.tables import indicator_value, org_edge
from yunying.runtime.indicators.bulk import BulkEvaluator
from yunying.runtime.indicators.compute import IndicatorEngine, Member, parts_member
from yunying.runtime.indicators.evaluation import version_for
from yunying.runtime.indicators.periods import PERIOD_KINDS, Period
from yunying.runtime.indicators.reach import source_ranges
from yunying.runtime.indicators.sources import require_tree, require_unit, rollup, tree_edges
from yunying.runtime.registry import Registry

__all__ = ["RefreshReport", "Snapshot", "refresh", "read_snapshot", "read_cards", "read_series",
           "tree_roots"]

_V = indicator_value


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: (indicator, period) pairs computed or skipped, rows written."""

    periods: int
    indicators: int
    written: int
    skipped: int
    seconds: float


@dataclass(frozen=True)
class Snapshot:
    """Stored values of one indicator, unit and period; ``total`` is None when missing."""

    indicator: str
    tree: str
    period: Period
    unit: str
    version: int | None
    computed_at: datetime | None
    total: Member | None
    members: tuple[Member, ...] = ()


def tree_roots(conn: Connection, tree: str, as_of: date) -> list[str]:
    """The units at the top of ``tree`` on ``as_of`` (parents that are no one's child)."""
    active = and_(org_edge.c.tree_code == tree, org_edge.c.valid_from <= as_of,
                  or_(org_edge.c.valid_to.is_(None), org_edge.c.valid_to > as_of))
    rows = conn.execute(select(org_edge.c.parent_code, org_edge.c.child_code).where(active)).all()
    children = {child for _, child in rows}
    return sorted({parent for parent, _ in rows} - children)


def refresh(conn: Connection, engine: IndicatorEngine, registry: Registry, *,
            periods: Sequence[Period], indicators: Sequence[str] | None = None,
            tree: str = "cost", root: str | None = None, full: bool = False,
            progress: Callable[[str], None] | None = None, now: datetime | None = None,
            today: date | None = None) -> RefreshReport:
    """Compute and store the snapshot for ``periods`` × ``indicators`` (default: all).

    ``root`` defaults to the top unit(s) of ``tree``; ``full`` recomputes
    even what looks fresh; ``progress`` receives one line per (indicator,
    period); ``now`` stamps ``computed_at`` (default: UTC now). Periods finer
    than an indicator's own period are not applicable to it and left out.
    Raises what :meth:`IndicatorEngine.compute` raises (unknown indicator …).
    Each (indicator, period) is two queries for all units (:mod:`.bulk`).
    """
    started = time.perf_counter()
    stamp = now or utcnow()
    specs = [engine.spec(code) for code in (indicators or sorted(registry.indicators))]
    require_tree(conn, tree)
    if root:
        require_unit(conn, root)
    day = today or date.today()
    bulks: dict[tuple[str, ...], BulkEvaluator] = {}   # by units: shared while the tree stays
    written = skipped = 0
    for spec in specs:
        for period in periods:
            if PERIOD_KINDS[period.kind] < PERIOD_KINDS[spec.period]:
                continue
            roots = [root] if root else tree_roots(conn, tree, period.end)
            if not full and _fresh(conn, engine, spec, period, tree, roots):
                skipped += 1
                _say(progress, f"{spec.qualified_code} {period.code}: up to date")
                continue
            bulk = _bulk(conn, engine, tree, roots, period.end, day, bulks)
            count = _store(conn, engine, bulk, spec, period, stamp)
            written += count
            _say(progress, f"{spec.qualified_code} {period.code}: {count} values")
    return RefreshReport(periods=len(periods), indicators=len(specs), written=written,
                         skipped=skipped, seconds=time.perf_counter() - started)


def _bulk(conn: Connection, engine: IndicatorEngine, tree: str, roots: Sequence[str],
          as_of: date, today: date,
          known: dict[tuple[str, ...], BulkEvaluator]) -> BulkEvaluator:
    """The evaluator of every unit below ``roots`` on ``as_of`` (one already made
    for the same units is reused: it has computed references of other periods)."""
    edges = tree_edges(conn, tree, as_of)
    units = tuple(dict.fromkeys(u for r in roots for u in edges.rollup(r).units))
    found = known.get(units)
    if found is None:
        found = known[units] = BulkEvaluator(engine.evaluator, conn, tree, units, today,
                                             datetime.combine(today, datetime.min.time()))
    return found


def _say(progress: Callable[[str], None] | None, line: str) -> None:
    if progress is not None:
        progress(line)


def _fresh(conn: Connection, engine: IndicatorEngine, spec: IndicatorSpec, period: Period,
           tree: str, roots: Sequence[str]) -> bool:
    """The stored totals of ``roots`` are newer than every source row and of today's version."""
    if not roots:
        return True
    stored = conn.execute(select(func.min(_V.c.computed_at), func.min(_V.c.version),
                                 func.max(_V.c.version), func.count())
                          .where(_V.c.indicator == spec.qualified_code, _V.c.tree == tree,
                                 _V.c.period == period.code, _V.c.unit.in_(roots),
                                 _V.c.person == "")).one()
    computed_at, low, high, count = stored
    version = version_for(spec, period, False).version
    if count != len(roots) or low != version or high != version:
        return False
    newest = _newest_update(conn, engine, spec, period)
    return newest is None or computed_at > newest


def _newest_update(conn: Connection, engine: IndicatorEngine, spec: IndicatorSpec,
                   period: Period) -> datetime | None:
    newest: datetime | None = None
    for entity, start, end in source_ranges(engine, spec, period):
        tables, entity_spec = engine.registry.tables(entity), engine.registry.entity(entity)
        if tables is None or entity_spec is None or entity_spec.date_dimension is None:
            continue
        column = tables.table.c[entity_spec.date_dimension]
        found = conn.execute(select(func.max(tables.table.c.updated_at))
                             .where(column >= start, column <= end)).scalar()
        if found is not None and (newest is None or found > newest):
            newest = found
    return newest


def _store(conn: Connection, engine: IndicatorEngine, bulk: BulkEvaluator,
           spec: IndicatorSpec, period: Period, stamp: datetime) -> int:
    """Replace the rows of every unit of ``bulk`` for one indicator and period."""
    code, units = spec.qualified_code, bulk.units
    if engine.evaluator.mixed(spec):     # aggregates and references: unit by unit, totals
        found = {(u, None): engine.compute(conn, code, u, period, tree=bulk.tree,
                                           today=bulk.today).total for u in units}
    else:
        persons = "persons" in engine.drills(code)
        found = {key: parts_member(key[1] or "", parts, spec) for key, parts in
                 bulk.parts(spec, period, persons=persons).items() if key[1] != ""}
    version = version_for(spec, period, False).version
    common = {"indicator": code, "tree": bulk.tree, "period": period.code,
              "period_kind": period.kind, "version": version, "computed_at": stamp}
    order = {unit: i for i, unit in enumerate(units)}
    rows = [_row(common, unit, person or "", member) for (unit, person), member in
            sorted(found.items(), key=lambda item: (order.get(item[0][0], len(order)),
                                                    item[0][1] or ""))
            if unit in order]
    conn.execute(delete(_V).where(_V.c.indicator == code, _V.c.tree == bulk.tree,
                                  _V.c.period == period.code, _V.c.unit.in_(units)))
    if rows:
        conn.execute(insert(_V), rows)
    return len(rows)


def _row(common: dict, unit: str, person: str, member: Member) -> dict:
    return {**common, "unit": unit, "person": person, "value": member.value,
            "numerator": member.numerator, "denominator": member.denominator}


# --- reading -------------------------------------------------------------------

def _number(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _member(row, key: str) -> Member:
    return Member(key, _number(row.value), _number(row.numerator), _number(row.denominator))


def read_snapshot(conn: Connection, indicator: str, tree: str, period: Period, unit: str, *,
                  members: str | None = None) -> Snapshot:
    """The stored value of ``unit`` and, with ``members`` = ``units`` | ``persons``, of
    its direct child units in ``tree`` (as of the period's end) or its persons."""
    base = select(_V).where(_V.c.indicator == indicator, _V.c.tree == tree,
                            _V.c.period == period.code)
    total = conn.execute(base.where(_V.c.unit == unit, _V.c.person == "")).first()
    found: list[Member] = []
    if members == "persons":
        rows = conn.execute(base.where(_V.c.unit == unit, _V.c.person != "")
                            .order_by(_V.c.person)).all()
        found = [_member(r, r.person) for r in rows]
    elif members == "units":
        children = rollup(conn, tree, unit, period.end).children
        rows = conn.execute(base.where(_V.c.unit.in_(children), _V.c.person == "")
                            .order_by(_V.c.unit)).all()
        found = [_member(r, r.unit) for r in rows]
    return Snapshot(indicator, tree, period, unit,
                    version=total.version if total else None,
                    computed_at=total.computed_at if total else None,
                    total=_member(total, "") if total else None, members=tuple(found))


def read_cards(conn: Connection, tree: str, period: Period, unit: str,
               indicators: Iterable[str] | None = None) -> dict[str, Snapshot]:
    """The stored totals of ``unit`` for many indicators at once (dashboard cards)."""
    query = select(_V).where(_V.c.tree == tree, _V.c.period == period.code, _V.c.unit == unit,
                             _V.c.person == "")
    if indicators is not None:
        query = query.where(_V.c.indicator.in_(list(indicators)))
    return {r.indicator: Snapshot(r.indicator, tree, period, unit, r.version, r.computed_at,
                                  _member(r, ""))
            for r in conn.execute(query.order_by(_V.c.indicator))}


def read_series(conn: Connection, indicator: str, tree: str, unit: str,
                periods: Sequence[Period], *, person: str = "") -> tuple[Snapshot, ...]:
    """The stored values of ``unit`` (or one of its persons) for each of ``periods``, in
    order; a period missing from the snapshot has ``total`` None."""
    rows = conn.execute(select(_V).where(
        _V.c.indicator == indicator, _V.c.tree == tree, _V.c.unit == unit,
        _V.c.person == person, _V.c.period.in_([p.code for p in periods]))).all()
    by_period = {r.period: r for r in rows}
    result = []
    for period in periods:
        r = by_period.get(period.code)
        result.append(Snapshot(indicator, tree, period, unit, r.version if r else None,
                               r.computed_at if r else None, _member(r, person) if r else None))
    return tuple(result)
