"""Formula function calls → SQL (公式函数的 SQL 编译) (runtime layer).

One builder per function of the catalogue (:mod:`.functions`), keyed by
name in :data:`CALLS`: each compiles its arguments with the
:class:`~.sql.SqlCompiler` at the type the function expects and asks the
dialect (:mod:`.sql_dialect`) for the SQL. Aggregates are not here: the
compiler hands them to :mod:`.aggregate_sql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from yunying.runtime.formula import ast
from yunying.runtime.formula.functions import dateadd_unit
from yunying.runtime.formula.sql_dialect import E
from yunying.runtime.formula.types import FType

if TYPE_CHECKING:
    from yunying.runtime.formula.sql import SqlCompiler

__all__ = ["CALLS", "texts"]

_N, _S, _B, _D, _NULL = FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE, FType.NULL


def texts(c: SqlCompiler, nodes: Sequence[ast.Node]) -> E:
    """``a & b & …`` and CONCAT: each value as text (NULL as ''), joined."""
    d = c.d
    return d.concat([d.text(c.own(n, _S), c.type(n)) if c.type(n) is not _NULL
                     else d.text(d.null(_S), _NULL) for n in nodes])


def _if(c: SqlCompiler, node: ast.Call) -> E:
    """IF(c1, v1, IF(c2, v2, v3)) is one CASE WHEN c1 … WHEN c2 … ELSE v3 END."""
    t = c.types[node]
    whens: list[tuple[E, E]] = []
    current: ast.Node | None = node
    while (isinstance(current, ast.Call) and current.name == "IF" and c.types[current] is not _NULL
           and current not in c.checked.aggregates):
        test, then, *rest = current.args
        whens.append((c.arg(test, _B), c.arg(then, t)))
        current = rest[0] if rest else None
    return c.d.choose(whens, c.arg(current, t) if current is not None else None, t)


def _ifs(c: SqlCompiler, node: ast.Call) -> E:
    t, args = c.types[node], node.args
    whens = [(c.arg(args[i], _B), c.arg(args[i + 1], t)) for i in range(0, len(args), 2)]
    return c.d.choose(whens, None, t)


def _rounding(mode: str) -> Callable[[SqlCompiler, ast.Call], E]:
    def build(c: SqlCompiler, node: ast.Call) -> E:
        x, *n = node.args
        return c.d.round(mode, c.arg(x, _N), c.arg(n[0], _N) if n else None)
    return build


def _divide(c: SqlCompiler, node: ast.Call) -> E:
    a, b, *alt = c.args(node.args, _N)
    return c.d.divide_or(a, b, alt[0]) if alt else c.d.divide(a, b)


def _date(c: SqlCompiler, node: ast.Call) -> E:
    if len(node.args) == 1:
        return c.d.parse_date(c.arg(node.args[0], _S))
    return c.d.make_date(*c.args(node.args, _N))


def _dateadd(c: SqlCompiler, node: ast.Call) -> E:
    day, count, unit = node.args
    t = c.type(day, _D)
    unit_name = dateadd_unit(unit.value)  # type: ignore[attr-defined]  # a text literal (checked)
    return c.d.date_add(c.arg(day, t), c.arg(count, _N), unit_name or "day", t)


def _fixed(method: str, *kinds: FType) -> Callable[[SqlCompiler, ast.Call], E]:
    """A function whose arguments have fixed types (DATE args keep their own type)."""
    def build(c: SqlCompiler, node: ast.Call) -> E:
        args = [c.own(a, k) if k is _D else c.arg(a, k) for a, k in zip(node.args, kinds)]
        return getattr(c.d, method)(*args)
    return build


def _part(part: str) -> Callable[[SqlCompiler, ast.Call], E]:
    return lambda c, node: c.d.date_part(part, c.own(node.args[0], _D))


#: function name → its SQL builder.
CALLS: Mapping[str, Callable[[SqlCompiler, ast.Call], E]] = {
    "IF": _if, "IFS": _ifs,
    "ISNULL": lambda c, node: c.own(node.args[0], _S).is_(None),
    "COALESCE": lambda c, node: c.d.coalesce(c.args(node.args, c.types[node]), c.types[node]),
    "ROUND": _rounding("half_up"), "ROUNDUP": _rounding("up"), "ROUNDDOWN": _rounding("down"),
    "ABS": _fixed("absolute", _N), "SQRT": _fixed("sqrt", _N),
    "POWER": _fixed("power", _N, _N), "MOD": _fixed("mod", _N, _N), "DIVIDE": _divide,
    "MIN": lambda c, node: c.d.extreme("MIN", c.args(node.args, c.types[node]), c.types[node]),
    "MAX": lambda c, node: c.d.extreme("MAX", c.args(node.args, c.types[node]), c.types[node]),
    "LEN": _fixed("length", _S), "LEFT": _fixed("left", _S, _N), "RIGHT": _fixed("right", _S, _N),
    "MID": _fixed("mid", _S, _N, _N), "UPPER": _fixed("upper", _S),
    "LOWER": _fixed("lower", _S), "TRIM": _fixed("trim", _S),
    "CONCAT": lambda c, node: texts(c, node.args),
    "CONTAINS": _fixed("contains", _S, _S), "STARTSWITH": _fixed("starts_with", _S, _S),
    "ENDSWITH": _fixed("ends_with", _S, _S), "SUBSTITUTE": _fixed("substitute", _S, _S, _S),
    "TODAY": lambda c, node: c.d.today(), "NOW": lambda c, node: c.d.now(),
    "DATE": _date, "DATEADD": _dateadd,
    "EOMONTH": lambda c, node: c.d.eomonth(c.own(node.args[0], _D), c.arg(node.args[1], _N),
                                           c.type(node.args[0], _D)),
    "DAYS": _fixed("days", _D, _D),
    "YEAR": _part("year"), "MONTH": _part("month"), "DAY": _part("day"), "QUARTER": _part("quarter"),
}
