"""No input makes check() raise anything but FormulaError (hypothesis).

Random text, soups of the language's own tokens, and random well-formed but
arbitrarily typed trees, in every mode, with and without an expected type.
A formula that passes has a type on every node, none of them UNKNOWN
(UNKNOWN only ever follows a reported issue); one that fails reports each
issue once, located inside the source.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from test_checker import AGG, IND, ROW
from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Checked, check
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.errors import ISSUE_CODES, FormulaError
from yunying.runtime.formula.functions import FUNCTIONS
from yunying.runtime.formula.types import FType

CONTEXTS = st.sampled_from([ROW, AGG, IND, FormulaContext()])
EXPECT = st.sampled_from([None, FType.BOOLEAN, FType.NUMBER, FType.STRING, FType.DATE])
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

NAMES = ["amount", "金额", "[Total cost]", "status", "request_date", "approved_at", "approved",
         "applicant", "applicant.department.code", "申请人.部门.编码", "item.supplier.name",
         "applicant.department.parent.parent.code", "数量", "memo", "amout", "status.x",
         "出院记录", "出院记录.总费用", "[hospital.discharge].days", "hospital.discharge.dept.code",
         "discharge.discharged_on", "days", "dept.code", "领用单.amount", "item.price", "nothing"]
OPERATORS = ["OR", "AND", "=", "!=", "<>", "==", "<", "<=", ">", ">=", "&", "+", "-", "*", "/", "^"]
TOKENS = NAMES + OPERATORS + [
    "(", ")", "（", "）", ",", "，", ".", "@", "@visits", "@[门诊人次]", "@nope", "NOT", "IN", "BETWEEN",
    "IS", "NULL", "TRUE", "FALSE", "1", "2.5", "5%", "'x'", '"天"', "'month'", "//c\n", "\n",
    *FUNCTIONS, "FOO", "round"]


def _verify(source: str, context: FormulaContext, expect: FType | None) -> None:
    try:
        checked = check(source, context, expect=expect)
    except FormulaError as error:
        assert error.issues
        seen = set()
        for issue in error.issues:
            assert issue.code in ISSUE_CODES
            assert 0 <= issue.span.start <= issue.span.end <= max(len(source), 0) or issue.span.end == 0
            assert issue.message.zh and issue.message.en
            assert len(issue.suggestions) <= 3
            key = (issue.code, issue.span, issue.message)
            assert key not in seen, f"reported twice: {issue}"
            seen.add(key)
        return
    assert isinstance(checked, Checked)
    stack = [checked.tree]
    while stack:
        node = stack.pop()
        assert checked.types[node] is not FType.UNKNOWN, node
        if isinstance(node, ast.Name):
            assert node in checked.bindings
        stack.extend(ast.children(node))
    if expect is not None:
        assert checked.type.fits(expect)


@SETTINGS
@given(st.text(max_size=200), CONTEXTS, EXPECT)
def test_random_text(source: str, context: FormulaContext, expect: FType | None) -> None:
    _verify(source, context, expect)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join), CONTEXTS, EXPECT)
def test_token_soup(source: str, context: FormulaContext, expect: FType | None) -> None:
    _verify(source, context, expect)


_LEAVES = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["1", "0.5", "5%", "'a'", "''", "TRUE", "FALSE", "NULL", "@visits", "@beds",
                     "@[门诊人次]", "@zzz", "TODAY()", "NOW()", "'day'", "'月'"]),
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(OPERATORS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "+", "NOT "]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from([*FUNCTIONS, "FOO"]), st.lists(children, max_size=4)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, st.booleans(), st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"({t[0]} {'NOT IN' if t[1] else 'IN'} ({', '.join(t[2])}))"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} BETWEEN {t[1]} AND {t[2]})"),
        st.tuples(children, st.booleans()).map(lambda t: f"({t[0]} IS {'NOT ' if t[1] else ''}NULL)"),
    )


FORMULAS = st.recursive(_LEAVES, _extend, max_leaves=25)


@SETTINGS
@given(FORMULAS, CONTEXTS, EXPECT)
def test_random_trees(source: str, context: FormulaContext, expect: FType | None) -> None:
    _verify(source, context, expect)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["MIN", "MAX", "IF", "ROUND", "SUM", "COUNT"]), st.integers(1, 99), CONTEXTS)
def test_deep_nesting_stays_within_the_language(name: str, depth: int,
                                                context: FormulaContext) -> None:
    first = "出院记录.days" if context.mode != "row" else "amount"
    source = f"{name}({first}, " * depth + "TRUE" + ")" * depth
    _verify(source, context, None)


# -- random well-typed row formulas get exactly the type they were built for -------------

_TYPED_LEAVES = {
    FType.NUMBER: ["amount", "总费用", "1", "0.5", "5%", "item.price", "LEN(status)",
                   "YEAR(request_date)", "DAYS(approved_at, request_date)"],
    FType.STRING: ["status", "'x'", "applicant.name", "UPPER(status)", "备注"],
    FType.BOOLEAN: ["approved", "TRUE", "(status IS NULL)", "ISNULL(amount)"],
    FType.DATE: ["request_date", "TODAY()", "DATE(2024, 1, 31)", "DATE('2024-02-29')"],
}


def _typed(depth: int) -> dict[FType, st.SearchStrategy[str]]:
    """Formulas of each type, at most ``depth`` operators deep."""
    leaves = {t: st.sampled_from(v) for t, v in _TYPED_LEAVES.items()}
    if depth == 0:
        return leaves
    sub = _typed(depth - 1)
    num, text, boolean, date = (sub[t] for t in (FType.NUMBER, FType.STRING, FType.BOOLEAN,
                                                  FType.DATE))
    return {
        FType.NUMBER: st.one_of(
            leaves[FType.NUMBER],
            st.tuples(num, st.sampled_from(["+", "-", "*", "/", "^"]), num).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            num.map(lambda n: f"-{n}"),
            st.tuples(date, date).map(lambda t: f"({t[0]} - {t[1]})"),
            st.tuples(st.sampled_from(["ROUND", "MOD", "POWER", "DIVIDE", "MIN", "MAX", "COALESCE"]),
                      num, num).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(boolean, num, num).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})")),
        FType.STRING: st.one_of(
            leaves[FType.STRING],
            st.tuples(text, st.one_of(num, text, date, boolean)).map(lambda t: f"({t[0]} & {t[1]})"),
            st.tuples(text, num).map(lambda t: f"LEFT({t[0]}, {t[1]})"),
            st.tuples(text, num, boolean).map(lambda t: f"CONCAT({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(boolean, text, text).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(text, text, text).map(lambda t: f"SUBSTITUTE({t[0]}, {t[1]}, {t[2]})")),
        FType.BOOLEAN: st.one_of(
            leaves[FType.BOOLEAN],
            st.tuples(num, st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), num).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(text, text).map(lambda t: f"({t[0]} = {t[1]})"),
            st.tuples(date, date).map(lambda t: f"({t[0]} >= {t[1]})"),
            st.tuples(boolean, st.sampled_from(["AND", "OR", "=", "!="]), boolean).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            boolean.map(lambda b: f"(NOT {b})"),
            st.tuples(num, num, num).map(lambda t: f"({t[0]} IN ({t[1]}, {t[2]}))"),
            st.tuples(num, num, num).map(lambda t: f"({t[0]} BETWEEN {t[1]} AND {t[2]})"),
            st.tuples(text, text).map(lambda t: f"CONTAINS({t[0]}, {t[1]})")),
        FType.DATE: st.one_of(
            leaves[FType.DATE],
            st.tuples(date, st.sampled_from(["+", "-"]), num).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(date, num, st.sampled_from(["'day'", "'month'", "'年'"])).map(
                lambda t: f"DATEADD({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(date, num).map(lambda t: f"EOMONTH({t[0]}, {t[1]})"),
            st.tuples(boolean, date, date).map(lambda t: f"IF({t[0]}, {t[1]}, {t[2]})")),
    }


TYPED = _typed(3)


@SETTINGS
@given(st.sampled_from(sorted(TYPED)).flatmap(lambda t: st.tuples(st.just(t), TYPED[t])))
def test_well_typed_formulas_get_their_type(case: tuple[FType, str]) -> None:
    expected, source = case
    checked = check(source, ROW, expect=expected)
    assert checked.type is expected
    assert FType.UNKNOWN not in checked.types.values()
