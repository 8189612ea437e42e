"""The formula checker in row mode: types, names, paths, errors with spans, dependencies.

The contexts defined here (ROW, AGG, IND) are shared by the other
``test_checker_*`` modules. No database is involved.
"""

from __future__ import annotations

import pytest

from yunying.platform.i18n import Text
from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Binding, Checked, check
from yunying.runtime.formula.context import EntityInfo, FieldInfo, FormulaContext
from yunying.runtime.formula.errors import FormulaError, FormulaIssue
from yunying.runtime.formula.types import FType

N, S, B, D, DT, NULL = (FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.DATETIME,
                        FType.NULL)
REQ, USER, DEPT, ITEM, DIS = ("materials.requisition", "base.user", "base.department",
                              "materials.item", "hospital.discharge")


def _f(code: str, t: FType, zh: str, en: str, ref: str | None = None) -> FieldInfo:
    return FieldInfo(code, t, Text(zh, en), reference=ref)


def _e(code: str, zh: str, en: str, *fields: FieldInfo) -> EntityInfo:
    return EntityInfo(code, Text(zh, en), {f.code: f for f in fields})


ENTITIES = {e.code: e for e in (
    _e(REQ, "领用单", "Requisition",
       _f("amount", N, "金额", "Amount"),
       _f("total_cost", N, "总费用", "Total cost"),
       _f("status", S, "状态", "Status"),
       _f("request_date", D, "申请日期", "Request date"),
       _f("approved_at", DT, "审批时间", "Approved at"),
       _f("approved", B, "已审批", "Approved"),
       _f("applicant", N, "申请人", "Applicant", USER),
       _f("item", N, "物料", "Item", ITEM),
       _f("qty_requested", N, "数量", "Quantity"),
       _f("qty_issued", N, "数量", "Issued quantity"),
       _f("memo", S, "备注", "amount")),          # its en label is another field's code
    _e(USER, "用户", "User",
       _f("name", S, "姓名", "Name"),
       _f("department", N, "部门", "Department", DEPT),
       _f("manager", N, "经理", "Manager", USER)),
    _e(DEPT, "科室", "Department",
       _f("code", S, "编码", "Code"),
       _f("name", S, "名称", "Name"),
       _f("parent", N, "上级科室", "Parent", DEPT)),
    _e(ITEM, "物料", "Item",
       _f("price", N, "单价", "Unit price"),
       _f("supplier", N, "供应商", "Supplier", "base.supplier")),   # not in the context
    _e("stock.item", "库存物料", "Stock item", _f("price", N, "单价", "Unit price")),
    _e(DIS, "出院记录", "Discharge",
       _f("total_cost", N, "总费用", "Total cost"),
       _f("days", N, "住院天数", "Days"),
       _f("discharged_on", D, "出院日期", "Discharged on"),
       _f("dept", N, "科室", "Department", DEPT)),
)}
ROW = FormulaContext("row", REQ, ENTITIES)
AGG = FormulaContext("aggregate", None, ENTITIES)
IND = FormulaContext("indicator", None, ENTITIES, {
    "visits": Text("门诊人次", "Outpatient visits"), "beds": Text("床位数", "Beds"),
    "dup1": Text("重复", "Duplicate one"), "dup2": Text("重复", "Duplicate two")})


def issues_of(source: str, context: FormulaContext = ROW, **kw) -> list[FormulaIssue]:
    with pytest.raises(FormulaError) as caught:
        check(source, context, **kw)
    return list(caught.value.issues)


def located(source: str, issue: FormulaIssue) -> tuple:
    """(code, offending text, line, column, end_column) of an issue."""
    span = issue.span
    return (issue.code, source[span.start:span.end], span.line, span.column, span.end_column)


# -- accepted formulas and their types ------------------------------------------

