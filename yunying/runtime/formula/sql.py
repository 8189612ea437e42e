"""Row formulas → SQLAlchemy Core column expressions (公式编译为 SQL) (runtime layer).

``compile_row(checked, columns, dialect=…, today=…, now=…)`` turns a checked
row formula into one column expression that the database evaluates: usable
in a SELECT list, an ORDER BY or a WHERE clause (``amount > 1000 AND
category = 'travel'`` becomes exactly that SQL, with both values bound as
parameters). ``compile_condition`` gives the never-NULL boolean of a
condition (NULL counts as false).

The answer equals the Python evaluator's (:mod:`.evaluator`) on PostgreSQL
and on SQLite: NULL propagation and Kleene logic are SQL's own; exact
division, half-up rounding, MOD, month arithmetic, number → text, Unicode
case mapping and code-point text order are built per database by
:mod:`.sql_postgres` and :mod:`.sql_sqlite` (whose connections need the
functions of :mod:`.sql_functions` registered). On SQLite numbers are REAL
in storage: results are exact to 15 significant digits; PostgreSQL is exact.
Results outside the language's range (|x| ≥ 10^100) are NULL on SQLite and
whatever ``numeric`` gives on PostgreSQL, where the evaluator raises.

``columns`` says where each name's value is: a mapping from the dotted field
path (``Binding.key``, e.g. ``"amount"`` or ``"applicant.department"``) to a
column expression, or a function of the :class:`~.checker.Binding`. Paths
through references are the caller's join (or correlated subquery) to make.
The compiler walks the tree once, dispatching on node class and function
name (functions in :mod:`.sql_calls`); :class:`SqlCompiler` is shared with
:mod:`.aggregate_sql`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import and_, not_, or_, type_coerce
from sqlalchemy.sql.elements import Grouping

from yunying.runtime.formula import ast
from yunying.runtime.formula.checker import Binding, Checked
from yunying.runtime.formula.errors import WHOLE, FormulaError
from yunying.runtime.formula.sql_calls import CALLS, texts
from yunying.runtime.formula.sql_dialect import E, SqlDialect, literal_number, sql_depth, sql_type
from yunying.runtime.formula.sql_postgres import PostgresDialect
from yunying.runtime.formula.sql_sqlite import SqliteDialect
from yunying.runtime.formula.types import FType

__all__ = ["compile_row", "compile_condition", "SqlCompiler", "Columns", "dialect_for",
           "column_resolver", "DIALECTS", "MAX_SQL_DEPTH", "MAX_EXPRESSION_DEPTH"]

Columns = Callable[[Binding], E] | Mapping[str, E]
#: database dialect name (``Database.dialect``) → its formula SQL builder.
DIALECTS: Mapping[str, type[SqlDialect]] = {"postgresql": PostgresDialect, "sqlite": SqliteDialect}
#: how deeply operators and functions may nest in each database's SQL: SQLite
#: 3.40's parser overflows at about 18 nested calls or CASEs (chains such as
#: a + b + c and IF(…, IF(…)) count once); PostgreSQL has no such limit.
MAX_SQL_DEPTH: Mapping[str, int] = {"sqlite": 16, "postgresql": 100}
#: SQLAlchemy compiles an expression recursively (about 4 Python frames a
#: level): deeper SQL would exhaust Python's recursion limit. Formulas nested
#: at most _SAFE_DEPTH levels cannot get there and are not measured.
MAX_EXPRESSION_DEPTH = 150
_SAFE_DEPTH = 7
_N, _S, _B, _D, _DT, _NULL = (FType.NUMBER, FType.STRING, FType.BOOLEAN, FType.DATE,
                               FType.DATETIME, FType.NULL)


def dialect_for(name: str, today: date, now: datetime) -> SqlDialect:
    """The SQL builder for database dialect ``name`` with the caller's clock."""
    factory = DIALECTS.get(name)
    if factory is None:
        raise FormulaError.single(
            "context", WHOLE, f"公式不能编译为 {name} 数据库的 SQL（支持 PostgreSQL 与 SQLite）",
            f"formulas cannot be compiled for the {name} database (PostgreSQL and SQLite are supported)")
    return factory(today, now)


