"""Marshmallow fields and validators for record values (runtime layer).

Every error these raise carries a :class:`Problem` (a stable code plus
parameters) instead of marshmallow's English sentences; the record service
turns problems into located bilingual messages. The conversions are strict
where silent coercion would lose data: ``12.5`` is not an integer, a decimal
with more places than its scale is refused (never rounded), a float is read
through ``str()`` so ``0.1`` stays ``0.1``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Callable

from marshmallow import ValidationError, fields

from yunying.runtime.records.messages import Problem

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "String",
    "Integer",
    "Identifier",
    "DecimalNumber",
    "Boolean",
    "Date",
    "DateTime",
    "length",
    "pattern",
    "number_range",
    "not_blank",
    "coded",
]

INT32_MIN = -(2 ** 31)
INT32_MAX = 2 ** 31 - 1

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_TEXT_NUMBER = 100  # characters: longer "numbers" are not numbers


def _fail(*problems: Problem) -> ValidationError:
    """A marshmallow error carrying problems (always a list: marshmallow
    extends its error list with it)."""
    return ValidationError(list(problems))


def _type_error(expected: str) -> ValidationError:
    return _fail(Problem("type", {"expected": expected}))


def coded(field: fields.Field, expected: str) -> fields.Field:
    """Make every marshmallow error of ``field`` a Problem; returns the field."""
    # lists, like every other error here: marshmallow keeps them as given
    field.error_messages = {key: [Problem("type", {"expected": expected})]
                            for key in field.error_messages}
    field.error_messages["required"] = [Problem("required")]
    field.error_messages["null"] = [Problem("null")]
    return field


class String(fields.String):
    """Text that both databases can store: no NUL, no lone surrogates."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise _type_error("string")
        if "\x00" in value:
            raise _fail(Problem("type", {"expected": "string"}, template="nul_char"))
        if not value.isascii() and not _encodable(value):
            raise _fail(Problem("type", {"expected": "string"}, template="bad_char"))
        return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from "\ud800" in JSON
        return False
    return True


class Integer(fields.Field):
    """A whole number: int, an integral Decimal/float, or a string of digits."""

    expected = "integer"

    def _deserialize(self, value: Any, attr, data, **kwargs) -> int:
        if isinstance(value, bool):
            raise _type_error(self.expected)
        if isinstance(value, int):
            return value
        if isinstance(value, (float, Decimal)):
            number = Decimal(str(value)) if isinstance(value, float) else value
            if number.is_finite() and number == number.to_integral_value():
                return int(number)
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value.strip())
        raise _type_error(self.expected)


class Identifier(Integer):
    """A row id (reference or attachment): a positive 32-bit integer.

    Ids out of range cannot exist, so they are reported with the field's
    existence code (``reference`` / ``attachment``) before any SQL runs.
    """

    expected = "id"

    def __init__(self, missing_code: str, params: dict[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.missing_code = missing_code
        self.params = params

    def _deserialize(self, value: Any, attr, data, **kwargs) -> int:
        number = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= number <= INT32_MAX:
            raise _fail(Problem(
                self.missing_code, {**self.params, "value": number}))
        return number


class DecimalNumber(fields.Field):
    """A Decimal within NUMERIC(precision, scale), returned at that scale.

    Accepts Decimal, int, a numeric string, or a float (read via ``str``).
    """

    def __init__(self, precision: int, scale: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.precision = precision
        self.scale = scale
        self.quantum = Decimal(1).scaleb(-scale)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> Decimal:
        number = _to_decimal(value)
        problems: list[Problem] = []
        with localcontext() as ctx:
            ctx.prec = 100
            try:
                scaled = number.quantize(self.quantum)
            except InvalidOperation:  # far too many digits for the context
                scaled = None
        if scaled is not None and scaled != number:
            problems.append(Problem("scale", {"scale": self.scale}))
        digits = self.precision - self.scale
        if scaled is None or abs(scaled) >= Decimal(10) ** digits:
            problems.append(Problem("precision", {"digits": digits}))
        if problems:
            raise _fail(*problems)
        return scaled  # type: ignore[return-value]


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _type_error("decimal")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str) and len(value) <= _MAX_TEXT_NUMBER:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _type_error("decimal") from None
    else:
        raise _type_error("decimal")
    if not number.is_finite():
        raise _type_error("decimal")
    return number


class Boolean(fields.Boolean):
    """true/false, also "true"/"false"/"1"/"0"/1/0 as marshmallow reads them."""


class Date(fields.Field):
    """A calendar date: a ``date`` (not a datetime) or ``YYYY-MM-DD``."""

    def _deserialize(self, value: Any, attr, data, **kwargs) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise _type_error("date")


class DateTime(fields.Field):
    """A timestamp stored as naive UTC: a datetime or an ISO 8601 string.

    Values with a UTC offset are converted to UTC; naive ones are taken as UTC.
    """

    def _deserialize(self, value: Any, attr, data, **kwargs) -> datetime:
        if isinstance(value, str) and len(value) <= 64:
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise _type_error("datetime") from None
        if not isinstance(value, datetime):
            raise _type_error("datetime")
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except (OverflowError, ValueError):  # year 1 minus an offset
                raise _type_error("datetime") from None
        return value


# -- validators: each returns a callable raising ValidationError(Problem) -----

Validator = Callable[[Any], None]


def length(maximum: int | None, minimum: int | None) -> Validator:
    def check(value: str) -> None:
        if maximum is not None and len(value) > maximum:
            raise _fail(Problem(
                "length_max", {"max": maximum, "length": len(value)}))
        if minimum is not None and len(value) < minimum:
            raise _fail(Problem(
                "length_min", {"min": minimum, "length": len(value)}))
    return check


def pattern(regex: str) -> Validator:
    compiled = re.compile(regex)

    def check(value: str) -> None:
        if compiled.fullmatch(value) is None:
            raise _fail(Problem("pattern", {"pattern": regex}))
    return check


def number_range(minimum: Any, maximum: Any, shown: Callable[[Any], Any]) -> Validator:
    """Inclusive bounds; ``shown`` turns a bound into its message/JSON form."""
    def check(value: Any) -> None:
        if minimum is not None and value < minimum:
            raise _fail(Problem("min", {"min": shown(minimum)}))
        if maximum is not None and value > maximum:
            raise _fail(Problem("max", {"max": shown(maximum)}))
    return check


def not_blank(value: str) -> None:
    """A required text may not be empty or only spaces."""
    if not value.strip():
        raise _fail(Problem("required"))