ROW_TYPES = [
    ("1 + 2", N), ("amount * 2 - total_cost / 3 ^ 2", N), ("-amount", N), ("+5%", N),
    ("'a' & 1 & TRUE & request_date & approved_at & NULL", S),
    ("request_date + 1", D), ("request_date - 1.5", D), ("request_date - request_date", N),
    ("request_date - DATE(2024, 1, 1)", N),
    ("approved_at > request_date", B), ("request_date = approved_at", B),
    ("approved = TRUE", B), ("approved != FALSE", B), ("status < 'b'", B),
    ("request_date <= TODAY()", B), ("NOT approved", B), ("approved AND amount > 1 OR NULL", B),
    ("amount IN (1, 2, NULL)", B), ("status NOT IN ('a', 'b')", B),
    ("request_date IN (DATE('2024-01-01'), approved_at)", B), ("NULL IN (1, NULL, 2)", B),
    ("approved IN (TRUE)", B),
    ("amount BETWEEN 1 AND total_cost", B), ("request_date BETWEEN DATE(2024, 1, 1) AND NOW()", B),
    ("status BETWEEN NULL AND 'z'", B),
    ("status IS NULL", B), ("applicant IS NOT NULL", B),
    ("NULL", NULL), ("NULL + 1", NULL), ("NULL + NULL", NULL), ("NULL * NULL", N), ("NULL * 2", N), ("request_date + NULL", D),
    ("request_date - NULL", NULL), ("NULL - request_date", N), ("NULL = NULL", B),
    ("-NULL", N), ("NOT NULL", B), ("NULL & NULL", S),
    ("IF(approved, amount, NULL)", N), ("IF(approved, NULL, NULL)", NULL), ("IF(approved, 'x')", S),
    ("IF(NULL, 1, 2)", N), ("IFS(amount > 1, 'a', approved, 'b')", S),
    ("IFS(approved, 1, NULL, NULL, TRUE, 3)", N), ("ISNULL(status)", B),
    ("COALESCE(NULL, amount, 0)", N), ("COALESCE(request_date)", D),
    ("ROUND(amount)", N), ("ROUND(amount, 2)", N), ("ROUNDUP(amount, -2)", N),
    ("ROUNDDOWN(amount)", N), ("ABS(-1)", N), ("SQRT(amount)", N), ("POWER(2, 10)", N),
    ("MOD(-3, 2)", N), ("DIVIDE(amount, total_cost)", N), ("DIVIDE(amount, 0, -1)", N),
    ("MIN(amount, 1, total_cost)", N), ("MAX('a', 'b')", S), ("MIN(request_date, DATE(2024, 1, 1))", D),
    ("MAX(approved_at, NOW(), NULL)", DT), ("MIN(NULL, NULL)", NULL), ("MIN(amount, total_cost)", N),
    ("MIN(amount, NULL)", N),
    ("LEN(status)", N), ("LEFT(status, 2)", S), ("RIGHT(status, 2)", S), ("MID(status, 1, 2)", S),
    ("UPPER(status)", S), ("LOWER(status)", S), ("TRIM(status)", S), ("CONCAT('a', 1, TRUE, NULL)", S),
    ("CONCAT(request_date)", S), ("CONTAINS(status, 'a')", B), ("STARTSWITH(status, 'a')", B),
    ("ENDSWITH(status, 'a')", B), ("SUBSTITUTE(status, 'a', 'b')", S),
    ("TODAY()", D), ("NOW()", DT), ("DATE(2024, 2, 29)", D), ("DATE('2024-03-01')", D),
    ("YEAR(request_date)", N), ("MONTH(approved_at)", N), ("DAY(request_date)", N),
    ("QUARTER(approved_at)", N), ("DAYS(approved_at, request_date)", N),
    ("DATEADD(request_date, 1, 'month')", D), ("DATEADD(approved_at, 2, 'Days')", DT),
    ("DATEADD(request_date, -1, '年')", D), ("DATEADD(request_date, 1, '日')", D),
    ("DATEADD(request_date, 1, 'YEARS')", D), ("DATEADD(NULL, 1, '月')", NULL),
    ("DATEADD(request_date, 1, \"天\")", D), ("EOMONTH(request_date, 0)", D),
    ("EOMONTH(approved_at, -1)", D),
    ("round(amount) + Len(status)", N), ("ROUND（amount，2）", N),
    ("金额 + [Total cost]", N), ("申请人.部门.编码", S), ("applicant.department.parent.code", S),
    ("applicant", N), ("item.price * qty_requested", N), ("[Issued quantity]", N),
    ("applicant.manager.manager.name", S),
]


@pytest.mark.parametrize("source, expected", ROW_TYPES)
def test_row_formula_types(source: str, expected: FType) -> None:
    checked = check(source, ROW)
    assert checked.type is expected
    assert checked.type_of(checked.tree) is expected


# -- refused formulas: code, offending text and exact span --------------------------