def column_resolver(columns: Columns) -> Callable[[Binding], E]:
    """``columns`` as a function of the binding; a missing column is a ``context`` error."""
    if callable(columns):
        return columns
    mapping = columns

    def resolve(binding: Binding) -> E:
        column = mapping.get(binding.key)
        if column is None:
            raise FormulaError.single(
                "context", WHOLE, f"字段“{binding.key}”没有对应的数据库列",
                f"the field {binding.key!r} has no column to read it from")
        return column
    return resolve


def compile_row(checked: Checked, columns: Columns, *, dialect: str, today: date,
                now: datetime) -> E:
    """A row formula as one column expression (typed to read back Decimal, str, bool,
    date or datetime). Raises FormulaError: ``context`` for an aggregate formula or a
    field without a column, ``too_complex`` when nested too deeply for the database."""
    return _row(checked, columns, dialect_for(dialect, today, now))


def compile_condition(checked: Checked, columns: Columns, *, dialect: str, today: date,
                      now: datetime) -> E:
    """A boolean row formula as a never-NULL condition (NULL counts as false).

    For a WHERE clause, :func:`compile_row` works as well (WHERE already drops
    rows where it is NULL) and lets the database use indexes; this form is for
    SELECT lists, ``NOT`` and CASE, where a NULL would differ from false.
    """
    if checked.type not in (_B, _NULL):
        raise FormulaError.single("type", checked.tree.span, "条件的结果必须是“是”或“否”",
                                  "a condition must give true or false")
    d = dialect_for(dialect, today, now)
    return d.condition(_row(checked, columns, d))


def _row(checked: Checked, columns: Columns, d: SqlDialect) -> E:
    if checked.aggregates or checked.context.mode != "row":
        raise FormulaError.single(
            "context", checked.tree.span, "含汇总函数的公式须用 compile_aggregate 编译",
            "an aggregate formula is compiled with compile_aggregate, not compile_row")
    return SqlCompiler(checked, d, column_resolver(columns)).compile()


Aggregate = Callable[["SqlCompiler", ast.Call], E]


class SqlCompiler:
    """Compiles the nodes of one checked formula with one dialect (used once)."""

    __slots__ = ("checked", "types", "bindings", "d", "columns", "aggregate", "indicators",
                 "depth", "deepest", "limit")

    def __init__(self, checked: Checked, dialect: SqlDialect, columns: Callable[[Binding], E],
                 *, aggregate: Aggregate | None = None,
                 indicators: Mapping[str, E] | None = None) -> None:
        self.checked = checked
        self.types = checked.types
        self.bindings = checked.bindings
        self.d = dialect
        self.columns = columns
        self.aggregate = aggregate
        self.indicators = indicators
        self.depth = self.deepest = 0
        self.limit = MAX_SQL_DEPTH[dialect.name]

    def compile(self) -> E:
        """The whole formula, typed for reading back its value.

        Raises FormulaError ``too_complex`` when the SQL would nest too deeply
        for the database or for SQLAlchemy to compile.
        """
        result, tree = self.checked.type, self.checked.tree
        try:
            expr = type_coerce(self.arg(tree, result), sql_type(result))
        except RecursionError:       # a caller already deep in its own stack
            raise _too_deep(tree, self.d.name, None) from None
        if self.deepest > _SAFE_DEPTH and sql_depth(expr) > MAX_EXPRESSION_DEPTH:
            raise _too_deep(tree, self.d.name, None)
        return expr

    def arg(self, node: ast.Node, want: FType) -> E:
        """``node`` compiled where a value of type ``want`` is expected.

        An expression whose type is NULL is always NULL: it becomes a NULL of
        type ``want`` (so PostgreSQL knows its type and ``x = NULL`` stays NULL).
        """
        if self.types[node] is _NULL:
            return self.d.null(want)
        self.depth += 1
        if self.depth > self.deepest:
            self.deepest = self.depth
            if self.depth > self.limit:
                raise _too_deep(node, self.d.name, self.limit)
        try:
            return _NODES[node.__class__](self, node)
        finally:
            self.depth -= 1

    def args(self, nodes: Sequence[ast.Node], want: FType) -> list[E]:
        return [self.arg(n, want) for n in nodes]

    def own(self, node: ast.Node, fallback: FType) -> E:
        """``node`` compiled as its own type (``fallback`` when that is NULL)."""
        t = self.types[node]
        return self.arg(node, fallback if t is _NULL else t)

    def type(self, node: ast.Node, fallback: FType = _NULL) -> FType:
        t = self.types[node]
        return fallback if t is _NULL else t

    def negated(self, expr: E) -> E:
        value = literal_number(expr)
        return self.d.number(-value) if value is not None else self.d.negate(expr)


