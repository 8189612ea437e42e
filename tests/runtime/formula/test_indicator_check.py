"""Indicator formulas checked in indicator mode (indicator_check, indicator_graph):
one version for the engine, the dependency graph, and the package check's
located issues (unknown_indicator, ratio_with_reference, unknown_dimension,
indicator_cycle, formula_*)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from yunying.metadata.loader import load_packages
from yunying.platform.errors import InvalidPackage
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate_aggregate
from yunying.runtime.formula.indicator_check import (CheckedVersion, IndicatorGraph,
                                                     check_indicator_version, indicator_context,
                                                     indicator_graph, known_indicators)
from yunying.runtime.formula.indicator_refs import IndicatorRef
from yunying.runtime.formula.package_check import FORMULA_CHECKS

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ROOT / "tests" / "fixtures" / "packages"
SMALL = PACKAGES / "indicators_small"
BASE = ROOT / "yunying" / "modules" / "base"
TODAY, NOW = date(2025, 3, 15), datetime(2025, 3, 15, 8, 0)


@pytest.fixture(scope="module")
def loaded():
    packages = load_packages([BASE, SMALL], checks=FORMULA_CHECKS)
    entities = {e.qualified_code: e for p in packages for e in p.entities}
    indicators = {i.qualified_code: i for p in packages for i in p.indicators}
    return entities, indicators


def _issues(*paths) -> list:
    with pytest.raises(InvalidPackage) as caught:
        load_packages([BASE, *paths], checks=FORMULA_CHECKS)
    return list(caught.value.issues)


# -- one version, for the engine ------------------------------------------------------

def test_a_formula_version_has_qualified_references(loaded):
    entities, indicators = loaded
    spec = indicators["ind.avg_fee_growth"]
    checked = check_indicator_version(spec, spec.current, entities, indicators)
    assert isinstance(checked, CheckedVersion) and set(checked.parts) == {"formula"}
    assert checked.refs == (IndicatorRef("ind.avg_fee"), IndicatorRef("ind.avg_fee", "lastyear"))
    assert checked.entities == frozenset()
    values = {"ind.avg_fee": D("330"), "ind.avg_fee@lastyear": D("300")}
    assert evaluate_aggregate(checked.formula, {}, today=TODAY, now=NOW,
                              indicators=values) == D("0.1")


def test_ratio_versions_give_numerator_and_denominator(loaded):
    entities, indicators = loaded
    spec = indicators["ind.avg_los"]
    first, second = (check_indicator_version(spec, v, entities, indicators) for v in spec.versions)
    assert set(first.parts) == set(second.parts) == {"numerator", "denominator"}
    assert first.formula is None and first.refs == ()
    assert first.entities == second.entities == {"ind.discharge"}
    assert second.numerator.source == "SUM(discharge.los_days, surgery = FALSE)"


def test_a_shared_context_gives_the_same_answer(loaded):
    entities, indicators = loaded
    context = indicator_context(entities, indicators, "ind")
    spec = indicators["ind.surgery_ratio"]
    assert (check_indicator_version(spec, spec.current, entities, indicators, context=context)
            .parts.keys() == {"numerator", "denominator"})


@pytest.mark.parametrize("change, code, shown", [
    ({"numerator": "SUM(visit.fee) + @visits", "denominator": "COUNT(visit)"}, "context", "@visits"),
    ({"numerator": "SUM(visit.fee)", "denominator": "PREV(@visits)"}, "context", "PREV(@visits)"),
    ({"formula": "COUNT(visit) > 3", "numerator": None, "denominator": None}, "type",
     "COUNT(visit) > 3"),
    ({"formula": "@nothing", "numerator": None, "denominator": None}, "unknown_name", "@nothing"),
])
def test_a_bad_version_raises_located_formula_errors(loaded, change, code, shown):
    entities, indicators = loaded
    spec = indicators["ind.avg_fee"]
    version = replace(spec.current, **change)
    with pytest.raises(FormulaError) as caught:
        check_indicator_version(spec, version, entities, indicators)
    issue = caught.value.issues[0]
    source = next(v for v in (version.formula, version.numerator, version.denominator)
                  if v and shown in v)
    assert issue.code == code and source[issue.span.start:issue.span.end] == shown
    assert issue.message.zh and issue.message.en


def test_known_indicators_are_local_codes_with_labels_and_every_qualified_code(loaded):
    _, indicators = loaded
    known = known_indicators(indicators, "ind")
    assert known["avg_fee"].zh == "门诊次均费用" and known["ind.avg_fee"] is None
    assert set(known) == set(indicators) | {i.code for i in indicators.values()}
    assert not {i.code for i in indicators.values()} & set(known_indicators(indicators, "other"))


# -- the graph -------------------------------------------------------------------------

def test_the_graph_of_current_versions(loaded):
    entities, indicators = loaded
    graph = indicator_graph(indicators, entities)
    assert isinstance(graph, IndicatorGraph)
    assert graph.nodes == tuple(sorted(indicators))
    assert graph.depends_on("ind.avg_fee_growth") == ("ind.avg_fee",)
    order = graph.order()
    assert set(order) == set(indicators)
    assert order.index("ind.avg_fee") < order.index("ind.avg_fee_growth")
    assert graph.cycles() == [] and graph.broken == frozenset()
    assert graph.entities["ind.avg_los"] == {"ind.discharge"}
    data = graph.as_dict()
    assert {"from": "ind.avg_fee_growth", "to": "ind.avg_fee", "shift": "lastyear", "n": 1,
            "key": "ind.avg_fee@lastyear"} in data["edges"]
    assert data["entities"]["ind.visits"] == ["ind.visit"]


def test_cycles_and_broken_indicators(loaded):
    entities, indicators = loaded
    visits, fee = indicators["ind.visits"], indicators["ind.avg_fee"]
    looped = {
        **indicators,
        "ind.visits": replace(visits, versions=(replace(visits.current,
                                                        formula="PREV(@avg_fee_growth, 2) + 1"),)),
        "ind.avg_fee": replace(fee, versions=(replace(fee.current, numerator=None, denominator=None,
                                                      formula="YTD(@visits) + @[ind.nothing]"),)),
    }
    graph = indicator_graph(looped, entities)
    assert graph.broken == {"ind.avg_fee"} and graph.edges["ind.avg_fee"] == ()
    assert graph.cycles() == []
    looped["ind.avg_fee"] = replace(fee, versions=(replace(
        fee.current, numerator=None, denominator=None, formula="YTD(@visits)"),))
    graph = indicator_graph(looped, entities)
    # avg_fee → visits → avg_fee_growth → avg_fee
    assert graph.cycles() == [["ind.avg_fee", "ind.visits", "ind.avg_fee_growth"]]
    assert set(graph.order()) == set(looped)


# -- the package check ----------------------------------------------------------------

def test_the_fixture_package_passes_the_package_check(loaded):
    _, indicators = loaded
    assert len(indicators) == 5


def test_cycle_issues_show_the_cycle():
    issues = _issues(PACKAGES / "broken" / "indicator_cycle")
    assert [(i.code, i.item if hasattr(i, "item") else i.file) for i in issues][0][0] == "indicator_cycle"
    first = issues[0]
    assert "indc.aa → indc.bb → indc.aa" in first.message.zh
    assert "indc.aa → indc.bb → indc.aa" in first.message.en
    assert "indc.cc → indc.cc" in issues[2].message.en
    assert all(isinstance(i.line, int) for i in issues)


def test_unknown_indicators_suggest_known_ones():
    issues = _issues(PACKAGES / "broken" / "indicator_references")
    unknown = [i for i in issues if i.code == "unknown_indicator"]
    assert "@visit" in unknown[0].message.en and "visits" in unknown[0].message.en
    assert "第 1 行第 46 列" in unknown[0].message.zh
    ratio = [i for i in issues if i.code == "ratio_with_reference"]
    assert "ratio of sums" in ratio[0].message.en and "和之比" in ratio[0].message.zh


def test_dimension_issues_name_the_entities_lacking_it():
    issues = _issues(PACKAGES / "broken" / "indicator_dimension")
    assert [i.code for i in issues] == ["unknown_dimension"] * 3
    assert "indd.ward_day" in issues[0].message.en and "payer" in issues[0].message.zh
    # visits' old version aggregated ward_day; only the current version's entities count
    assert "indd.visit" in issues[2].message.en and "shift" in issues[2].message.en


def _other_package(tmp_path: Path, formula: str) -> Path:
    folder = tmp_path / "other"
    shutil.copytree(PACKAGES / "broken" / "indicator_formulas", folder)
    (folder / "package.yaml").write_text(
        "code: other\nversion: 1.0.0\nname: {zh: 其他, en: Other}\n"
        "requires:\n  ind: '>=1.0,<2'\n", encoding="utf-8")
    for name in ("bad_type.yaml", "bad_period.yaml"):
        (folder / "indicators" / name).unlink()
    (folder / "expected.yaml").unlink()
    doc = (folder / "indicators" / "visits.yaml").read_text(encoding="utf-8")
    (folder / "indicators" / "visits.yaml").write_text(
        doc.replace('formula: "COUNT(visit)"', f"formula: {formula!r}"), encoding="utf-8")
    return folder


def test_another_packages_indicator_is_named_by_its_qualified_code(tmp_path):
    folder = _other_package(tmp_path, "@[ind.avg_fee] * 2 + LASTYEAR(@[ind.visits])")
    packages = load_packages([BASE, SMALL, folder], checks=FORMULA_CHECKS)
    other = next(p for p in packages if p.code == "other")
    entities = {e.qualified_code: e for p in packages for e in p.entities}
    indicators = {i.qualified_code: i for p in packages for i in p.indicators}
    spec = other.indicators[0]
    refs = check_indicator_version(spec, spec.current, entities, indicators).refs
    assert [r.key for r in refs] == ["ind.avg_fee", "ind.visits@lastyear"]


def test_another_packages_local_code_is_unknown(tmp_path):
    folder = _other_package(tmp_path, "@avg_fee * 2")
    issues = _issues(SMALL, folder)
    assert [(i.code, i.file, i.path) for i in issues] == [
        ("unknown_indicator", "indicators/visits.yaml", "$.versions[0].formula")]


def test_a_bare_entity_code_shared_by_packages_means_the_home_packages(tmp_path):
    from yunying.runtime.formula.checker import check
    from yunying.runtime.formula.entity_context import aggregate_context
    folder = _other_package(tmp_path, "COUNT(visit)")
    packages = load_packages([BASE, SMALL, folder], checks=FORMULA_CHECKS)
    entities = {e.qualified_code: e for p in packages for e in p.entities}
    indicators = {i.qualified_code: i for p in packages for i in p.indicators}
    for home in ("ind", "other"):
        checked = check("COUNT(visit)", indicator_context(entities, indicators, home))
        assert set(checked.aggregates.values()) == {f"{home}.visit"}
    with pytest.raises(FormulaError) as caught:
        check("COUNT(visit)", aggregate_context(entities, mode="indicator"))
    assert set(caught.value.issues[0].suggestions) == {"ind.visit", "other.visit"}
