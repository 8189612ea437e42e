"""The snapshot refresh computes every unit and person at once (two queries per
indicator and period, :mod:`yunying.runtime.indicators.bulk`): its stored values
equal ``compute()`` unit by unit — ratios, plain and multi-entity formulas,
references (LASTYEAR, PREV, YTD), versions, time rollups ``last`` and
``average``, a tree changed mid-way — and the SQLite SUM of an integer field is
exact (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from yunying.platform import org
from yunying.platform.errors import InvalidQuery
from yunying.platform.org import OrgNotFound
from yunying.platform.tables import indicator_value, org_edge
from yunying.runtime.indicators.periods import PERIOD_KINDS, Period
from yunying.runtime.indicators.snapshot import refresh
from tests.runtime.indicator_helpers import TODAY, insert_discharges, world  # noqa: F401
from tests.runtime.test_indicator_compute import _formula, _with

D = Decimal
PERIODS = [Period.parse(p) for p in ("2024-03", "2024-12", "2025-01", "2025-02", "2025-03",
                                     "2025-Q1", "2025-H1", "2025")]


def _engine(world):
    visits = world.registry.indicators["ind.visits"]
    return _with(world,
                 replace(visits, code="visits_last", time_rollup="last"),
                 replace(visits, code="visits_avg", time_rollup="average", decimals=2),
                 _formula(world, "visits_delta", "@visits - PREV(@visits)"),
                 _formula(world, "fee_ytd", "YTD(@avg_fee)", decimals=2),
                 _formula(world, "visits_per_case", "COUNT(visit) / COUNT(discharge)",
                          decimals=4),
                 _formula(world, "fee_max", "MAX(visit.fee) + AVG(discharge.los_days)",
                          decimals=2))


def _stored(conn) -> dict:
    return {(r.indicator, r.period, r.unit, r.person): (r.value, r.numerator, r.denominator)
            for r in conn.execute(select(indicator_value))}


def _same(stored, member) -> bool:
    """Equal at the snapshot column's scale (SQLite keeps it as REAL)."""
    return all((a is None) == (b is None) and (a is None or float(a) == float(b))
               for a, b in zip(stored, (member.value, member.numerator, member.denominator)))


def _check_every_value(world, engine) -> int:
    """Refresh everything, then compute() each stored unit; returns how many compared."""
    with world.db.begin(write=True) as conn:
        refresh(conn, engine, engine.registry, periods=PERIODS, today=TODAY, full=True)
    compared = 0
    with world.db.connect() as conn:
        stored = _stored(conn)
        units = sorted({key[2] for key in stored})
        assert units == ["CARD", "CARD-W1", "HOSP", "ORTH", "PHARM"]
        for code in sorted(engine.registry.indicators):
            drill = "persons" if "persons" in engine.drills(code) else None
            spec = engine.spec(code)
            for period in PERIODS:
                if PERIOD_KINDS[period.kind] < PERIOD_KINDS[spec.period]:
                    continue
                expected = {}
                for unit in units:
                    done = engine.compute(conn, code, unit, period, drill=drill, today=TODAY)
                    expected[(code, period.code, unit, "")] = done.total
                    expected.update({(code, period.code, unit, m.key): m
                                     for m in done.members if m.key})
                mine = {k: v for k, v in stored.items() if k[:2] == (code, period.code)}
                assert set(mine) == set(expected), (code, period.code)
                for key, member in expected.items():
                    assert _same(mine[key], member), (key, mine[key], member)
                compared += len(expected)
    return compared


def test_refresh_equals_compute_for_every_unit_and_person(world):
    engine = _engine(world)
    assert _check_every_value(world, engine) > 500
    with world.db.connect() as conn:
        stored = _stored(conn)
    # spot checks worked out by hand (indicator_helpers): March 2025
    assert stored[("ind.avg_fee", "2025-03", "CARD", "d2")][0] == D("300.50")
    assert stored[("ind.avg_fee_growth", "2025-03", "ORTH", "")][0] == D("-58.33")
    assert stored[("ind.visits_avg", "2025-Q1", "ORTH", "")][0] == D("0.67")
    assert stored[("ind.visits_last", "2025-Q1", "HOSP", "")][0] == 5
    assert stored[("ind.avg_los", "2025-01", "HOSP", "")][0] == D("4.50")   # version 2