ROW_ERRORS = [
    # type: operators
    ("'a' + 1", "type", "'a' + 1", 1, 1, 8),
    ("amount + 'x'", "type", "amount + 'x'", 1, 1, 13),
    ("request_date + request_date", "type", "request_date + request_date", 1, 1, 28),
    ("approved_at + 1", "type", "approved_at + 1", 1, 1, 16),
    ("approved_at - approved_at", "type", "approved_at - approved_at", 1, 1, 26),
    ("1 - request_date", "type", "1 - request_date", 1, 1, 17),
    ("1 + request_date", "type", "1 + request_date", 1, 1, 17),
    ("status * 2", "type", "status * 2", 1, 1, 11),
    ("2 / approved", "type", "2 / approved", 1, 1, 13),
    ("amount ^ 'x'", "type", "amount ^ 'x'", 1, 1, 13),
    ("-status", "type", "-status", 1, 1, 8),
    ("NOT amount", "type", "NOT amount", 1, 1, 11),
    ("amount AND approved", "type", "amount AND approved", 1, 1, 20),
    ("approved OR 'x'", "type", "approved OR 'x'", 1, 1, 16),
    ("request_date > 5", "type", "request_date > 5", 1, 1, 17),
    ("approved < TRUE", "type", "approved < TRUE", 1, 1, 16),
    ("status = 1", "type", "status = 1", 1, 1, 11),
    ("status != request_date", "type", "status != request_date", 1, 1, 23),
    ("amount IN (1, 'a')", "type", "'a'", 1, 15, 18),
    ("NULL IN (1, 'a')", "type", "'a'", 1, 13, 16),
    ("amount BETWEEN 'a' AND 3", "type", "amount BETWEEN 'a' AND 3", 1, 1, 25),
    ("approved BETWEEN FALSE AND TRUE", "type", "approved BETWEEN FALSE AND TRUE", 1, 1, 32),
    ("TRUE BETWEEN NULL AND NULL", "type", "TRUE BETWEEN NULL AND NULL", 1, 1, 27),
    # type: function arguments
    ("IF(amount, 1, 2)", "type", "amount", 1, 4, 10),
    ("IF(approved, 1, 'x')", "type", "'x'", 1, 17, 20),
    ("IF(approved, NULL, 1, 'x')", "arity", "IF", 1, 1, 3),
    ("IFS(approved, 1, amount > 2, 'b')", "type", "'b'", 1, 30, 33),
    ("IFS(1, 1)", "type", "1", 1, 5, 6),
    ("COALESCE(amount, status)", "type", "status", 1, 18, 24),
    ("MIN(amount, 'a')", "type", "'a'", 1, 13, 16),
    ("MAX(TRUE, 1)", "type", "TRUE", 1, 5, 9),
    ("MIN(request_date, approved_at)", "type", "approved_at", 1, 19, 30),
    ("LEN(amount)", "type", "amount", 1, 5, 11),
    ("LEFT(status, 'x')", "type", "'x'", 1, 14, 17),
    ("MID(status, 1, '2')", "type", "'2'", 1, 16, 19),
    ("UPPER(1)", "type", "1", 1, 7, 8),
    ("CONTAINS(status, 1)", "type", "1", 1, 18, 19),
    ("SUBSTITUTE(status, 'a', 1)", "type", "1", 1, 25, 26),
    ("ROUND(amount, '2')", "type", "'2'", 1, 15, 18),
    ("ABS(status)", "type", "status", 1, 5, 11),
    ("POWER(2, approved)", "type", "approved", 1, 10, 18),
    ("DATE('2024-01-01', 2, 3)", "type", "'2024-01-01'", 1, 6, 18),
    ("DATE(2024)", "type", "2024", 1, 6, 10),
    ("YEAR(status)", "type", "status", 1, 6, 12),
    ("DAYS(request_date, 5)", "type", "5", 1, 20, 21),
    ("EOMONTH(request_date, 'a')", "type", "'a'", 1, 23, 26),
    ("DATEADD(amount, 1, 'day')", "type", "amount", 1, 9, 15),
    ("DATEADD(request_date, 1, 'week')", "type", "'week'", 1, 26, 32),
    ("DATEADD(request_date, 1, status)", "type", "status", 1, 26, 32),
    ("DATEADD(request_date, 1, NULL)", "type", "NULL", 1, 26, 30),
    ("DATEADD(request_date, 1, 'da' & 'y')", "type", "'da' & 'y'", 1, 26, 36),
    # arity
    ("ROUND()", "arity", "ROUND", 1, 1, 6),
    ("ROUND(1, 2, 3)", "arity", "ROUND", 1, 1, 6),
    ("1 + TODAY(1)", "arity", "TODAY", 1, 5, 10),
    ("IFS(approved)", "arity", "IFS", 1, 1, 4),
    ("IFS(approved, 1, approved)", "arity", "IFS", 1, 1, 4),
    ("ISNULL()", "arity", "ISNULL", 1, 1, 7),
    ("SUBSTITUTE('a', 'b')", "arity", "SUBSTITUTE", 1, 1, 11),
    ("IF(approved)", "arity", "IF", 1, 1, 3),
    ("MID('a', 1)", "arity", "MID", 1, 1, 4),
    ("CONCAT()", "arity", "CONCAT", 1, 1, 7),
    ("COALESCE()", "arity", "COALESCE", 1, 1, 9),
    ("MIN(1)", "arity", "MIN", 1, 1, 4),
    ("MAX()", "arity", "MAX", 1, 1, 4),
    ("DATE(1, 2)", "arity", "DATE", 1, 1, 5),
    ("DATEADD(request_date, 1)", "arity", "DATEADD", 1, 1, 8),
    ("  now ( 1 )", "arity", "now", 1, 3, 6),
    # unknown names and functions
    ("amout + 1", "unknown_name", "amout", 1, 1, 6),
    ("amount\n  + amout", "unknown_name", "amout", 2, 5, 10),
    ("applicant.nam", "unknown_name", "nam", 1, 11, 14),
    ("[申请人].[部 门]", "unknown_name", "[部 门]", 1, 7, 12),
    ("status.length", "unknown_name", "length", 1, 8, 14),
    ("applicant.department.name.x", "unknown_name", "x", 1, 27, 28),
    ("item.supplier.name", "unknown_name", "name", 1, 15, 19),
    ("数量 + 1", "unknown_name", "数量", 1, 1, 3),
    ("ROUDN(amount)", "unknown_function", "ROUDN", 1, 1, 6),
    ("1 +\n  foo(amount)", "unknown_function", "foo", 2, 3, 6),
    # limits
    ("applicant.department.parent.parent.code", "too_complex",
     "applicant.department.parent.parent.code", 1, 1, 40),
    # contexts
    ("SUM(amount)", "context", "SUM(amount)", 1, 1, 12),
    ("1 + COUNT(x)", "context", "COUNT(x)", 1, 5, 13),
    ("MIN(amount)", "context", "MIN(amount)", 1, 1, 12),
    ("MAX(amount, approved)", "context", "MAX(amount, approved)", 1, 1, 22),
    ("MAX(amount, amount > 1)", "context", "MAX(amount, amount > 1)", 1, 1, 24),
    ("@visits + 1", "context", "@visits", 1, 1, 8),
    ("@[门诊人次]", "context", "@[门诊人次]", 1, 1, 8),
]


