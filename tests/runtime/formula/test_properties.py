"""Property tests: random well-typed formulas over random rows give the same
result from the Python evaluator and from the compiled SQL (runtime layer).

Row formulas: ``evaluate`` vs ``compile_row``; aggregate formulas:
``evaluate_aggregate`` vs ``compile_aggregate``, group by group — on the
test's real database. PostgreSQL is compared exactly. SQLite holds decimals
as REAL, exact to 15 significant digits: examples where a number *inside*
the formula needs more digits are outside what SQLite can carry and are
discarded; the result itself is compared after normalising to 15 digits.
Examples the evaluator finds out of range (|x| ≥ 10^100) are discarded too.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sql_helpers import FIELDS, NOW, TODAY, TYPES, fill, formula_table, same, sql_values
from yunying.runtime.formula import ast
from yunying.runtime.formula.aggregate_sql import AggregateSource, compile_aggregate
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate, evaluate_aggregate
from yunying.runtime.formula.types import FType

N, S, B, DT, D_ = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATETIME, FType.DATE
SETTINGS = settings(max_examples=100, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.filter_too_much])
ROW_CONTEXT = FormulaContext.of_values(TYPES)
_ALPHABET = "abcAB xyz09中文ßéΣ\t\u3000%_'"
_FIELDS_OF = {t: [code for code, ft in TYPES.items() if ft is t] for t in (N, S, B, D_, DT)}


# --- values ---------------------------------------------------------------------

def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy, strategy, strategy)


_VALUES = {
    N: st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    S: st.text(_ALPHABET, max_size=8),
    B: st.booleans(),
    D_: st.dates(),
    DT: st.datetimes(),
}


def _value(code: str) -> st.SearchStrategy:
    if code == "i":
        return _maybe(st.integers(-1000, 1000))
    return _maybe(_VALUES[TYPES[code]])


ROW = st.fixed_dictionaries({code: _value(code) for code in FIELDS})
ROWS = st.lists(ROW, min_size=1, max_size=4)


# --- formulas -------------------------------------------------------------------

def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number_literal(value: Decimal) -> str:
    text = format(value, "f")
    return f"({text})" if text.startswith("-") else text


_LEAVES: dict[FType, Callable[[], st.SearchStrategy[str]]] = {
    N: lambda: st.one_of(st.sampled_from(_FIELDS_OF[N]),
                         st.decimals(-1000, 1000, places=2).map(_number_literal), st.just("NULL")),
    S: lambda: st.one_of(st.sampled_from(_FIELDS_OF[S]), st.text(_ALPHABET, max_size=4).map(_quote)),
    B: lambda: st.sampled_from(["b", "TRUE", "FALSE", "NULL"]),
    D_: lambda: st.sampled_from(["d", "d2", "TODAY()", "DATE(2024, 2, 29)", "DATE('2023-12-31')"]),
    DT: lambda: st.sampled_from(["dt", "NOW()"]),
}
_UNITS = ["'day'", "'month'", "'year'", "'天'", "'月'", "'年'"]
_SMALL = st.integers(-3, 5).map(str)
_ORDERED = [N, S, D_, DT]


@st.composite
def formula(draw: st.DrawFn, ftype: FType, depth: int = 3) -> str:
    """A well-typed row formula of type ``ftype`` nested at most ``depth`` levels."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(_LEAVES[ftype]())
    sub = lambda t: formula(t, depth - 1)  # noqa: E731
    return draw(st.one_of(*[b(sub) for b in _BUILDERS[ftype]]))


