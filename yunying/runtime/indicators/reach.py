"""Which rows an indicator reads: entities and date ranges (runtime layer).

An indicator for a period reads its own entities over the period (from
1 January for ``YTD``) and, through its ``@references``, theirs over the
shifted periods. The snapshot refresh compares the newest ``updated_at`` of
those rows with the snapshot's age.
"""

from __future__ import annotations

from datetime import date

from yunying.metadata.indicators import IndicatorSpec
from yunying.runtime.indicators.compute import IndicatorEngine
from yunying.runtime.indicators.evaluation import SHIFTS, version_for
from yunying.runtime.indicators.periods import Period

__all__ = ["source_ranges"]

_MAX_DEPTH = 16


def source_ranges(engine: IndicatorEngine, spec: IndicatorSpec, period: Period, *,
                  ytd: bool = False, depth: int = 0) -> list[tuple[str, date, date]]:
    """``(entity, first day, last day)`` of every read the indicator makes for
    ``period`` with the version in force then (duplicates removed, in order)."""
    checked = engine.evaluator.checked(spec, version_for(spec, period, False))
    start = period.year_start() if ytd else period.start
    found = [(entity, start, period.end) for entity in sorted(checked.entities)]
    for ref in checked.refs if depth < _MAX_DEPTH else ():
        shifted, shifted_ytd = SHIFTS[ref.shift](period, ref.n, ytd)
        found += source_ranges(engine, engine.registry.indicators[ref.code], shifted,
                               ytd=shifted_ytd, depth=depth + 1)
    return list(dict.fromkeys(found))
