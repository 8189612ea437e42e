"""The formula checker in aggregate and indicator modes: qualified names,
aggregates and their conditions, MIN/MAX forms, @indicators, contexts."""

from __future__ import annotations

import pytest

from test_checker import AGG, DEPT, DIS, IND, REQ, ROW, B, D, N, S, issues_of, located
from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Binding, check
from yunying.runtime.formula.types import FType


def _calls(tree: ast.Node) -> list[ast.Call]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            found.append(node)
        stack.extend(ast.children(node))
    return sorted(found, key=lambda c: c.span.start)


AGG_TYPES = [
    ("SUM(出院记录.总费用)", N, ["SUM"]),
    ("SUM([hospital.discharge].total_cost, days > 3) / COUNT(出院记录)", N, ["SUM", "COUNT"]),
    ("SUM(hospital.discharge.total_cost)", N, ["SUM"]),
    ("AVG(discharge.days)", N, ["AVG"]),
    ("AVG(Discharge.Days, discharged_on >= DATE(2024, 1, 1))", N, ["AVG"]),
    ("COUNT(Discharge, dept.code = 'ICU')", N, ["COUNT"]),
    ("COUNT(出院记录.dept)", N, ["COUNT"]),
    ("COUNT(requisition.status)", N, ["COUNT"]),
    ("COUNTDISTINCT(出院记录.dept.code)", N, ["COUNTDISTINCT"]),
    ("MIN(出院记录.discharged_on)", D, ["MIN"]),
    ("MAX(出院记录.discharged_on, days > 1)", D, ["MAX"]),
    ("MAX(requisition.status, approved)", S, ["MAX"]),
    ("MIN(requisition.approved_at, NULL = NULL)", FType.DATETIME, ["MIN"]),
    ("MAX(SUM(出院记录.days), 10)", N, ["SUM"]),
    ("MIN(COUNT(出院记录), COUNT(领用单), 5)", N, ["COUNT", "COUNT"]),
    ("SUM(出院记录.days, 出院记录.days > 1)", N, ["SUM"]),
    ("SUM(出院记录.总费用, 住院天数 > 3 AND 科室.编码 IN ('A', 'B'))", N, ["SUM"]),
    ("SUM(出院记录.总费用, MAX(住院天数, 3) > 4)", N, ["SUM"]),
    ("SUM(出院记录.总费用, NULL)", N, ["SUM"]),
    ("ROUND(SUM(出院记录.总费用) / COUNT(出院记录), 2)", N, ["SUM", "COUNT"]),
    ("IF(COUNT(出院记录) > 0, 'yes', 'no')", S, ["COUNT"]),
    ("COUNT([materials.requisition])", N, ["COUNT"]),
    ("COUNT(materials.requisition, status = 'x')", N, ["COUNT"]),
    ("DIVIDE(COUNT(出院记录, days > 30), COUNT(出院记录), 0) * 100", N, ["COUNT", "COUNT"]),
    ("1 + 1", N, []),
    ("TODAY()", D, []),
]


@pytest.mark.parametrize("source, expected, aggregates", AGG_TYPES)
def test_aggregate_formula_types(source: str, expected: FType, aggregates: list[str]) -> None:
    checked = check(source, AGG)
    assert checked.type is expected
    assert sorted(c.name for c in checked.aggregates) == sorted(aggregates)
    assert checked.dependencies.fields == frozenset()     # row-mode paths only


@pytest.mark.parametrize("source", [s for s, _t, _a in AGG_TYPES] + ["@visits / @[床位数]"])
def test_indicator_mode_accepts_aggregate_formulas(source: str) -> None:
    check(source, IND)


def test_aggregate_bindings_and_dependencies() -> None:
    source = "SUM(出院记录.总费用, 科室.编码 = 'ICU') / COUNT(出院记录) + COUNT(领用单.status)"
    checked = check(source, AGG)
    total, count_dis, count_req = _calls(checked.tree)
    assert checked.aggregates == {total: DIS, count_dis: DIS, count_req: REQ}
    by_text = {source[n.span.start:n.span.end]: b for n, b in checked.bindings.items()}
    assert by_text == {
        "出院记录.总费用": Binding(DIS, ("total_cost",), N),
        "科室.编码": Binding(DIS, ("dept", "code"), S),
        "出院记录": Binding(DIS, (), N),
        "领用单.status": Binding(REQ, ("status",), S),
    }
    deps = checked.dependencies
    assert deps.entities == {DIS, DEPT, REQ}
    assert deps.entity_fields == {(DIS, "total_cost"), (DIS, "dept"), (DEPT, "code"),
                                  (REQ, "status")}
    assert deps.functions == {"SUM", "COUNT"} and deps.fields == frozenset()


