"""Conformance of the Python evaluator with the formula contract and the lead's decisions.

Every row of docs/formula.md (operators, precedence, NULL and Kleene logic,
each function with its edge cases, dates, names) as a table: formula → value,
checked with ``check`` and evaluated with ``evaluate`` against one record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from itertools import product

import pytest

from yunying.platform.i18n import Text
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.evaluator import evaluate, evaluate_condition, prepare
from yunying.runtime.formula.types import FType

from eval_helpers import assert_value, table

TODAY = date(2024, 3, 15)
NOW = datetime(2024, 3, 15, 8, 30, 15)

CONTEXT = FormulaContext.of_values({
    "n": FType.NUMBER, "m": FType.NUMBER, "nn": FType.NUMBER,
    "s": FType.STRING, "ns": FType.STRING,
    "b": FType.BOOLEAN, "nb": FType.BOOLEAN,
    "d": FType.DATE, "nd": FType.DATE,
    "dt": FType.DATETIME, "ndt": FType.DATETIME,
    "金额": FType.NUMBER,
})
# nn, ns, nb, nd, ndt are missing: NULL
ROW = {"n": D("10"), "m": D("-3"), "s": "abc", "b": True, "d": date(2024, 1, 31),
       "dt": datetime(2024, 3, 1, 8, 30), "金额": D("12.50")}


def run(source: str, row=ROW, context=CONTEXT):
    return evaluate(check(source, context), row, today=TODAY, now=NOW)




@table(
    ("12", D(12)), ("12.50", D("12.5")), (".5", D("0.5")), ("1.5E3", D(1500)), ("5%", D("0.05")),
    ("12.5%", D("0.125")), ("'it\\'s'", "it's"), ('"say \\"hi\\""', 'say "hi"'),
    ("'a\\\\b'", "a\\b"), ("'line\\nbreak'", "line\nbreak"),
    ("TRUE", True), ("false", False), ("NULL", None), ("null", None),
    ("1 + // a comment\n 2", D(3)), ("// only\n 7 // to end", D(7)),
    ("IF（TRUE，1，2）", D(1)), ("MAX（1，2）", D(2)), ("（1 + 2）* 3", D(9)),
    ("if(true, 'x', 'y')", "x"), ("round(2.5)", D(3)),
)
def test_literals_and_lexical(source, expected):
    assert_value(run(source), expected)


@table(
    ("-2^2", D(-4)), ("2^3^2", D(512)), ("2^-1", D("0.5")), ("(-2)^2", D(4)),
    ("1 + 2 * 3", D(7)), ("(1 + 2) * 3", D(9)), ("10 - 4 - 3", D(3)), ("12 / 3 / 2", D(2)),
    ("2 * 3 ^ 2", D(18)), ("-n * 2", D(-20)), ("+n", D(10)), ("- -n", D(10)),
    ("'a' & 1 + 2", "a3"), ("'x' & 2 * 3 & 'y'", "x6y"), ("1 + 2 = 3", True),
    ("'a' & 'b' = 'ab'", True), ("NOT 1 = 2", True), ("NOT TRUE AND FALSE", False),
    ("NOT FALSE OR FALSE", True), ("TRUE OR FALSE AND FALSE", True),
    ("FALSE AND FALSE OR TRUE", True), ("NOT NOT TRUE", True),
    ("1 < 2 AND 2 < 3", True), ("n BETWEEN 1 + 1 AND 5 * 2", True),
    ("n IN (5 + 5, 1)", True), ("n + 1 IS NULL", False),
)
def test_precedence(source, expected):
    assert_value(run(source), expected)


@table(
    ("0.1 + 0.2", D("0.3")), ("0.1 + 0.2 = 0.3", True), ("1.50 = 1.5", True),
    ("3 * 1.10", D("3.3")), ("n - 20", D(-10)), ("n * m", D(-30)),
    ("1 / 3", D("0.3333333333333333")), ("2 / 3", D("0.6666666666666667")),
    ("-2 / 3", D("-0.6666666666666667")), ("10 / 4", D("2.5")), ("1 / 8", D("0.125")),
    ("1 / 0", None), ("n / 0", None), ("n / nn", None), ("0 / 0", None),
    ("nn + 1", None), ("1 - nn", None), ("nn * 0", None), ("nn / 1", None), ("-nn", None),
    ("nn ^ 2", None), ("2 ^ nn", None), ("NULL + 1", None),
    ("2 ^ 10", D(1024)), ("2 ^ -2", D("0.25")), ("3 ^ -1", D("0.3333333333333333")),
    ("4 ^ 0.5", D(2)), ("2 ^ 0.5", D("1.4142135623730950")), ("1.1 ^ 2", D("1.21")),
    ("(-8) ^ (1 / 3)", None), ("(-2) ^ 3", D(-8)), ("0 ^ -1", None), ("0 ^ 0", D(1)),
    ("0 ^ 0.5", D(0)), ("2 ^ 1001", None), ("1 ^ 1000", D(1)), ("0.5 ^ 2", D("0.25")),
    ("12.50 * 2", D(25)), ("金额 * 2", D(25)),
)
def test_arithmetic(source, expected):
    assert_value(run(source), expected)


LOGIC = {"TRUE": True, "FALSE": False, "NULL": None}


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@pytest.mark.parametrize("left, right", list(product(LOGIC, LOGIC)))
def test_kleene_truth_tables(left, right):
    a, b = LOGIC[left], LOGIC[right]
    assert_value(run(f"{left} AND {right}"), _kleene_and(a, b))
    assert_value(run(f"{left} OR {right}"), _kleene_or(a, b))
    # the same through NULL-valued fields, not only literals
    fields = {"TRUE": "b", "FALSE": "NOT b", "NULL": "nb"}
    assert_value(run(f"{fields[left]} AND {fields[right]}"), _kleene_and(a, b))
    assert_value(run(f"{fields[left]} OR {fields[right]}"), _kleene_or(a, b))


@table(("NOT TRUE", False), ("NOT FALSE", True), ("NOT NULL", None), ("NOT nb", None), ("NOT b", False))
def test_not(source, expected):
    assert_value(run(source), expected)


@table(
    ("1 < 2", True), ("2 <= 2", True), ("3 > 4", False), ("4 >= 4", True), ("1 = 1", True),
    ("1 == 1", True), ("1 != 1", False), ("1 <> 2", True), ("1.0 = 1", True),
    ("'a' < 'b'", True), ("'B' < 'a'", True), ("'a' = 'A'", False), ("'abc' = s", True),
    ("'中' > 'z'", True), ("'a' < 'ab'", True),
    ("nn = 1", None), ("nn != 1", None), ("nn < 1", None), ("1 >= nn", None),
    ("NULL = NULL", None), ("ns = 'a'", None), ("nd < d", None),
    ("b = TRUE", True), ("b != FALSE", True), ("nb = TRUE", None),
    ("d < DATE(2024, 2, 1)", True), ("d = DATE('2024-01-31')", True),
    ("DATE(2024, 3, 1) < dt", True), ("DATE(2024, 3, 2) > dt", True),
    ("DATE(2024, 3, 1) = dt", False), ("d < dt", True), ("dt >= d", True),
    ("DATE(2024, 3, 1) = DATEADD(dt, 0, 'day')", False),
)
def test_comparisons(source, expected):
    assert_value(run(source), expected)


@table(
    ("2 IN (1, 2)", True), ("3 IN (1, 2)", False), ("2 IN (1, NULL)", None),
    ("1 IN (1, NULL)", True), ("2 NOT IN (1, NULL)", None), ("1 NOT IN (2, 3)", True),
    ("1 NOT IN (1, 3)", False), ("nn IN (1, 2)", None), ("nn NOT IN (1, 2)", None),
    ("NULL IN (NULL)", None), ("'a' IN ('a', 'b')", True), ("s IN ('A', 'ABC')", False),
    ("1.50 IN (1.5)", True), ("d IN (DATE(2024, 1, 31))", True), ("b IN (TRUE)", True),
)
def test_in(source, expected):
    assert_value(run(source), expected)


@table(
    ("5 BETWEEN 1 AND 5", True), ("1 BETWEEN 1 AND 5", True), ("0 BETWEEN 1 AND 5", False),
    ("6 BETWEEN 1 AND 5", False), ("nn BETWEEN 1 AND 5", None), ("1 BETWEEN NULL AND 5", None),
    ("9 BETWEEN NULL AND 5", False), ("0 BETWEEN 1 AND NULL", False), ("3 BETWEEN 5 AND 1", False),
    ("'b' BETWEEN 'a' AND 'c'", True), ("d BETWEEN DATE(2024, 1, 1) AND DATE(2024, 12, 31)", True),
    ("NOT n BETWEEN 1 AND 5", True),
)
def test_between(source, expected):
    assert_value(run(source), expected)


@table(
    ("nn IS NULL", True), ("n IS NULL", False), ("nn IS NOT NULL", False), ("n IS NOT NULL", True),
    ("NULL IS NULL", True), ("ns IS NULL", True), ("nb IS NULL", True), ("nd IS NULL", True),
    ("1 / 0 IS NULL", True), ("ISNULL(nn)", True), ("ISNULL(n)", False), ("ISNULL(NULL)", True),
    ("ISNULL(ns)", True), ("ISNULL(s)", False), ("'' IS NULL", False),
)
def test_is_null(source, expected):
    assert_value(run(source), expected)


@table(
    ("IF(TRUE, 1, 2)", D(1)), ("IF(FALSE, 1, 2)", D(2)), ("IF(nb, 1, 2)", D(2)),
    ("IF(NULL, 1, 2)", D(2)), ("IF(FALSE, 1)", None), ("IF(TRUE, 'x')", "x"),
    ("IF(n > 5, 'big', 'small')", "big"), ("IF(TRUE, NULL, 1)", None),
    ("IF(TRUE, 1, 1 / 0)", D(1)), ("IF(n > 5, d, DATE(2000, 1, 1))", date(2024, 1, 31)),
    ("IFS(FALSE, 1, nb, 2, TRUE, 3)", D(3)), ("IFS(TRUE, 1, TRUE, 2)", D(1)),
    ("IFS(FALSE, 1)", None), ("IFS(nb, 'a')", None), ("IFS(n < 0, 'neg', n = 0, 'zero', TRUE, 'pos')", "pos"),
    ("COALESCE(nn, 2, 3)", D(2)), ("COALESCE(nn, NULL)", None), ("COALESCE(n)", D(10)),
    ("COALESCE(ns, 'default')", "default"), ("COALESCE(nd, d)", date(2024, 1, 31)),
    ("COALESCE(NULL)", None),
)
def test_logic_functions(source, expected):
    assert_value(run(source), expected)


@table(
    ("ROUND(1.005, 2)", D("1.01")), ("ROUND(2.5)", D(3)), ("ROUND(-2.5)", D(-3)),
    ("ROUND(1.5)", D(2)), ("ROUND(0.5)", D(1)), ("ROUND(-0.5)", D(-1)), ("ROUND(2.4)", D(2)),
    ("ROUND(1250, -2)", D(1300)), ("ROUND(1249, -2)", D(1200)), ("ROUND(-1250, -2)", D(-1300)),
    ("ROUND(1.2345, 2.9)", D("1.23")), ("ROUND(1.2345, -0.9)", D(1)), ("ROUND(-0.4)", D(0)),
    ("ROUND(1, 101)", None), ("ROUND(1, -101)", None), ("ROUND(1.23456, 100)", D("1.23456")),
    ("ROUND(nn)", None), ("ROUND(1.5, nn)", None), ("ROUND(1 / 3, 4)", D("0.3333")),
    ("ROUNDUP(1.21, 1)", D("1.3")), ("ROUNDUP(-1.21, 1)", D("-1.3")), ("ROUNDUP(1.2)", D(2)),
    ("ROUNDUP(1201, -2)", D(1300)), ("ROUNDUP(1.20, 1)", D("1.2")), ("ROUNDUP(nn, 1)", None),
    ("ROUNDDOWN(1.29, 1)", D("1.2")), ("ROUNDDOWN(-1.29, 1)", D("-1.2")), ("ROUNDDOWN(1.9)", D(1)),
    ("ROUNDDOWN(1299, -2)", D(1200)), ("ROUNDDOWN(-1.9)", D(-1)), ("ROUNDDOWN(1, 101)", None),
    ("ABS(-2.5)", D("2.5")), ("ABS(3)", D(3)), ("ABS(nn)", None),
    ("SQRT(16)", D(4)), ("SQRT(2)", D("1.4142135623730950")), ("SQRT(0)", D(0)),
    ("SQRT(0.0001)", D("0.01")), ("SQRT(-1)", None), ("SQRT(nn)", None),
    ("SQRT(1E-40)", D(0)), ("SQRT(2.25)", D("1.5")),
    ("POWER(2, 10)", D(1024)), ("POWER(2, -1)", D("0.5")), ("POWER(9, 0.5)", D(3)),
    ("POWER(-8, 0.5)", None), ("POWER(0, -2)", None), ("POWER(2, 1001)", None),
    ("POWER(2, -1001)", None), ("POWER(nn, 2)", None), ("POWER(1.5, 2)", D("2.25")),
    ("MOD(-3, 2)", D(1)), ("MOD(3, -2)", D(-1)), ("MOD(-3, -2)", D(-1)), ("MOD(3, 2)", D(1)),
    ("MOD(5.5, 2)", D("1.5")), ("MOD(-5.5, 2)", D("0.5")), ("MOD(4, 2)", D(0)),
    ("MOD(3, 0)", None), ("MOD(nn, 2)", None), ("MOD(3, nn)", None), ("MOD(0.3, 0.1)", D(0)),
    ("DIVIDE(6, 3)", D(2)), ("DIVIDE(1, 3)", D("0.3333333333333333")), ("DIVIDE(1, 0)", None),
    ("DIVIDE(1, 0, -1)", D(-1)), ("DIVIDE(1, nn, 0)", D(0)), ("DIVIDE(nn, 2, 0)", None),
    ("DIVIDE(n, m, 0)", D("-3.3333333333333333")), ("DIVIDE(1, 0, nn)", None),
    ("MIN(3, 1, 2)", D(1)), ("MIN(nn, 2)", D(2)), ("MIN(nn, nn)", None), ("MAX(1, nn, 5)", D(5)),
    ("MAX(-1, -2)", D(-1)), ("MIN('b', 'a', 'c')", "a"), ("MAX('B', 'a')", "a"),
    ("MAX(d, DATE(2025, 1, 1))", date(2025, 1, 1)), ("MIN(d, nd)", date(2024, 1, 31)),
    ("MIN(1.50, 1.5) = 1.5", True), ("MAX(NULL, 2)", D(2)),
)
def test_number_functions(source, expected):
    assert_value(run(source), expected)


@table(
    ("LEN('中文abc')", D(5)), ("LEN('')", D(0)), ("LEN(ns)", None), ("LEN('  ')", D(2)),
    ("LEFT('abc', 2)", "ab"), ("LEFT('abc', 5)", "abc"), ("LEFT('abc', 0)", ""),
    ("LEFT('abc', -1)", None), ("LEFT('abc', 1.9)", "a"), ("LEFT(ns, 1)", None), ("LEFT('abc', nn)", None),
    ("LEFT('中文字', 2)", "中文"),
    ("RIGHT('abc', 2)", "bc"), ("RIGHT('abc', 0)", ""), ("RIGHT('abc', 9)", "abc"),
    ("RIGHT('abc', -1)", None), ("RIGHT('abc', 2.7)", "bc"), ("RIGHT(ns, 1)", None),
    ("MID('abcdef', 2, 3)", "bcd"), ("MID('abc', 3, 5)", "c"), ("MID('abc', 4, 1)", ""),
    ("MID('abc', 9, 1)", ""), ("MID('abc', 1, 0)", ""), ("MID('abc', 0, 1)", None),
    ("MID('abc', 1, -1)", None), ("MID(ns, 1, 1)", None), ("MID('abc', nn, 1)", None),
    ("MID('中文字', 2, 1)", "文"), ("MID('abc', 2.9, 1.9)", "b"),
    ("UPPER('straße')", "STRASSE"), ("UPPER('école')", "ÉCOLE"), ("UPPER('abc中')", "ABC中"),
    ("LOWER('ÀÉÎ')", "àéî"), ("LOWER('ABC')", "abc"), ("UPPER(ns)", None), ("LOWER(ns)", None),
    ("TRIM(' \ta b \n')", "a b"), ("TRIM('　全角　')", "全角"), ("TRIM('a  b')", "a  b"),
    ("TRIM('\r\nx\r\n')", "x"), ("TRIM('')", ""), ("TRIM(ns)", None),
    ("CONCAT('a', NULL, 1.50, TRUE)", "a1.5TRUE"), ("CONCAT(ns)", ""), ("CONCAT(s, '-', n)", "abc-10"),
    ("CONCAT(d, ' ', dt)", "2024-01-31 2024-03-01 08:30:00"),
    ("CONTAINS('abc', 'b')", True), ("CONTAINS('abc', 'B')", False), ("CONTAINS('abc', '')", True),
    ("CONTAINS('a%c', '%')", True), ("CONTAINS('abc', '_')", False), ("CONTAINS('abc', 'a%')", False),
    ("CONTAINS(ns, 'a')", None), ("CONTAINS('a', ns)", None), ("CONTAINS('门诊部', '门诊')", True),
    ("STARTSWITH('abc', 'ab')", True), ("STARTSWITH('abc', 'AB')", False),
    ("STARTSWITH('abc', '')", True), ("STARTSWITH(ns, 'a')", None),
    ("ENDSWITH('abc', 'bc')", True), ("ENDSWITH('abc', 'b')", False), ("ENDSWITH('abc', '')", True),
    ("ENDSWITH(ns, 'a')", None),
    ("SUBSTITUTE('a-b-c', '-', '+')", "a+b+c"), ("SUBSTITUTE('abc', '', 'x')", "abc"),
    ("SUBSTITUTE('aXa', 'a', '')", "X"), ("SUBSTITUTE(ns, 'a', 'b')", None),
    ("SUBSTITUTE('aaa', 'aa', 'b')", "ba"), ("SUBSTITUTE('a.b', '.', '%')", "a%b"),
    ("SUBSTITUTE('abc', ns, 'x')", None),
)
def test_text_functions(source, expected):
    assert_value(run(source), expected)


@table(
    ("'a' & 3.50", "a3.5"), ("'' & 1.5E3", "1500"), ("'' & 0.00", "0"), ("'' & -0", "0"),
    ("'' & 1250", "1250"), ("'' & ROUND(1250, -2)", "1300"), ("'' & -0.5", "-0.5"),
    ("'' & 1 / 3", "0.3333333333333333"), ("'' & 10 / 4", "2.5"), ("'' & 0.000001", "0.000001"),
    ("'x' & NULL", "x"), ("NULL & NULL", ""), ("ns & 'x'", "x"), ("nn & ''", ""),
    ("d & ''", "2024-01-31"), ("dt & ''", "2024-03-01 08:30:00"), ("'' & DATE(900, 1, 2)", "0900-01-02"),
    ("b & ''", "TRUE"), ("(NOT b) & ''", "FALSE"), ("1 & 2", "12"), ("'¥' & 金额", "¥12.5"),
    ("'编号-' & n", "编号-10"),
)
def test_concatenation(source, expected):
    assert_value(run(source), expected)


@table(
    ("TODAY()", TODAY), ("NOW()", NOW), ("TODAY() + 1", date(2024, 3, 16)),
    ("DATE(2024, 2, 29)", date(2024, 2, 29)), ("DATE(2023, 2, 29)", None), ("DATE(2024, 2, 30)", None),
    ("DATE(2024, 13, 1)", None), ("DATE(2024, 0, 1)", None), ("DATE(0, 1, 1)", None),
    ("DATE(10000, 1, 1)", None), ("DATE(nn, 1, 1)", None), ("DATE(2024.9, 3.9, 1.9)", date(2024, 3, 1)),
    ("DATE('2024-03-01')", date(2024, 3, 1)), ("DATE('2024-02-30')", None), ("DATE('2024-3-1')", None), ("DATE('２０２４-０３-０１')", None),
    ("DATE('01/03/2024')", None), ("DATE('')", None), ("DATE(ns)", None), ("DATE('2024-03-01x')", None),
    ("YEAR(d)", D(2024)), ("MONTH(d)", D(1)), ("DAY(d)", D(31)), ("YEAR(dt)", D(2024)),
    ("MONTH(dt)", D(3)), ("DAY(dt)", D(1)), ("YEAR(nd)", None),
    ("QUARTER(DATE(2024, 1, 1))", D(1)), ("QUARTER(DATE(2024, 3, 31))", D(1)),
    ("QUARTER(DATE(2024, 4, 1))", D(2)), ("QUARTER(DATE(2024, 11, 1))", D(4)), ("QUARTER(dt)", D(1)),
    ("QUARTER(nd)", None),
    ("DAYS(DATE(2024, 3, 1), DATE(2024, 2, 1))", D(29)), ("DAYS(DATE(2024, 2, 1), DATE(2024, 3, 1))", D(-29)),
    ("DAYS(dt, d)", D(30)), ("DAYS(NOW(), dt)", D(14)), ("DAYS(nd, d)", None),
    ("DATEADD(DATE(2024, 1, 31), 1, 'month')", date(2024, 2, 29)),
    ("DATEADD(DATE(2023, 1, 31), 1, 'month')", date(2023, 2, 28)),
    ("DATEADD(DATE(2024, 3, 31), -1, 'month')", date(2024, 2, 29)),
    ("DATEADD(DATE(2024, 1, 31), 13, 'months')", date(2025, 2, 28)),
    ("DATEADD(DATE(2024, 2, 29), 1, 'year')", date(2025, 2, 28)),
    ("DATEADD(DATE(2024, 2, 29), 4, 'years')", date(2028, 2, 29)),
    ("DATEADD(DATE(2024, 2, 29), -1, '年')", date(2023, 2, 28)),
    ("DATEADD(d, 10, 'day')", date(2024, 2, 10)), ("DATEADD(d, 1, 'days')", date(2024, 2, 1)),
    ("DATEADD(d, 1.9, '天')", date(2024, 2, 1)), ("DATEADD(d, -1.9, '日')", date(2024, 1, 30)),
    ("DATEADD(d, 1, '月')", date(2024, 2, 29)), ("DATEADD(d, 1, 'MONTH')", date(2024, 2, 29)),
    ("DATEADD(dt, 1, 'month')", datetime(2024, 4, 1, 8, 30)),
    ("DATEADD(DATEADD(dt, -1, 'day'), 1, 'month')", datetime(2024, 3, 29, 8, 30)),
    ("DATEADD(dt, 2, 'day')", datetime(2024, 3, 3, 8, 30)),
    ("DATEADD(DATE(9999, 12, 31), 1, 'day')", None), ("DATEADD(DATE(1, 1, 1), -1, 'month')", None),
    ("DATEADD(DATE(9999, 1, 1), 1, 'year')", None), ("DATEADD(d, 1E20, 'day')", None),
    ("DATEADD(nd, 1, 'day')", None), ("DATEADD(d, nn, 'day')", None),
    ("EOMONTH(DATE(2024, 2, 10), 0)", date(2024, 2, 29)), ("EOMONTH(DATE(2024, 1, 31), 1)", date(2024, 2, 29)),
    ("EOMONTH(d, -1)", date(2023, 12, 31)), ("EOMONTH(dt, 0)", date(2024, 3, 31)),
    ("EOMONTH(d, 12)", date(2025, 1, 31)), ("EOMONTH(d, 1.9)", date(2024, 2, 29)),
    ("EOMONTH(nd, 0)", None), ("EOMONTH(d, nn)", None), ("EOMONTH(DATE(9999, 12, 1), 1)", None),
    ("d - DATE(2024, 1, 1)", D(30)), ("DATE(2024, 1, 1) - d", D(-30)), ("DATE(2025, 1, 1) - DATE(2024, 1, 1)", D(366)),
    ("d + 1.9", date(2024, 2, 1)), ("d - 1.9", date(2024, 1, 30)), ("d + -1", date(2024, 1, 30)),
    ("d + 0.5", date(2024, 1, 31)), ("d + nn", None), ("nd + 1", None), ("nd - d", None),
    ("d + 1 > d", True), ("TODAY() - d", D(44)),
)
def test_date_functions(source, expected):
    assert_value(run(source), expected)


def test_clock_comes_from_the_caller():
    checked = check("IF(TODAY() = DATE(2030, 1, 2), NOW(), NULL)", CONTEXT)
    late = datetime(2030, 1, 2, 23, 59, 59)
    assert evaluate(checked, {}, today=date(2030, 1, 2), now=late) == late
    assert evaluate(checked, {}, today=TODAY, now=late) is None


# --- names ---------------------------------------------------------------------

def _hospital_context() -> FormulaContext:
    department = EntityInfo("base.department", Text("科室", "Department"), {
        "code": FieldInfo("code", FType.STRING, Text("编码", "Code")),
        "head": FieldInfo("head", FType.NUMBER, Text("主任", "Head"), reference="base.employee"),
    })
    employee = EntityInfo("base.employee", Text("员工", "Employee"), {
        "name": FieldInfo("name", FType.STRING, Text("姓名", "Name")),
        "department": FieldInfo("department", FType.NUMBER, Text("科室", "Department"),
                                reference="base.department"),
    })
    claim = EntityInfo("finance.claim", Text("报销单", "Claim"), {
        "amount": FieldInfo("amount", FType.NUMBER, Text("费用金额", "Amount")),
        "total_cost": FieldInfo("total_cost", FType.NUMBER, Text("总费用", "Total cost")),
        "applicant": FieldInfo("applicant", FType.NUMBER, Text("申请人", "Applicant"),
                               reference="base.employee"),
        "claimed_on": FieldInfo("claimed_on", FType.DATE, Text("报销日期", "Claimed on")),
    })
    return FormulaContext(mode="row", entity="finance.claim", entities={
        e.code: e for e in (department, employee, claim)})


HOSPITAL_ROW = {"amount": D("100.50"), "total_cost": 2000, "applicant": 7,
                "applicant.name": "张三", "applicant.department": 3,
                "applicant.department.code": "ICU", "claimed_on": "2024-03-01"}


@table(
    ("费用金额 * 2", D(201)), ("[费用金额] + 总费用", D("2100.5")), ("[Total cost] / 4", D(500)),
    ("amount + total_cost", D("2100.5")), ("Amount = 费用金额", True),
    ("applicant.department.code", "ICU"), ("申请人.科室.编码 & '-' & 申请人.姓名", "ICU-张三"),
    ("applicant", D(7)), ("applicant.department", D(3)), ("applicant.department.head", None),
    ("报销日期 + 1", date(2024, 3, 2)), ("IF（费用金额 > 100，'高'，'低'）", "高"),
    ("// 申请人所在科室\napplicant.department.code = 'ICU' // 重症", True),
)
def test_names_by_code_label_and_path(source, expected):
    assert_value(run(source, HOSPITAL_ROW, _hospital_context()), expected)


@table(("金额 * 2", D(25)), ("ROUND(金额 / 3, 2)", D("4.17")), ("金额 & '元'", "12.5元"))
def test_chinese_value_names(source, expected):
    assert_value(run(source), expected)


def test_caller_numbers_become_decimals():
    checked = check("n + m", CONTEXT)
    assert_value(evaluate(checked, {"n": 1, "m": 0.1}, today=TODAY, now=NOW), D("1.1"))
    assert_value(evaluate(checked, {"n": D("0.1"), "m": 0.2}, today=TODAY, now=NOW), D("0.3"))
    assert_value(evaluate(checked, {"n": "2.50", "m": 1}, today=TODAY, now=NOW), D("3.5"))
    assert evaluate(checked, {"n": 1}, today=TODAY, now=NOW) is None


def test_caller_dates_datetimes_and_booleans_are_read():
    assert_value(run("d + 1", {"d": datetime(2024, 1, 31, 23, 0)}), date(2024, 2, 1))
    assert_value(run("dt", {"dt": date(2024, 1, 31)}), datetime(2024, 1, 31))
    assert_value(run("dt", {"dt": "2024-01-31 08:00:00"}), datetime(2024, 1, 31, 8))
    assert_value(run("d", {"d": "2024-01-31"}), date(2024, 1, 31))
    assert_value(run("IF(b, 1, 2)", {"b": 0}), D(2))


def test_conditions_treat_null_as_false():
    assert evaluate_condition(check("nb", CONTEXT), {}, today=TODAY, now=NOW) is False
    assert evaluate_condition(check("nn > 1", CONTEXT), {}, today=TODAY, now=NOW) is False
    assert evaluate_condition(check("n > 1", CONTEXT), ROW, today=TODAY, now=NOW) is True
    assert evaluate_condition(check("n < 1", CONTEXT), ROW, today=TODAY, now=NOW) is False
    assert evaluate_condition(check("NOT (nn > 1)", CONTEXT), {}, today=TODAY, now=NOW) is False


def test_a_prepared_formula_serves_many_records():
    prepared = prepare(check("IF(n > 5, 'big', 'small')", CONTEXT))
    results = [prepared.evaluate({"n": n}, today=TODAY, now=NOW) for n in (1, 6, None, 5, 9.5)]
    assert results == ["small", "big", "small", "small", "big"]


# --- evaluation errors ---------------------------------------------------------

def _evaluation_error(source: str, row=ROW) -> tuple:
    with pytest.raises(FormulaError) as caught:
        run(source, row)
    (issue,) = caught.value.issues
    assert issue.code == "evaluation"
    assert issue.message.zh and issue.message.en
    return issue.span.column, issue.span.end_column


def test_results_beyond_1e100_are_evaluation_errors_at_their_node():
    assert _evaluation_error("1 + n * 1E99") == (5, 13)
    assert _evaluation_error("10 ^ 100") == (1, 9)
    assert _evaluation_error("POWER(10, 100) + 1") == (1, 15)
    assert _evaluation_error("1E99 / 0.01") == (1, 12)
    assert _evaluation_error("ROUND(9.9E99, -99)") == (1, 19)
    assert_value(run("9.9E99 + 0"), D("9.9E99"))
    assert_value(run("-9.9E99 * 1"), D("-9.9E99"))


def test_caller_values_out_of_range_or_of_the_wrong_kind_are_located_at_the_name():
    assert _evaluation_error("1 + n", {"n": D("1E100")}) == (5, 6)
    assert _evaluation_error("1 + n", {"n": 10 ** 120}) == (5, 6)
    assert _evaluation_error("1 + n", {"n": float("nan")}) == (5, 6)
    assert _evaluation_error("1 + n", {"n": D("Infinity")}) == (5, 6)
    assert _evaluation_error("1 + n", {"n": "lots"}) == (5, 6)
    assert _evaluation_error("1 + n", {"n": True}) == (5, 6)
    assert _evaluation_error("s & 'x'", {"s": 12}) == (1, 2)
    assert _evaluation_error("d + 1", {"d": "31/01/2024"}) == (1, 2)
    assert _evaluation_error("IF(b, 1, 2)", {"b": "yes"}) == (4, 5)
    assert _evaluation_error("dt", {"dt": 5}) == (1, 3)
