"""Sample values for evaluating formulas over HTTP (runtime layer, HTTP edge).

``POST /api/v1/formula/eval`` takes sample values as JSON. With an entity,
each value is converted by its field's type (decimals from strings or
numbers, dates ``YYYY-MM-DD``, datetimes ISO, references as record ids);
without one, a value's JSON type is its formula type. A value that does not
convert is a 400 naming it (``values.quantity``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from yunying.metadata.spec import FieldSpec
from yunying.platform.errors import YunyingError
from yunying.platform.i18n import Text
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.entity_context import Owner
from yunying.runtime.formula.types import FIELD_TYPE_MAP, FType

__all__ = ["MAX_VALUES", "bad_request", "encodable", "utc", "field_values", "free_values",
           "record_id"]

#: sample values one eval request may carry.
MAX_VALUES = 1000
_MAX_TEXT = 100      # characters of a number given as text
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT32_MAX = 2 ** 31 - 1


def bad_request(parameter: str, zh: str, en: str) -> YunyingError:
    """A 400 ``invalid_request`` naming the parameter at fault."""
    return YunyingError(Text(zh, en), code="invalid_request",
                        details={"parameter": parameter})


def encodable(parameter: str, text: str) -> str:
    """``text`` unless it holds a lone surrogate (which no response could carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800" in the JSON
        raise bad_request(parameter, f"{parameter} 含有无效的字符（不成对的 Unicode 代理项）",
                          f"{parameter} contains an invalid character (an unpaired "
                          f"surrogate)") from None
    return text


def utc(now: datetime) -> datetime:
    """A datetime as naive UTC (how Yunying stores and compares them)."""
    return now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now


def record_id(value: Any) -> int:
    """The ``record_id`` parameter: a positive 32-bit whole number."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _INT32_MAX:
        return value
    raise bad_request("record_id", "record_id 应为记录 id（正整数）",
                      "record_id must be a record id (a positive whole number)")


def _values_object(values: Any) -> Mapping[str, Any]:
    if not isinstance(values, dict):
        raise bad_request("values", "values 应为对象（名称到值）",
                          "values must be an object (name → value)")
    if len(values) > MAX_VALUES:
        raise bad_request("values", f"values 最多 {MAX_VALUES} 项",
                          f"values allows at most {MAX_VALUES} items")
    return values


def field_values(owner: Owner, values: Any) -> dict[str, Any]:
    """Sample values of ``owner``'s fields, converted by each field's type."""
    fields = {f.code: f for f in owner.fields}
    converted: dict[str, Any] = {}
    for name, value in _values_object(values).items():
        f = fields.get(name)
        if f is None:
            shown = str(name)[:50]
            raise bad_request(f"values.{shown}", f"{owner.label.zh} 没有字段 {shown}",
                              f"{owner.label.en} has no field {shown!r}")
        if f.type in ("reference", "attachment") and value is not None:
            converted[name] = _id_value(f"values.{name}", value)
        else:
            converted[name] = _convert(f"values.{name}", _field_type(f), value)
    return converted


def _field_type(f: FieldSpec) -> FType:
    return FIELD_TYPE_MAP.get(f.value_type, FType.UNKNOWN)


def _id_value(parameter: str, value: Any) -> int:
    """A reference's value: the id of a row (a positive whole number)."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _INT32_MAX:
        return value
    shown = parameter[:60]
    raise bad_request(shown, f"{shown} 应为记录 id（正整数）",
                      f"{shown} must be a record id (a positive whole number)")


def free_values(values: Any) -> tuple[dict[str, Any], FormulaContext]:
    """Sample values without an entity: each value's JSON type is its type."""
    converted: dict[str, Any] = {}
    types: dict[str, FType] = {}
    for name, value in _values_object(values).items():
        encodable("values", name)
        kind = _JSON_TYPES.get(type(value))
        if kind is None:
            raise bad_request(f"values.{name[:50]}", "值应为数字、文本、是否或 null",
                              "a value must be a number, a text, a boolean or null")
        types[name] = kind
        converted[name] = _convert(f"values.{name}", kind, value)
    return converted, FormulaContext.of_values(types)


_JSON_TYPES: Mapping[type, FType] = {
    bool: FType.BOOLEAN, int: FType.NUMBER, Decimal: FType.NUMBER, str: FType.STRING,
    type(None): FType.NULL,
}


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return Decimal(value)
    number = value if isinstance(value, Decimal) else (
        Decimal(value.strip()) if isinstance(value, str) and len(value) <= _MAX_TEXT else None)
    if number is None or not number.is_finite() or (number and number.adjusted() >= 100):
        raise ValueError(value)  # outside the language's numbers (|x| < 10^100)
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    return encodable("values", value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(value)
    return date.fromisoformat(value)


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(value)
    return utc(datetime.fromisoformat(value))


_CONVERT: Mapping[FType, Callable[[Any], Any]] = {
    FType.NUMBER: _number, FType.STRING: _string, FType.BOOLEAN: _boolean,
    FType.DATE: _date, FType.DATETIME: _datetime,
}


def _convert(parameter: str, kind: FType, value: Any) -> Any:
    if value is None:
        return None
    convert = _CONVERT.get(kind)
    try:
        if convert is None:
            raise ValueError(value)
        return convert(value)
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        expected = kind.label
        raise bad_request(parameter[:60], f"{parameter[:60]} 应为{expected.zh}",
                          f"{parameter[:60]} must be a {expected.en}") from None
