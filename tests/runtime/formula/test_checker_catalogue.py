"""The function catalogue (functions.py) and "did you mean" (suggest.py)."""

from __future__ import annotations

import pytest

from test_checker import AGG, ROW, issues_of
from yunying.runtime.formula.functions import (AGGREGATES, DATEADD_UNITS, FUNCTIONS, ArgProblem,
                                               Signature, dateadd_unit, type_arguments)
from yunying.runtime.formula.suggest import distance, nearest
from yunying.runtime.formula.types import FType

N, S, B, D, DT, NULL, UNKNOWN = (FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE,
                                 FType.DATETIME, FType.NULL, FType.UNKNOWN)

CONTRACT = {
    "logic": {"IF", "IFS", "ISNULL", "COALESCE"},
    "number": {"ROUND", "ROUNDUP", "ROUNDDOWN", "ABS", "SQRT", "POWER", "MOD", "DIVIDE", "MIN", "MAX"},
    "text": {"LEN", "LEFT", "RIGHT", "MID", "UPPER", "LOWER", "TRIM", "CONCAT", "CONTAINS",
             "STARTSWITH", "ENDSWITH", "SUBSTITUTE"},
    "date": {"TODAY", "NOW", "DATE", "YEAR", "MONTH", "DAY", "QUARTER", "DAYS", "DATEADD", "EOMONTH"},
    "aggregate": {"SUM", "AVG", "COUNT", "COUNTDISTINCT"},
    "period": {"PREV", "LASTYEAR", "YTD"},
}


def test_the_catalogue_holds_every_function_of_the_contract() -> None:
    assert set(FUNCTIONS) == set().union(*CONTRACT.values())
    for group, names in CONTRACT.items():
        assert {n for n in names if FUNCTIONS[n].group == group} == names
    assert AGGREGATES == {"SUM", "AVG", "MIN", "MAX", "COUNT", "COUNTDISTINCT"}
    assert all(FUNCTIONS[n].aggregate for n in AGGREGATES)
    assert not any(f.aggregate for n, f in FUNCTIONS.items() if n not in AGGREGATES)
    assert all(f.name == n and f.usage.startswith(n) for n, f in FUNCTIONS.items())