def _too_deep(node: ast.Node, dialect: str, limit: int | None) -> FormulaError:
    most_zh = f"（最多 {limit} 层）" if limit else ""
    most_en = f" (at most {limit} levels)" if limit else ""
    return FormulaError.single(
        "too_complex", node.span,
        f"公式嵌套过深，无法在 {dialect} 数据库中计算{most_zh}；请拆分为多个计算字段或指标",
        f"the formula is nested too deeply to run in the {dialect} database{most_en}; "
        f"split it into several computed fields or indicators")


# --- nodes ---------------------------------------------------------------------------

def _name(c: SqlCompiler, node: ast.Name) -> E:
    try:
        return c.columns(c.bindings[node])
    except FormulaError as exc:          # a field without a column: point at the name
        issue = exc.issues[0]
        raise FormulaError.single(issue.code, node.span, issue.message.zh, issue.message.en) from None


def _indicator(c: SqlCompiler, node: ast.Indicator | ast.Call) -> E:
    """``@x`` or a period function (``PREV(@x)`` …): the expression given for its key."""
    ref = c.checked.refs.get(node)
    key = ref.key if ref is not None else getattr(node, "code", node.name)  # type: ignore[union-attr]
    value = c.indicators.get(key) if c.indicators is not None else None
    if value is None:
        raise FormulaError.single("context", node.span, f"没有提供指标 @{key} 的值",
                                  f"no value was given for the indicator @{key}")
    return value


def _unary(c: SqlCompiler, node: ast.Unary) -> E:
    if node.op == "NOT":
        # SQLAlchemy writes NOT of a boolean column unparenthesised ("NOT b IS NULL"
        # would then read as NOT (b IS NULL) in PostgreSQL): group it explicitly
        return Grouping(not_(c.arg(node.operand, _B)))
    operand = c.arg(node.operand, _N)
    return operand if node.op == "+" else c.negated(operand)


def _concat_parts(node: ast.Node) -> list[ast.Node]:
    """The operands of a chain ``a & b & c`` (left-nested), in order."""
    parts: list[ast.Node] = []
    while isinstance(node, ast.Binary) and node.op == "&":
        parts.append(node.right)
        node = node.left
    parts.append(node)
    parts.reverse()
    return parts


def _is_sum(c: SqlCompiler, node: ast.Node) -> bool:
    """Whether ``node`` is a number ``+``/``-`` (not date arithmetic)."""
    return (isinstance(node, ast.Binary) and node.op in ("+", "-") and c.types[node] is _N
            and _D not in (c.types[node.left], c.types[node.right]))


def _terms(c: SqlCompiler, node: ast.Binary) -> list[tuple[bool, ast.Node]]:
    """The terms of a chain ``a + b - c`` as (negated, operand), in order."""
    terms: list[tuple[bool, ast.Node]] = []
    current: ast.Node = node
    while _is_sum(c, current):
        terms.append((current.op == "-", current.right))  # type: ignore[union-attr]
        current = current.left  # type: ignore[union-attr]
    terms.append((False, current))
    terms.reverse()
    return terms


def _plus(c: SqlCompiler, node: ast.Binary) -> E:
    if c.types[node] is _D:
        return c.d.add_days(c.arg(node.left, _D), c.arg(node.right, _N), _D)
    return c.d.sum([(neg, c.arg(term, _N)) for neg, term in _terms(c, node)])