def _fmt(template: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(lambda xs: template.format(*xs))


_BUILDERS: dict[FType, list[Callable[[Callable[[FType], Any]], st.SearchStrategy[str]]]] = {
    N: [
        lambda f: _fmt("({} {} {})", f(N), st.sampled_from(["+", "-", "*"]), f(N)),
        lambda f: _fmt("({} / {})", f(N), f(N)),
        lambda f: _fmt("-{}", f(N)),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["ROUND", "ROUNDUP", "ROUNDDOWN"]), f(N),
                       st.integers(-2, 4).map(str)),
        lambda f: _fmt("ABS({})", f(N)),
        lambda f: _fmt("MOD({}, {})", f(N), f(N)),
        lambda f: _fmt("POWER({}, {})", f(N), st.integers(-2, 3).map(str)),
        lambda f: _fmt("SQRT(ABS({}))", f(N)),
        lambda f: _fmt("DIVIDE({}, {}, {})", f(N), f(N), f(N)),
        lambda f: _fmt("IF({}, {}, {})", f(B), f(N), f(N)),
        lambda f: _fmt("COALESCE({}, {})", f(N), f(N)),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["MIN", "MAX"]), f(N), f(N)),
        lambda f: _fmt("LEN({})", f(S)),
        lambda f: _fmt("{}({})", st.sampled_from(["YEAR", "MONTH", "DAY", "QUARTER"]),
                       st.one_of(f(D_), f(DT))),
        lambda f: _fmt("DAYS({}, {})", st.one_of(f(D_), f(DT)), f(D_)),
        lambda f: _fmt("({} - {})", f(D_), f(D_)),
    ],
    S: [
        lambda f: _fmt("({} & {})", f(S), st.one_of(f(N), f(S), f(B), f(D_), f(DT))),
        lambda f: _fmt("{}({})", st.sampled_from(["UPPER", "LOWER", "TRIM"]), f(S)),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["LEFT", "RIGHT"]), f(S), _SMALL),
        lambda f: _fmt("MID({}, {}, {})", f(S), _SMALL, _SMALL),
        lambda f: _fmt("SUBSTITUTE({}, {}, {})", f(S), f(S), f(S)),
        lambda f: _fmt("CONCAT({}, {})", st.one_of(f(N), f(S)), st.one_of(f(D_), f(B), f(S))),
        lambda f: _fmt("IF({}, {}, {})", f(B), f(S), f(S)),
        lambda f: _fmt("COALESCE({}, {})", f(S), f(S)),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["MIN", "MAX"]), f(S), f(S)),
    ],
    B: [
        *[(lambda t: lambda f: _fmt("({} {} {})", f(t), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                                    f(t)))(t) for t in _ORDERED],
        lambda f: _fmt("({} {} {})", f(D_), st.sampled_from(["<", "=", ">="]), f(DT)),
        lambda f: _fmt("({} {} {})", f(B), st.sampled_from(["=", "!="]), f(B)),
        lambda f: _fmt("({} {} {})", f(B), st.sampled_from(["AND", "OR"]), f(B)),
        lambda f: _fmt("(NOT {})", f(B)),
        lambda f: _fmt("({} {}IN ({}, {}, {}))", f(N), st.sampled_from(["", "NOT "]), f(N), f(N), f(N)),
        lambda f: _fmt("({} IN ({}, {}))", f(S), f(S), f(S)),
        lambda f: _fmt("({} BETWEEN {} AND {})", f(N), f(N), f(N)),
        lambda f: _fmt("({} BETWEEN {} AND {})", f(D_), f(D_), f(D_)),
        lambda f: _fmt("({} IS {}NULL)", st.one_of(f(N), f(S), f(B)), st.sampled_from(["", "NOT "])),
        lambda f: _fmt("ISNULL({})", st.one_of(f(D_), f(DT))),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["CONTAINS", "STARTSWITH", "ENDSWITH"]),
                       f(S), f(S)),
    ],
    D_: [
        lambda f: _fmt("({} {} {})", f(D_), st.sampled_from(["+", "-"]), f(N)),
        lambda f: _fmt("DATEADD({}, {}, {})", f(D_), f(N), st.sampled_from(_UNITS)),
        lambda f: _fmt("EOMONTH({}, {})", st.one_of(f(D_), f(DT)), f(N)),
        lambda f: _fmt("DATE({}, {}, {})", f(N), st.integers(0, 13).map(str), f(N)),
        lambda f: _fmt("DATE({})", f(S)),
        lambda f: _fmt("IF({}, {}, {})", f(B), f(D_), f(D_)),
        lambda f: _fmt("{}({}, {})", st.sampled_from(["MIN", "MAX", "COALESCE"]), f(D_), f(D_)),
    ],
    DT: [
        lambda f: _fmt("DATEADD({}, {}, {})", f(DT), f(N), st.sampled_from(_UNITS)),
        lambda f: _fmt("IF({}, {}, {})", f(B), f(DT), f(DT)),
        lambda f: _fmt("COALESCE({}, {})", f(DT), f(DT)),
    ],
}
ANY_FORMULA = st.sampled_from([N, N, S, B, B, D_, DT]).flatmap(formula)


