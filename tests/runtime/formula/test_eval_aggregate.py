"""Aggregate formulas evaluated row by row in Python (the SQL compiler's oracle)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate, evaluate_aggregate, prepare
from yunying.runtime.formula.types import FType

from eval_helpers import assert_value, table

TODAY = date(2024, 3, 15)
NOW = datetime(2024, 3, 15, 8, 30)


def _entities() -> dict[str, EntityInfo]:
    department = EntityInfo("base.department", Text("科室", "Department"), {
        "code": FieldInfo("code", FType.STRING, Text("编码", "Code")),
    })
    discharge = EntityInfo("hospital.discharge", Text("出院记录", "Discharge"), {
        "total_cost": FieldInfo("total_cost", FType.NUMBER, Text("总费用", "Total cost")),
        "department": FieldInfo("department", FType.NUMBER, Text("科室", "Department"),
                                reference="base.department"),
        "ward": FieldInfo("ward", FType.STRING, Text("病区", "Ward")),
        "discharged_on": FieldInfo("discharged_on", FType.DATE, Text("出院日期", "Discharged on")),
        "died": FieldInfo("died", FType.BOOLEAN, Text("死亡", "Died")),
    }, org_dimension="department", date_dimension="discharged_on")
    visit = EntityInfo("hospital.visit", Text("门诊挂号", "Visit"), {
        "fee": FieldInfo("fee", FType.NUMBER, Text("挂号费", "Fee")),
    })
    return {e.code: e for e in (department, discharge, visit)}


CONTEXT = FormulaContext(mode="aggregate", entities=_entities())
INDICATORS = FormulaContext(mode="indicator", entities=_entities(),
                            indicators={"visits": Text("门诊人次", "Visits"), "beds": None})

DISCHARGES = [
    {"total_cost": D("1000.00"), "ward": "A", "discharged_on": date(2024, 1, 5), "died": False,
     "department": 1, "department.code": "ICU"},
    {"total_cost": D("2500.50"), "ward": "B", "discharged_on": date(2024, 2, 5), "died": True,
     "department": 2, "department.code": "ER"},
    {"total_cost": 3000, "ward": "A", "discharged_on": "2024-03-05", "died": None,
     "department": 1, "department.code": "ICU"},
    {"total_cost": None, "ward": None, "discharged_on": None, "died": False},
    {"total_cost": 1000.0, "ward": "C", "discharged_on": date(2023, 12, 31), "died": False},
]
ROWS = {"hospital.discharge": DISCHARGES, "hospital.visit": [{"fee": 5}, {"fee": 10}, {"fee": None}]}


def run(source: str, rows=ROWS, context=CONTEXT, **kwargs):
    return evaluate_aggregate(check(source, context), rows, today=TODAY, now=NOW, **kwargs)




@table(
    ("SUM(出院记录.总费用)", D("7500.50")), ("SUM(hospital.discharge.total_cost)", D("7500.5")),
    ("SUM(discharge.total_cost)", D("7500.5")), ("SUM(出院记录.总费用, 病区 = 'A')", D(4000)),
    ("SUM(出院记录.总费用, ward = 'Z')", D(0)), ("SUM(出院记录.总费用, died)", D("2500.5")),
    ("COUNT(出院记录)", D(5)), ("COUNT(出院记录, 总费用 > 1000)", D(2)),
    ("COUNT(出院记录.总费用)", D(4)), ("COUNT(出院记录.病区, 病区 <> 'A')", D(2)),
    ("COUNT(出院记录, NOT died)", D(3)), ("COUNT(出院记录, died IS NULL)", D(1)),
    ("COUNTDISTINCT(出院记录.病区)", D(3)), ("COUNTDISTINCT(出院记录.总费用)", D(3)),
    ("COUNTDISTINCT(出院记录.died)", D(2)), ("COUNTDISTINCT(出院记录.病区, 病区 = 'Z')", D(0)),
    ("AVG(出院记录.总费用)", D("1875.125")), ("AVG(出院记录.总费用, 病区 = 'Z')", None),
    ("AVG(门诊挂号.挂号费)", D("7.5")), ("MIN(出院记录.总费用)", D(1000)), ("MAX(出院记录.总费用)", D(3000)),
    ("MIN(出院记录.病区)", "A"), ("MAX(出院记录.出院日期)", date(2024, 3, 5)),
    ("MIN(出院记录.出院日期, 出院日期 >= DATE(2024, 1, 1))", date(2024, 1, 5)),
    ("MAX(出院记录.总费用, 病区 = 'Z')", None),
    ("COUNT(出院记录, 总费用 > 1000) / COUNT(出院记录)", D("0.4")),
    ("ROUND(SUM(出院记录.总费用) / COUNT(门诊挂号), 2)", D("2500.17")),
    ("SUM(出院记录.总费用, 科室.编码 = 'ICU')", D(4000)),
    ("COUNT(出院记录, department.code IN ('ICU', 'ER'))", D(3)),
    ("COUNT(出院记录, YEAR(出院日期) = 2024 AND MONTH(出院日期) <= 2)", D(2)),
    ("MAX(1, COUNT(门诊挂号))", D(3)), ("1 + 2", D(3)),
)
def test_aggregates(source, expected):
    assert_value(run(source), expected)


@table(
    ("SUM(出院记录.总费用)", D(0)), ("COUNT(出院记录)", D(0)), ("COUNT(出院记录.总费用)", D(0)),
    ("COUNTDISTINCT(出院记录.病区)", D(0)), ("AVG(出院记录.总费用)", None),
    ("MIN(出院记录.总费用)", None), ("MAX(出院记录.出院日期)", None),
    ("DIVIDE(COUNT(出院记录, died), COUNT(出院记录), 0)", D(0)),
    ("COALESCE(AVG(出院记录.总费用), -1)", D(-1)),
)
def test_aggregates_over_no_rows(source, expected):
    assert_value(run(source, {}), expected)
    assert_value(run(source, {"hospital.discharge": []}), expected)


def test_average_is_rounded_half_up_to_16_places():
    rows = {"hospital.visit": [{"fee": 1}, {"fee": 2}, {"fee": 2}]}
    assert run("AVG(门诊挂号.挂号费)", rows) == D("1.6666666666666667")
    rows = {"hospital.visit": [{"fee": -1}, {"fee": -2}, {"fee": -2}]}
    assert run("AVG(门诊挂号.挂号费)", rows) == D("-1.6666666666666667")


def test_distinct_numbers_are_distinct_by_value():
    rows = {"hospital.visit": [{"fee": D("1.50")}, {"fee": D("1.5")}, {"fee": 1.5}, {"fee": 2}]}
    assert run("COUNTDISTINCT(门诊挂号.挂号费)", rows) == 2


def test_rows_may_be_any_iterable_read_once():
    rows = {"hospital.visit": (row for row in [{"fee": 5}, {"fee": 10}])}
    assert run("SUM(门诊挂号.挂号费) + COUNT(门诊挂号) + MAX(门诊挂号.挂号费)", rows) == 27


def test_a_prepared_aggregate_serves_many_groups():
    prepared = prepare(check("SUM(门诊挂号.挂号费, 挂号费 > 5)", CONTEXT))
    groups = [[{"fee": 6}, {"fee": 5}], [], [{"fee": 100}, {"fee": 7}]]
    assert [prepared.evaluate_aggregate({"hospital.visit": g}, today=TODAY, now=NOW)
            for g in groups] == [6, 0, 107]


def test_conditions_see_the_clock():
    rows = {"hospital.discharge": [{"discharged_on": date(2024, 3, 14)}, {"discharged_on": date(2024, 1, 1)}]}
    assert run("COUNT(出院记录, DAYS(TODAY(), 出院日期) <= 30)", rows) == 1


def test_indicators_come_from_the_caller():
    assert run("@visits / 2 + COUNT(门诊挂号)", context=INDICATORS, indicators={"visits": 10}) == 8
    assert run("@[门诊人次] * 2", context=INDICATORS, indicators={"visits": D("2.5")}) == 5
    assert run("@beds", context=INDICATORS, indicators={"visits": 1}) is None
    assert run("@beds", context=INDICATORS) is None


def test_an_aggregate_formula_is_not_evaluated_against_one_record():
    with pytest.raises(FormulaError) as caught:
        evaluate(check("SUM(门诊挂号.挂号费)", CONTEXT), {}, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context"


def test_out_of_range_sums_are_evaluation_errors_at_the_aggregate():
    rows = {"hospital.visit": [{"fee": D("9E99")}, {"fee": D("9E99")}]}
    with pytest.raises(FormulaError) as caught:
        run("1 + SUM(门诊挂号.挂号费)", rows)
    (issue,) = caught.value.issues
    assert (issue.code, issue.span.column, issue.span.end_column) == ("evaluation", 5, 18)


def test_bad_row_values_are_located_at_the_name():
    rows = {"hospital.visit": [{"fee": "five"}]}
    with pytest.raises(FormulaError) as caught:
        run("SUM(门诊挂号.挂号费)", rows)
    (issue,) = caught.value.issues
    assert issue.code == "evaluation" and issue.span.column == 5
    assert "门诊挂号.挂号费" in issue.message.zh
