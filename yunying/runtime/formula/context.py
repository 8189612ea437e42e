"""What a formula may name: the checking context (runtime layer).

A :class:`FormulaContext` is plain data, built by the caller (the entity
integration builds one from an entity spec and the registry; the HTTP check
endpoint from a request). It says which *mode* the formula is in — ``row``
(one record: fields, paths through references), ``aggregate`` (names
qualified by entity, aggregates allowed) or ``indicator`` (aggregate plus
``@indicator`` references) — and describes the entities involved.

Names in formulas resolve by a field's or entity's **code** or by its zh-CN
or en **label** (``总费用``, ``[Total cost]``); dependencies are always
reported as codes. A label shared by two fields of one entity resolves to
neither (the checker says it is ambiguous and lists the codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Mapping

from yunying.platform.i18n import Text
from yunying.runtime.formula.types import FType

__all__ = ["FieldInfo", "EntityInfo", "FormulaContext", "Mode"]

Mode = Literal["row", "aggregate", "indicator"]


@dataclass(frozen=True)
class FieldInfo:
    """One field a formula may name."""

    code: str
    type: FType
    label: Text | None = None
    reference: str | None = None   # qualified entity code, for paths a.b.c
    dictionary: str | None = None  # enum fields: qualified dictionary code


@dataclass(frozen=True)
class EntityInfo:
    """An entity a formula may name: its code, label and fields by code."""

    code: str                       # qualified, e.g. "materials.requisition"
    label: Text | None
    fields: Mapping[str, FieldInfo]
    org_dimension: str | None = None
    date_dimension: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


@dataclass(frozen=True)
class FormulaContext:
    """Everything a formula may name, and where it is used.

    ``entity`` is the current record's entity in ``row`` mode (its fields are
    the bare names); ``entities`` holds every entity reachable by a path or
    nameable in an aggregate; ``indicators`` maps indicator codes to labels.
    ``home`` is the package the formula belongs to (indicator formulas): an
    entity written by a bare code or label that several packages share
    means the home package's own.
    """

    mode: Mode = "row"
    entity: str | None = None
    entities: Mapping[str, EntityInfo] = field(default_factory=dict)
    indicators: Mapping[str, Text | None] = field(default_factory=dict)
    home: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", MappingProxyType(dict(self.entities)))
        object.__setattr__(self, "indicators", MappingProxyType(dict(self.indicators)))
        if self.mode == "row" and self.entity is not None and self.entity not in self.entities:
            raise ValueError(f"row context entity {self.entity!r} is not among its entities")

    @property
    def current(self) -> EntityInfo | None:
        """The current record's entity (row mode)."""
        return self.entities.get(self.entity) if self.entity else None

    @classmethod
    def of_values(cls, types: Mapping[str, FType]) -> "FormulaContext":
        """A row context over ad-hoc named values (``{"amount": FType.NUMBER}``)."""
        fields = {name: FieldInfo(name, t) for name, t in types.items()}
        info = EntityInfo("_values", None, fields)
        return cls(mode="row", entity="_values", entities={"_values": info})
