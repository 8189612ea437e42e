"""The period functions PREV, LASTYEAR, YTD and indicator references (indicator_refs):
checked only in indicator formulas, located errors, evaluated and compiled to SQL
alike from the values given by reference key."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from sql_helpers import NOW, TODAY, same
from test_checker import IND, ROW, AGG, issues_of, located
from test_sql_aggregate import CONTEXT as SQL_CONTEXT, DISCHARGE, _run, _sources, tables  # noqa: F401
from yunying.runtime.formula.aggregate_sql import compile_aggregate
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate_aggregate
from yunying.runtime.formula.indicator_refs import IndicatorRef, indicator_refs, requalified
from yunying.runtime.formula.types import FType

GROWTH = "DIVIDE(@visits - LASTYEAR(@visits), LASTYEAR(@[门诊人次]))"


# -- references and keys ---------------------------------------------------------

@pytest.mark.parametrize("ref, key", [
    (IndicatorRef("visits"), "visits"),
    (IndicatorRef("visits", "prev"), "visits@prev1"),
    (IndicatorRef("h.visits", "prev", 3), "h.visits@prev3"),
    (IndicatorRef("visits", "lastyear"), "visits@lastyear"),
    (IndicatorRef("visits", "ytd"), "visits@ytd"),
])
def test_reference_keys(ref: IndicatorRef, key: str) -> None:
    assert ref.key == key


@pytest.mark.parametrize("shift, n", [("later", 1), ("prev", 0), ("prev", -2)])
def test_a_reference_refuses_a_bad_shift(shift: str, n: int) -> None:
    with pytest.raises(ValueError):
        IndicatorRef("visits", shift, n)


def test_references_are_distinct_in_order_of_appearance() -> None:
    checked = check(f"{GROWTH} + PREV(@beds, 2) + YTD(@beds) + @beds + PREV(@beds, 2)", IND)
    assert checked.type is FType.NUMBER
    assert [r.key for r in indicator_refs(checked)] == [
        "visits", "visits@lastyear", "beds@prev2", "beds@ytd", "beds"]
    assert checked.dependencies.indicators == {"visits", "beds"}
    assert checked.dependencies.functions >= {"DIVIDE", "LASTYEAR", "PREV", "YTD"}


def test_a_formula_without_references_has_none() -> None:
    assert indicator_refs(check("COUNT(hospital.discharge)", IND)) == ()
    assert indicator_refs(check("1 + 2", ROW)) == ()


def test_prev_defaults_to_one_period_and_labels_resolve_to_codes() -> None:
    checked = check("PREV(@[Outpatient visits]) + prev(@visits, 1) + Ytd(@床位数)", IND)
    assert indicator_refs(checked) == (IndicatorRef("visits", "prev", 1), IndicatorRef("beds", "ytd"))


def test_requalified_references_are_keyed_by_qualified_codes() -> None:
    checked = requalified(check(GROWTH + " + @[h.other]",
                                FormulaContext("indicator", None, IND.entities,
                                               {**IND.indicators, "h.other": None})),
                          lambda code: code if "." in code else f"h.{code}")
    assert [r.key for r in indicator_refs(checked)] == [
        "h.visits", "h.visits@lastyear", "h.other"]
    assert checked.dependencies.indicators == {"h.visits", "h.other"}


# -- checker errors ---------------------------------------------------------------

@pytest.mark.parametrize("context", [ROW, AGG], ids=["row", "aggregate"])
@pytest.mark.parametrize("source", ["PREV(@visits)", "LASTYEAR(@visits)", "YTD(@visits)",
                                    "PREV(@visits, 2)"])
def test_period_functions_belong_to_indicator_formulas(context: FormulaContext, source: str) -> None:
    (issue,) = issues_of(source, context)
    assert located(source, issue) == ("context", source, 1, 1, len(source) + 1)
    assert "指标公式" in issue.message.zh and "indicator formulas" in issue.message.en


@pytest.mark.parametrize("source, shown", [
    ("PREV(1)", "1"), ("LASTYEAR(@visits + @beds)", "@visits + @beds"),
    ("YTD(COUNT(hospital.discharge))", "COUNT(hospital.discharge)"),
    ("PREV(hospital.discharge.days, 1)", "hospital.discharge.days"),
])
def test_the_argument_must_be_an_indicator_reference(source: str, shown: str) -> None:
    issues = issues_of(source, IND)
    issue = issues[-1]
    column = source.index(shown) + 1
    assert located(source, issue) == ("context", shown, 1, column, column + len(shown))
    assert "只能作用于指标引用 @code" in issue.message.zh and "@code" in issue.message.en


@pytest.mark.parametrize("n", ["0", "-1", "1.5", "@beds", "'2'", "1001", "100%", "NULL"])
def test_prev_periods_must_be_a_positive_whole_literal(n: str) -> None:
    source = f"PREV(@visits, {n})"
    (issue,) = issues_of(source, IND)
    column = source.index(n, 5) + 1
    assert located(source, issue) == ("type", n, 1, column, column + len(n))
    assert "整数常量" in issue.message.zh and "whole number literal" in issue.message.en


@pytest.mark.parametrize("source", ["PREV()", "PREV(@visits, 1, 2)", "LASTYEAR(@visits, 1)",
                                    "YTD()", "YTD(@visits, @beds)"])
def test_arity(source: str) -> None:
    (issue,) = issues_of(source, IND)
    name = source.split("(")[0]
    assert located(source, issue) == ("arity", name, 1, 1, len(name) + 1)


def test_unknown_and_ambiguous_indicators_are_located() -> None:
    source = "LASTYEAR(@visit) + PREV(@[重复])"
    unknown, ambiguous = issues_of(source, IND)
    assert located(source, unknown)[:2] == ("unknown_name", "@visit")
    assert "visits" in unknown.suggestions
    assert located(source, ambiguous)[:2] == ("unknown_name", "@[重复]")
    assert set(ambiguous.suggestions) == {"dup1", "dup2"}


def test_a_period_call_is_a_number_in_expressions() -> None:
    (issue,) = issues_of("YTD(@visits) & 'x' > 1", IND)
    assert issue.code == "type"
    assert check("IF(PREV(@visits) > 0, YTD(@visits), 0)", IND).type is FType.NUMBER


# -- evaluation -----------------------------------------------------------------------

VALUES = {"visits": D(120), "visits@lastyear": D(100), "beds@prev2": D(40), "beds@ytd": D(300),
          "beds": D(50)}


@pytest.mark.parametrize("source, expected", [
    (GROWTH, D("0.2")),
    ("ROUND(DIVIDE(@visits - PREV(@visits), PREV(@visits)) * 100, 1)", None),  # no prev1 given
    ("PREV(@beds, 2) + YTD(@beds) - @beds", D(290)),
    ("DIVIDE(@beds, LASTYEAR(@beds), -1)", D(-1)),
])
def test_the_evaluator_reads_values_by_key(source: str, expected: D | None) -> None:
    checked = check(source, IND)
    assert evaluate_aggregate(checked, {}, today=TODAY, now=NOW, indicators=VALUES) == expected


def test_without_indicator_values_a_reference_is_null() -> None:
    checked = check("LASTYEAR(@visits)", IND)
    assert evaluate_aggregate(checked, {}, today=TODAY, now=NOW) is None


def test_a_bad_value_is_an_evaluation_error_at_the_call() -> None:
    source = "1 + YTD(@visits)"
    checked = check(source, IND)
    with pytest.raises(FormulaError) as caught:
        evaluate_aggregate(checked, {}, today=TODAY, now=NOW, indicators={"visits@ytd": "many"})
    (issue,) = caught.value.issues
    assert issue.code == "evaluation" and source[issue.span.start:issue.span.end] == "YTD(@visits)"


# -- SQL --------------------------------------------------------------------------------

SQL_IND = FormulaContext("indicator", None, SQL_CONTEXT.entities,
                         {"rate": None, "cases": None})
SQL_FORMULAS = [
    "DIVIDE(@cases - LASTYEAR(@cases), LASTYEAR(@cases))",
    "COUNT(h.discharge) / PREV(@cases, 3)",
    "SUM(h.discharge.amount, surgery) * YTD(@rate) + @rate",
    "DIVIDE(COUNT(h.discharge), PREV(@cases), 0) - PREV(@rate)",
]
SQL_VALUES = {"cases": D(36), "cases@lastyear": D(30), "cases@prev3": D(8), "cases@prev1": D(0),
              "rate@ytd": D("0.25"), "rate": D("1.5"), "rate@prev1": D("0.5")}


@pytest.mark.parametrize("group_by", [(), ("dept",)], ids=["total", "by_dept"])
def test_sql_reads_values_by_key_like_the_evaluator(db, tables, group_by):  # noqa: F811
    given = {key: sa.literal(value, sa.Numeric(18, 4)) for key, value in SQL_VALUES.items()}
    for source in SQL_FORMULAS:
        checked = check(source, SQL_IND)
        if group_by and not checked.aggregates:
            continue                       # nothing to group (a context error, tested elsewhere)
        query = compile_aggregate(checked, _sources(tables), group_by=group_by,
                                  dialect=db.dialect, today=TODAY, now=NOW, indicators=given)
        got = _run(db, query)
        groups: dict[tuple, list] = {(): []} if not group_by else {}
        for row in tables[DISCHARGE]:
            groups.setdefault(tuple(row[g] for g in group_by), []).append(row)
        entity_rows = {key: {DISCHARGE: rows} for key, rows in groups.items()}
        for key, rows in entity_rows.items():
            expected = evaluate_aggregate(checked, rows, today=TODAY, now=NOW,
                                          indicators=SQL_VALUES)
            assert same(got[key], expected, db.dialect), (source, key, got[key], expected)


def test_sql_without_the_value_of_a_shifted_reference_is_a_located_error(db, tables):  # noqa: F811
    source = "COUNT(h.discharge) / PREV(@cases, 3)"
    checked = check(source, SQL_IND)
    given = {"cases": sa.literal(D(1), sa.Numeric(18, 4))}    # the current value is not enough
    with pytest.raises(FormulaError) as caught:
        compile_aggregate(checked, _sources(tables), dialect=db.dialect, today=TODAY, now=NOW,
                          indicators=given)
    (issue,) = caught.value.issues
    assert issue.code == "context" and "cases@prev3" in issue.message.en
    assert source[issue.span.start:issue.span.end] == "PREV(@cases, 3)"
