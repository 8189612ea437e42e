"""Aggregate formulas compiled to one grouped SELECT give ``evaluate_aggregate``'s
answer, group by group (runtime layer), on the test's real database."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from sql_helpers import NOW, TODAY, same
from yunying.runtime.formula import sql_functions
from yunying.runtime.formula.aggregate_sql import VALUE, AggregateSource, compile_aggregate
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate_aggregate
from yunying.runtime.formula.types import FType

DISCHARGE, CLAIM = "h.discharge", "h.claim"
_FIELDS = {
    DISCHARGE: {"dept": FType.STRING, "doctor": FType.STRING, "amount": FType.NUMBER,
                "surgery": FType.BOOLEAN, "day": FType.DATE, "los": FType.NUMBER},
    CLAIM: {"dept": FType.STRING, "cost": FType.NUMBER, "paid": FType.BOOLEAN},
}
CONTEXT = FormulaContext(
    mode="indicator", indicators={"rate": None},
    entities={code: EntityInfo(code, None, {f: FieldInfo(f, t) for f, t in fields.items()},
                               org_dimension="dept")
              for code, fields in _FIELDS.items()})
DEPTS = ["icu", "surg", "med", "peds", None]


def _rows(seed: int):
    rnd = random.Random(seed)
    discharge = [{"id": k + 1, "dept": rnd.choice(DEPTS), "doctor": rnd.choice(["d1", "d2", "d3"]),
                  "amount": None if rnd.random() < .1 else D(rnd.randint(-5000, 900000)) / 100,
                  "surgery": rnd.choice([True, False, None]),
                  "day": date(2024, rnd.randint(1, 12), rnd.randint(1, 28)),
                  "los": rnd.choice([None, *range(1, 40)])} for k in range(240)]
    claim = [{"id": k + 1, "dept": rnd.choice(["icu", "med", "lab", None]),
              "cost": D(rnd.randint(0, 500000)) / 100, "paid": rnd.choice([True, False])}
             for k in range(120)]
    return discharge, claim


@pytest.fixture
def tables(db):
    db.on_sqlite_connect(sql_functions.register)
    meta = sa.MetaData()
    discharge = sa.Table("fs_discharge", meta, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("dept", sa.String(20)), sa.Column("doctor", sa.String(20)),
                         sa.Column("amount", sa.Numeric(14, 2)), sa.Column("surgery", sa.Boolean),
                         sa.Column("day", sa.Date), sa.Column("los", sa.Integer))
    claim = sa.Table("fs_claim", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("dept", sa.String(20)), sa.Column("cost", sa.Numeric(14, 2)),
                     sa.Column("paid", sa.Boolean))
    tree = sa.Table("fs_tree", meta, sa.Column("child", sa.String(20), primary_key=True),
                    sa.Column("parent", sa.String(20)))
    rows_d, rows_c = _rows(7)
    with db.begin() as conn:
        meta.create_all(conn)
        conn.execute(discharge.insert(), rows_d)
        conn.execute(claim.insert(), rows_c)
        conn.execute(tree.insert(), [{"child": "icu", "parent": "inpatient"},
                                     {"child": "surg", "parent": "inpatient"},
                                     {"child": "med", "parent": "inpatient"},
                                     {"child": "peds", "parent": "children"}])
    return {"discharge": discharge, "claim": claim, "tree": tree,
            DISCHARGE: rows_d, CLAIM: rows_c}


def _sources(t, **extra):
    return {DISCHARGE: AggregateSource(t["discharge"], dimensions={
                "dept": t["discharge"].c.dept, "doctor": t["discharge"].c.doctor}, **extra),
            CLAIM: AggregateSource(t["claim"], dimensions={"dept": t["claim"].c.dept})}


def _run(db, query):
    with db.connect() as conn:
        return {tuple(row[:-1]): row[-1] for row in conn.execute(query)}


def _expected(checked, rows, group_by):
    keyed: dict[tuple, dict[str, list]] = {}
    for entity in set(checked.aggregates.values()):
        for row in rows[entity]:
            key = tuple(row[g] for g in group_by)
            keyed.setdefault(key, {}).setdefault(entity, []).append(row)
    if not group_by:
        keyed.setdefault((), {})
    return {key: evaluate_aggregate(checked, parts, today=TODAY, now=NOW)
            for key, parts in keyed.items()}


def _assert_same(got, expected, dialect):
    assert set(got) == set(expected)
    bad = {k: (got[k], expected[k]) for k in expected if not same(got[k], expected[k], dialect)}
    assert not bad, bad


FORMULAS = [
    "COUNT(h.discharge, surgery = TRUE) / COUNT(h.discharge)",
    "SUM(h.discharge.amount)", "SUM(h.discharge.amount, amount > 1000 AND NOT surgery)",
    "AVG(h.discharge.amount)", "ROUND(AVG(h.discharge.los, surgery), 2)",
    "MIN(h.discharge.amount) & ' .. ' & MAX(h.discharge.amount)", "MAX(h.discharge.day)",
    "MIN(h.discharge.doctor, los > 30)", "COUNT(h.discharge.amount)",
    "COUNTDISTINCT(h.discharge.doctor)", "COUNTDISTINCT(h.discharge.los, amount > 0)",
    "COUNT(h.discharge, day BETWEEN DATE(2024, 4, 1) AND DATE(2024, 6, 30))",
    "IF(COUNT(h.discharge) > 50, 'busy', 'quiet')", "SUM(h.discharge.los, los > 2) * 2 + 1",
    "SUM(h.discharge.amount, h.discharge.los > 10) / SUM(h.claim.cost)",
    "COUNT(h.claim, paid) + COUNT(h.discharge, surgery)", "AVG(h.claim.cost) - AVG(h.discharge.amount)",
    "MAX(COUNT(h.claim), COUNT(h.discharge))", "DIVIDE(SUM(h.claim.cost), COUNT(h.discharge), 0)",
    # repeated operands holding aggregates (COUNT(*) must stay in the grouped query)
    "DIVIDE(COUNT(h.discharge), ROUND(AVG(h.discharge.amount), 2) * 1, 0)",
    "MOD(COUNT(h.discharge) * 7, ROUND(AVG(h.discharge.los), 0) + COUNT(h.discharge, surgery))",
    "SQRT(SUM(h.discharge.los) * COUNT(h.discharge) + COUNT(h.claim) - 1)",
    "COUNT(h.discharge) * 2 BETWEEN COUNT(h.claim) AND COUNT(h.claim) * 3 + COUNT(h.discharge)",
]


@pytest.mark.parametrize("group_by", [(), ("dept",)], ids=["total", "by_dept"])
def test_aggregate_formulas_match_the_evaluator(db, tables, group_by):
    for source in FORMULAS:
        checked = check(source, CONTEXT)
        query = compile_aggregate(checked, _sources(tables), group_by=group_by,
                                  dialect=db.dialect, today=TODAY, now=NOW)
        try:
            _assert_same(_run(db, query), _expected(checked, tables, group_by), db.dialect)
        except AssertionError as exc:
            raise AssertionError(f"{source}: {exc}") from None


def test_one_statement_with_filtered_aggregates(db, tables):
    checked = check("COUNT(h.discharge, surgery) / COUNT(h.discharge, los > 7)", CONTEXT)
    query = compile_aggregate(checked, _sources(tables), group_by=("dept",), dialect=db.dialect,
                              today=TODAY, now=NOW)
    sql = str(query.compile(db.engine))
    assert sql.count("SELECT") == 1 and "GROUP BY" in sql and "JOIN" not in sql
    assert ("FILTER (WHERE" in sql) if db.dialect == "postgresql" else ("CASE WHEN" in sql)
    assert [c.name for c in query.selected_columns] == ["dept", VALUE]


def test_formulas_over_two_entities_are_one_statement_without_joins(db, tables):
    checked = check("SUM(h.discharge.amount) / SUM(h.claim.cost)", CONTEXT)
    query = compile_aggregate(checked, _sources(tables), group_by=("dept",), dialect=db.dialect,
                              today=TODAY, now=NOW)
    sql = str(query.compile(db.engine))
    assert "UNION ALL" in sql and "JOIN" not in sql
    got = _run(db, query)
    # "lab" has claims only: the discharge sum is 0 there, not missing
    assert got[("lab",)] == 0 and ("surg",) in got


def test_where_filters_every_aggregate(db, tables):
    t = tables["discharge"]
    checked = check("COUNT(h.discharge, surgery) / COUNT(h.discharge)", CONTEXT)
    sources = _sources(tables, where=t.c.day.between(date(2024, 3, 1), date(2024, 5, 31)))
    query = compile_aggregate(checked, sources, group_by=("dept",), dialect=db.dialect,
                              today=TODAY, now=NOW)
    rows = {DISCHARGE: [r for r in tables[DISCHARGE] if date(2024, 3, 1) <= r["day"] <= date(2024, 5, 31)]}
    _assert_same(_run(db, query), _expected(checked, rows, ("dept",)), db.dialect)


def test_keys_report_groups_without_rows(db, tables):
    keys = sa.select(sa.literal_column("'icu'").label("dept")).union_all(
        sa.select(sa.literal_column("'empty'").label("dept"))).subquery("depts")
    checked = check("SUM(h.discharge.amount, surgery) & ' / ' & AVG(h.discharge.amount) & ' / '"
                    " & COUNT(h.discharge)", CONTEXT)
    query = compile_aggregate(checked, _sources(tables), group_by=("dept",), keys=keys,
                              dialect=db.dialect, today=TODAY, now=NOW)
    got = _run(db, query)
    assert got[("empty",)] == "0 /  / 0"
    assert set(got) >= {("icu",), ("surg",), (None,), ("empty",)}


def test_drill_down_groups_through_a_join(db, tables):
    """The indicator engine rolls rows up to a parent unit by joining its tree."""
    t, tree = tables["discharge"], tables["tree"]
    rows = t.join(tree, t.c.dept == tree.c.child)
    source = AggregateSource(rows, columns=lambda b: t.c[b.path[0]],
                             dimensions={"unit": tree.c.parent},
                             where=tree.c.parent.in_(["inpatient", "children"]))
    checked = check("SUM(h.discharge.amount, surgery) / COUNT(h.discharge)", CONTEXT)
    query = compile_aggregate(checked, {DISCHARGE: source}, group_by=("unit",),
                              dialect=db.dialect, today=TODAY, now=NOW)
    parents = {"icu": "inpatient", "surg": "inpatient", "med": "inpatient", "peds": "children"}
    rolled = [{**r, "unit": parents[r["dept"]]} for r in tables[DISCHARGE] if r["dept"] in parents]
    _assert_same(_run(db, query), _expected(checked, {DISCHARGE: rolled}, ("unit",)), db.dialect)


def test_group_by_two_dimensions_and_null_keys(db, tables):
    checked = check("COUNT(h.discharge, amount > 100)", CONTEXT)
    query = compile_aggregate(checked, _sources(tables), group_by=("dept", "doctor"),
                              dialect=db.dialect, today=TODAY, now=NOW)
    got = _run(db, query)
    _assert_same(got, _expected(checked, tables, ("dept", "doctor")), db.dialect)
    assert any(key[0] is None for key in got)


def test_no_rows_give_zero_counts_and_null_averages(db, tables):
    checked = check("COUNT(h.discharge) & '|' & SUM(h.discharge.amount) & '|' & "
                    "ISNULL(AVG(h.discharge.amount)) & '|' & COUNTDISTINCT(h.claim.dept)", CONTEXT)
    sources = _sources(tables)
    sources = {e: AggregateSource(s.rows, where=sa.false(), dimensions=s.dimensions)
               for e, s in sources.items()}
    query = compile_aggregate(checked, sources, dialect=db.dialect, today=TODAY, now=NOW)
    assert _run(db, query) == {(): "0|0|TRUE|0"}


def test_indicator_values_are_sql_expressions(db, tables):
    checked = check("@rate * COUNT(h.discharge)", CONTEXT)
    query = compile_aggregate(checked, _sources(tables), dialect=db.dialect, today=TODAY, now=NOW,
                              indicators={"rate": sa.literal(D("0.5"), sa.Numeric(10, 2))})
    assert _run(db, query) == {(): D(len(tables[DISCHARGE])) / 2}
    with pytest.raises(FormulaError) as caught:
        compile_aggregate(checked, _sources(tables), dialect=db.dialect, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context"


def test_a_formula_without_aggregates_is_one_row(db, tables):
    checked = check("ROUND(10 / 3, 2)", CONTEXT)
    query = compile_aggregate(checked, {}, dialect=db.dialect, today=TODAY, now=NOW)
    assert _run(db, query) == {(): D("3.33")}


@pytest.mark.parametrize("problem", ["source", "dimension", "column"])
def test_missing_pieces_are_context_errors(db, tables, problem):
    checked = check("SUM(h.discharge.amount) + COUNT(h.claim)", CONTEXT)
    sources = _sources(tables)
    group_by = ("dept",)
    if problem == "source":
        del sources[CLAIM]
    elif problem == "dimension":
        group_by = ("doctor",)
    else:
        sources[DISCHARGE] = AggregateSource(tables["discharge"], columns={},
                                             dimensions={"dept": tables["discharge"].c.dept})
    with pytest.raises(FormulaError) as caught:
        compile_aggregate(checked, sources, group_by=group_by, dialect=db.dialect,
                          today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context"