def test_refresh_follows_the_tree_of_each_period(world):
    # from 2025-03-01 the ward CARD-W1 moves from CARD to ORTH: February keeps the old tree
    with world.db.begin(write=True) as conn:
        conn.execute(update(org_edge).where(org_edge.c.child_code == "CARD-W1")
                     .values(valid_to=date(2025, 3, 1)))
        org.add_edge(conn, "cost", "ORTH", "CARD-W1", date(2025, 3, 1))
    engine = _engine(world)
    assert _check_every_value(world, engine) > 500
    with world.db.connect() as conn:
        stored = _stored(conn)
    assert stored[("ind.avg_fee", "2025-03", "ORTH", "")][2] == 2        # V3 (ward) + V4
    assert stored[("ind.avg_fee", "2025-03", "CARD", "")][2] == 2        # V1, V2


def test_sqlite_sum_of_an_integer_field_is_exact(world):
    # bed days summing past 32 bits (an INTEGER column holds each; the sum is exact)
    big = 2**31 - 1
    with world.db.begin(write=True) as conn:
        insert_discharges(conn, world, [
            ("C7", date(2025, 3, 3), "CARD", "d1", "A", big, False, "1"),
            ("C8", date(2025, 3, 4), "CARD", "d1", "A", big, False, "1"),
            ("C9", date(2025, 3, 5), "ORTH", "d3", "A", 1, False, "1")])
    with world.db.connect() as conn:
        found = world.engine.compute(conn, "ind.avg_los", "HOSP", Period.parse("2025-03"),
                                     drill="units", today=TODAY)
    assert found.total.numerator == 2 * big + 1 and found.total.denominator == 3
    assert found.member("CARD").numerator == 2 * big
    assert found.member("ORTH").numerator == 1


def test_refresh_of_an_unknown_root_or_tree_is_located(world):
    with world.db.begin(write=True) as conn, pytest.raises(OrgNotFound) as missing:
        refresh(conn, world.engine, world.registry, periods=[PERIODS[0]], root="NOPE",
                today=TODAY)
    assert missing.value.details["field"] == "unit"
    with world.db.begin(write=True) as conn, pytest.raises(InvalidQuery) as bad:
        refresh(conn, world.engine, world.registry, periods=[PERIODS[0]], tree="nope",
                today=TODAY)
    assert bad.value.details["field"] == "tree"
    with world.db.connect() as conn:
        assert conn.execute(select(indicator_value)).first() is None


def test_sqlite_sums_integer_fields_natively_and_money_exactly(world, dialect):
    from yunying.runtime.formula.aggregate_sql import compile_aggregates
    from yunying.runtime.indicators.evaluation import labelled
    from yunying.runtime.indicators.sources import entity_source

    def sql(code: str) -> str:
        spec = world.registry.indicators[code]
        checked = world.engine.evaluator.checked(spec, spec.versions[0])
        sources = {e: entity_source(world.registry, e, None, None) for e in checked.entities}
        query = compile_aggregates(labelled(checked), sources, dialect=dialect, today=TODAY,
                                   now=datetime(2026, 6, 1))
        return str(query.compile(world.db.engine)).lower()

    los, fee = sql("ind.avg_los"), sql("ind.avg_fee")   # SUM(los_days), SUM(fee)
    if dialect == "sqlite":
        assert "yyf_sum" not in los and "sum(" in los        # integer: native, exact
        assert "yyf_sum(" in fee                             # money: the exact Python sum
    else:
        assert "sum(" in los and "sum(" in fee               # numeric: exact in PostgreSQL
