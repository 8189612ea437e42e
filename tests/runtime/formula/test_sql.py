"""Row formulas compiled to SQL give the Python evaluator's answer (runtime layer).

Every operator and function of the contract is compiled with ``compile_row``,
run by the test's real database (SQLite or PostgreSQL) over rows chosen for
their edge cases (NULLs, zero, negative, month ends, leap days, year 9999,
Unicode texts), and compared with ``evaluate`` on the same rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from sql_helpers import NOW, TODAY, TYPES, columns, fill, formula_table, same, sql_values
from yunying.runtime.formula import sql_functions
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate
from yunying.runtime.formula.sql import MAX_SQL_DEPTH, compile_condition, compile_row
from yunying.runtime.formula.types import FType

CONTEXT = FormulaContext.of_values({**TYPES, "金额": FType.NUMBER})

ROWS = [
    {"n": D("10"), "m": D("-3"), "x": D("1234.5"), "i": 7, "s": "abc", "t": "Straße ΣΑΣ ǆ",
     "d": date(2024, 1, 31), "d2": date(2024, 2, 29), "dt": datetime(2024, 3, 1, 8, 30), "b": True},
    {},
    {"n": D("0"), "m": D("2.5"), "x": D("-0.005"), "i": -1, "s": "", "t": " \t padded \u3000",
     "d": date(2023, 12, 31), "d2": date(2024, 12, 31), "dt": datetime(2024, 2, 29, 23, 59, 59),
     "b": False},
    {"n": D("-2.5"), "m": D("0.125"), "x": D("1.005"), "i": 0, "s": "中文测试", "t": "ABC",
     "d": date(9999, 12, 31), "d2": date(1, 1, 1), "dt": datetime(9999, 12, 31, 23, 0), "b": None},
    {"n": D("123456789.25"), "m": D("-0.01"), "x": D("2.675"), "i": 2147483647, "s": "a%b_c",
     "t": "100", "d": date(2024, 2, 29), "d2": date(2023, 2, 28), "dt": datetime(2000, 1, 1),
     "b": True},
]

NUMBERS = [
    "n + m", "n - m", "n * m", "n + m - x + i", "n * m * x", "1.5E3 + .5", "n * 5%", "[金额] * 2",
    "i * 2147483647 * 3", "i + i", "-n", "+n", "-(-n)", "ABS(m)", "ABS(i)",
    "n / m", "m / n", "x / 3", "1 / 3", "2 / 3", "-7 / 2", "n / 0", "n / NULL", "i / 7",
    "n ^ 2", "m ^ 3", "2 ^ -2", "2 ^ 0.5", "(-8) ^ (1/3)", "0 ^ -1", "0 ^ 0", "n ^ 1001",
    "POWER(x, 2)", "POWER(m, -1)", "POWER(1.1, 10)", "POWER(2.5, 2.5)", "-2 ^ 2",
    "SQRT(n)", "SQRT(m)", "SQRT(2)", "SQRT(x)",
    "ROUND(x, 2)", "ROUND(1.005, 2)", "ROUND(2.5)", "ROUND(-2.5)", "ROUND(1250, -2)",
    "ROUND(x, i)", "ROUND(x, 101)", "ROUND(n, 2.7)", "ROUND(m / 7, 3)", "ROUND(x, -1)",
    "ROUNDUP(x, 2)", "ROUNDUP(-1.001, 2)", "ROUNDUP(m, 0)", "ROUNDUP(x, i)", "ROUNDUP(n, -1)",
    "ROUNDDOWN(x, 1)", "ROUNDDOWN(-1.99)", "ROUNDDOWN(m, i)",
    "MOD(-3, 2)", "MOD(3, -2)", "MOD(n, m)", "MOD(x, 0)", "MOD(n, 3)", "MOD(i, 4)", "MOD(m, 0.3)",
    "DIVIDE(n, m)", "DIVIDE(n, 0, -1)", "DIVIDE(n, NULL, 5)", "DIVIDE(NULL, 2, 5)", "DIVIDE(x, i, 0)",
    "MIN(n, m, x)", "MAX(n, m, NULL)", "MIN(i, n)", "MAX(NULL, n)",
    "LEN(s) + 1", "YEAR(d) * 100 + MONTH(d)", "COALESCE(n, m, 0)", "NULL + 1",
]
LOGIC = [
    "n > m", "n >= 10", "n = 10.00", "n != m", "m < 0 AND n > 0", "n > 0 OR NULL",
    "FALSE AND NULL", "TRUE OR NULL", "NOT b", "NOT (n > m)", "b = TRUE", "b != FALSE",
    "NOT (n > 0 AND b)", "n = NULL", "NULL = NULL", "NOT NULL", "(NOT b) IS NULL",
    "(NOT b) = FALSE", "UPPER(s) < t",
    "n IN (1, 10, NULL)", "n IN (1, 2, NULL)", "n NOT IN (1, 2)", "n NOT IN (1, NULL)",
    "s IN ('abc', 'x')", "d IN (DATE(2024, 1, 31), TODAY())", "i IN (7, -1)",
    "n BETWEEN 0 AND 10", "n BETWEEN m AND x", "s BETWEEN 'a' AND 'b'", "(n + m) BETWEEN -1 AND 7",
    "d BETWEEN DATE(2024, 1, 1) AND DATE(2024, 12, 31)", "dt BETWEEN d AND d2",
    "n IS NULL", "s IS NOT NULL", "b IS NULL", "ISNULL(b)", "ISNULL(NULL)",
    "s < t", "'a' < 'B'", "'Z' < 'a'", "'é' > 'z'", "s >= '中'", "d < dt", "d = DATE(2024, 1, 31)",
    "DATE(2024, 3, 1) = DATEADD(dt, 0, 'day')", "d >= d2", "dt > NOW()",
]
CHOICES = [
    "IF(n > 5, 'big', 'small')", "IF(b, 1)", "IF(NULL, 1, 2)", "IF(n > 5, m, NULL)",
    "IFS(n > 100, 'a', n > 5, 'b', TRUE, 'c')", "IFS(n > 100, 1)",
    "IF(n > 5, IF(m > 0, 1, 2), IF(m > 0, 3, IF(b, 4, 5)))", "COALESCE(s)", "COALESCE(NULL, t, s)",
    "COALESCE(d, d2)", "IF(b, d, TODAY())", "IF(b, dt)",
]
TEXTS = [
    "s & t", "s & n & d & dt & b", "n & ''", "x & ''", "m & ''", "i & ''", "1.50 & ''",
    "1.5E3 & ''", "-0.0 & ''", "0.00 & ''", "(n / 4) & ''", "NULL & NULL", "b & ''",
    "CONCAT(s, n, NULL, b, d)", "CONCAT(t)", "TODAY() & ' ' & NOW()",
    "LEN(s)", "LEN(t)", "LEFT(s, 2)", "LEFT(s, -1)", "LEFT(s, 100)", "LEFT(s, 1.9)", "LEFT(s, -0.5)",
    "LEFT(s, i)", "RIGHT(s, 2)", "RIGHT(s, 0)", "RIGHT(t, i)", "MID(s, 2, 1)", "MID(s, 0, 1)",
    "MID(s, 10, 2)", "MID(s, 2, -1)", "MID(t, i, 2)", "MID(t, 2, 100)",
    "UPPER(t)", "LOWER(t)", "UPPER('straße')", "LOWER('ΣΑΣ')", "UPPER(s)", "TRIM(t)",
    "TRIM('  x  y  ')", "CONTAINS(s, 'b')", "CONTAINS(s, '')", "CONTAINS(s, 'B')",
    "CONTAINS(s, '%')", "CONTAINS(t, 'ß')", "STARTSWITH(s, 'ab')", "STARTSWITH(s, '_')",
    "STARTSWITH(s, '')", "ENDSWITH(s, 'bc')", "ENDSWITH(s, '')", "ENDSWITH(s, '_c')",
    "SUBSTITUTE(s, 'b', 'XX')", "SUBSTITUTE(s, '', 'x')", "SUBSTITUTE('', '', s)", "SUBSTITUTE(s, '', t)", "SUBSTITUTE('a.b.c', '.', '')",
    "SUBSTITUTE(s, '%', '')", "SUBSTITUTE(t, s, '-')", "COALESCE(UPPER(s), MIN(s, t))",
    "MAX(LOWER(t), s) & UPPER(t)",
]
DATES = [
    "TODAY()", "NOW()", "d + 1", "d - 1", "d + 1.9", "d - (-1.9)", "d + i", "d2 - d",
    "d - DATE(2023, 12, 31)", "d + 3000000", "d - 3000000", "TODAY() - d",
    "DATE(2024, 2, 30)", "DATE(2024, 2, 29)", "DATE(2023, 2, 29)", "DATE(0, 1, 1)",
    "DATE(2024, 13, 1)", "DATE(2024.9, 1.9, 1.9)", "DATE(10000, 1, 1)", "DATE(YEAR(d), 2, 29)",
    "DATE('2024-03-01')", "DATE('2024-3-1')", "DATE('2024-02-30')", "DATE(s)", "DATE(t)",
    "DATE('2024-03-01 08:00')", "DATE('2024-03-01\\n')",
    "YEAR(d)", "MONTH(dt)", "DAY(d)", "QUARTER(d)", "QUARTER(dt)",
    "DAYS(d2, d)", "DAYS(dt, d)", "DAYS(NOW(), dt)",
    "DATEADD(d, 1, 'month')", "DATEADD(d, -1, 'months')", "DATEADD(d2, 1, 'year')",
    "DATEADD(d2, -4, 'years')", "DATEADD(d, 30, 'day')", "DATEADD(dt, 1, 'month')",
    "DATEADD(dt, -2, '天')", "DATEADD(d, 1.9, '月')", "DATEADD(d, 100000, 'year')",
    "DATEADD(d, n, 'month')", "DATEADD(d, 1, 'DAY')", "DATEADD(d2, -1, '日')", "DATEADD(dt, 1, '年')",
    "DATEADD(d, 119999, 'month')", "DATEADD(d, -24000, 'months')",
    "EOMONTH(d, 0)", "EOMONTH(d, 1)", "EOMONTH(dt, -1)", "EOMONTH(d, n)", "EOMONTH(d2, -12)",
    "YEAR(TODAY())", "MONTH(NOW()) + DAY(NOW())",
]


def _context_rows() -> list[dict]:
    return [{**row, "金额": row.get("x")} for row in ROWS]


@pytest.fixture
def table(db):
    table = formula_table(db)
    fill(db, table, ROWS)
    return table


@pytest.fixture
def cols(table):
    return {**columns(table), "金额": table.c.x}


def _run_group(db, table, sources):
    mismatches = _mismatches(db, table, sources)
    assert not mismatches, "\n".join(mismatches)


def _mismatches(db, table, sources):
    """Every (formula, row) where the database and the evaluator disagree."""
    rows = _context_rows()
    cols = {**columns(table), "金额": table.c.x}
    out = []
    for source in sources:
        checked = check(source, CONTEXT)
        expected = [evaluate(checked, row, today=TODAY, now=NOW) for row in rows]
        expr = compile_row(checked, cols, dialect=db.dialect, today=TODAY, now=NOW)
        with db.connect() as conn:
            got = list(conn.execute(sa.select(expr).select_from(table).order_by(table.c.id)).scalars())
        out += [f"{source!r} row {k}: database {g!r}, evaluator {e!r}"
                for k, (g, e) in enumerate(zip(got, expected)) if not same(g, e, db.dialect)]
    return out


@pytest.mark.parametrize("group", ["numbers", "logic", "choices", "texts", "dates"])
def test_every_operator_and_function_matches_the_evaluator(db, table, group):
    sources = {"numbers": NUMBERS, "logic": LOGIC, "choices": CHOICES, "texts": TEXTS,
               "dates": DATES}[group]
    _run_group(db, table, sources)


@pytest.mark.parametrize("source, expected", [
    ("ROUND(1.005, 2)", D("1.01")), ("ROUND(-2.5)", D("-3")), ("ROUND(2.5)", D("3")),
    ("MOD(-3, 2)", D("1")), ("MOD(3, -2)", D("-1")), ("1 / 3", D("0.3333333333333333")),
    ("2 / 3", D("0.6666666666666667")), ("DATEADD(DATE(2024, 1, 31), 1, 'month')", date(2024, 2, 29)),
    ("3.50 & ''", "3.5"), ("UPPER('straße')", "STRASSE"), ("TRIM('\u3000 x\t')", "x"),
    ("'a' < 'B'", False), ("DIVIDE(1, 0, 7)", D("7")), ("ROUNDUP(-1.001, 2)", D("-1.01")),
])
def test_contract_examples_in_sql(db, table, source, expected):
    checked = check(source, CONTEXT)
    got = sql_values(db, table, checked)[0]
    assert same(got, expected, db.dialect), got


def test_a_condition_runs_as_a_where_clause_with_bound_values(db):
    context = FormulaContext.of_values({"amount": FType.NUMBER, "category": FType.STRING})
    table = sa.Table("fs_claims", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("amount", sa.Numeric(12, 2)), sa.Column("category", sa.String(20)))
    with db.begin() as conn:
        table.metadata.create_all(conn)
        conn.execute(table.insert(), [
            {"id": 1, "amount": D("1500"), "category": "travel"},
            {"id": 2, "amount": D("900"), "category": "travel"},
            {"id": 3, "amount": D("5000"), "category": "food"},
            {"id": 4, "amount": None, "category": "travel"}])
    checked = check("amount > 1000 AND category = 'travel'", context)
    where = compile_row(checked, {"amount": table.c.amount, "category": table.c.category},
                        dialect=db.dialect, today=TODAY, now=NOW)
    query = sa.select(table.c.id).where(where).order_by(table.c.id)
    compiled = query.compile(db.engine)
    assert "1000" not in str(compiled) and "travel" not in str(compiled)
    assert sorted(map(str, compiled.params.values())) == ["1000", "travel"]
    with db.connect() as conn:
        assert conn.execute(query).scalars().all() == [1]
        negated = sa.select(table.c.id).where(sa.not_(compile_condition(
            checked, {"amount": table.c.amount, "category": table.c.category},
            dialect=db.dialect, today=TODAY, now=NOW))).order_by(table.c.id)
        assert conn.execute(negated).scalars().all() == [2, 3, 4]


def test_a_condition_is_never_null(db, table, cols):
    checked = check("n > 5", CONTEXT)
    expr = compile_condition(checked, cols, dialect=db.dialect, today=TODAY, now=NOW)
    with db.connect() as conn:
        got = conn.execute(sa.select(expr).select_from(table).order_by(table.c.id)).scalars().all()
    assert got == [True, False, False, False, True]


def test_only_boolean_formulas_are_conditions(db, cols):
    with pytest.raises(FormulaError) as caught:
        compile_condition(check("n + 1", CONTEXT), cols, dialect=db.dialect, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "type"


def test_aggregate_formulas_need_compile_aggregate(db, cols):
    info = EntityInfo("h.a", None, {"n": FieldInfo("n", FType.NUMBER)})
    checked = check("SUM(h.a.n)", FormulaContext(mode="aggregate", entities={"h.a": info}))
    with pytest.raises(FormulaError) as caught:
        compile_row(checked, cols, dialect=db.dialect, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context"


def test_a_field_without_a_column_is_a_context_error(db):
    with pytest.raises(FormulaError) as caught:
        compile_row(check("n + m", CONTEXT), {"n": sa.column("n")}, dialect=db.dialect,
                    today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "context"
    assert "'m'" in caught.value.message.en and caught.value.issues[0].span.start == 4


def test_an_unknown_database_is_a_formula_error(cols):
    with pytest.raises(FormulaError):
        compile_row(check("n + 1", CONTEXT), cols, dialect="oracle", today=TODAY, now=NOW)


def test_too_deep_for_the_database_is_too_complex_located(db, cols):
    depth = MAX_SQL_DEPTH[db.dialect] if db.dialect == "sqlite" else 60
    source = "SQRT(" * depth + "n" + ")" * depth
    with pytest.raises(FormulaError) as caught:
        compile_row(check(source, CONTEXT), cols, dialect=db.dialect, today=TODAY, now=NOW)
    issue = caught.value.issues[0]
    assert issue.code == "too_complex" and issue.span.start >= 0
    assert "split" in issue.message.en and "拆分" in issue.message.zh


def test_long_sums_and_if_chains_are_flat(db, table, cols):
    """60 terms and a 40-branch IF chain stay within SQLite's parser limits."""
    terms = " + ".join(f"n * {k}" for k in range(60))
    chain = "".join(f"IF(n > {k}, {k}, " for k in range(40)) + "-1" + ")" * 40
    _run_group(db, table, [terms, chain, " & ".join(["s"] * 50)])


