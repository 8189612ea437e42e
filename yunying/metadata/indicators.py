"""Indicators (指标) as frozen specs: definition, versions, thresholds (metadata layer).

An indicator is managed metadata: an owner, a written 统计口径 and a formula
(one aggregate ``formula``, or a ``numerator`` and a ``denominator``) that
the engine computes the same way everywhere. Changing the formula or the
口径 adds a *version* with an ``effective_from`` date; a period is computed
with the version in force on its first day (or restated with the current
one). :func:`indicator_from_document` builds the spec from a validated
``indicators/<code>.yaml`` document; the formulas themselves are checked by
the runtime's indicator package check (the metadata layer does not parse
formulas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Mapping

from yunying.metadata.convert import optional_text, text, to_date
from yunying.platform.i18n import Text

__all__ = [
    "DIRECTIONS", "INDICATOR_TYPES", "PERIOD_TYPES", "TIME_ROLLUPS",
    "DEFINITION_PARTS", "IndicatorDefinition", "IndicatorVersion", "Thresholds",
    "IndicatorSpec", "indicator_from_document", "version_diff",
]

#: how a value is judged: higher is better, lower is better, or only watched.
DIRECTIONS = ("higher_better", "lower_better", "monitor")
#: indicator type → the factor its value is multiplied by (number, %, ‰).
INDICATOR_TYPES: Mapping[str, int] = MappingProxyType(
    {"number": 1, "percent": 100, "permille": 1000})
#: the periods an indicator may be computed for, finest first.
PERIOD_TYPES = ("month", "quarter", "half_year", "year")
#: how a value rolls up over time: flows add up (sum); semi-additive stocks
#: (beds, staff, balances) take the last month or the monthly average.
TIME_ROLLUPS = ("sum", "last", "average")
#: the texts of a 统计口径, in the order they are shown and diffed.
DEFINITION_PARTS = ("summary", "numerator", "denominator", "includes", "excludes", "source")


@dataclass(frozen=True)
class IndicatorDefinition:
    """The 统计口径 of one version: what is counted, over what, from where."""

    summary: Text
    numerator: Text | None = None
    denominator: Text | None = None
    includes: Text | None = None
    excludes: Text | None = None
    source: Text | None = None


@dataclass(frozen=True)
class IndicatorVersion:
    """One version of an indicator, in force from ``effective_from`` until the next."""

    version: int
    effective_from: date
    definition: IndicatorDefinition
    formula: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    note: Text | None = None

    @property
    def is_ratio(self) -> bool:
        """True when the value is numerator / denominator (a ratio of sums)."""
        return self.numerator is not None and self.denominator is not None

    @property
    def formulas(self) -> Mapping[str, str]:
        """The version's formulas by key: ``formula``, or ``numerator`` and ``denominator``."""
        found = {"formula": self.formula, "numerator": self.numerator,
                 "denominator": self.denominator}
        return MappingProxyType({k: v for k, v in found.items() if v is not None})


@dataclass(frozen=True)
class Thresholds:
    """Colour limits: with the direction, a value is green, amber or red."""

    green: Decimal
    amber: Decimal | None = None


@dataclass(frozen=True)
class IndicatorSpec:
    """An indicator of a package; ``versions`` are ordered by ``effective_from``."""

    package: str
    code: str
    label: Text
    owner: Text
    unit: Text | None
    direction: str
    decimals: int
    type: str
    factor: Decimal
    period: str
    time_rollup: str
    versions: tuple[IndicatorVersion, ...]
    dimensions: tuple[str, ...] = ()
    aliases: tuple[Text, ...] = ()
    target: Decimal | None = None
    thresholds: Thresholds | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"

    @property
    def current(self) -> IndicatorVersion:
        """The latest version (the one in force today and from now on)."""
        return self.versions[-1]

    def version_on(self, day: date) -> IndicatorVersion | None:
        """The version in force on ``day``; None before the first one."""
        found = None
        for version in self.versions:
            if version.effective_from <= day:
                found = version
        return found

    def version(self, number: int) -> IndicatorVersion | None:
        """The version numbered ``number``, or None."""
        return next((v for v in self.versions if v.version == number), None)


def indicator_from_document(package: str, code: str, doc: Mapping[str, Any]) -> IndicatorSpec:
    """Build an indicator spec from its validated document (``code`` is its local code)."""
    kind = doc.get("type", "number")
    factor = doc.get("factor")
    thresholds = doc.get("thresholds")
    versions = [_version(v) for v in doc["versions"]]
    return IndicatorSpec(
        package=package,
        code=code,
        label=text(doc["name"]),
        owner=text(doc["owner"]),
        unit=optional_text(doc.get("unit")),
        direction=doc["direction"],
        decimals=int(doc.get("decimals", 2)),
        type=kind,
        factor=_decimal(factor) if factor is not None else Decimal(INDICATOR_TYPES[kind]),
        period=doc.get("period", "month"),
        time_rollup=doc.get("time_rollup", "sum"),
        versions=tuple(sorted(versions, key=lambda v: (v.effective_from, v.version))),
        dimensions=tuple(doc.get("dimensions", ())),
        aliases=tuple(text(a) for a in doc.get("aliases", ())),
        target=_decimal(doc.get("target")),
        thresholds=Thresholds(_decimal(thresholds["green"]),  # type: ignore[arg-type]
                              _decimal(thresholds.get("amber"))) if thresholds else None,
    )


def _version(doc: Mapping[str, Any]) -> IndicatorVersion:
    definition = doc["definition"]
    effective = to_date(doc["effective_from"])
    assert effective is not None  # required by the schema
    return IndicatorVersion(
        version=int(doc["version"]),
        effective_from=effective,
        definition=IndicatorDefinition(
            summary=text(definition["summary"]),
            **{part: optional_text(definition.get(part)) for part in DEFINITION_PARTS[1:]}),
        formula=doc.get("formula"),
        numerator=doc.get("numerator"),
        denominator=doc.get("denominator"),
        note=optional_text(doc.get("note")),
    )


def _decimal(value: Any) -> Decimal | None:
    """A document number → Decimal via ``str`` (never float arithmetic)."""
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def version_diff(old: IndicatorVersion, new: IndicatorVersion) -> list[dict[str, Any]]:
    """What changed between two versions: ``[{"field", "old", "new"}, …]``.

    Fields compared, in this order: ``formula``, ``numerator``,
    ``denominator``, ``definition.<part>`` for each of DEFINITION_PARTS, and
    ``note``. Texts come out as ``{"zh": …, "en": …}``, absent values as None.
    """
    pairs: list[tuple[str, Any, Any]] = [
        (name, getattr(old, name), getattr(new, name))
        for name in ("formula", "numerator", "denominator")]
    pairs += [(f"definition.{part}", getattr(old.definition, part),
               getattr(new.definition, part)) for part in DEFINITION_PARTS]
    pairs.append(("note", old.note, new.note))
    return [{"field": name, "old": _plain(before), "new": _plain(after)}
            for name, before, after in pairs if before != after]


def _plain(value: Any) -> Any:
    if isinstance(value, Text):
        return {"zh": value.zh, "en": value.en}
    return value
