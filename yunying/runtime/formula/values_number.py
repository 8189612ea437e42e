"""Number semantics of the formula language (公式的数字语义) (runtime layer).

Exact decimals: :data:`CONTEXT` (precision 1000, half-up) for every operation
— never the thread's decimal context, which Python's ``+ - * /`` operators on
``Decimal`` would use. Quotients, powers and square roots are rounded half-up
to :data:`PLACES` places, exactly; results must stay below 10^100 in magnitude
(else FormulaError ``evaluation``). Functions take ``Decimal``/``int``/
``float`` (via ``repr``)/numeric text or ``None`` (NULL) and return ``Decimal``
or ``None``. The context objects are configuration constants; the status flags
libmpdec records on them are never read. Re-exported by :mod:`.values`.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Context, Decimal, InvalidOperation
from math import isqrt, log10
from typing import Any, Callable

from yunying.runtime.formula.errors import WHOLE, FormulaError

__all__ = [
    "CONTEXT", "PLACES", "QUANTUM", "MAX_MAGNITUDE", "MAX_POWER", "MAX_ROUND_DIGITS",
    "evaluation_error", "shown", "out_of_range", "check_range", "plain", "to_number",
    "to_integer", "is_number", "number_pair", "multiply", "negate", "absolute", "divide",
    "power", "sqrt", "round_half_up", "round_up", "round_down", "mod",
]

_MAX_EXP = 999_999_999
#: the language's decimal context: exact + - * (up to 1000 digits), half-up rounding.
CONTEXT = Context(prec=1000, rounding=ROUND_HALF_UP, Emax=_MAX_EXP, Emin=-_MAX_EXP, traps=[])
# truncating context for quotients: 250 digits keep ≥ 17 places of any in-range
# quotient, and a truncated quotient rounds half-up exactly like the exact one.
_TRUNCATE = Context(prec=250, rounding=ROUND_DOWN, Emax=_MAX_EXP, Emin=-_MAX_EXP, traps=[])
PLACES = 16                              #: places kept by / POWER SQRT AVG
QUANTUM = Decimal(1).scaleb(-PLACES)     #: 1E-16
MAX_MAGNITUDE = Decimal("1E100")         #: numbers must stay below this in magnitude
MAX_POWER = 1000                         #: |integer exponent| beyond this → NULL
MAX_ROUND_DIGITS = 100                   #: |n| of ROUND beyond this → NULL
_ZERO = Decimal(0)
_ONE = Decimal(1)
_MAX_INT_BITS = 340                      # 2^340 > 10^100: larger ints are out of range
_QUANTA = {n: Decimal((0, (1,), -n)) for n in range(-MAX_ROUND_DIGITS, MAX_ROUND_DIGITS + 1)}


def evaluation_error(zh: str, en: str) -> FormulaError:
    """A run-time FormulaError (code ``evaluation``) the evaluator will locate."""
    return FormulaError.single("evaluation", WHOLE, zh, en)


def shown(value: Any) -> str:
    """A value as quoted in messages (short)."""
    return repr(value)[:40]


def out_of_range() -> FormulaError:
    """The error for a number outside the language's domain (|x| ≥ 10^100)."""
    return evaluation_error("数字超出范围（绝对值须小于 10^100）",
                            "number out of range (magnitude must be below 10^100)")


def check_range(x: Decimal) -> Decimal:
    """``x`` if it is finite and below 10^100 in magnitude; else FormulaError ``evaluation``."""
    if x.is_finite() and (not x or x.adjusted() < 100):
        return x
    raise out_of_range() if x.is_finite() else evaluation_error(f"{x} 不是数字", f"{x} is not a number")


def plain(x: Decimal) -> Decimal:
    """``x`` without a positive exponent or a negative zero (1.3E+3 → 1300, -0 → 0)."""
    exponent = x.as_tuple().exponent
    if not x:
        return _ZERO if x.is_signed() or exponent > 0 else x  # type: ignore[operator]
    return x.quantize(_ONE, context=CONTEXT) if exponent > 0 else x  # type: ignore[operator]


def _from_int(value: int) -> Decimal:
    if value.bit_length() > _MAX_INT_BITS:
        raise out_of_range()
    return check_range(Decimal(value))


def _from_float(value: float) -> Decimal:
    if value != value or value in (float("inf"), float("-inf")):
        raise evaluation_error(f"{value} 不是数字", f"{value} is not a number")
    return check_range(Decimal(repr(value)))


def _from_text(value: str) -> Decimal:
    text = value.strip()
    try:
        if len(text) > 1100:
            raise InvalidOperation
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite():
        raise evaluation_error(f"“{value[:30]}”不是数字", f"{value[:30]!r} is not a number")
    return check_range(number)


_NUMBER_FROM: dict[type, Callable[[Any], Decimal]] = {
    Decimal: check_range, int: _from_int, float: _from_float, str: _from_text}


def is_number(x: Any) -> bool:
    """Whether ``x`` is a Python number (booleans are not)."""
    return isinstance(x, (Decimal, int, float)) and not isinstance(x, bool)


def to_number(value: Any) -> Decimal | None:
    """A number as ``Decimal`` (ints exact, floats via ``repr``, numeric text parsed).

    Booleans, dates and other values are an ``evaluation`` error.
    """
    if value is None:
        return None
    convert = _NUMBER_FROM.get(value.__class__)
    if convert is None:
        convert = next((c for t, c in _NUMBER_FROM.items()
                        if isinstance(value, t) and not isinstance(value, bool)), None)
        if convert is None:
            raise evaluation_error(f"{shown(value)} 不是数字", f"{shown(value)} is not a number")
    return convert(value)


