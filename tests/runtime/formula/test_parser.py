"""Parser: precedence, normalisation, spans, located syntax errors, limits."""

from __future__ import annotations

import pytest

from yunying.runtime.formula.ast import dump
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.parser import MAX_DEPTH, MAX_LENGTH, parse


@pytest.mark.parametrize("source, tree", [
    ("1+2*3", "(1 + (2 * 3))"),
    ("-2^2", "(- (2 ^ 2))"),
    ("2^3^2", "(2 ^ (3 ^ 2))"),
    ("2^-1", "(2 ^ (- 1))"),
    ("a AND b OR NOT c", "((a AND b) OR (NOT c))"),
    ("NOT a = b", "(NOT (a = b))"),
    ("a & b = c", "((a & b) = c)"),
    ("a + b & c", "((a + b) & c)"),
    ("x BETWEEN 1 AND 2 AND y", "((x BETWEEN 1 AND 2) AND y)"),
    ("x not in (1，2)", "(x NOT IN (1, 2))"),
    ("x IS NOT NULL", "(x IS NOT NULL)"),
    ("IF（费用金额 > 1000，'高'，'低'）", "IF((费用金额 > 1000), '高', '低')"),
    ("[出院 人次] & 'x'", "([出院 人次] & 'x')"),
    ("applicant.department.code", "applicant.department.code"),
    ("@[门诊人次] / @abc", "(@[门诊人次] / @[abc])"),
    ("5%", "0.05"),
    (".5 + 1.5E3", "(0.5 + 1.5E+3)"),
    ("'a\\'b' & \"c\\n\"", "(\"a'b\" & 'c\\n')"),
    ("sum(出院记录.总费用) // a comment", "SUM(出院记录.总费用)"),
    ("a == b", "(a = b)"),
    ("a <> b", "(a != b)"),
    ("true Or fAlse", "(TRUE OR FALSE)"),
    ("Null", "NULL"),
    ("NOT(1)", "(NOT 1)"),
    ("((((1))))", "1"),
])
def test_precedence_and_normalisation(source, tree):
    assert dump(parse(source)) == tree


def test_nodes_carry_their_spans():
    tree = parse("a +\n  ROUND(b, 2)")
    assert (tree.span.line, tree.span.column, tree.span.end_line, tree.span.end_column) == (1, 1, 2, 14)
    call = tree.right
    assert (call.name_span.line, call.name_span.column, call.name_span.end_column) == (2, 3, 8)
    assert (tree.op_span.column, tree.op_span.end_column) == (3, 4)


@pytest.mark.parametrize("source, column, words", [
    ("1 +", 4, "expected a value"),
    ("(1", 3, "expected ')'"),
    ("1)", 2, "unexpected ')'"),
    ("'abc", 1, "no closing quote"),
    ("a < b < c", 7, "unexpected '<'"),
    ("f(1,)", 5, "expected a value"),
    ("1 $ 2", 3, "'$'"),
    ("a.", 3, "expected a name"),
    ("approved = NOT (x IS NULL)", 12, "unexpected 'NOT'"),
    ("'\\q'", 1, "invalid escape"),
    ("1E999", 1, "out of range"),
    ("", 1, "empty"),
])
def test_syntax_errors_are_located_and_bilingual(source, column, words):
    with pytest.raises(FormulaError) as caught:
        parse(source)
    (issue,) = caught.value.issues
    assert issue.code == "syntax"
    assert issue.span.column == column
    assert words in issue.message.en
    assert issue.message.zh and issue.message.zh != issue.message.en


@pytest.mark.parametrize("source", [
    "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
    "+".join(["1"] * (MAX_DEPTH + 2)),
    "1" * (MAX_LENGTH + 1),
    "9" * 10_000_000,
])
def test_limits_are_too_complex(source):
    with pytest.raises(FormulaError) as caught:
        parse(source)
    assert caught.value.issues[0].code == "too_complex"


def test_non_text_is_a_formula_error():
    with pytest.raises(FormulaError):
        parse(b"1 + 1")  # type: ignore[arg-type]