# --- oracles --------------------------------------------------------------------

def _digits(value: Any) -> int:
    if not isinstance(value, Decimal) or not value:
        return 0
    return len(value.normalize().as_tuple().digits)


def _part(checked: Checked, node: ast.Node, *, row: bool = False) -> Checked:
    """The sub-expression ``node`` of a checked formula, checked as a formula of its own."""
    return replace(checked, tree=node, type=checked.types[node],
                   aggregates={} if row else checked.aggregates)


def _inner_numbers(checked: Checked) -> list[Checked]:
    """Every number-typed sub-expression of the formula (not the whole)."""
    found, stack = [], list(ast.children(checked.tree))
    while stack:
        node = stack.pop()
        stack.extend(ast.children(node))
        if checked.types[node] is N and not isinstance(node, ast.Number):
            found.append(_part(checked, node, row=True))
    return found


def _evaluations(checked: Checked, rows: list[dict]) -> list[Any]:
    try:
        return [evaluate(checked, row, today=TODAY, now=NOW) for row in rows]
    except FormulaError as exc:            # out of the language's range: not a comparison
        assume(exc.issues[0].code != "evaluation")
        raise


def _fits_sqlite(checked: Checked, rows: list[dict], run: Callable[[Checked], list[Any]]) -> bool:
    """Whether every number inside the formula has at most 15 significant digits."""
    return not any(_digits(v) > 15 for part in _inner_numbers(checked) for v in run(part))


@pytest.fixture
def table(db):
    return formula_table(db, "fs_props")


@SETTINGS
@given(source=ANY_FORMULA, rows=ROWS)
def test_row_formulas_agree_with_the_evaluator(db, table, source, rows):
    checked = check(source, ROW_CONTEXT)
    expected = _evaluations(checked, rows)
    if db.dialect == "sqlite":
        assume(_fits_sqlite(checked, rows, lambda c: _evaluations(c, rows)))
    fill(db, table, rows)
    got = sql_values(db, table, checked)
    for g, e, row in zip(got, expected, rows):
        assert same(g, e, db.dialect), f"{source}\nrow {row}\ndatabase {g!r}\nevaluator {e!r}"


# --- aggregates -------------------------------------------------------------------

ENTITIES = ("p.one", "p.two")
AGG_CONTEXT = FormulaContext(mode="aggregate", entities={
    code: EntityInfo(code, None, {f: FieldInfo(f, t) for f, t in TYPES.items()})
    for code in ENTITIES})
# a bare NULL would make MIN(e.f, NULL) the scalar MIN (see the decisions on MIN/MAX)
_CONDITION = st.one_of(st.just(""), formula(B, 2).filter(lambda c: c != "NULL").map(lambda c: ", " + c))


def _aggregate_call(entity: str) -> st.SearchStrategy[str]:
    numbers = st.sampled_from(_FIELDS_OF[N])
    ordered = st.sampled_from(_FIELDS_OF[N] + _FIELDS_OF[S] + _FIELDS_OF[D_])
    anything = st.sampled_from(list(TYPES))
    return st.one_of(
        _fmt("{}(" + entity + ".{}{})", st.sampled_from(["SUM", "AVG"]), numbers, _CONDITION),
        _fmt("{}(" + entity + ".{}{})", st.sampled_from(["COUNT", "COUNTDISTINCT"]), anything, _CONDITION),
        _fmt("COUNT(" + entity + "{})", _CONDITION),
        _fmt("ROUND(AVG(" + entity + ".{}{}), 2)", numbers, _CONDITION),
        _fmt("({}(" + entity + ".{}{}) & '')", st.sampled_from(["MIN", "MAX"]), ordered, _CONDITION),
    )


