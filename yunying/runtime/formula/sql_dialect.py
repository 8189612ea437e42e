"""What the formula SQL compiler asks of a database (公式编译的方言接口) (runtime layer).

The compiler (:mod:`.sql`) walks a checked tree and asks a :class:`SqlDialect`
for every piece of SQL where the databases differ — exact division, half-up
rounding, month arithmetic, the text form of a number, code-point string
order. :mod:`.sql_postgres` builds them from PostgreSQL's exact ``numeric``
and interval arithmetic; :mod:`.sql_sqlite` from the deterministic user
functions of :mod:`.sql_functions`. These classes only *build* SQLAlchemy
Core expressions; nothing here touches a connection.

The formula's own values (literals, TODAY(), NOW()) are bound parameters;
the few constants of the compiler itself (``1E17``, date sentinels) are
inline SQL text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

from sqlalchemy import (Boolean, Date, DateTime, Integer, Numeric, String, and_, case, cast, func,
                        literal_column, null, select)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnElement
from sqlalchemy.sql.functions import Function, FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from yunying.runtime.formula.types import FType

__all__ = ["E", "FormulaNumber", "FormulaInteger", "SqlDialect", "sql_type", "number_value",
           "literal_number", "share", "sql_depth", "bound", "binary", "call", "NUMBER", "INTEGER", "STRING",
           "BOOLEAN", "DATE", "DATETIME"]

E = ColumnElement[Any]


def number_value(value: Any) -> Decimal | None:
    """A number read back from the database as ``Decimal`` (floats via ``repr``)."""
    if value is None or value.__class__ is Decimal:
        return value
    if value.__class__ is float:
        return Decimal(repr(value))
    return Decimal(int(value))


def _sqlite_number(value: Any) -> Any:
    """A ``Decimal`` as SQLite stores numbers: INTEGER when whole, else REAL."""
    if value is None or value.__class__ is not Decimal:
        return value
    whole = int(value)
    return whole if whole == value and -2**63 < whole < 2**63 else float(value)


class FormulaNumber(TypeDecorator):
    """A formula number in SQL: bound as exactly as the database allows, read
    back as ``Decimal`` (SQLite REALs through ``repr``: exact to 15 significant
    digits, the documented SQLite limit)."""

    impl = Numeric
    cache_ok = True

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        return _sqlite_number if dialect.name == "sqlite" else None

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any]:
        return number_value


class FormulaInteger(FormulaNumber):
    """A whole formula number held as SQL ``INTEGER`` (small literals, lengths,
    day counts), read back as ``Decimal``; arithmetic widens it to NUMERIC."""

    impl = Integer
    cache_ok = True


#: one (stateless) type instance per formula type, shared by every expression.
NUMBER, INTEGER, STRING, BOOLEAN, DATE, DATETIME = (
    FormulaNumber(), FormulaInteger(), String(), Boolean(), Date(), DateTime())
_SQL_TYPES: dict[FType | None, TypeEngine] = {
    FType.NUMBER: NUMBER, FType.STRING: STRING, FType.BOOLEAN: BOOLEAN,
    FType.DATE: DATE, FType.DATETIME: DATETIME,
}


def sql_type(ftype: FType | None) -> TypeEngine:
    """The SQLAlchemy type carrying values of ``ftype`` (text for NULL/unknown)."""
    return _SQL_TYPES.get(ftype, STRING)


def binary(left: E, op: Any, right: E, type_: TypeEngine) -> E:
    """``left op right`` built directly (SQLAlchemy's operator dispatch costs more
    than the formula compiler's whole per-node work); operands are grouped by
    precedence as SQLAlchemy would."""
    return BinaryExpression(left.self_group(against=op), right.self_group(against=op), op,
                            type_=type_)


def call(name: str, *args: E, type_: TypeEngine | None = None) -> E:
    """The SQL function ``name(args…)`` (no lookup among SQLAlchemy's generic functions)."""
    return Function(name, *args, type_=type_)


def bound(value: Any, type_: TypeEngine) -> E:
    """A bound parameter holding ``value`` (what ``literal()`` makes, without its coercion cost)."""
    return BindParameter(None, value, type_=type_, unique=True)


def literal_number(expr: E) -> Decimal | None:
    """The value of a bound number literal (``2``, ``-2`` after folding), else None."""
    if isinstance(expr, BindParameter) and isinstance(expr.type, FormulaNumber):
        value = expr.value
        return value if value.__class__ is Decimal else Decimal(value)
    return None


#: the comparison operators (operands are never a bare None: NULLs carry a type).
_COMPARE: dict[str, Any] = {
    "=": operators.eq, "!=": operators.ne, "<": operators.lt, "<=": operators.le,
    ">": operators.gt, ">=": operators.ge}
_MAX_SMALL = 20     # SQL nodes an operand may have and still be written twice


def _small(expr: E) -> bool:
    """Whether ``expr`` has at most _MAX_SMALL nodes (counted up to that limit)."""
    stack, seen = [expr], 0
    while stack:
        seen += 1
        if seen > _MAX_SMALL:
            return False
        stack.extend(stack.pop().get_children())
    return True


_AGGREGATES = frozenset({"count", "sum", "min", "max", "avg", "yyf_sum", "yyf_avg"})


def _has_aggregate(expr: E) -> bool:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, FunctionElement) and node.name.lower() in _AGGREGATES:
            return True
        stack.extend(node.get_children())
    return False


def share(args: Sequence[E], build: Callable[..., E]) -> E:
    """``build(*args)``, where ``build`` may write an argument more than once.

    Small arguments (a column, a literal, ``a + b``) are simply repeated. A
    larger one is computed once in a correlated scalar subquery —
    ``(SELECT build(s.s0) FROM (SELECT <arg> AS s0 OFFSET 0) AS s)``; the
    ``OFFSET 0`` keeps PostgreSQL's planner from copying it back — so that
    nested row formulas never grow the SQL exponentially. Arguments holding an
    aggregate are repeated (they cannot move into a subquery).
    """
    if all(_small(a) for a in args) or any(_has_aggregate(a) for a in args):
        # an aggregate cannot move into a subquery (COUNT(*) would count the
        # subquery's one row); around aggregates the formula runs once per group
        return build(*args)
    inner = select(*[a.label(f"s{i}") for i, a in enumerate(args)]) \
        .offset(literal_column("0")).correlate_except(None).subquery()
    return select(build(*inner.c)).correlate_except(None).scalar_subquery()


def sql_depth(root: E) -> int:
    """How deeply ``root`` nests (SQLAlchemy compiles it recursively, ~4 frames a level)."""
    depth: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in depth:
            continue
        children = list(node.get_children())
        if done:
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in depth)
    return depth[id(root)]