@pytest.mark.parametrize("source, code, text, line, column, end_column", ROW_ERRORS)
def test_row_errors_are_located(source: str, code: str, text: str, line: int, column: int,
                                end_column: int) -> None:
    (issue,) = issues_of(source)
    assert located(source, issue) == (code, text, line, column, end_column)
    assert issue.message.zh and issue.message.en and issue.message.zh != issue.message.en


def test_syntax_errors_pass_through_from_the_parser() -> None:
    (issue,) = issues_of("amount +")
    assert issue.code == "syntax"


@pytest.mark.parametrize("source, zh_parts, en_parts", [
    ("'a' + 1", ["'a' + 1", "+", "数字", "文本和数字"],
     ["'a' + 1: + needs numbers", "got text and number"]),
    ("approved_at + 1", ["DATEADD"], ["datetime and number", "use DATEADD or DAYS"]),
    ("approved < TRUE", ["只能用 = 和 !="], ["booleans compare only with = and !="]),
    ("request_date > 5", ["日期和数字"], ["request_date > 5: > needs values of one type",
                                     "got date and number"]),
    ("NOT amount", ["NOT", "数字"], ["NOT needs a boolean (condition), got number"]),
    ("amount IN (1, 'a')", ["'a'", "文本", "数字"], ["'a' in the IN list is text, but amount is number"]),
    ("IF(approved, 1, 'x')", ["文本", "数字"],
     ["IF: argument 3 ('x') is text, but the earlier values are number"]),
    ("LEN(amount)", ["LEN(s)", "第 1 个参数", "文本"],
     ["LEN(s): argument 1 (amount) must be a text, got number"]),
    ("DATEADD(request_date, 1, 'week')", ["'week'", "'day'"],
     ["argument 3 ('week') must be a unit written as text", "'month'"]),
    ("ROUND(1, 2, 3)", ["ROUND 接受 1 或 2 个参数，实际给了 3 个"],
     ["ROUND takes 1 or 2 arguments, got 3: ROUND(x[, n])"]),
    ("TODAY(1)", ["不接受参数"], ["TODAY takes no arguments, got 1"]),
    ("IFS(approved)", ["成对"], ["in pairs"]),
    ("DATE(1, 2)", ["1 或 3 个参数"], ["takes 1 or 3 arguments, got 2"]),
    ("amout", ["领用单（materials.requisition）没有字段“amout”", "amount"],
     ["Requisition (materials.requisition) has no field 'amout'; did you mean amount?"]),
    ("数量", ["qty_requested、qty_issued", "字段编码"],
     ["'数量' is the label of several fields", "(qty_requested, qty_issued)"]),
    ("status.length", ["“status”是文本字段，不是引用"],
     ["'status' is a text field, not a reference: cannot read 'length' from it"]),
    ("item.supplier.name", ["base.supplier"], ["the entity base.supplier referenced by 'supplier'"]),
    ("applicant.department.parent.parent.code", ["最多经过 3 个引用"],
     ["at most 3 references"]),
    ("ROUDN(1)", ["没有函数 ROUDN", "ROUND"], ["there is no function ROUDN; did you mean ROUND"]),
    ("SUM(amount)", ["汇总函数", "单条记录"], ["SUM is an aggregate", "not in a formula over one record"]),
    ("MIN(amount)", ["两个或更多参数"], ["to compare values give MIN two or more values"]),
    ("@visits", ["指标公式"], ["only allowed in indicator formulas"]),
])
def test_messages_say_what_was_found_and_expected(source: str, zh_parts: list[str],
                                                  en_parts: list[str]) -> None:
    (issue,) = issues_of(source)
    for part in zh_parts:
        assert part in issue.message.zh
    for part in en_parts:
        assert part in issue.message.en


