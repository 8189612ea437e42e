"""Field specs → marshmallow schemas (runtime layer).

One marshmallow field per declared field, chosen by a dispatch table on the
field type, carrying the spec's constraints as validators: required, length,
pattern, inclusive min/max (integers also within the 32-bit column range),
decimal precision/scale. Schemas are built once per record service; dictionary
membership and existence checks need a date or the database and live in
``validation`` and ``checks``.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from marshmallow import EXCLUDE, Schema
from marshmallow import fields as mm

from yunying.metadata.spec import FieldSpec
from yunying.platform.i18n import Text
from yunying.runtime.entity.tables import CODE_LENGTH, MONEY_PRECISION, MONEY_SCALE
from yunying.runtime.records import fields as rf

__all__ = ["build_schema", "field_for", "expected_kind", "WRITABLE_TYPES", "DEFAULT_SCALE"]

#: the scale of a decimal or money field that does not give one.
DEFAULT_SCALE = MONEY_SCALE

#: Resolves a qualified entity code to its label (for reference messages).
EntityLabel = Callable[[str], Text]


def _validators(f: FieldSpec, *extra) -> list:
    validators = [v for v in extra if v is not None]
    if f.required and f.type in ("string", "text", "enum", "user", "org_unit"):
        validators.insert(0, rf.not_blank)
    return validators


def _string(f: FieldSpec, label: EntityLabel) -> mm.Field:
    return rf.String(validate=_validators(
        f, rf.length(f.length or 255, f.min_length),
        rf.pattern(f.pattern) if f.pattern else None))


def _text(f: FieldSpec, label: EntityLabel) -> mm.Field:
    checks = rf.length(None, f.min_length) if f.min_length else None
    return rf.String(validate=_validators(
        f, checks, rf.pattern(f.pattern) if f.pattern else None))


def _code(f: FieldSpec, label: EntityLabel) -> mm.Field:
    return rf.String(validate=_validators(f, rf.length(CODE_LENGTH, None)))


def _integer(f: FieldSpec, label: EntityLabel) -> mm.Field:
    low = rf.INT32_MIN if f.minimum is None else max(int(_ceil(f.minimum)), rf.INT32_MIN)
    high = rf.INT32_MAX if f.maximum is None else min(int(_floor(f.maximum)), rf.INT32_MAX)
    return rf.Integer(validate=_validators(f, rf.number_range(low, high, int)))


def _decimal(f: FieldSpec, label: EntityLabel, precision: int = 18,
             scale: int = 2) -> mm.Field:
    precision = f.precision or precision
    scale = f.scale if f.scale is not None else scale
    return rf.DecimalNumber(precision, scale, validate=_validators(
        f, rf.number_range(f.minimum, f.maximum, _shown_decimal)
        if f.minimum is not None or f.maximum is not None else None))


def _money(f: FieldSpec, label: EntityLabel) -> mm.Field:
    return _decimal(f, label, MONEY_PRECISION, MONEY_SCALE)


def _reference(f: FieldSpec, label: EntityLabel) -> mm.Field:
    return rf.Identifier("reference", {"target": label(f.reference or "")},
                         validate=_validators(f))


def _attachment(f: FieldSpec, label: EntityLabel) -> mm.Field:
    return rf.Identifier("attachment", {}, validate=_validators(f))


_BUILDERS: Mapping[str, Callable[[FieldSpec, EntityLabel], mm.Field]] = MappingProxyType({
    "string": _string,
    "text": _text,
    "integer": _integer,
    "decimal": _decimal,
    "money": _money,
    "boolean": lambda f, label: rf.Boolean(validate=_validators(f)),
    "date": lambda f, label: rf.Date(validate=_validators(f)),
    "datetime": lambda f, label: rf.DateTime(validate=_validators(f)),
    "enum": _code,
    "reference": _reference,
    "user": _code,
    "org_unit": _code,
    "attachment": _attachment,
})

#: field types a client can send a value for (``computed`` values are derived).
WRITABLE_TYPES = frozenset(_BUILDERS)

_EXPECTED = MappingProxyType({
    "string": "string", "text": "string", "integer": "integer", "decimal": "decimal",
    "money": "decimal", "boolean": "boolean", "date": "date", "datetime": "datetime",
    "enum": "code", "user": "code", "org_unit": "code", "reference": "id",
    "attachment": "id",
})


def expected_kind(f: FieldSpec) -> str:
    """The wording key for a ``type`` problem of this field."""
    return _EXPECTED.get(f.type, f.type)


def field_for(f: FieldSpec, label: EntityLabel) -> mm.Field:
    """The marshmallow field validating values of ``f``."""
    field = _BUILDERS[f.type](f, label)
    # a default formula fills a missing value after loading (then checks it)
    field.required = f.required and f.default_formula is None
    field.allow_none = not f.required
    return rf.coded(field, expected_kind(f))


def build_schema(name: str, specs: Iterable[FieldSpec], label: EntityLabel) -> Schema:
    """A schema instance for these fields; unknown keys are screened earlier."""
    declared = {f.code: field_for(f, label) for f in specs if f.type in _BUILDERS}
    schema_cls = Schema.from_dict(declared, name=name)
    return schema_cls(unknown=EXCLUDE)


def _shown_decimal(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _ceil(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding="ROUND_CEILING")


def _floor(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding="ROUND_FLOOR")