def widest(types: Sequence[FType]) -> FType:
    """DATETIME when any of ``types`` is one (a date compares as its midnight)."""
    return FType.DATETIME if FType.DATETIME in types else (types[0] if types else FType.NULL)


class SqlDialect(ABC):
    """The expressions of one database. This base holds what both share;
    subclasses implement the number, text, date and aggregate builders.

    Arguments are compiled SQL expressions; ``FType`` arguments say what a
    value is where the SQL depends on it. Results are typed for reading back
    (numbers as :class:`FormulaNumber`, dates as ``Date`` …).
    """

    name = ""

    __slots__ = ("_clock", "_today", "_now")

    def __init__(self, today: date, now: datetime) -> None:
        self._clock = (today, now)
        self._today: E | None = None
        self._now: E | None = None

    # --- literals ---------------------------------------------------------------
    def number(self, value: Decimal) -> E:
        return bound(value, NUMBER)

    def string(self, value: str) -> E:
        return bound(value, STRING)

    def boolean(self, value: bool) -> E:
        return bound(value, BOOLEAN)

    def null(self, ftype: FType | None) -> E:
        """NULL with a type, so that ``x = NULL`` stays a comparison (NULL), not ``IS NULL``."""
        return cast(null(), sql_type(ftype))

    def today(self) -> E:
        """TODAY(): the caller's date, one bound parameter however often it is used."""
        if self._today is None:
            self._today = bound(self._clock[0], DATE)
        return self._today

    def now(self) -> E:
        if self._now is None:
            self._now = bound(self._clock[1], DATETIME)
        return self._now

    # --- logic and comparison ---------------------------------------------------
    def comparable(self, expr: E, ftype: FType, other: FType) -> E:
        """``expr`` (of ``ftype``) ready to be compared with a value of type ``other``."""
        return expr

    def compare(self, op: str, left: E, right: E, ltype: FType, rtype: FType) -> E:
        return binary(self.comparable(left, ltype, rtype), _COMPARE[op],
                      self.comparable(right, rtype, ltype), BOOLEAN)

    def in_list(self, operand: E, items: Sequence[E], negated: bool, ftype: FType,
                types: Sequence[FType]) -> E:
        x = self.comparable(operand, ftype, widest(types))
        values = [self.comparable(item, t, ftype) for item, t in zip(items, types)]
        return x.not_in(values) if negated else x.in_(values)

    def between(self, operand: E, low: E, high: E, types: tuple[FType, FType, FType]) -> E:
        """``x >= low AND x <= high`` (three-valued), x computed once."""
        ftype, ltype, htype = types
        x = self.comparable(operand, ftype, widest((ltype, htype)))
        low, high = self.comparable(low, ltype, ftype), self.comparable(high, htype, ftype)
        return share([x], lambda v: and_(binary(v, operators.ge, low, BOOLEAN),
                                         binary(v, operators.le, high, BOOLEAN)))

    def condition(self, expr: E) -> E:
        """``expr`` as a never-NULL boolean: NULL counts as false."""
        return expr.is_(True)

    def choose(self, whens: Sequence[tuple[E, E]], otherwise: E | None, ftype: FType) -> E:
        """IF / IFS: the first branch whose condition is TRUE (NULL is not)."""
        return case(*whens, else_=otherwise)

    def coalesce(self, args: Sequence[E], ftype: FType) -> E:
        return args[0] if len(args) == 1 else func.coalesce(*args, type_=sql_type(ftype))

    def concat(self, parts: Sequence[E]) -> E:
        """Joined texts (each part already never NULL)."""
        result = parts[0]
        for part in parts[1:]:
            result = result.concat(part)   # SQL's associative ||: no nested parentheses
        return result

    # --- what each database builds its own way ------------------------------------
    @abstractmethod
    def negate(self, x: E) -> E:
        """``-x``."""

    @abstractmethod
    def sum(self, terms: Sequence[tuple[bool, E]]) -> E:
        """``a + b - c …`` from (negated, term) pairs, exact."""

    @abstractmethod
    def subtract(self, a: E, b: E) -> E:
        """``a - b``, exact."""

    @abstractmethod
    def product(self, factors: Sequence[E]) -> E:
        """``a * b * …``, exact."""

    @abstractmethod
    def divide(self, a: E, b: E) -> E:
        """``a / b`` rounded half-up to 16 places; b = 0 or NULL → NULL."""

    @abstractmethod
    def divide_or(self, a: E, b: E, alt: E) -> E:
        """DIVIDE(a, b, alt): ``alt`` when b is 0 or NULL."""

    @abstractmethod
    def power(self, a: E, b: E) -> E:
        """``a ^ b`` (values.power's rules)."""

    @abstractmethod
    def sqrt(self, x: E) -> E:
        """Square root to 16 places; negative → NULL."""

    @abstractmethod
    def absolute(self, x: E) -> E:
        """ABS."""

    @abstractmethod
    def round(self, mode: str, x: E, n: E | None) -> E:
        """ROUND (``half_up``), ROUNDUP (``up``), ROUNDDOWN (``down``); |n| > 100 → NULL."""

    @abstractmethod
    def mod(self, a: E, b: E) -> E:
        """MOD with the sign of b; MOD(x, 0) → NULL."""

    @abstractmethod
    def extreme(self, kind: str, args: Sequence[E], ftype: FType) -> E:
        """Scalar MIN / MAX (``kind``), NULLs ignored."""

    @abstractmethod
    def text(self, x: E, ftype: FType) -> E:
        """How ``&`` writes a value of ``ftype``."""

    @abstractmethod
    def length(self, s: E) -> E:
        """LEN in characters."""

    @abstractmethod
    def left(self, s: E, n: E) -> E:
        """LEFT; n truncated, negative → NULL."""

    @abstractmethod
    def right(self, s: E, n: E) -> E:
        """RIGHT; n truncated, negative → NULL."""

    @abstractmethod
    def mid(self, s: E, start: E, n: E) -> E:
        """MID, 1-based; start < 1 or n < 0 → NULL."""

    @abstractmethod
    def upper(self, s: E) -> E:
        """Unicode UPPER."""

    @abstractmethod
    def lower(self, s: E) -> E:
        """Unicode LOWER."""

    @abstractmethod
    def trim(self, s: E) -> E:
        """TRIM of spaces, tabs, CR, LF and U+3000 at both ends."""

    @abstractmethod
    def contains(self, s: E, t: E) -> E:
        """CONTAINS, literal and case-sensitive."""

    @abstractmethod
    def starts_with(self, s: E, t: E) -> E:
        """STARTSWITH."""

    @abstractmethod
    def ends_with(self, s: E, t: E) -> E:
        """ENDSWITH."""

    @abstractmethod
    def substitute(self, s: E, old: E, new: E) -> E:
        """SUBSTITUTE every occurrence; old = '' leaves s."""

    @abstractmethod
    def add_days(self, d: E, n: E, ftype: FType) -> E:
        """``d + n`` days (n truncated); outside years 1..9999 → NULL."""

    @abstractmethod
    def date_add(self, d: E, n: E, unit: str, ftype: FType) -> E:
        """DATEADD with unit ``day``/``month``/``year`` (months clamp to month end)."""

    @abstractmethod
    def eomonth(self, d: E, n: E, ftype: FType) -> E:
        """EOMONTH: last day of the month n months after d's."""

    @abstractmethod
    def days(self, end: E, start: E) -> E:
        """Days between the dates of ``end`` and ``start``."""

    @abstractmethod
    def make_date(self, y: E, m: E, d: E) -> E:
        """DATE(y, m, d); invalid → NULL."""

    @abstractmethod
    def parse_date(self, s: E) -> E:
        """DATE('YYYY-MM-DD'); anything else → NULL."""

    @abstractmethod
    def date_part(self, part: str, d: E) -> E:
        """YEAR / MONTH / DAY / QUARTER (``part`` in lower case)."""

    @abstractmethod
    def aggregate(self, name: str, value: E | None, where: E | None, ftype: FType) -> E:
        """An aggregate (SUM AVG MIN MAX COUNT COUNTDISTINCT) of ``value`` (None:
        the rows) over the rows where ``where`` is TRUE; ``ftype`` is its result type."""
