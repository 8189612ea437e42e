"""SQLite user functions of the formula language (SQLite 公式函数) (runtime layer).

SQLite has no decimal type: a NUMERIC column holds INTEGER or REAL, and its
``round()``, ``upper()`` and date functions differ from the language's. The
formula SQL for SQLite (:mod:`.sql_sqlite`) therefore calls the deterministic
functions registered here, each a thin wrapper over :mod:`.values` — the same
code the Python evaluator runs — so both paths give one answer:

- numbers come in as INTEGER or REAL and are read as ``Decimal(repr(x))``;
  results go back as INTEGER when whole (and within 64 bits), else REAL. A
  REAL carries 15 significant digits exactly: that is the SQLite limit
  (PostgreSQL is exact);
- dates come in as ISO text (how SQLAlchemy stores them) and go back the
  same way: ``2024-03-01`` and ``2024-03-01 08:30:00.000000``;
- every function is total: a NULL argument, a value that is not a number,
  or a result outside the language's range gives NULL — nothing raises
  inside SQLite.

``register(dbapi_connection)`` installs them on one ``sqlite3`` connection;
the application does it for every connection through
:meth:`yunying.platform.database.Database.on_sqlite_connect`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from decimal import localcontext
from math import fsum, isfinite
from typing import Any, Callable

from yunying.runtime.formula import values as fv

__all__ = ["register", "FUNCTIONS", "AGGREGATES", "PREFIX"]

PREFIX = "yyf_"
_LIMIT = 2**63
_BATCH = 4096     # REALs gathered before a SUM adds them up


def _to_sqlite(value: Any) -> Any:
    """A language value as SQLite holds it."""
    cls = value.__class__
    if cls is Decimal:
        whole = int(value)
        if whole == value and -_LIMIT < whole < _LIMIT:
            return whole
        result = float(value)
        return result if isfinite(result) else None
    if cls is date:
        return value.isoformat()
    if cls is datetime:
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


def _total(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` made total: its value as SQLite holds it, NULL instead of any error."""
    def run(*args: Any) -> Any:
        try:
            return _to_sqlite(fn(*args))
        except Exception:  # noqa: BLE001 - an error inside SQLite would abort the query
            return None
    run.__name__ = getattr(fn, "__name__", "function")
    return run


def _sum_of(*items: Any) -> Decimal | None:
    """``a + b + …`` exactly; NULL when any is NULL."""
    total = Decimal(0)
    for item in items:
        if item is None:
            return None
        total = fv.CONTEXT.add(total, fv.to_number(item))
    return fv.check_range(total)


def _product_of(*items: Any) -> Decimal | None:
    """``a * b * …`` exactly; NULL when any is NULL."""
    if any(item is None for item in items):
        return None
    total = Decimal(1)
    for item in items:
        total = fv.check_range(fv.CONTEXT.multiply(total, fv.to_number(item)))
    return total


def _round(rounder: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, n=0: rounder(x, n)


#: name (without prefix) → (number of arguments, -1: any; function on values)
_SCALARS: dict[str, tuple[int, Callable[..., Any]]] = {
    "add": (-1, _sum_of), "mul": (-1, _product_of),
    "div": (2, fv.divide), "divide": (3, fv.divide), "power": (2, fv.power),
    "sqrt": (1, fv.sqrt), "abs": (1, fv.absolute), "mod": (2, fv.mod),
    "round": (2, _round(fv.round_half_up)), "roundup": (2, _round(fv.round_up)),
    "rounddown": (2, _round(fv.round_down)),
    "min": (-1, fv.minimum), "max": (-1, fv.maximum),
    "numtext": (1, fv.number_text),
    "len": (1, fv.text_length), "left": (2, fv.left), "right": (2, fv.right),
    "mid": (3, fv.mid), "upper": (1, fv.upper), "lower": (1, fv.lower),
    "contains": (2, fv.contains), "startswith": (2, fv.starts_with),
    "endswith": (2, fv.ends_with), "substitute": (3, fv.substitute),
    "add_days": (2, fv.add_days), "days": (2, fv.days_between),
    "dateadd": (3, fv.date_add), "eomonth": (2, fv.eomonth),
    "make_date": (3, fv.make_date), "parse_date": (1, fv.parse_date),
}


def _exact_sum(reals: list[float], largest: float) -> Decimal:
    """``Σ Decimal(repr(x))``. Fast for money: below 10^10 the float of a whole number
    of cents ``c`` is ``c / 100`` (correctly rounded) and its ``repr`` is exactly
    ``c / 100`` (no other number of cents rounds to it), so the sum is ``Σc / 100``."""
    if largest < 1e10:
        cents = [round(x * 100) for x in reals]
        if all(c / 100 == x for c, x in zip(cents, reals)):
            return Decimal(sum(cents)).scaleb(-2)
    with localcontext(fv.CONTEXT):
        return sum(map(Decimal, map(repr, reals)), Decimal(0))


class _Sum:
    """SUM over Decimals: whole numbers added as Python ints, REALs gathered and
    added exactly (as ``Decimal(repr(x))``) a batch at a time, the rest one by one."""

    __slots__ = ("whole", "exact", "reals", "broken")

    def __init__(self) -> None:
        self.whole = 0
        self.exact = Decimal(0)
        self.reals: list[float] = []
        self.broken = False

    def step(self, value: Any) -> None:
        cls = value.__class__
        if cls is int:
            self.whole += value
        elif cls is float:
            self.reals.append(value)
            if len(self.reals) >= _BATCH:
                self._fold()
        elif value is not None and not self.broken:
            try:
                self.exact = fv.CONTEXT.add(self.exact, fv.to_number(value))
            except Exception:  # noqa: BLE001 - not a number: the sum is NULL
                self.broken = True

    def _fold(self) -> None:
        """Add the gathered REALs exactly; one not finite or out of range breaks the sum
        (as ``to_number`` of it would)."""
        reals, self.reals = self.reals, []
        if not reals or self.broken:
            return
        try:
            if not isfinite(fsum(map(abs, reals))):
                raise ValueError("not finite")
            largest = max(map(abs, reals))
            fv.to_number(largest)                      # within range
            self.exact = fv.CONTEXT.add(self.exact, _exact_sum(reals, largest))
        except Exception:  # noqa: BLE001
            self.broken = True

    def total(self) -> Decimal | None:
        self._fold()
        if self.broken:
            return None
        return fv.check_range(fv.CONTEXT.add(self.exact, Decimal(self.whole)))

    def finalize(self) -> Any:
        try:
            return _to_sqlite(self.total())
        except Exception:  # noqa: BLE001
            return None


class _Average(_Sum):
    """AVG: the exact sum over the count, rounded half-up to 16 places."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def step(self, value: Any) -> None:
        if value is not None:
            self.count += 1
            super().step(value)

    def finalize(self) -> Any:
        try:
            return _to_sqlite(fv.divide(self.total(), Decimal(self.count)))
        except Exception:  # noqa: BLE001
            return None


#: registered name → (number of arguments, total function)
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    PREFIX + name: (arity, _total(fn)) for name, (arity, fn) in _SCALARS.items()}
#: registered aggregate name → its class
AGGREGATES: dict[str, type] = {PREFIX + "sum": _Sum, PREFIX + "avg": _Average}


def register(dbapi_connection: Any) -> None:
    """Install the formula functions on one ``sqlite3`` connection."""
    for name, (arity, fn) in FUNCTIONS.items():
        dbapi_connection.create_function(name, arity, fn, deterministic=True)
    for name, cls in AGGREGATES.items():
        dbapi_connection.create_aggregate(name, 1, cls)
