"""Several aggregate formulas in one SELECT (compile_aggregates): each column equals
what compile_aggregate gives for that formula alone, over one or two entities,
grouped or not, with or without reported keys — on the test's real database."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from sql_helpers import NOW, TODAY, same
from test_sql_aggregate import CONTEXT, _sources, tables  # noqa: F401
from yunying.runtime.formula.aggregate_sql import VALUE, compile_aggregate, compile_aggregates
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate_aggregate

PAIRS = {
    "one_entity": ("SUM(h.discharge.los, surgery = FALSE)", "COUNT(h.discharge, surgery = FALSE)"),
    "one_entity_filtered": ("COUNT(h.discharge, surgery)", "COUNT(h.discharge)"),
    "two_entities": ("SUM(h.discharge.amount) + SUM(h.claim.cost, paid)", "COUNT(h.claim)"),
    "each_its_entity": ("SUM(h.claim.cost)", "SUM(h.discharge.amount, los > 3)"),
    "texts_and_averages": ("ROUND(AVG(h.discharge.amount), 2)", "MAX(h.discharge.day) & ''"),
}
GROUPINGS = {"total": (), "by_dept": ("dept",)}


def _rows(db, query, width: int) -> dict[tuple, tuple]:
    with db.connect() as conn:
        return {tuple(row[:-width]): tuple(row[-width:]) for row in conn.execute(query)}


def _alone(db, checked, group_by, **kw) -> dict[tuple, object]:
    query = compile_aggregate(checked, _sources(kw.pop("tables")), group_by=group_by,
                              dialect=db.dialect, today=TODAY, now=NOW, **kw)
    return {key: value[0] for key, value in _rows(db, query, 1).items()}


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("pair", PAIRS)
def test_numerator_and_denominator_together_equal_separate_compiles(db, tables, pair,  # noqa: F811
                                                                    grouping):
    group_by = GROUPINGS[grouping]
    numerator, denominator = (check(source, CONTEXT) for source in PAIRS[pair])
    query = compile_aggregates({"numerator": numerator, "denominator": denominator},
                               _sources(tables), group_by=group_by, dialect=db.dialect,
                               today=TODAY, now=NOW)
    assert [c.name for c in query.selected_columns] == [*group_by, "numerator", "denominator"]
    together = _rows(db, query, 2)
    alone_n = _alone(db, numerator, group_by, tables=tables)
    alone_d = _alone(db, denominator, group_by, tables=tables)
    assert set(together) == set(alone_n) | set(alone_d)
    # a group only the other formula's entity has: this formula's value over no rows
    empty_n, empty_d = (evaluate_aggregate(c, {}, today=TODAY, now=NOW)
                        for c in (numerator, denominator))
    for key, (n, d) in together.items():
        assert same(n, alone_n.get(key, empty_n), db.dialect), (key, n, alone_n.get(key))
        assert same(d, alone_d.get(key, empty_d), db.dialect), (key, d, alone_d.get(key))


def test_a_single_entity_pair_is_one_grouped_select(db, tables):  # noqa: F811
    formulas = {label: check(source, CONTEXT) for label, source in
                zip(("numerator", "denominator"), PAIRS["one_entity"])}
    query = compile_aggregates(formulas, _sources(tables), group_by=("dept",), dialect=db.dialect,
                               today=TODAY, now=NOW)
    sql = str(query.compile(db.engine))
    assert sql.count("SELECT") == 1 and sql.count("GROUP BY") == 1 and "UNION" not in sql


def test_two_entities_are_one_statement_with_zero_sums_where_an_entity_has_no_rows(db, tables):  # noqa: F811
    formulas = {"claims": check("SUM(h.claim.cost)", CONTEXT),
                "cases": check("COUNT(h.discharge)", CONTEXT)}
    query = compile_aggregates(formulas, _sources(tables), group_by=("dept",), dialect=db.dialect,
                               today=TODAY, now=NOW)
    assert "UNION ALL" in str(query.compile(db.engine))
    got = _rows(db, query, 2)
    assert got[("lab",)][1] == 0                   # claims only: no discharges, counted 0
    assert got[("surg",)][0] == 0                  # discharges only: no claims, summed 0


def test_keys_report_every_group_for_every_column(db, tables):  # noqa: F811
    keys = sa.select(sa.literal_column("'icu'").label("dept")).union_all(
        sa.select(sa.literal_column("'empty'").label("dept"))).subquery("depts")
    formulas = {"n": check("SUM(h.discharge.amount, surgery)", CONTEXT),
                "d": check("COUNT(h.discharge)", CONTEXT)}
    query = compile_aggregates(formulas, _sources(tables), group_by=("dept",), keys=keys,
                               dialect=db.dialect, today=TODAY, now=NOW)
    got = _rows(db, query, 2)
    assert got[("empty",)] == (0, 0)
    alone = _alone(db, formulas["d"], ("dept",), tables=tables, keys=keys)
    assert {key: value[1] for key, value in got.items()} == alone


def test_indicator_values_reach_every_formula(db, tables):  # noqa: F811
    rate = sa.literal(D("0.5"), sa.Numeric(10, 2))
    formulas = {"a": check("@rate * COUNT(h.discharge)", CONTEXT),
                "b": check("@rate + 1", CONTEXT)}
    query = compile_aggregates(formulas, _sources(tables), dialect=db.dialect, today=TODAY,
                               now=NOW, indicators={"rate": rate})
    ((a, b),) = _rows(db, query, 2).values()
    assert a == D(len(tables["h.discharge"])) / 2 and b == D("1.5")


def test_formulas_without_aggregates_give_one_row(db, tables):  # noqa: F811
    formulas = {"third": check("ROUND(10 / 3, 2)", CONTEXT), "text": check("'a' & 1", CONTEXT)}
    query = compile_aggregates(formulas, {}, dialect=db.dialect, today=TODAY, now=NOW)
    assert _rows(db, query, 2) == {(): (D("3.33"), "a1")}


def test_compile_aggregate_is_the_one_formula_case(db, tables):  # noqa: F811
    checked = check("COUNT(h.discharge, surgery) / COUNT(h.discharge)", CONTEXT)
    one = compile_aggregate(checked, _sources(tables), group_by=("dept",), dialect=db.dialect,
                            today=TODAY, now=NOW)
    many = compile_aggregates({VALUE: checked}, _sources(tables), group_by=("dept",),
                              dialect=db.dialect, today=TODAY, now=NOW)
    assert str(one.compile(db.engine)) == str(many.compile(db.engine))


@pytest.mark.parametrize("formulas, group_by", [({}, ()), ({"dept": "COUNT(h.claim)"}, ("dept",))])
def test_bad_calls_are_refused(db, tables, formulas, group_by):  # noqa: F811
    with pytest.raises(ValueError):
        compile_aggregates({k: check(v, CONTEXT) for k, v in formulas.items()}, _sources(tables),
                           group_by=group_by, dialect=db.dialect, today=TODAY, now=NOW)


def test_a_missing_source_of_any_formula_is_a_context_error(db, tables):  # noqa: F811
    sources = _sources(tables)
    del sources["h.claim"]
    with pytest.raises(FormulaError) as caught:
        compile_aggregates({"n": check("COUNT(h.discharge)", CONTEXT),
                            "d": check("COUNT(h.claim)", CONTEXT)}, sources,
                           dialect=db.dialect, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context" and "h.claim" in caught.value.issues[0].message.en