def to_integer(value: Any) -> int | None:
    """A count argument (LEFT's n, DATEADD's n …): truncated toward zero."""
    number = to_number(value)
    return None if number is None else int(number)


def number_pair(a: Any, b: Any) -> tuple[Decimal, Decimal] | None:
    """Both operands as numbers, or None when either is NULL."""
    if a is None or b is None:
        return None
    x = check_range(a) if a.__class__ is Decimal else to_number(a)
    y = check_range(b) if b.__class__ is Decimal else to_number(b)
    return x, y  # type: ignore[return-value]


def multiply(a: Any, b: Any) -> Decimal | None:
    pair = number_pair(a, b)
    return None if pair is None else check_range(CONTEXT.multiply(*pair))


def negate(a: Any) -> Decimal | None:
    x = to_number(a)
    return None if x is None else x.copy_negate()


def absolute(a: Any) -> Decimal | None:
    x = to_number(a)
    return None if x is None else x.copy_abs()


def _quotient(x: Decimal, y: Decimal) -> Decimal:
    """``x / y`` (y ≠ 0) rounded half-up to 16 places, exactly."""
    if not x:
        return _ZERO
    spread = x.adjusted() - y.adjusted()
    if spread > 100:              # |x / y| > 10^(spread - 1) ≥ 10^100
        raise out_of_range()
    if spread < -18:              # |x / y| < 10^-17: rounds to 0
        return _ZERO
    quotient = _TRUNCATE.divide(x, y).quantize(QUANTUM, context=CONTEXT)
    return check_range(quotient) if quotient else _ZERO


def divide(a: Any, b: Any, alt: Any = None) -> Any:
    """``a / b`` rounded half-up to 16 places; ``alt`` (default NULL) when b is 0 or NULL."""
    y = to_number(b)
    if y is None or not y:
        return alt
    x = to_number(a)
    return None if x is None else _quotient(x, y)


def power(a: Any, b: Any) -> Decimal | None:
    """``a ^ b``: integer exponents up to 1000 exact (negative: 1 / a^|b| to 16 places);
    other exponents rounded to 16 places; negative base with a non-integer exponent,
    0 ^ negative and |b| > 1000 → NULL; 0 ^ 0 = 1."""
    pair = number_pair(a, b)
    if pair is None:
        return None
    x, y = pair
    if y == y.to_integral_value(context=CONTEXT):
        if y.copy_abs() > MAX_POWER:
            return None
        n = int(y)
        if n == 0:
            return _ONE          # 0 ^ 0 = 1, as PostgreSQL and SQLite have it
        if n > 0:
            return check_range(CONTEXT.power(x, n))
        return None if not x else _quotient(_ONE, CONTEXT.power(x, -n))
    if x < 0 or (not x and y < 0):
        return None
    return _ZERO if not x else _fractional_power(x, y)


def _fractional_power(x: Decimal, y: Decimal) -> Decimal:
    """``x ^ y`` for x > 0 and a non-integer y, rounded half-up to 16 places."""
    scale = x.adjusted()
    magnitude = float(y) * (scale + log10(float(x.scaleb(-scale, CONTEXT))))
    if magnitude > 101:
        raise out_of_range()
    if magnitude < -17.5:
        return _ZERO
    # 40 guard digits beyond the integer part: enough for a half-up rounding at 16 places
    context = Context(prec=max(int(magnitude), 0) + 40, rounding=ROUND_HALF_EVEN,
                      Emax=_MAX_EXP, Emin=-_MAX_EXP, traps=[])
    return check_range(context.power(x, y).quantize(QUANTUM, context=CONTEXT))


def sqrt(a: Any) -> Decimal | None:
    """Square root rounded half-up to 16 places (exactly, by integer square root);
    negative → NULL."""
    x = to_number(a)
    if x is None or x < 0:
        return None
    # k = round_half_up(√x · 10^16) is the largest k with (2k − 1)² ≤ 4·x·10^32
    scaled = CONTEXT.multiply(x, 4).scaleb(2 * PLACES, CONTEXT)
    k = (isqrt(int(scaled.to_integral_value(ROUND_FLOOR, CONTEXT))) + 1) // 2
    return Decimal(k).scaleb(-PLACES, CONTEXT)


def _rounder(mode: str) -> Callable[..., Decimal | None]:
    def rounded(x: Any, n: Any = 0) -> Decimal | None:
        number = x if x.__class__ is Decimal else to_number(x)
        digits = n if n.__class__ is int else to_integer(n)
        quantum = None if digits is None else _QUANTA.get(digits)  # |n| > 100 → NULL
        if number is None or quantum is None:
            return None
        return plain(check_range(number.quantize(quantum, rounding=mode, context=CONTEXT)))
    return rounded


#: ROUND(x[, n]): half-up, ties away from zero; n truncated, may be negative; |n| > 100 → NULL.
round_half_up = _rounder(ROUND_HALF_UP)
#: ROUNDUP(x[, n]): away from zero.
round_up = _rounder(ROUND_UP)
#: ROUNDDOWN(x[, n]): toward zero.
round_down = _rounder(ROUND_DOWN)


def mod(a: Any, b: Any) -> Decimal | None:
    """``a − b·FLOOR(a / b)``: the sign of b; ``MOD(x, 0)`` → NULL."""
    pair = number_pair(a, b)
    if pair is None or not pair[1]:
        return None
    x, y = pair
    rest = CONTEXT.remainder(x, y)          # sign of x
    if rest.is_nan():                       # quotient beyond 1000 digits
        raise out_of_range()
    if not rest:
        return _ZERO
    return CONTEXT.add(rest, y) if (rest < 0) != (y < 0) else rest