@st.composite
def aggregate_formula(draw: st.DrawFn) -> str:
    calls = [draw(_aggregate_call(draw(st.sampled_from(ENTITIES)))) for _ in range(draw(st.integers(1, 3)))]
    numeric = [c for c in calls if not c.endswith("& '')")] or ["COUNT(p.one)"]
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return calls[0]
    if shape == 1:
        return " & '|' & ".join(calls)
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    if shape == 2:
        return f"({numeric[0]}) {op} ({numeric[-1]})"
    return f"IF({numeric[0]} > {numeric[-1]}, {numeric[0]}, DIVIDE({numeric[-1]}, {numeric[0]}, 0))"


GROUPED_ROWS = st.lists(st.tuples(st.sampled_from(ENTITIES), st.sampled_from(["g1", "g2", None]), ROW),
                        max_size=12)


@pytest.fixture
def entity_tables(db):
    g = [sa.Column("g", sa.String(10))]
    return {"p.one": formula_table(db, "fs_one", extra=g),
            "p.two": formula_table(db, "fs_two", extra=[sa.Column("g", sa.String(10))])}


def _fill_grouped(db, tables, grouped):
    per: dict[str, list[dict]] = {e: [] for e in ENTITIES}
    for entity, group, row in grouped:
        per[entity].append({**row, "g": group})
    for entity, rows in per.items():
        table = tables[entity]
        full = [{"id": k + 1, **{c: r.get(c) for c in (*FIELDS, "g")}} for k, r in enumerate(rows)]
        with db.begin() as conn:
            conn.execute(table.delete())
            if full:
                conn.execute(table.insert(), full)
    return per


def _aggregate_oracle(checked: Checked, per: dict[str, list[dict]], by_group: bool) -> dict:
    groups: dict[tuple, dict[str, list]] = {}
    for entity in set(checked.aggregates.values()):
        for row in per[entity]:
            groups.setdefault((row["g"],) if by_group else (), {}).setdefault(entity, []).append(row)
    if not by_group:
        groups.setdefault((), {})
    try:
        return {k: evaluate_aggregate(checked, parts, today=TODAY, now=NOW) for k, parts in groups.items()}
    except FormulaError as exc:
        assume(exc.issues[0].code != "evaluation")
        raise


def _outer_numbers(checked: Checked) -> list[Checked]:
    """Number-typed sub-expressions outside aggregate calls, and the aggregates."""
    found, stack = [], list(ast.children(checked.tree))
    while stack:
        node = stack.pop()
        if node not in checked.aggregates:
            stack.extend(ast.children(node))
        if checked.types[node] is N and not isinstance(node, ast.Number):
            found.append(_part(checked, node))
    return found


def _aggregate_fits_sqlite(checked: Checked, per: dict[str, list[dict]], by_group: bool) -> bool:
    """Every number around and inside the aggregates has at most 15 significant digits."""
    for part in _outer_numbers(checked):
        if any(_digits(v) > 15 for v in _aggregate_oracle(part, per, by_group).values()):
            return False
    for call, entity in checked.aggregates.items():
        if len(call.args) == 2:            # the condition is a row formula over the entity
            rows = per[entity]
            condition = _part(checked, call.args[1], row=True)
            if not _fits_sqlite(condition, rows, lambda c: _evaluations(c, rows)):
                return False
    return True


@SETTINGS
@given(source=aggregate_formula(), grouped=GROUPED_ROWS, by_group=st.booleans())
def test_aggregate_formulas_agree_with_the_evaluator(db, entity_tables, source, grouped, by_group):
    checked = check(source, AGG_CONTEXT)
    per = _fill_grouped(db, entity_tables, grouped)
    expected = _aggregate_oracle(checked, per, by_group)
    if db.dialect == "sqlite":
        assume(_aggregate_fits_sqlite(checked, per, by_group))
    sources = {e: AggregateSource(t, dimensions={"g": t.c.g}) for e, t in entity_tables.items()}
    query = compile_aggregate(checked, sources, group_by=("g",) if by_group else (),
                              dialect=db.dialect, today=TODAY, now=NOW)
    with db.connect() as conn:
        got = {tuple(r[:-1]): r[-1] for r in conn.execute(query)}
    assert set(got) == set(expected), source
    for key, value in expected.items():
        assert same(got[key], value, db.dialect), \
            f"{source}\ngroup {key}\ndatabase {got[key]!r}\nevaluator {value!r}"
