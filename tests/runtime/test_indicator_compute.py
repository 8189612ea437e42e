"""The indicator engine on hand-computed values: ratio of sums at every level,
drill-downs that reconcile, versions and restatement, references and period
functions, time rollups, and located refusals (SQLite and PostgreSQL).

Rows: see ``indicator_helpers`` (VISITS, DISCHARGES); every expected value
below is worked out from them in the comment next to it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from yunying.metadata.indicators import IndicatorDefinition, IndicatorVersion
from yunying.platform.errors import InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.indicators.periods import Period
from yunying.runtime.registry import Registry
from tests.runtime.indicator_helpers import TODAY, world  # noqa: F401  (fixture)

D = Decimal
MARCH = Period.parse("2025-03")


def _compute(world, code, period=MARCH, unit="HOSP", **kw):
    with world.db.connect() as conn:
        return world.engine.compute(conn, code, unit, Period.parse(period) if isinstance(
            period, str) else period, today=TODAY, **kw)


def _values(computation):
    return {m.key: m.value for m in computation.members}


def _with(world, *specs, entities=None) -> IndicatorEngine:
    """An engine over the installed packages with extra/changed indicators (and entities)."""
    pkg = world.registry.packages["ind"]
    extra = {s.code: s for s in specs}
    indicators = tuple(extra.pop(s.code, s) for s in pkg.indicators) + tuple(extra.values())
    pkg = replace(pkg, indicators=indicators, entities=entities or pkg.entities)
    packages = [p for code, p in world.registry.packages.items() if code != "ind"] + [pkg]
    return IndicatorEngine(Registry.from_packages(packages), world.engine.dialect)


def _formula(world, code, formula, **kw):
    base = world.registry.indicators["ind.visits"]
    version = IndicatorVersion(1, date(2020, 1, 1), IndicatorDefinition(Text(code, code)),
                               formula=formula)
    return replace(base, code=code, label=Text(code, code), versions=(version,), **kw)


# --- ratio of sums at every level -------------------------------------------

def test_ratio_of_sums_at_hospital_department_and_doctor(world):
    # March 2025 visits: CARD 100, 200; CARD-W1 300.50; ORTH 50; HOSP itself 10
    hosp = _compute(world, "ind.avg_fee", drill="units")
    assert (hosp.total.value, hosp.total.numerator, hosp.total.denominator) == (
        D("132.10"), D("660.5"), D("5"))                        # 660.50 / 5
    assert [m.key for m in hosp.members] == ["CARD", "ORTH", "PHARM", "HOSP"]
    assert _values(hosp) == {"CARD": D("200.17"),               # 600.50 / 3, CARD-W1 rolled up
                             "ORTH": D("50.00"), "PHARM": None,  # PHARM: no visits, 0 / 0
                             "HOSP": D("10.00")}                # the hospital's own row
    card = _compute(world, "ind.avg_fee", unit="CARD", drill="persons")
    assert card.total.value == D("200.17")                      # not (150 + 300.50) / 2 = 225.25
    assert _values(card) == {"d1": D("150.00"), "d2": D("300.50")}   # 300 / 2, 300.50 / 1
    ward = _compute(world, "ind.avg_fee", unit="CARD-W1", drill="units")
    assert ward.total.value == D("300.50") and _values(ward) == {"CARD-W1": D("300.50")}


@pytest.mark.parametrize("drill", ["units", "persons", "dim:payer"])
def test_drill_downs_reconcile_with_the_total(world, drill):
    found = _compute(world, "ind.avg_fee", drill=drill)
    assert sum(m.numerator for m in found.members) == found.total.numerator == D("660.5")
    assert sum(m.denominator for m in found.members) == found.total.denominator == 5


def test_drill_by_person_and_by_dimension(world):
    persons = _compute(world, "ind.avg_fee", drill="persons")
    assert _values(persons) == {"d1": D("150.00"), "d2": D("300.50"), "d3": D("50.00"),
                                "d4": D("10.00")}
    payer = _compute(world, "ind.avg_fee", drill="dim:payer")
    # A: 100 + 300.50 + 50 over 3; B: 200; no payer (V5): 10
    assert _values(payer) == {"A": D("150.17"), "B": D("200.00"), "": D("10.00")}


def test_percent_type_applies_its_factor(world):
    # Dec 2024 discharges: surgery C1 only, of C1, C2, C3
    found = _compute(world, "ind.surgery_ratio", "2024-12", drill="units")
    assert found.total.value == D("33.33") and found.total.numerator == 1
    assert _values(found) == {"CARD": D("50.00"), "ORTH": D("0.00"), "PHARM": None}


def test_a_plain_formula_and_rounding_to_its_decimals(world):
    found = _compute(world, "ind.visits", drill="units")
    assert found.total.value == D("5") and found.total.numerator is None
    assert _values(found) == {"CARD": D("3"), "ORTH": D("1"), "PHARM": D("0"), "HOSP": D("1")}


# --- versions ------------------------------------------------------------------

def test_each_period_uses_the_version_in_force_on_its_first_day(world):
    dec = _compute(world, "ind.avg_los", "2024-12")
    assert (dec.version, dec.restated, dec.total.value) == (1, False, D("7.00"))  # (10+4+7)/3
    assert dec.label.zh == "按 2020-01-01 起的第 1 版口径"
    jan = _compute(world, "ind.avg_los", "2025-01")
    assert (jan.version, jan.total.value) == (2, D("4.50"))       # no surgery: (6+3)/2
    assert jan.label.en == "by version 2, in force from 2025-01-01"
    with world.db.connect() as conn:
        series = world.engine.series(conn, "ind.avg_los", "HOSP", Period.parse("2024-12"),
                                     Period.parse("2025-01"), today=TODAY)
    assert [(c.period.code, c.version, c.total.value) for c in series] == [
        ("2024-12", 1, D("7.00")), ("2025-01", 2, D("4.50"))]


def test_restated_history_uses_the_current_version_and_says_so(world):
    dec = _compute(world, "ind.avg_los", "2024-12", restate=True)
    assert (dec.version, dec.restated, dec.total.value) == (2, True, D("5.50"))   # (4+7)/2
    assert dec.label.zh.startswith("以现行第 2 版口径重算")
    jan = _compute(world, "ind.avg_los", "2025-01", restate=True)
    assert (jan.version, jan.restated, jan.total.value) == (2, False, D("4.50"))


def test_a_period_before_the_first_version_uses_it_labelled(world):
    found = _compute(world, "ind.avg_los", "2019-06")
    assert found.version == 1 and found.total.value is None       # no discharges: 0 / 0
    assert "早于" in found.label.zh and "before" in found.label.en


# --- references and period functions -------------------------------------------

def test_lastyear_growth_per_member(world):
    # avg_fee Mar 2024: (80 + 120) / 2 = 100; Mar 2025: 660.50 / 5 = 132.10
    found = _compute(world, "ind.avg_fee_growth", drill="units")
    assert found.total.value == D("32.10")
    assert _values(found) == {
        "CARD": D("150.21"),       # (600.50/3 − 80) / 80 × 100 = 150.2083…
        "ORTH": D("-58.33"),       # (50 − 120) / 120 × 100
        "PHARM": None, "HOSP": None}  # no base last year


def test_prev_and_ytd(world):
    engine = _with(world, _formula(world, "visits_delta", "@visits - PREV(@visits)"),
                   _formula(world, "visits_ytd", "YTD(@visits)"),
                   _formula(world, "fee_ytd", "YTD(@avg_fee)", decimals=2))
    with world.db.connect() as conn:
        delta = engine.compute(conn, "ind.visits_delta", "HOSP", MARCH, drill="units")
        ytd = engine.compute(conn, "ind.visits_ytd", "HOSP", MARCH)
        fee = engine.compute(conn, "ind.fee_ytd", "HOSP", MARCH)
    assert delta.total.value == 4                                 # 5 in March − 1 in February
    assert {m.key: m.value for m in delta.members} == {
        "CARD": 3, "ORTH": 0, "PHARM": 0,
        "HOSP": None}                # the hospital's own rows: none in February, so no base
    assert ytd.total.value == 6                                   # February 1 + March 5
    assert fee.total.value == D("121.75")                         # (70 + 660.50) / 6, not a mean of months


# --- time rollups ----------------------------------------------------------------

def test_time_rollup_last_and_average(world):
    visits = world.registry.indicators["ind.visits"]
    engine = _with(world, replace(visits, code="visits_last", time_rollup="last"),
                   replace(visits, code="visits_avg", time_rollup="average", decimals=2))
    q1 = Period.parse("2025-Q1")
    with world.db.connect() as conn:
        total = world.engine.compute(conn, "ind.visits", "HOSP", q1)
        last = engine.compute(conn, "ind.visits_last", "HOSP", q1, drill="units")
        average = engine.compute(conn, "ind.visits_avg", "HOSP", q1, drill="units")
    assert total.total.value == 6                                 # February 1 + March 5
    assert last.total.value == 5                                  # March only
    assert average.total.value == D("2.00")                       # (0 + 1 + 5) / 3
    assert {m.key: m.value for m in average.members} == {
        "CARD": D("1.00"), "ORTH": D("0.67"), "PHARM": D("0.00"),  # ORTH (0 + 1 + 1) / 3
        "HOSP": D("1.00")}                                         # March only: its one month


# --- refusals --------------------------------------------------------------------

def test_unknown_indicator_and_unit_are_not_found(world):
    with pytest.raises(NotFound) as caught:
        _compute(world, "ind.nope")
    assert caught.value.details["field"] == "indicator"
    with pytest.raises(NotFound) as caught:
        _compute(world, "ind.avg_fee", unit="NOPE")
    assert caught.value.details["field"] == "unit"


@pytest.mark.parametrize("kw, field", [
    ({"tree": "nope"}, "tree"),
    ({"drill": "dim:fee"}, "drill"),
    ({"drill": "doctors"}, "drill"),
])
def test_bad_requests_are_located(world, kw, field):
    with pytest.raises(InvalidQuery) as caught:
        _compute(world, "ind.avg_fee", **kw)
    assert caught.value.details["field"] == field
    assert caught.value.message.zh and caught.value.message.en


def test_drill_to_persons_needs_a_person_dimension(world):
    pkg = world.registry.packages["ind"]
    entities = tuple(replace(e, person_dimension=None) if e.code == "visit" else e
                     for e in pkg.entities)
    engine = _with(world, entities=entities)
    assert engine.drills("ind.avg_fee") == ("units", "dim:payer")
    with world.db.connect() as conn, pytest.raises(InvalidQuery) as caught:
        engine.compute(conn, "ind.avg_fee", "HOSP", MARCH, drill="persons")
    assert caught.value.details["field"] == "drill"
    assert "ind.visit" in caught.value.message.zh


def test_a_period_finer_than_the_indicator_is_refused(world):
    engine = _with(world, replace(world.registry.indicators["ind.visits"], period="quarter"))
    with world.db.connect() as conn:
        with pytest.raises(InvalidQuery) as caught:
            engine.compute(conn, "ind.visits", "HOSP", MARCH)
        assert caught.value.details == {"field": "period", "value": "2025-03"}
        assert engine.compute(conn, "ind.visits", "HOSP", Period.parse("2025-Q1")).total.value == 6


def test_drills_offered(world):
    assert world.engine.drills("ind.avg_fee") == ("units", "persons", "dim:payer")
    assert world.engine.drills("ind.avg_fee_growth") == ("units", "persons")