def test_minmax_forms_are_told_apart() -> None:
    checked = check("MAX(出院记录.days, days > 1) + MAX(SUM(出院记录.days), 1) + MIN(出院记录.days)", AGG)
    shapes = [(c.name, c in checked.aggregates) for c in _calls(checked.tree)]
    assert shapes == [("MAX", True), ("MAX", False), ("SUM", True), ("MIN", True)]
    row = check("MIN(amount, total_cost)", ROW)
    assert row.aggregates == {}


def test_indicators() -> None:
    checked = check("@visits / @[床位数] + @[Outpatient visits] + SUM(出院记录.days, days > @beds)", IND)
    assert checked.type is N
    assert checked.dependencies.indicators == {"visits", "beds"}


AGG_ERRORS = [
    ("出院记录.总费用 + 1", "context", "出院记录.总费用", 1, 1, 9),
    ("总费用 * 2", "context", "总费用", 1, 1, 4),
    ("1 + days", "context", "days", 1, 5, 9),
    ("nothing", "unknown_name", "nothing", 1, 1, 8),
    ("出院记录", "context", "出院记录", 1, 1, 5),
    ("SUM(出院记录)", "type", "出院记录", 1, 5, 9),
    ("COUNTDISTINCT(出院记录)", "type", "出院记录", 1, 15, 19),
    ("SUM(出院记录.总费用 * 2)", "type", "出院记录.总费用 * 2", 1, 5, 17),
    ("SUM(领用单.status)", "type", "领用单.status", 1, 5, 15),
    ("AVG(出院记录.discharged_on)", "type", "出院记录.discharged_on", 1, 5, 23),
    ("MIN(领用单.approved)", "type", "领用单.approved", 1, 5, 17),
    ("SUM(出院记录.总费用, 住院天数)", "type", "住院天数", 1, 15, 19),
    ("SUM(出院记录.总费用, days > 'x')", "type", "days > 'x'", 1, 15, 25),
    ("SUM(出院记录.总费用, 领用单.amount > 1)", "context", "领用单.amount", 1, 15, 25),
    ("SUM(出院记录.总费用, 出院记录 > 1)", "context", "出院记录", 1, 15, 19),
    ("SUM(出院记录.总费用, COUNT(出院记录) > 1)", "context", "COUNT(出院记录)", 1, 15, 26),
    ("SUM(出院记录.总费用, MAX(住院天数) > 1)", "context", "MAX(住院天数)", 1, 15, 24),
    ("COUNT(出院记录, MIN(days, TRUE))", "context", "MIN(days, TRUE)", 1, 13, 28),
    ("SUM(出院记录.总费)", "unknown_name", "总费", 1, 10, 12),
    ("SUM(出院.总费用)", "unknown_name", "出院", 1, 5, 7),
    ("SUM(item.price)", "unknown_name", "item", 1, 5, 9),
    ("SUM(total_cost)", "context", "total_cost", 1, 5, 15),
    ("SUM(出院记录.dept.nam)", "unknown_name", "nam", 1, 15, 18),
    ("SUM(出院记录.总费用, 1, 2)", "arity", "SUM", 1, 1, 4),
    ("SUM()", "arity", "SUM", 1, 1, 4),
    ("COUNT(出院记录, days > 1, 2)", "arity", "COUNT", 1, 1, 6),
    ("SUMM(出院记录.总费用)", "unknown_function", "SUMM", 1, 1, 5),
    ("@visits", "context", "@visits", 1, 1, 8),
    ("SUM(出院记录.days) + 'x'", "type", "SUM(出院记录.days) + 'x'", 1, 1, 21),
]


@pytest.mark.parametrize("source, code, text, line, column, end_column", AGG_ERRORS)
def test_aggregate_errors_are_located(source: str, code: str, text: str, line: int,
                                      column: int, end_column: int) -> None:
    (issue,) = issues_of(source, AGG)
    assert located(source, issue) == (code, text, line, column, end_column)
    assert issue.message.zh and issue.message.en


@pytest.mark.parametrize("source, code, text, suggestions", [
    ("@vists", "unknown_name", "@vists", ("visits",)),
    ("@[门诊人数]", "unknown_name", "@[门诊人数]", ("门诊人次",)),
    ("@[重复]", "unknown_name", "@[重复]", ("dup1", "dup2")),
    ("@visits + 'a'", "type", "@visits + 'a'", ()),
    ("SUM(出院记录.days) > SUM(出院记录.days, @bed > 1)", "unknown_name", "@bed", ("beds",)),
])
def test_indicator_errors(source: str, code: str, text: str, suggestions: tuple[str, ...]) -> None:
    (issue,) = issues_of(source, IND)
    assert located(source, issue)[:2] == (code, text)
    assert issue.suggestions == suggestions


