"""Safety of the Python evaluator: whatever the values, only FormulaError escapes.

Random values of every kind (including ones a caller should never pass) go
into formulas that use every operator and function; random well-typed formulas
run over random records; huge numbers and exploding texts end in an
``evaluation`` error, not a hang. The evaluator's last-resort handler (which
turns an unexpected exception into an "internal error") must never be needed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate, evaluate_condition, prepare
from yunying.runtime.formula.types import FType

TODAY = date(2024, 3, 15)
NOW = datetime(2024, 3, 15, 8, 30)
RESULT_TYPES = (D, str, bool, date, type(None))

CONTEXT = FormulaContext.of_values({
    "n": FType.NUMBER, "m": FType.NUMBER, "s": FType.STRING, "t": FType.STRING,
    "b": FType.BOOLEAN, "d": FType.DATE, "dt": FType.DATETIME,
})

#: every operator and function of the row language at least once.
FORMULAS = [
    "n + m", "n - m", "n * m", "n / m", "n ^ m", "-n", "+n", "n ^ 2 ^ m",
    "n = m", "n != m", "n < m", "n <= m", "n > m", "n >= m", "n IN (m, 1, NULL)",
    "n NOT IN (m, 2)", "n BETWEEN m AND 10", "n IS NULL", "n IS NOT NULL",
    "b AND n > m", "b OR n < m", "NOT b", "b = TRUE", "s & n & d & dt & b", "s < t", "s IN (t, 'x')",
    "IF(b, n, m)", "IF(b, s)", "IFS(b, n, n > m, m)", "ISNULL(s)", "COALESCE(n, m, 0)",
    "ROUND(n, m)", "ROUND(n)", "ROUNDUP(n, m)", "ROUNDDOWN(n, m)", "ABS(n)", "SQRT(n)",
    "POWER(n, m)", "MOD(n, m)", "DIVIDE(n, m)", "DIVIDE(n, m, 0)", "MIN(n, m)", "MAX(n, m, 1)",
    "MIN(s, t)", "MAX(d, DATE(2020, 1, 1))", "MIN(dt, NOW())",
    "LEN(s)", "LEFT(s, n)", "RIGHT(s, n)", "MID(s, n, m)", "UPPER(s)", "LOWER(t)", "TRIM(s)",
    "CONCAT(s, n, d, b)", "CONTAINS(s, t)", "STARTSWITH(s, t)", "ENDSWITH(s, t)",
    "SUBSTITUTE(s, t, 'xy')",
    "TODAY()", "NOW()", "DATE(n, m, 1)", "DATE(s)", "YEAR(d)", "MONTH(dt)", "DAY(d)",
    "QUARTER(dt)", "DAYS(d, dt)", "DAYS(dt, d)", "DATEADD(d, n, 'day')", "DATEADD(dt, n, 'month')",
    "DATEADD(d, m, 'year')", "EOMONTH(d, n)", "EOMONTH(dt, m)", "d - d", "d + n", "d - m",
    "d < dt", "dt BETWEEN d AND NOW()",
]
PREPARED = [prepare(check(f, CONTEXT)) for f in FORMULAS]
INTERNAL = "internal error"


def _no_internal_error(error: FormulaError) -> None:
    for issue in error.issues:
        assert issue.code in ("evaluation", "context", "type")
        assert INTERNAL not in issue.message.en, error.__cause__


def _safely(run) -> object:
    try:
        result = run()
    except FormulaError as error:
        _no_internal_error(error)
        return error
    assert isinstance(result, RESULT_TYPES), type(result)
    return result


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10 ** 90, max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10 ** 6, max_value=10 ** 6, places=6), st.text(max_size=30),
    st.sampled_from(["2024-02-29", "2024-02-30", "1.5", "1E99", "NaN", "-inf", "true", " 12 ",
                     "2024-03-01 08:30:00", "2024-03-01T08:30:00+08:00", "0"]),
    st.dates(), st.datetimes(), st.datetimes(timezones=st.just(timezone(timedelta(hours=8)))),
    st.sampled_from([D("sNaN"), D("NaN"), D("-Infinity"), D("-0"), D("1E-999999"), D("0E+500")]),
    st.binary(max_size=5), st.lists(st.integers(), max_size=2), st.just(object()),
    st.just(timedelta(days=1)), st.just({"a": 1}),
)
NAMES = ("n", "m", "s", "t", "b", "d", "dt")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.fixed_dictionaries({}, optional={name: ANYTHING for name in NAMES}))
def test_any_values_give_a_value_or_a_formula_error(row):
    for prepared in PREPARED:
        _safely(lambda: prepared.evaluate(row, today=TODAY, now=NOW))
        _safely(lambda: prepared.checked.type is FType.BOOLEAN
                and prepared.evaluate_condition(row, today=TODAY, now=NOW))


NUMBERS = st.one_of(
    st.none(), st.integers(-10 ** 6, 10 ** 6), st.decimals(min_value=-10 ** 9, max_value=10 ** 9, places=4),
    st.sampled_from([D("0"), D("-0"), D("0.5"), D("-2.5"), D("1E-40"), D("9.99E99"), D("-9.99E99"),
                     D("1000"), D("-1001"), D("0.1"), D("1E50")]),
    st.floats(min_value=-1e12, max_value=1e12))
PROPER = {
    "n": NUMBERS, "m": NUMBERS,
    "s": st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", "　a　", "aa", "ß", "中文"])),
    "t": st.one_of(st.none(), st.text(max_size=3), st.just("")),
    "b": st.one_of(st.none(), st.booleans()),
    "d": st.one_of(st.none(), st.dates(), st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29)])),
    "dt": st.one_of(st.none(), st.datetimes()),
}


# --- random well-typed formulas ---------------------------------------------------

@st.composite
def formulas(draw, kind: str, depth: int = 3) -> str:
    """A random well-typed formula of ``kind`` (N, S, B or D)."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES[kind]))
    template = draw(st.sampled_from(SHAPES[kind]))
    parts = {k: draw(formulas(k, depth - 1)) for k in ("N", "S", "B", "D")}
    second = {k + "2": draw(formulas(k, depth - 1)) for k in ("N", "S", "D")}
    return template.format(**parts, **second)


