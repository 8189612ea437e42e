"""Synthetic data generator documents → frozen specs (metadata layer).

A ``generators/<code>.yaml`` document describes plausible data for a
package's entities (docs/generator.md): named groups of org units, the
people (doctors) generated per unit, and per entity the rows each unit gets
per month and how every field is drawn. The spec only *describes*; the
runtime's :mod:`yunying.runtime.generator` draws and inserts the rows.

Entity references come out qualified like every other reference; numbers are
``Decimal`` (built from ``str``), never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from yunying.metadata.convert import optional_text, text
from yunying.platform.i18n import Text

__all__ = [
    "GENERATOR_KINDS", "KEYWORD_KINDS", "NUMBER_KINDS", "DEFAULT_MONTHS", "DEFAULT_SEED",
    "DEFAULT_DEMO_SCALE", "Range", "UnitGroup", "UnitSize", "PeopleSpec", "NumberParams",
    "SwitchParams", "FieldGenerator", "Override", "EntityPlan", "GeneratorSpec",
    "generator_from_document", "field_generator",
]

#: generators written as a bare keyword.
KEYWORD_KINDS = ("date_in_month", "month_start", "unit")
#: generators drawing a number.
NUMBER_KINDS = ("normal", "lognormal", "uniform")
#: every generator kind (keyword or the single key of an object).
GENERATOR_KINDS = (*KEYWORD_KINDS, "person", "people_count", "choice", *NUMBER_KINDS,
                   "boolean", "sequence", "formula", "copy", "fixed", "switch")
DEFAULT_MONTHS = 36
DEFAULT_SEED = 1
DEFAULT_DEMO_SCALE = Decimal("0.02")
_ONE = Decimal(1)


@dataclass(frozen=True)
class Range:
    """An inclusive range ``[low, high]`` of a count or factor."""

    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class UnitGroup:
    """A named set of org units: of these types or codes, minus ``exclude``."""

    code: str
    types: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitSize:
    """The spread of the per-unit lognormal size factor (median 1), clamped."""

    sd: Decimal = Decimal("0.3")
    minimum: Decimal = Decimal("0.3")
    maximum: Decimal = Decimal("3")


@dataclass(frozen=True)
class PeopleSpec:
    """People of one role generated per unit of the groups ``units``."""

    role: str
    units: tuple[str, ...]
    count: Range
    code: str                          # user code pattern: {unit} {n} {n:02}
    surnames: tuple[str, ...]
    given_names: tuple[str, ...]


@dataclass(frozen=True)
class NumberParams:
    """The parameters of a ``normal`` / ``lognormal`` / ``uniform`` draw."""

    mean: Decimal | None = None
    sd: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimals: int | None = None        # None: the field's scale
    times: str | None = None           # multiply by this field's value
    growth: Decimal | None = None      # yearly growth of the mean
    sized: bool = False                # multiply by the unit's size factor


@dataclass(frozen=True)
class SwitchParams:
    """A generator per value of a field drawn earlier."""

    field: str
    cases: tuple[tuple[str, "FieldGenerator"], ...]
    default: "FieldGenerator | None" = None


@dataclass(frozen=True)
class FieldGenerator:
    """How one field's value is drawn. ``params`` depends on ``kind``:
    None (keywords), a role (person), (role, Range | None) (people_count),
    ((value, weight), …) (choice), NumberParams, a Decimal probability
    (boolean), a pattern (sequence), a formula (formula, copy), a scalar
    (fixed) or SwitchParams (switch)."""

    field: str
    kind: str
    params: Any = None


@dataclass(frozen=True)
class Override:
    """Other rows / probability / field generators for units of ``units``."""

    units: tuple[str, ...]
    rows: Range | None = None
    probability: Decimal | None = None
    fields: tuple[FieldGenerator, ...] = ()


@dataclass(frozen=True)
class EntityPlan:
    """How one entity is filled (position ``index`` in the document)."""

    index: int
    entity: str                        # qualified
    fields: tuple[FieldGenerator, ...]
    units: tuple[str, ...] = ()
    rows: Range | None = None
    scaled: bool = True
    each: tuple[str, tuple[Any, ...]] | None = None   # (field, values)
    parent: str | None = None          # qualified entity generated earlier
    when: str | None = None
    probability: Decimal = _ONE
    overrides: tuple[Override, ...] = ()

    def field(self, code: str) -> FieldGenerator | None:
        return next((f for f in self.fields if f.field == code), None)


@dataclass(frozen=True)
class GeneratorSpec:
    """One generator document of a package."""

    package: str
    code: str
    label: Text
    entities: tuple[EntityPlan, ...]
    months: int = DEFAULT_MONTHS
    seed: int = DEFAULT_SEED
    demo_scale: Decimal = DEFAULT_DEMO_SCALE
    growth: Decimal = Decimal(0)
    seasonality: tuple[Decimal, ...] = (_ONE,) * 12
    unit_size: UnitSize = UnitSize()
    groups: tuple[UnitGroup, ...] = ()
    people: tuple[PeopleSpec, ...] = ()
    description: Text | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"

    def group(self, code: str) -> UnitGroup | None:
        return next((g for g in self.groups if g.code == code), None)


def _qualify(package: str, code: str) -> str:
    return code if "." in code else f"{package}.{code}"


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _range(value: Any) -> Range | None:
    return None if value is None else Range(Decimal(str(value[0])), Decimal(str(value[1])))


def _numbers(doc: Mapping[str, Any]) -> NumberParams:
    return NumberParams(mean=_dec(doc.get("mean")), sd=_dec(doc.get("sd")),
                        minimum=_dec(doc.get("min")), maximum=_dec(doc.get("max")),
                        decimals=doc.get("decimals"), times=doc.get("times"),
                        growth=_dec(doc.get("growth")), sized=bool(doc.get("sized", False)))


def _switch(field: str, doc: Mapping[str, Any]) -> SwitchParams:
    default = doc.get("default")
    return SwitchParams(
        field=doc["field"],
        cases=tuple((str(value), field_generator(field, gen))
                    for value, gen in doc["cases"].items()),
        default=field_generator(field, default) if default is not None else None)


_PARAMS = {
    "person": lambda field, v: v,
    "people_count": lambda field, v: (v["role"], _range(v.get("factor"))),
    "choice": lambda field, v: tuple((str(k), Decimal(str(w))) for k, w in v.items()),
    "normal": lambda field, v: _numbers(v),
    "lognormal": lambda field, v: _numbers(v),
    "uniform": lambda field, v: _numbers(v),
    "boolean": lambda field, v: Decimal(str(v)),
    "sequence": lambda field, v: v,
    "formula": lambda field, v: v,
    "copy": lambda field, v: v,
    "fixed": lambda field, v: Decimal(str(v)) if isinstance(v, float) else v,
    "switch": _switch,
}


def field_generator(field: str, doc: Any) -> FieldGenerator:
    """One field's generator from its document value (a keyword or a one-key object)."""
    if isinstance(doc, str):
        return FieldGenerator(field, doc)
    ((kind, value),) = doc.items()
    return FieldGenerator(field, kind, _PARAMS[kind](field, value))