@pytest.mark.parametrize("source, suggestions", [
    ("nothing", ()),
    ("SUM(出院.总费用)", ("出院记录",)),
    ("SUM(discharg.days)", ("discharge", "hospital.discharge")),
    ("SUM(出院记录.总费)", ("总费用",)),
    ("SUM(item.price)", ("materials.item", "stock.item")),
    ("COUNT(出院记录, 住院天 > 1)", ("住院天数",)),
])
def test_aggregate_suggestions(source: str, suggestions: tuple[str, ...]) -> None:
    (issue,) = issues_of(source, AGG)
    assert issue.suggestions == suggestions


@pytest.mark.parametrize("source, en_parts", [
    ("出院记录.总费用", ["wrap it in an aggregate"]),
    ("总费用", ["qualified by their entity", "e.g. materials.requisition.总费用"]),
    ("出院记录", ["is an entity, not a value", "COUNT(出院记录)"]),
    ("SUM(出院记录)", ["SUM needs one of its fields"]),
    ("SUM(领用单.status)", ["SUM needs a number field, 领用单.status is text"]),
    ("MIN(领用单.approved)", ["needs a number, text, date, datetime field"]),
    ("SUM(出院记录.总费用, 领用单.amount > 1)", ["over Discharge (hospital.discharge) can only read",
                                          "not of Requisition (materials.requisition)"]),
    ("SUM(出院记录.总费用, COUNT(出院记录) > 1)", ["aggregates cannot be nested"]),
    ("SUM(出院记录.总费用, 住院天数)", ["condition 住院天数 of SUM must be a boolean, got number"]),
    ("SUM(item.price)", ["names several entities (materials.item, stock.item)"]),
])
def test_aggregate_messages(source: str, en_parts: list[str]) -> None:
    (issue,) = issues_of(source, AGG)
    for part in en_parts:
        assert part in issue.message.en


def test_scalar_minmax_in_aggregate_mode_needs_aggregated_arguments() -> None:
    source = "MAX(出院记录.days, 出院记录.days)"
    assert [located(source, i) for i in issues_of(source, AGG)] == [
        ("context", "出院记录.days", 1, 5, 14), ("context", "出院记录.days", 1, 16, 25)]


@pytest.mark.parametrize("source", [
    "MAX(出院记录.days, 出院记录.nope > 1)",      # the condition is checked once, not twice
    "MIN(出院记录.days, nope)",
    "COUNT(出院记录, days > 'x') + SUM(出院记录.days)",
    "SUMM(出院记录.days, days > 1)",
])
def test_aggregate_mistakes_are_reported_once(source: str) -> None:
    assert len(issues_of(source, AGG)) == 1


def test_several_aggregate_issues_are_all_reported() -> None:
    source = "SUM(出院记录.总费, days > 'x') + COUNT(nothing) + 出院记录.days"
    assert [located(source, i)[:2] for i in issues_of(source, AGG)] == [
        ("unknown_name", "总费"), ("type", "days > 'x'"), ("unknown_name", "nothing"),
        ("context", "出院记录.days")]


def test_deeply_nested_minmax_is_checked_in_reasonable_work() -> None:
    depth = 90
    row = "MIN(amount, " * depth + "1" + ")" * depth
    assert check(row, ROW).type is N
    agg = "MIN(出院记录.days, " * depth + "1" + ")" * depth
    assert {i.code for i in issues_of(agg, AGG)} == {"context"}
    nested = "MAX(出院记录.days, " * depth + "TRUE" + ")" * depth
    assert {i.code for i in issues_of(nested, AGG)} == {"context"}


def test_booleans_in_aggregate_condition_mode() -> None:
    assert check("COUNT(领用单, approved)", AGG).type is N
    assert check("COUNT(领用单, NOT approved AND amount > 1)", AGG).type is N
    (issue,) = issues_of("COUNT(领用单, amount)", AGG)
    assert issue.code == "type"


def test_indicator_mode_requires_qualified_names_too() -> None:
    (issue,) = issues_of("@visits + days", IND)
    assert located("@visits + days", issue) == ("context", "days", 1, 11, 15)


def test_binding_types_are_those_of_the_fields() -> None:
    checked = check("COUNT(出院记录, discharged_on > TODAY() AND dept.parent.name = 'x')", AGG)
    types = sorted((b.path, b.type) for b in checked.bindings.values())
    assert types == [((), N), (("dept", "parent", "name"), S), (("discharged_on",), D)]
    assert checked.dependencies.entity_fields == {
        (DIS, "discharged_on"), (DIS, "dept"), (DEPT, "parent"), (DEPT, "name")}
    assert all(t is not FType.UNKNOWN for t in checked.types.values())
    assert B in checked.types.values()