LEAVES = {
    "N": ["n", "m", "0", "1", "2.5", "(-3)", "1E50", "1E-50", "5%", "NULL", "1000", "0.1"],
    "S": ["s", "t", "''", "'a'", "'中文'", "'　x '", "NULL"],
    "B": ["b", "TRUE", "FALSE", "NULL"],
    "D": ["d", "TODAY()", "DATE(2024, 1, 31)", "NULL"],
}
SHAPES = {
    "N": ["({N} + {N2})", "({N} - {N2})", "({N} * {N2})", "({N} / {N2})", "({N} ^ {N2})", "(-{N})",
          "ROUND({N}, {N2})", "ROUNDUP({N}, {N2})", "ROUNDDOWN({N})", "ABS({N})", "SQRT({N})",
          "POWER({N}, {N2})", "MOD({N}, {N2})", "DIVIDE({N}, {N2}, {N})", "MIN({N}, {N2})",
          "MAX({N}, {N2}, 1)", "IF({B}, {N}, {N2})", "IFS({B}, {N}, TRUE, {N2})", "COALESCE({N}, {N2})",
          "LEN({S})", "YEAR({D})", "QUARTER({D})", "DAYS({D}, {D2})", "({D} - {D2})"],
    "S": ["({S} & {N})", "({S} & {D})", "LEFT({S}, {N})", "RIGHT({S}, {N})", "MID({S}, {N}, {N2})",
          "UPPER({S})", "LOWER({S})", "TRIM({S})", "SUBSTITUTE({S}, {S2}, 'ab')", "CONCAT({S}, {N}, {B})",
          "IF({B}, {S}, {S2})", "COALESCE({S}, {S2})", "MIN({S}, {S2})"],
    "B": ["({N} < {N2})", "({S} = {S2})", "({D} <= {D2})", "({B} AND {B})", "({B} OR {B})",
          "(NOT {B})", "({N} IN ({N2}, 1, NULL))", "({N} BETWEEN {N2} AND 10)", "({S} IS NULL)",
          "CONTAINS({S}, {S2})", "STARTSWITH({S}, {S2})", "ISNULL({D})", "({B} = TRUE)"],
    "D": ["({D} + {N})", "({D} - {N})", "DATE({N}, {N2}, 1)", "DATE({S})", "DATEADD({D}, {N}, 'month')",
          "DATEADD({D}, {N}, 'year')", "DATEADD({D}, {N}, 'day')", "EOMONTH({D}, {N})",
          "IF({B}, {D}, {D2})", "MAX({D}, {D2})"],
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["N", "S", "B", "D"]), data=st.data(),
       row=st.fixed_dictionaries({}, optional=PROPER))