def _minus(c: SqlCompiler, node: ast.Binary) -> E:
    if c.types[node] is _D:
        return c.d.add_days(c.arg(node.left, _D), c.negated(c.arg(node.right, _N)), _D)
    if _D in (c.types[node.left], c.types[node.right]):
        return c.d.days(c.arg(node.left, _D), c.arg(node.right, _D))
    return _plus(c, node)


def _times(c: SqlCompiler, node: ast.Binary) -> E:
    factors: list[ast.Node] = []
    current: ast.Node = node
    while isinstance(current, ast.Binary) and current.op == "*" and c.types[current] is _N:
        factors.append(current.right)
        current = current.left
    factors.append(current)
    factors.reverse()
    return c.d.product(c.args(factors, _N))


def _compare(c: SqlCompiler, node: ast.Binary) -> E:
    lt, rt = c.types[node.left], c.types[node.right]
    left, right = c.arg(node.left, rt if lt is _NULL else lt), c.arg(node.right, lt if rt is _NULL else rt)
    return c.d.compare(node.op, left, right, lt if lt is not _NULL else rt,
                       rt if rt is not _NULL else lt)


def _numbers(build: str) -> Callable[[SqlCompiler, ast.Binary], E]:
    return lambda c, node: getattr(c.d, build)(c.arg(node.left, _N), c.arg(node.right, _N))


_BINARY: Mapping[str, Callable[[SqlCompiler, ast.Binary], E]] = {
    "AND": lambda c, node: and_(c.arg(node.left, _B), c.arg(node.right, _B)),
    "OR": lambda c, node: or_(c.arg(node.left, _B), c.arg(node.right, _B)),
    **{op: _compare for op in ast.COMPARISONS},
    "&": lambda c, node: texts(c, _concat_parts(node)),
    "+": _plus, "-": _minus,
    "*": _times, "/": _numbers("divide"), "^": _numbers("power"),
}


def _binary(c: SqlCompiler, node: ast.Binary) -> E:
    return _BINARY[node.op](c, node)


def _operand_type(c: SqlCompiler, nodes: Sequence[ast.Node]) -> FType:
    return next((c.types[n] for n in nodes if c.types[n] is not _NULL), _NULL)


def _in(c: SqlCompiler, node: ast.In) -> E:
    t = _operand_type(c, (node.operand, *node.items))
    items = node.items
    return c.d.in_list(c.arg(node.operand, t), c.args(items, t), node.negated, c.type(node.operand, t),
                       [c.type(i, t) for i in items])


def _between(c: SqlCompiler, node: ast.Between) -> E:
    t = _operand_type(c, (node.operand, node.low, node.high))
    parts = (node.operand, node.low, node.high)
    return c.d.between(*c.args(parts, t), tuple(c.type(p, t) for p in parts))  # type: ignore[arg-type]


def _is_null(c: SqlCompiler, node: ast.IsNull) -> E:
    operand = c.own(node.operand, _S)
    return operand.is_not(None) if node.negated else operand.is_(None)


def _call(c: SqlCompiler, node: ast.Call) -> E:
    if node in c.checked.aggregates:
        if c.aggregate is None:
            raise FormulaError.single("context", node.span, "汇总函数只能在汇总公式中使用",
                                      "aggregates are only allowed in aggregate formulas")
        return c.aggregate(c, node)
    if node in c.checked.refs:                 # PREV, LASTYEAR, YTD
        return _indicator(c, node)
    build = CALLS.get(node.name)
    if build is None:
        raise FormulaError.single("unknown_function", node.name_span,
                                  f"函数 {node.name} 不能编译为 SQL",
                                  f"the function {node.name} cannot be compiled to SQL")
    return build(c, node)


_NODES: Mapping[type, Callable[[SqlCompiler, Any], E]] = {
    ast.Number: lambda c, node: c.d.number(node.value),
    ast.String: lambda c, node: c.d.string(node.value),
    ast.Boolean: lambda c, node: c.d.boolean(node.value),
    ast.Null: lambda c, node: c.d.null(None),
    ast.Name: _name,
    ast.Indicator: _indicator,
    ast.Unary: _unary,
    ast.Binary: _binary,
    ast.In: _in,
    ast.Between: _between,
    ast.IsNull: _is_null,
    ast.Call: _call,
}
