"""The formula language's value types (runtime layer).

``NUMBER`` covers integer, decimal and money fields (always ``Decimal``);
``NULL`` is the type of the ``NULL`` literal and fits every other type;
``UNKNOWN`` is what the checker gives an expression it already reported as
wrong, so one mistake is reported once, not again by every enclosing operator.
"""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Mapping

from yunying.platform.i18n import Text

__all__ = ["FType", "FIELD_TYPE_MAP", "field_type"]


class FType(str, Enum):
    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    NULL = "null"
    UNKNOWN = "unknown"

    @property
    def label(self) -> Text:
        return _LABELS[self]

    def fits(self, other: "FType") -> bool:
        """Whether a value of this type may stand where ``other`` is expected."""
        return self is other or FType.NULL in (self, other) or FType.UNKNOWN in (self, other)


_LABELS: Mapping[FType, Text] = MappingProxyType({
    FType.NUMBER: Text("数字", "number"),
    FType.STRING: Text("文本", "text"),
    FType.BOOLEAN: Text("是否", "boolean"),
    FType.DATE: Text("日期", "date"),
    FType.DATETIME: Text("日期时间", "datetime"),
    FType.NULL: Text("空值", "null"),
    FType.UNKNOWN: Text("未知", "unknown"),
})

#: entity field type → formula type. Codes (enum items, users, org units)
#: are text; a reference is the referenced record's id (a number) unless a path
#: follows it; an attachment is its id.
FIELD_TYPE_MAP: Mapping[str, FType] = MappingProxyType({
    "string": FType.STRING, "text": FType.STRING, "enum": FType.STRING,
    "user": FType.STRING, "org_unit": FType.STRING,
    "integer": FType.NUMBER, "decimal": FType.NUMBER, "money": FType.NUMBER,
    "reference": FType.NUMBER, "attachment": FType.NUMBER,
    "boolean": FType.BOOLEAN, "date": FType.DATE, "datetime": FType.DATETIME,
})


def field_type(entity_field_type: str) -> FType:
    """The formula type of an entity field type (``computed`` is resolved by the checker)."""
    return FIELD_TYPE_MAP[entity_field_type]