def test_the_catalogue_is_frozen() -> None:
    with pytest.raises(TypeError):
        FUNCTIONS["X"] = FUNCTIONS["IF"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        FUNCTIONS["IF"].name = "X"  # type: ignore[misc]


@pytest.mark.parametrize("name, low, high", [
    ("IF", 2, 3), ("IFS", 2, None), ("ISNULL", 1, 1), ("COALESCE", 1, None), ("ROUND", 1, 2),
    ("ROUNDUP", 1, 2), ("ROUNDDOWN", 1, 2), ("ABS", 1, 1), ("SQRT", 1, 1), ("POWER", 2, 2),
    ("MOD", 2, 2), ("DIVIDE", 2, 3), ("MIN", 1, None), ("MAX", 1, None), ("LEN", 1, 1),
    ("LEFT", 2, 2), ("RIGHT", 2, 2), ("MID", 3, 3), ("UPPER", 1, 1), ("LOWER", 1, 1),
    ("TRIM", 1, 1), ("CONCAT", 1, None), ("CONTAINS", 2, 2), ("STARTSWITH", 2, 2),
    ("ENDSWITH", 2, 2), ("SUBSTITUTE", 3, 3), ("TODAY", 0, 0), ("NOW", 0, 0), ("DATE", 1, 3),
    ("YEAR", 1, 1), ("MONTH", 1, 1), ("DAY", 1, 1), ("QUARTER", 1, 1), ("DAYS", 2, 2),
    ("DATEADD", 3, 3), ("EOMONTH", 2, 2), ("SUM", 1, 2), ("AVG", 1, 2), ("COUNT", 1, 2),
    ("COUNTDISTINCT", 1, 2), ("PREV", 1, 2), ("LASTYEAR", 1, 1), ("YTD", 1, 1),
])
def test_arity(name: str, low: int, high: int | None) -> None:
    spec = FUNCTIONS[name]
    assert (spec.min_args, spec.max_args) == (low, high)


def _call(name: str, count: int) -> str:
    return f"{name}({', '.join(['1'] * count)})"


@pytest.mark.parametrize("name", sorted(n for n, f in FUNCTIONS.items() if f.signatures))
def test_every_scalar_function_refuses_a_wrong_argument_count(name: str) -> None:
    spec = FUNCTIONS[name]
    wrong = [spec.min_args - 1] if spec.min_args > 0 else []
    wrong += [spec.max_args + 1] if spec.max_args is not None else []
    if name in ("MIN", "MAX"):
        wrong = [0, 1]             # MIN(1): not a field, so the scalar form (≥ 2 values)
    if name == "DATE":
        wrong.append(2)
    if name == "IFS":
        wrong.append(3)
    assert wrong
    for count in wrong:
        source = _call(name, count)
        (issue,) = issues_of(source, ROW)
        assert (issue.code, issue.span.column, issue.span.end_column) == ("arity", 1, len(name) + 1)


@pytest.mark.parametrize("name", sorted(n for n, f in FUNCTIONS.items() if not f.signatures))
def test_every_aggregate_refuses_a_wrong_argument_count(name: str) -> None:
    for source in (f"{name}()", f"{name}(出院记录.days, TRUE, 1)"):
        (issue,) = issues_of(source, AGG)
        assert issue.code == "arity"


def test_dateadd_units() -> None:
    assert FUNCTIONS["DATEADD"].literal_args == {2}
    assert all(not f.literal_args for n, f in FUNCTIONS.items() if n != "DATEADD")
    assert {dateadd_unit(u) for u in ("day", "DAYS", "天", "日")} == {"day"}
    assert {dateadd_unit(u) for u in ("Month", "months", "月")} == {"month"}
    assert {dateadd_unit(u) for u in ("YEAR", "years", "年")} == {"year"}
    assert dateadd_unit("week") is None and dateadd_unit(" day") is None
    assert set(DATEADD_UNITS.values()) == {"day", "month", "year"}


@pytest.mark.parametrize("params, rest, result, types, expected, problems", [
    (("same", "same"), (), "same", [N, NULL], N, []),
    (("same", "same"), (), "same", [NULL, NULL], NULL, []),
    (("same", "same"), (), "same", [N, S], UNKNOWN, [(1, "agree")]),
    (("same", "same"), (), "same", [UNKNOWN, S], UNKNOWN, []),
    (("ordered",), ("ordered",), "same", [D, D, NULL], D, []),
    (("ordered",), ("ordered",), "same", [B, N], UNKNOWN, [(0, "type")]),
    (("number",), (), N, [UNKNOWN], N, []),
    (("number",), (), N, [S], UNKNOWN, [(0, "type")]),
    (("date", "number"), (), "first", [DT, N], DT, []),
    (("date", "number"), (), "first", [UNKNOWN, N], UNKNOWN, []),
    (("boolean", "same"), ("boolean", "same"), "same", [B, N, NULL, S], UNKNOWN, [(3, "agree")]),
])
def test_type_arguments(params: tuple, rest: tuple, result: object, types: list[FType],
                        expected: FType, problems: list[tuple[int, str]]) -> None:
    found, issues = type_arguments(Signature(params, result, rest), types, [None] * len(types))  # type: ignore[arg-type]
    assert found is expected
    assert [(p.index, p.kind) for p in issues] == problems
    assert all(isinstance(p, ArgProblem) and p.expected.zh and p.expected.en for p in issues)


def test_unit_literals_are_checked_by_value() -> None:
    sig = FUNCTIONS["DATEADD"].signature(3)
    assert sig is not None
    assert type_arguments(sig, [D, N, S], [None, None, "Month"]) == (D, ())
    found, (problem,) = type_arguments(sig, [D, N, S], [None, None, "week"])
    assert (found, problem.index, problem.kind) == (UNKNOWN, 2, "literal")
    found, (problem,) = type_arguments(sig, [D, N, S], [None, None, None])
    assert problem.kind == "literal"


# -- suggestions ---------------------------------------------------------------------

@pytest.mark.parametrize("a, b, d", [
    ("", "", 0), ("abc", "", 3), ("ROUDN", "ROUND", 1), ("amout", "amount", 1),
    ("总费", "总费用", 1), ("出院费用", "住院费用", 1), ("费用总", "总费用", 2), ("kitten", "sitting", 3),
])
def test_distance(a: str, b: str, d: int) -> None:
    assert distance(a, b) == d == distance(b, a)


@pytest.mark.parametrize("word, candidates, expected", [
    ("amout", ["amount", "status", "Amount"], ("amount",)),
    ("AMOUNT", ["amount"], ("amount",)),
    ("总费", ["总费用", "住院天数", "总金额"], ("总费用",)),
    ("出院费用", ["住院费用", "出院记录", "出院日期", "门诊人次"], ("住院费用", "出院日期", "出院记录")),
    ("费用", ["总费用", "材料费用合计"], ("总费用", "材料费用合计")),
    ("CONCATENATE", ["CONCAT", "COUNT"], ("CONCAT",)),
    ("xyz", ["总费用", "amount"], ()),
    ("a", ["b", "c", "d", "e"], ("b", "c", "d")),
    ("amount", ["amount"], ()),
    ("", ["a"], ()),
])
def test_nearest(word: str, candidates: list[str], expected: tuple[str, ...]) -> None:
    assert nearest(word, candidates) == expected


def test_nearest_limit_and_order() -> None:
    names = ["total_cost", "total_count", "total", "totals", "subtotal"]
    assert nearest("totl", names, limit=2) == ("total", "totals")
    assert len(nearest("total_c", names)) == 3
