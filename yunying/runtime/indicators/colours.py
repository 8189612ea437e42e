"""The colour of an indicator value: green, amber or red against the
indicator's thresholds (runtime layer, indicators).

Shared by the JSON API and the dashboards. ``higher_better``: a value at or
above ``green`` is green, at or above ``amber`` amber, else red;
``lower_better`` mirrors it (at or below). A ``monitor`` indicator, one
without thresholds, or a missing value has no colour (``None``). The value
compared is the displayed one (× factor, rounded), in the thresholds' units.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:  # metadata imports nothing of the runtime; this edge stays light
    from yunying.metadata.indicators import IndicatorSpec

__all__ = ["COLOURS", "colour"]

#: every colour a value may have (``None``: no colour).
COLOURS = ("green", "amber", "red")

#: direction → "at least as good as" (directions not listed are not coloured).
_AS_GOOD: Mapping[str, Callable[[Decimal, Decimal], bool]] = MappingProxyType({
    "higher_better": operator.ge,
    "lower_better": operator.le,
})


def colour(spec: "IndicatorSpec", value: Decimal | None) -> str | None:
    """``"green"``, ``"amber"``, ``"red"`` or ``None`` for ``value`` of ``spec``."""
    as_good = _AS_GOOD.get(spec.direction)
    thresholds = spec.thresholds
    if value is None or thresholds is None or as_good is None:
        return None
    if as_good(value, thresholds.green):
        return "green"
    if thresholds.amber is not None and as_good(value, thresholds.amber):
        return "amber"
    return "red"