@pytest.mark.parametrize("source, suggestions", [
    ("amout", ("amount",)),
    ("总费", ("总费用",)),
    ("[Total cst]", ("Total cost", "total_cost")),
    ("申请", ("申请人", "申请日期")),
    ("applicant.nam", ("name",)),
    ("applicant.姓", ("姓名",)),
    ("数量", ("qty_requested", "qty_issued")),
    ("ROUDN(1)", ("ROUND", "ROUNDUP", "ROUNDDOWN")),
    ("concatenate('a')", ("CONCAT",)),
    ("STARTWITH(status, 'a')", ("STARTSWITH",)),
    ("zzzzzz", ()),
    ("QQQQ(1)", ()),
])
def test_suggestions(source: str, suggestions: tuple[str, ...]) -> None:
    (issue,) = issues_of(source)
    assert issue.suggestions == suggestions


def test_every_issue_is_collected_once() -> None:
    source = "amout + 'x' * 2 + ROUDN(1) + LEN(1)\n  + IF(approved, 1, 'a') + status.x"
    found = [located(source, i) for i in issues_of(source)]
    assert found == [
        ("unknown_name", "amout", 1, 1, 6),
        ("type", "'x' * 2", 1, 9, 16),
        ("unknown_function", "ROUDN", 1, 19, 24),
        ("type", "1", 1, 34, 35),
        ("type", "'a'", 2, 21, 24),
        ("unknown_name", "x", 2, 35, 36),
    ]


@pytest.mark.parametrize("source", [
    "ROUND(IF(approved, amout * 2, 0) + 1, 2) > 3 AND status = 'x'",
    "LEN(UPPER(TRIM(statu))) > 1 OR NOT approved",
    "(amount + 'x') * 2 - 1 > 3",
    "DATEADD(request_date, 1, 'weeks') > TODAY()",
    "MIN(amount, amout)",
    "ROUDN(amount) * 2 > 3",
    "IF(approved, 1, 'a') + 1",
])
def test_a_mistake_is_reported_once(source: str) -> None:
    assert len(issues_of(source)) == 1


# -- expected result type ----------------------------------------------------------

