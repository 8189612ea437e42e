"""The bundled performance package (三级公立医院绩效考核): entities, indicators, roles, demo org.

The package is data only. These tests pin what the engine, the generator and
the dashboards rely on: the field codes of the eight detail entities and
their org / date / person dimensions, the indicators of the national
assessment manual with their written 统计口径 and formulas that check, the
roles, and the demo departments that give the demo hospital about forty
units in the cost-accounting tree.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import inspect

from yunying.metadata.loader import load_packages
from yunying.metadata.store import MetadataStore
from yunying.platform import org
from yunying.platform.access import AccessControl
from yunying.platform.context import Context
from yunying.runtime.formula import sql_functions
from yunying.runtime.formula.indicator_check import check_indicator_version
from yunying.runtime.formula.package_check import FORMULA_CHECKS
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.indicators.periods import Period
from yunying.runtime.installer import bundled_package_paths, install_packages
from yunying.runtime.registry import Registry

from tests.conftest import MODULES

#: entity → (date dimension, person dimension or None, {field: type})
ENTITIES = {
    "outpatient_visit": ("visit_date", "doctor", {
        "visit_no": "string", "visit_date": "date", "department": "org_unit", "doctor": "user",
        "payer_type": "enum", "emergency": "boolean", "total_fee": "money",
        "drug_fee": "money", "material_fee": "money"}),
    "discharge": ("discharge_date", "doctor", {
        "case_no": "string", "admit_date": "date", "discharge_date": "date",
        "department": "org_unit", "doctor": "user", "payer_type": "enum", "drg_group": "string",
        "los_days": "integer", "day_surgery": "boolean", "total_fee": "money",
        "drug_fee": "money", "material_fee": "money"}),
    "surgery": ("discharge_date", "surgeon", {
        "surgery_no": "string", "discharge_date": "date", "surgery_date": "date",
        "department": "org_unit", "surgeon": "user", "level": "integer", "payer_type": "enum",
        "drg_group": "string"}),
    "revenue_line": ("entry_date", None, {
        "entry_no": "string", "entry_date": "date", "department": "org_unit", "category": "enum",
        "medical": "boolean", "amount": "money"}),
    "expense_line": ("entry_date", None, {
        "entry_no": "string", "entry_date": "date", "department": "org_unit", "category": "enum",
        "business": "boolean", "amount": "money"}),
    "staff_count": ("month", None, {
        "entry_no": "string", "month": "date", "department": "org_unit", "category": "enum",
        "headcount": "integer"}),
    "bed_count": ("month", None, {
        "entry_no": "string", "month": "date", "department": "org_unit", "open_beds": "integer"}),
    "balance_sheet": ("month", None, {
        "entry_no": "string", "month": "date", "department": "org_unit",
        "total_assets": "money", "total_liabilities": "money"}),
}

#: the indicators of the national manual the package must define
MANUAL = ("surgery_ratio", "level4_surgery_ratio", "op_avg_cost", "op_avg_cost_growth",
          "ip_avg_cost", "ip_avg_cost_growth", "service_revenue_share",
          "personnel_expense_share", "energy_per_10k_revenue", "asset_liability_ratio",
          "doctor_nurse_ratio", "avg_los", "op_ip_ratio", "pharmacists_per_100_beds")

#: code → (name zh, type, factor, direction, time rollup)
EXPECTED = {
    "surgery_ratio": ("出院患者手术占比", "percent", 100, "higher_better", "sum"),
    "level4_surgery_ratio": ("出院患者四级手术比例", "percent", 100, "higher_better", "sum"),
    "op_avg_cost_growth": ("门诊次均费用增幅", "percent", 100, "lower_better", "sum"),
    "ip_avg_cost_growth": ("住院次均费用增幅", "percent", 100, "lower_better", "sum"),
    "service_revenue_share": ("医疗服务收入占医疗收入比例", "percent", 100, "higher_better", "sum"),
    "personnel_expense_share": ("人员支出占业务支出比重", "percent", 100, "higher_better", "sum"),
    "energy_per_10k_revenue": ("万元收入能耗支出", "number", 10000, "lower_better", "sum"),
    "asset_liability_ratio": ("资产负债率", "percent", 100, "monitor", "last"),
    "doctor_nurse_ratio": ("医护比", "number", 1, "monitor", "last"),
    "pharmacists_per_100_beds": ("每百张病床药师人数", "number", 100, "monitor", "last"),
    "avg_los": ("平均住院日", "number", 1, "lower_better", "sum"),
    "op_ip_ratio": ("门诊人次数与出院人次数比", "number", 1, "monitor", "sum"),
}

#: aggregate calls naming an entity: COUNT(surgery …), SUM(discharge.los_days …)
_ENTITY_CALL = re.compile(r"\b(?:SUM|COUNT|AVG|MIN|MAX|COUNTDISTINCT)\(\s*([a-z_]+)")
#: an aggregate with a condition: entity, then the condition (no parentheses inside)
_CONDITION = re.compile(r"\b(?:SUM|COUNT)\(\s*([a-z_]+)(?:\.[a-z_]+)?\s*,\s*([^()]*)\)")
#: `field = 'literal'` comparisons inside a condition
_LITERAL = re.compile(r"\b([a-z_]+)\s*=\s*'([^']*)'")


@pytest.fixture(scope="module")
def packages():
    paths = [MODULES / "base", MODULES / "finance", MODULES / "materials",
             MODULES / "performance"]
    return {p.code: p for p in load_packages(paths, checks=FORMULA_CHECKS)}


@pytest.fixture(scope="module")
def perf(packages):
    return packages["performance"]


def _formulas(indicator):
    return [(v.version, part, text) for v in indicator.versions
            for part, text in (("formula", v.formula), ("numerator", v.numerator),
                               ("denominator", v.denominator)) if text]


def _aggregated(perf, indicator) -> set[str]:
    """The entities an indicator reads, following its @references."""
    found: set[str] = set()
    for _v, _part, text in _formulas(indicator):
        found.update(_ENTITY_CALL.findall(text))
        for ref in re.findall(r"@([a-z_0-9]+)", text):
            found |= _aggregated(perf, perf.indicator(ref))
    return found


def test_the_package_is_bundled_and_loads_with_the_others_without_issues(packages, perf):
    assert any(str(p).endswith("performance") for p in bundled_package_paths())
    assert list(packages) == ["base", "finance", "materials", "performance"]
    assert perf.version == "1.0.0"
    assert [r.package for r in perf.requires] == ["base"]
    assert perf.label.zh == "绩效考核" and perf.label.en == "Performance assessment"
    assert {m.code for m in perf.menus} == {"clinical", "finance", "resources"}
    assert {e.menu for e in perf.entities} == {"clinical", "finance", "resources"}


def test_entities_have_the_agreed_fields_and_dimensions(perf):
    assert {e.code for e in perf.entities} == set(ENTITIES)
    for code, (date_field, person, fields) in ENTITIES.items():
        entity = perf.entity(code)
        assert {f.code: f.type for f in entity.fields} == fields, code
        assert entity.org_dimension == "department", code
        assert entity.date_dimension == date_field, code
        assert entity.person_dimension == person, code
        assert entity.key_field == next(iter(fields)), code
        assert entity.label.zh and entity.label.en, code


def test_enum_fields_use_the_package_dictionaries(perf):
    dictionaries = {d.code: {i.code for i in d.items} for d in perf.dictionaries}
    assert dictionaries["payer_type"] == {
        "urban_employee", "urban_rural_resident", "self_pay", "commercial", "other"}
    assert dictionaries["revenue_category"] == {
        "medical_service", "drug", "material", "exam_lab", "fiscal", "other"}
    assert dictionaries["expense_category"] == {
        "personnel", "drug", "material", "energy", "depreciation", "maintenance",
        "management", "other"}
    assert dictionaries["staff_category"] == {
        "doctor", "nurse", "pharmacist", "technician", "management", "other"}
    used = {(e.code, f.code): f.dictionary for e in perf.entities for f in e.fields
            if f.type == "enum"}
    assert used == {
        ("outpatient_visit", "payer_type"): "performance.payer_type",
        ("discharge", "payer_type"): "performance.payer_type",
        ("surgery", "payer_type"): "performance.payer_type",
        ("revenue_line", "category"): "performance.revenue_category",
        ("expense_line", "category"): "performance.expense_category",
        ("staff_count", "category"): "performance.staff_category"}


def test_the_manual_indicators_exist_with_names_and_numerator_denominator_text(perf):
    codes = {i.code for i in perf.indicators}
    assert set(MANUAL) <= codes
    for code in MANUAL:
        indicator = perf.indicator(code)
        assert indicator.label.zh and indicator.label.en, code
        assert indicator.owner.zh and indicator.owner.en, code
        for version in indicator.versions:
            definition = version.definition
            for part in (definition.summary, definition.numerator, definition.denominator,
                         definition.source):
                assert part is not None and part.zh and part.en, (code, version.version)


def test_indicator_kinds_factors_directions_and_rollups(perf):
    for code, (name, kind, factor, direction, rollup) in EXPECTED.items():
        indicator = perf.indicator(code)
        assert (indicator.label.zh, indicator.type, indicator.factor, indicator.direction,
                indicator.time_rollup, indicator.period) == (
            name, kind, Decimal(factor), direction, rollup, "month"), code
    service = perf.indicator("service_revenue_share")
    assert [a.zh for a in service.aliases] == [
        "医疗服务收入（不含药品、耗材、检查检验收入）占医疗收入比例"]
    assert service.current.numerator == (
        "SUM(revenue_line.amount, category = 'medical_service')")
    assert service.current.denominator == "SUM(revenue_line.amount, medical = TRUE)"
    for growth, base in (("op_avg_cost_growth", "op_avg_cost"),
                         ("ip_avg_cost_growth", "ip_avg_cost")):
        assert perf.indicator(growth).current.formula == (
            f"DIVIDE(@{base} - LASTYEAR(@{base}), LASTYEAR(@{base}))")


def test_thresholds_follow_the_direction(perf):
    for indicator in perf.indicators:
        if indicator.direction == "monitor":
            assert indicator.thresholds is None, indicator.code
            continue
        limits = indicator.thresholds
        assert limits is not None and limits.amber is not None, indicator.code
        if indicator.direction == "higher_better":
            assert limits.amber < limits.green, indicator.code
        else:
            assert limits.amber > limits.green, indicator.code


def test_average_length_of_stay_has_two_versions_across_2025(perf):
    avg_los = perf.indicator("avg_los")
    first, second = avg_los.versions
    assert (first.version, second.version) == (1, 2)
    assert second.effective_from == date(2025, 1, 1)
    assert avg_los.version_on(date(2024, 12, 31)) is first
    assert avg_los.version_on(date(2025, 1, 1)) is second and avg_los.current is second
    assert "day_surgery" not in first.numerator + first.denominator
    assert second.numerator == "SUM(discharge.los_days, day_surgery = FALSE)"
    assert second.denominator == "COUNT(discharge, day_surgery = FALSE)"
    assert "日间手术" in second.note.zh and "day-surgery" in second.note.en


def test_dimensions_exist_on_every_aggregated_entity(perf):
    for indicator in perf.indicators:
        entities = _aggregated(perf, indicator)
        assert entities and entities <= set(ENTITIES), indicator.code
        for dimension in indicator.dimensions:
            for entity in entities:
                assert perf.entity(entity).field(dimension) is not None, (
                    indicator.code, entity, dimension)
    assert perf.indicator("avg_los").dimensions == ("payer_type", "drg_group")
    assert perf.indicator("op_ip_ratio").dimensions == ("payer_type",)


def test_literals_compared_with_enum_fields_are_dictionary_items(perf):
    items = {f"performance.{d.code}": {i.code for i in d.items} for d in perf.dictionaries}
    checked = 0
    for indicator in perf.indicators:
        for _v, _part, text in _formulas(indicator):
            for entity, condition in _CONDITION.findall(text):
                for field_code, literal in _LITERAL.findall(condition):
                    field = perf.entity(entity).field(field_code)
                    assert field is not None and field.type == "enum", (indicator.code, field_code)
                    assert literal in items[field.dictionary], (indicator.code, literal)
                    checked += 1
    assert checked >= 5


def test_every_indicator_formula_checks_in_indicator_mode(packages, perf):
    entities = {f"{p.code}.{e.code}": e for p in packages.values() for e in p.entities}
    indicators = {i.qualified_code: i for p in packages.values() for i in p.indicators}
    for indicator in perf.indicators:
        for version in indicator.versions:
            checked = check_indicator_version(indicator, version, entities, indicators)
            assert checked.entities <= {f"performance.{e}" for e in ENTITIES}
            assert set(checked.parts) == (
                {"numerator", "denominator"} if version.is_ratio else {"formula"})
    growth = perf.indicator("op_avg_cost_growth")
    refs = check_indicator_version(growth, growth.current, entities, indicators).refs
    assert {r.key for r in refs} == {"performance.op_avg_cost",
                                     "performance.op_avg_cost@lastyear"}


def test_roles_viewer_and_analyst(perf):
    viewer, analyst = perf.role("viewer"), perf.role("analyst")
    assert viewer.platform == ("view_indicators",)
    assert {(g.entity, tuple(g.actions)) for g in viewer.grants} == {
        (f"performance.{e}", ("read",)) for e in ENTITIES}
    assert analyst.inherits == ("performance.viewer",)
    assert {(g.entity, tuple(g.actions)) for g in analyst.grants} == {
        (f"performance.{e}", ("export",)) for e in ENTITIES}


def test_demo_install_gives_the_hospital_forty_cost_units_and_grants(db):
    # today's clock: the materials demo documents may not lie in the future
    report = install_packages(db, bundled_package_paths(), Context(actor="tester"),
                              with_demo=True)
    assert report.actions["performance"] == "install" and report.applied
    on = date.today()
    with db.connect() as conn:
        below = org.descendants(conn, "cost", "HOSP", on)
        children = [u for u in below if org.ancestors(conn, "cost", u, on)[:1] == ["HOSP"]]
        assert len(children) == 40
        assert {"RESP", "GAST", "ORTH", "LAB", "NUCL", "CARD", "PHARM"} <= set(children)
        assert org.ancestors(conn, "admin", "RESP", on)[:2] == ["EAST", "HOSP"]
        assert org.ancestors(conn, "admin", "ORTH", on)[:2] == ["WEST", "HOSP"]
        access = AccessControl(db)
        held = {(a.role, a.domain) for a in access.assignments(conn, "he.jun")}
        assert held == {("performance.analyst", "HOSP")}
        cardiology = {(a.role, a.domain) for a in access.assignments(conn, "zhang.wei")}
        assert ("performance.viewer", "HOSP") in cardiology
    tables = set(inspect(db.engine).get_table_names())
    assert {f"performance_{e}" for e in ENTITIES} <= tables


SYSTEM = {"created_at": datetime(2025, 4, 1), "created_by": "tester",
          "updated_at": datetime(2025, 4, 1), "updated_by": "tester"}


def _rows(conn, registry, entity, rows):
    conn.execute(registry.tables(f"performance.{entity}").table.insert(),
                 [{**SYSTEM, **row} for row in rows])


def _sample(conn, registry):
    """A few hand-made rows in two departments, March 2024 and March 2025."""
    visits = [dict(visit_no=f"V{y}{i}", visit_date=date(y, 3, 5), department=dept,
                   doctor="zhang.wei", payer_type="self_pay", emergency=i == 0,
                   total_fee=Decimal(fee)) for y, fee in ((2024, "200"), (2025, "230"))
              for i, dept in enumerate(("CARD", "RESP", "RESP"))]
    stays = [dict(case_no=f"C{y}{i}", admit_date=date(y, 3, 1), discharge_date=date(y, 3, 10),
                  department=dept, doctor="zhang.wei", payer_type="urban_employee",
                  drg_group="FM19", los_days=los, day_surgery=day, total_fee=Decimal("10000"))
             for y in (2024, 2025)
             for i, (dept, los, day) in enumerate((("CARD", 9, False), ("RESP", 1, True),
                                                   ("RESP", 11, False)))]
    _rows(conn, registry, "outpatient_visit", visits)
    _rows(conn, registry, "discharge", stays)
    _rows(conn, registry, "surgery", [dict(
        surgery_no="S1", discharge_date=date(2025, 3, 10), surgery_date=date(2025, 3, 2),
        department="CARD", surgeon="zhang.wei", level=4, payer_type="urban_employee",
        drg_group="FM19")])
    _rows(conn, registry, "revenue_line", [
        dict(entry_no="R1", entry_date=date(2025, 3, 31), department="CARD",
             category="medical_service", medical=True, amount=Decimal("300000")),
        dict(entry_no="R2", entry_date=date(2025, 3, 31), department="CARD",
             category="drug", medical=True, amount=Decimal("700000")),
        dict(entry_no="R3", entry_date=date(2025, 3, 31), department="CARD",
             category="fiscal", medical=False, amount=Decimal("250000"))])
    _rows(conn, registry, "expense_line", [
        dict(entry_no="E1", entry_date=date(2025, 3, 31), department="LOGI",
             category="energy", business=True, amount=Decimal("10000"))])
    _rows(conn, registry, "staff_count", [
        dict(entry_no=f"P{m}{c}", month=date(2025, m, 1), department=dept, category=c,
             headcount=n * m)
        for m in (1, 3) for dept, c, n in (("CARD", "doctor", 10), ("CARD", "nurse", 20),
                                           ("PHARM", "pharmacist", 2))])
    _rows(conn, registry, "bed_count", [
        dict(entry_no=f"B{m}", month=date(2025, m, 1), department="CARD", open_beds=50)
        for m in (1, 3)])


def test_the_indicators_compute_over_sample_rows(db):
    db.on_sqlite_connect(sql_functions.register)   # as the app's Services does
    install_packages(db, bundled_package_paths(), Context(actor="tester"), with_demo=True)
    with db.connect() as conn:
        registry = Registry.from_packages(MetadataStore().installed(conn))
    engine = IndicatorEngine(registry, db.dialect)
    march24, march25, q1 = Period.parse("2024-03"), Period.parse("2025-03"), Period.parse("2025-Q1")
    with db.begin(write=True) as conn:
        _sample(conn, registry)
    with db.connect() as conn:
        def value(code, period=march25, **kw):
            return engine.compute(conn, f"performance.{code}", "HOSP", period, **kw)

        assert value("avg_los", march24).total.value == Decimal("7.00")     # (9+1+11)/3, v1
        los = value("avg_los")
        assert (los.version, los.total.value) == (2, Decimal("10.00"))      # day surgery left out
        assert value("avg_los", drill="units").member("RESP").value == Decimal("11.00")
        assert value("op_ip_ratio").total.value == Decimal("0.67")           # 2 non-emergency / 3
        assert value("op_avg_cost").total.value == Decimal("230.00")
        assert value("op_avg_cost_growth").total.value == Decimal("15.00")   # (230-200)/200 %
        assert value("ip_avg_cost_growth").total.value == Decimal("0.00")
        assert value("surgery_ratio").total.value == Decimal("33.33")
        assert value("level4_surgery_ratio").total.value == Decimal("100.00")
        assert value("service_revenue_share").total.value == Decimal("30.00")
        assert value("energy_per_10k_revenue").total.value == Decimal("80.00")   # 10000/1.25m × 1e4
        assert value("doctor_nurse_ratio", q1).total.value == Decimal("0.50")     # last month: 30/60
        assert value("pharmacists_per_100_beds", q1).total.value == Decimal("12.00")  # 6/50 × 100
        persons = value("discharges", drill="persons")
        assert [(m.key, m.value) for m in persons.members] == [("zhang.wei", Decimal("3"))]