def test_repeated_operands_do_not_grow_the_sql_exponentially(db, cols):
    sizes = []
    for depth in (4, 8):
        source = "MOD(" * depth + "n" + ", m + n)" * depth
        expr = compile_row(check(source, CONTEXT), cols, dialect=db.dialect, today=TODAY, now=NOW)
        sizes.append(len(str(sa.select(expr).compile(db.engine))))
    assert sizes[1] < 3 * sizes[0]


def test_nested_repeated_operands_give_the_evaluators_answer(db, table):
    sources = ["MOD(MOD(MOD(n * 7 + 1, m + 4), m + 3), ROUND(x, 1) + 2)",
               "SQRT(SQRT(ABS(n * m + x)))",
               "(n * m + x) BETWEEN (n - 1) AND ((n + x) BETWEEN 0 AND 1E12 = TRUE) & ''",
               "DIVIDE(n, DIVIDE(m, DIVIDE(x, i, 2), 3), 4)"]
    _run_group(db, table, [s for s in sources if _checks(s)])


def _checks(source: str) -> bool:
    try:
        check(source, CONTEXT)
    except FormulaError:
        return False
    return True


def test_sqlite_functions_never_raise():
    weird = [None, 0, -1, 2**70, 1e308, float("nan"), float("inf"), "", "abc", "2024-02-30",
             "9999-12-31", b"\x00\xff", "1e999999", "１２"]
    for name, (arity, fn) in sql_functions.FUNCTIONS.items():
        count = 2 if arity == -1 else arity
        for a in weird:
            args = [a] * count
            fn(*args)  # must not raise
    for cls in sql_functions.AGGREGATES.values():
        agg = cls()
        for a in weird:
            agg.step(a)
        agg.finalize()


def test_functions_reach_connections_already_in_the_pool(database_url):
    from yunying.platform.database import Database
    database = Database(database_url)
    try:
        with database.connect() as conn:      # a pooled connection exists before registering
            conn.execute(sa.text("SELECT 1"))
        database.on_sqlite_connect(sql_functions.register)
        database.on_sqlite_connect(sql_functions.register)   # once is enough
        if database.dialect == "sqlite":
            with database.connect() as conn:
                assert conn.execute(sa.text("SELECT yyf_div(1, 3)")).scalar() == 1 / 3
                assert conn.execute(sa.text("SELECT yyf_upper('straße')")).scalar() == "STRASSE"
    finally:
        database.dispose()
