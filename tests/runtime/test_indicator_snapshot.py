"""The indicator snapshot: refresh (idempotent, incremental by period, versions
recorded) and the reads the dashboards use (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update

from yunying.platform.tables import indicator_value
from yunying.runtime.container import Services
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.indicators.periods import Period
from yunying.runtime.indicators.snapshot import (
    read_cards, read_series, read_snapshot, refresh, tree_roots,
)
from tests.runtime.indicator_helpers import TODAY, world  # noqa: F401  (fixture)

D = Decimal
FEB, MARCH = Period.parse("2025-02"), Period.parse("2025-03")
T1, T2, T3, T4 = (datetime(2026, 2, d, 9, 0) for d in (1, 2, 3, 4))


def _refresh(world, periods, indicators=("ind.avg_fee",), **kw):
    lines: list[str] = []
    with world.db.begin(write=True) as conn:
        report = refresh(conn, world.engine, world.registry, periods=periods,
                         indicators=list(indicators) if indicators else None, today=TODAY,
                         progress=lines.append, **kw)
    return report, lines


def _rows(world) -> int:
    with world.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(indicator_value)).scalar()


def _touch(world, entity, key_field, key, at, **values):
    table = world.table(entity)
    with world.db.begin(write=True) as conn:
        conn.execute(update(table).where(table.c[key_field] == key)
                     .values(updated_at=at, **values))


def test_refresh_stores_every_unit_and_person(world):
    report, lines = _refresh(world, [MARCH], now=T1)
    # units HOSP, CARD, CARD-W1, ORTH, PHARM (5 totals) + persons: HOSP d1–d4, CARD d1 d2,
    # CARD-W1 d2, ORTH d3 (8)
    assert (report.indicators, report.periods, report.written, report.skipped) == (1, 1, 13, 0)
    assert lines == ["ind.avg_fee 2025-03: 13 values"]
    with world.db.connect() as conn:
        hosp = read_snapshot(conn, "ind.avg_fee", "cost", MARCH, "HOSP", members="units")
        card = read_snapshot(conn, "ind.avg_fee", "cost", MARCH, "CARD", members="persons")
        missing = read_snapshot(conn, "ind.avg_fee", "cost", FEB, "HOSP")
    assert (hosp.total.value, hosp.total.numerator, hosp.total.denominator) == (
        D("132.10"), D("660.5"), D("5"))
    assert (hosp.version, hosp.computed_at) == (1, T1)
    assert {m.key: m.value for m in hosp.members} == {
        "CARD": D("200.17"), "ORTH": D("50.00"), "PHARM": None}
    assert {m.key: m.value for m in card.members} == {"d1": D("150.00"), "d2": D("300.50")}
    assert missing.total is None and missing.members == ()


def test_refresh_is_idempotent_and_incremental_by_period(world):
    first, _ = _refresh(world, [FEB, MARCH], now=T1)
    assert (first.written, first.skipped) == (20, 0)        # February: 5 units + HOSP d3, ORTH d3
    again, lines = _refresh(world, [FEB, MARCH], now=T2)
    assert (again.written, again.skipped) == (0, 2)
    assert lines == ["ind.avg_fee 2025-02: up to date", "ind.avg_fee 2025-03: up to date"]
    _touch(world, "ind.visit", "visit_no", "V4", T3, fee=D("150"))    # a March row changes
    changed, lines = _refresh(world, [FEB, MARCH], now=T4)
    assert (changed.written, changed.skipped) == (13, 1)
    assert lines == ["ind.avg_fee 2025-02: up to date", "ind.avg_fee 2025-03: 13 values"]
    with world.db.connect() as conn:
        orth = read_snapshot(conn, "ind.avg_fee", "cost", MARCH, "ORTH")
        feb = read_snapshot(conn, "ind.avg_fee", "cost", FEB, "ORTH")
    assert (orth.total.value, orth.computed_at) == (D("150.00"), T4)
    assert feb.computed_at == T1
    full, _ = _refresh(world, [FEB, MARCH], now=T4, full=True)
    assert (full.written, full.skipped) == (20, 0)
    assert _rows(world) == 20                                # replaced, not duplicated


def test_references_make_last_year_rows_count(world):
    indicators = ("ind.avg_fee", "ind.avg_fee_growth")
    _refresh(world, [MARCH], indicators, now=T1)
    _touch(world, "ind.visit", "visit_no", "V9", T3, fee=D("320"))     # March 2024, ORTH
    report, lines = _refresh(world, [MARCH], indicators, now=T4)
    assert lines == ["ind.avg_fee 2025-03: up to date", "ind.avg_fee_growth 2025-03: 13 values"]
    with world.db.connect() as conn:
        growth = read_snapshot(conn, "ind.avg_fee_growth", "cost", MARCH, "HOSP")
    assert growth.total.value == D("-33.95")       # 132.10 vs (80 + 320) / 2 = 200 (was 32.10)
    assert growth.computed_at == T4


def test_snapshot_records_the_version_that_computed_each_period(world):
    periods = [Period.parse("2024-12"), Period.parse("2025-01")]
    _refresh(world, periods, ("ind.avg_los",), now=T1)
    with world.db.connect() as conn:
        series = read_series(conn, "ind.avg_los", "cost", "HOSP",
                             [Period.parse("2024-11"), *periods])
    assert [(s.period.code, s.version, s.total.value if s.total else None) for s in series] == [
        ("2024-11", None, None), ("2024-12", 1, D("7.00")), ("2025-01", 2, D("4.50"))]


def test_cards_read_many_indicators_at_once(world):
    report, _ = _refresh(world, [MARCH], None, now=T1)
    assert report.indicators == len(world.registry.indicators)
    with world.db.connect() as conn:
        cards = read_cards(conn, "cost", MARCH, "HOSP")
        roots = tree_roots(conn, "cost", MARCH.end)
    assert roots == ["HOSP"]
    assert cards["ind.avg_fee"].total.value == D("132.10")
    assert cards["ind.visits"].total.value == 5
    assert cards["ind.avg_fee_growth"].total.value == D("32.10")
    assert set(cards) == set(world.registry.indicators)


def test_the_runtime_carries_an_indicator_engine(world):
    services = Services(world.db, {})
    runtime = services.runtime()
    assert isinstance(runtime.indicators, IndicatorEngine)
    assert runtime.indicators.registry is runtime.registry
    with world.db.connect() as conn:
        found = runtime.indicators.compute(conn, "ind.avg_fee", "HOSP", MARCH, today=TODAY)
    assert found.total.value == D("132.10")