@pytest.mark.parametrize("source, expect, ok", [
    ("approved", B, True), ("amount > 1", B, True), ("NULL", B, True), ("amount", B, False),
    ("status", B, False), ("amount + 1", N, True), ("status", N, False),
    ("request_date", DT, False), ("IF(approved, NULL)", S, True),
])
def test_expect(source: str, expect: FType, ok: bool) -> None:
    if ok:
        assert check(source, ROW, expect=expect).type.fits(expect)
        return
    (issue,) = issues_of(source, expect=expect)
    assert located(source, issue) == ("type", source, 1, 1, len(source) + 1)
    assert expect.label.en in issue.message.en and expect.label.zh in issue.message.zh


def test_expect_adds_to_other_issues_only_when_the_type_is_known() -> None:
    assert [i.code for i in issues_of("amout", expect=B)] == ["unknown_name"]
    assert [i.code for i in issues_of("amout + 1 > 'x'", expect=N)] == ["unknown_name", "type"]


# -- names: codes, labels, ambiguity, paths ------------------------------------------

@pytest.mark.parametrize("source, path, ftype", [
    ("amount", ("amount",), N),               # the code wins over memo's en label "amount"
    ("Amount", ("amount",), N),               # en label
    ("金额", ("amount",), N),                 # zh label
    ("备注", ("memo",), S),
    ("[Issued quantity]", ("qty_issued",), N),
    ("[ Total cost ]", ("total_cost",), N),
    ("applicant", ("applicant",), N),         # a reference not followed is its id
    ("申请人.部门", ("applicant", "department"), N),
    ("Applicant.Department.Code", ("applicant", "department", "code"), S),
    ("applicant.department.parent.name", ("applicant", "department", "parent", "name"), S),
    ("item.单价", ("item", "price"), N),
])
def test_names_resolve_to_codes(source: str, path: tuple[str, ...], ftype: FType) -> None:
    checked = check(source, ROW)
    (name,) = [n for n in checked.bindings]
    assert isinstance(name, ast.Name)
    assert checked.bindings[name] == Binding(REQ, path, ftype)
    assert checked.bindings[name].key == ".".join(path)


def test_names_are_case_sensitive() -> None:
    (issue,) = issues_of("AMOUNT")
    assert issue.code == "unknown_name" and issue.suggestions == ("Amount",)


def test_of_values_context() -> None:
    context = FormulaContext.of_values({"a": N, "b": S})
    checked = check("a * 2 & b", context)
    assert checked.type is S
    assert checked.dependencies.fields == frozenset({"a", "b"})
    assert [i.code for i in issues_of("c", context)] == ["unknown_name"]


def test_a_row_context_without_entity_knows_no_names() -> None:
    empty = FormulaContext()
    assert check("1 + 2", empty).type is N
    (issue,) = issues_of("x + 1", empty)
    assert located("x + 1", issue) == ("unknown_name", "x", 1, 1, 2)


# -- the Checked result ----------------------------------------------------------------

def _nodes(tree: ast.Node) -> list[ast.Node]:
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(ast.children(node))
    return found


def test_every_node_has_a_type_and_every_name_a_binding() -> None:
    source = "IF(applicant.department.code IN ('A', 'B'), ROUND(金额 * 1.1, 2), -total_cost) > 0"
    checked = check(source, ROW)
    nodes = _nodes(checked.tree)
    assert set(map(id, nodes)) == set(map(id, checked.types))
    assert all(checked.types[n] is not FType.UNKNOWN for n in nodes)
    names = [n for n in nodes if isinstance(n, ast.Name)]
    assert len(names) == 3 and set(map(id, names)) == set(map(id, checked.bindings))
    assert checked.source == source and checked.context is ROW and checked.aggregates == {}
    assert isinstance(checked, Checked)


def test_row_dependencies() -> None:
    checked = check("applicant.department.code & status & 金额 & ROUND(amount) & LEN(备注)", ROW)
    deps = checked.dependencies
    assert deps.fields == {"applicant.department.code", "status", "amount", "memo"}
    assert deps.entities == {USER, DEPT}
    assert deps.entity_fields == {(REQ, "applicant"), (USER, "department"), (DEPT, "code"),
                                  (REQ, "status"), (REQ, "amount"), (REQ, "memo")}
    assert deps.functions == {"ROUND", "LEN"}
    assert deps.indicators == frozenset()
    assert deps.as_dict()["entity_fields"][0] == "base.department.code"


def test_literals_have_no_dependencies() -> None:
    deps = check("1 + 2", ROW).dependencies
    assert not (deps.fields or deps.entities or deps.entity_fields or deps.functions)