def _fields(doc: Mapping[str, Any] | None) -> tuple[FieldGenerator, ...]:
    return tuple(field_generator(code, gen) for code, gen in (doc or {}).items())


def _override(doc: Mapping[str, Any]) -> Override:
    return Override(units=tuple(doc["units"]), rows=_range(doc.get("rows")),
                    probability=_dec(doc.get("probability")), fields=_fields(doc.get("fields")))


def _entity(package: str, index: int, doc: Mapping[str, Any]) -> EntityPlan:
    each = doc.get("each")
    parent = doc.get("from")
    return EntityPlan(
        index=index,
        entity=_qualify(package, doc["entity"]),
        fields=_fields(doc["fields"]),
        units=tuple(doc.get("units", ())),
        rows=_range(doc.get("rows")),
        scaled=bool(doc.get("scaled", True)),
        each=(each["field"], tuple(each["values"])) if each else None,
        parent=_qualify(package, parent) if parent else None,
        when=doc.get("when"),
        probability=_dec(doc.get("probability", 1)) or Decimal(0),
        overrides=tuple(_override(o) for o in doc.get("overrides", ())),
    )


def _size(doc: Mapping[str, Any] | None) -> UnitSize:
    doc = doc or {}
    base = UnitSize()
    return UnitSize(sd=_dec(doc["sd"]) if "sd" in doc else base.sd,
                    minimum=_dec(doc.get("min")) if "min" in doc else base.minimum,
                    maximum=_dec(doc.get("max")) if "max" in doc else base.maximum)


def generator_from_document(package: str, doc: Mapping[str, Any]) -> GeneratorSpec:
    """The spec of one schema-valid generator document of ``package``."""
    return GeneratorSpec(
        package=package,
        code=doc["code"],
        label=text(doc["name"]),
        description=optional_text(doc.get("description")),
        entities=tuple(_entity(package, i, e) for i, e in enumerate(doc["entities"])),
        months=int(doc.get("months", DEFAULT_MONTHS)),
        seed=int(doc.get("seed", DEFAULT_SEED)),
        demo_scale=_dec(doc.get("demo_scale")) or DEFAULT_DEMO_SCALE,
        growth=_dec(doc.get("growth")) or Decimal(0),
        seasonality=tuple(Decimal(str(s)) for s in doc.get("seasonality", (1,) * 12)),
        unit_size=_size(doc.get("unit_size")),
        groups=tuple(UnitGroup(code, tuple(g.get("types", ())), tuple(g.get("codes", ())),
                               tuple(g.get("exclude", ())))
                     for code, g in doc.get("groups", {}).items()),
        people=tuple(PeopleSpec(role=p["role"], units=tuple(p["units"]),
                                count=_range(p["count"]), code=p["code"],  # type: ignore[arg-type]
                                surnames=tuple(p["surnames"]),
                                given_names=tuple(p["given_names"]))
                     for p in doc.get("people", ())),
    )