def test_random_well_typed_formulas_give_a_value_or_an_evaluation_error(kind, data, row):
    source = data.draw(formulas(kind))
    checked = check(source, CONTEXT)
    expected = {"N": D, "S": str, "B": bool, "D": date}[kind]
    result = _safely(lambda: evaluate(checked, row, today=TODAY, now=NOW))
    if not isinstance(result, FormulaError):
        assert result is None or isinstance(result, expected)
        if kind == "S":
            assert result is None or len(result) <= 1_000_000
    if kind == "B":
        _safely(lambda: evaluate_condition(checked, row, today=TODAY, now=NOW))


# --- huge numbers and texts -------------------------------------------------------------

def _evaluation_error(source: str, row: dict) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        evaluate(check(source, CONTEXT), row, today=TODAY, now=NOW)
    assert caught.value.issues[0].code == "evaluation"
    _no_internal_error(caught.value)
    return caught.value


@pytest.mark.parametrize("source, row", [
    ("n * n * n", {"n": D("1E40")}),
    ("POWER(n, 1000)", {"n": D("9.99E99")}),
    ("n ^ m", {"n": 10, "m": D("100.5")}),
    ("n ^ m", {"n": D("1.5"), "m": D("1E20") + D("0.5")}),
    ("n ^ 999", {"n": 2}),
    ("n / m", {"n": D("1E99"), "m": D("1E-60")}),
    ("n + m", {"n": D("9.99E99"), "m": D("9.99E99")}),
    ("ROUNDUP(n, -99)", {"n": D("9.1E99")}),
    ("MOD(n, m)", {"n": D("9E99"), "m": D("1E-999999")}),
    ("n", {"n": D("1E999999")}),
    ("n", {"n": 10 ** 5000}),
    ("n", {"n": 1e300}),
    ("n", {"n": "9" * 5000}),
])
def test_huge_numbers_are_evaluation_errors(source, row):
    _evaluation_error(source, row)


def test_tiny_numbers_round_away_instead_of_growing():
    checked = check("n / m + SQRT(n) + POWER(n, 0.5) + POWER(n, -1 * 1000) * 0", CONTEXT)
    # a huge 1/n^1000 is out of range; tiny operands divide to 0 at 16 places
    assert evaluate(check("n / m + SQRT(n)", CONTEXT), {"n": D("1E-999999"), "m": 3},
                    today=TODAY, now=NOW) == 0
    with pytest.raises(FormulaError):
        evaluate(checked, {"n": D("1E-50"), "m": 3}, today=TODAY, now=NOW)


def test_exploding_text_is_an_evaluation_error():
    source = "s"
    for _ in range(25):                      # 2^25 characters if nothing stopped it
        source = f"SUBSTITUTE({source}, 'a', 'aa')"
    error = _evaluation_error(source, {"s": "a"})
    assert "too long" in error.issues[0].message.en
    doubled = " & ".join(["s"] * 40)
    _evaluation_error(doubled, {"s": "x" * 30_000})


# --- aggregates over hostile rows -------------------------------------------------------

AGGREGATE_CONTEXT = FormulaContext(mode="aggregate", entities={"h.visit": EntityInfo(
    "h.visit", Text("就诊", "Visit"), {
        "fee": FieldInfo("fee", FType.NUMBER, Text("费用", "Fee")),
        "dept": FieldInfo("dept", FType.STRING, Text("科室", "Dept")),
        "day": FieldInfo("day", FType.DATE, Text("日期", "Day")),
    })})
AGGREGATES = [prepare(check(f, AGGREGATE_CONTEXT)) for f in [
    "SUM(h.visit.fee, dept = 'ICU') / COUNT(h.visit)", "AVG(h.visit.fee) + MIN(h.visit.fee)",
    "COUNTDISTINCT(h.visit.dept) + COUNT(h.visit.day, day > DATE(2024, 1, 1))",
    "MAX(h.visit.day)", "MIN(h.visit.dept, fee > 0)",
]]


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({}, optional={"fee": ANYTHING, "dept": ANYTHING, "day": ANYTHING}),
                     max_size=6))
def test_aggregates_over_any_rows_give_a_value_or_a_formula_error(rows):
    for prepared in AGGREGATES:
        _safely(lambda: prepared.evaluate_aggregate({"h.visit": rows}, today=TODAY, now=NOW))
        _safely(lambda: prepared.evaluate_aggregate({"h.visit": iter(rows)}, today=TODAY, now=NOW))


@settings(max_examples=50, deadline=None)
@given(clock=st.tuples(ANYTHING, ANYTHING))
def test_a_bad_clock_is_a_formula_error_too(clock):
    today, now = clock
    _safely(lambda: PREPARED[FORMULAS.index("TODAY()")].evaluate({}, today=today, now=now))
