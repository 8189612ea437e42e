"""Every unit's and person's parts at once: the snapshot refresh's queries (runtime layer).

:meth:`IndicatorEngine.compute` answers one unit: a query for its total and
one for its members. The snapshot needs the total of *every* unit below a
root and of every person within each — asking ``compute`` unit by unit would
run two queries per unit. :class:`BulkEvaluator` answers them all with, per
indicator, period and time-rollup window, **two** queries:

- the rows of each aggregated entity joined to the org **closure** — one
  ``(ancestor, descendant)`` pair for each unit wanted and each unit at or
  below it in the tree on the period's end: a recursive common table
  expression over the tree's edges, all bound parameters, so the statement is
  built and compiled once per indicator (a ``VALUES`` list of the pairs would
  be compiled again for every query) — grouped by ancestor:
  each unit's total over its whole subtree (every unit reported, an empty one
  over no rows, as ``compute`` does);
- the same grouped by (ancestor, person): each unit's persons.

Numerator and denominator come in the same query
(:func:`~yunying.runtime.formula.aggregate_sql.compile_aggregates`). A
formula over ``@references`` takes each reference's parts for the shifted
period (computed the same way, each (indicator, period) once per refresh)
and is evaluated per (unit, person) in Python, as ``compute`` does; the time
rollups ``last`` and ``average`` work as in :mod:`.evaluation`. The parts are
those ``compute`` gives for the same unit (``drill="persons"`` when the
indicator offers it) — the tests hold the two to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from sqlalchemy import Connection, Select, select

from yunying.metadata.indicators import IndicatorSpec
from yunying.runtime.formula.aggregate_sql import compile_aggregates
from yunying.runtime.formula.evaluator import evaluate_aggregate
from yunying.runtime.formula.indicator_check import CheckedVersion
from yunying.runtime.formula.sql_dialect import number_value
from yunying.runtime.indicators.evaluation import (
    SHIFTS, Evaluator, Parts, average, exact_value, labelled, too_deep, version_for, windows,
)
from yunying.runtime.indicators.periods import Period
from yunying.runtime.indicators.sources import (
    AS_OF, MEMBER, PERSON, TREE, closure_relation, closure_source, window,
)

__all__ = ["Key", "Bulk", "BulkEvaluator"]

#: (unit, person): person None = the unit's total, "" = its rows without a person.
Key = tuple[str, str | None]
#: parts by (unit, person).
Bulk = dict[Key, Parts]
_MAX_DEPTH = 16


@dataclass
class BulkEvaluator:
    """The parts of every unit of ``units`` (and its persons) for one refresh;
    caches the built statements and each
    (indicator, period) computed (references read the same ones again)."""

    evaluator: Evaluator
    conn: Connection
    tree: str
    units: tuple[str, ...]
    today: date
    now: datetime
    _statements: dict[tuple, Select] = field(default_factory=dict)
    _done: dict[tuple, Bulk] = field(default_factory=dict)

    def parts(self, spec: IndicatorSpec, period: Period, *, persons: bool, ytd: bool = False,
              depth: int = 0) -> Bulk:
        """The parts of ``spec`` for ``period`` (from 1 January when ``ytd``) per
        (unit, person); persons only when ``persons``."""
        key = (spec.qualified_code, period, ytd, persons)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._parts(spec, period, persons, ytd, depth)
        return found

    def _parts(self, spec: IndicatorSpec, period: Period, persons: bool, ytd: bool,
               depth: int) -> Bulk:
        if depth > _MAX_DEPTH:
            raise too_deep(spec)
        version = version_for(spec, period, False)
        checked = self.evaluator.checked(spec, version)
        if checked.refs:
            return self._from_refs(checked, period, persons, ytd, depth)
        ident = (spec.qualified_code, version.version, persons)
        results = [self._query(ident, checked, start, end, period.end)
                   for start, end in windows(spec, period, ytd)]
        return results[0] if len(results) == 1 else average(results)  # type: ignore

    def _query(self, ident: tuple, checked: CheckedVersion, start: date, end: date,
               as_of: date) -> Bulk:
        """Each unit's total and (when asked) its persons' parts in one window, the
        units' subtrees as of ``as_of``."""
        labels = labelled(checked)
        params = {**window(start, end, self.units), TREE: self.tree, AS_OF: as_of}
        found: Bulk = {}
        totals, by_person = self._statement(ident, checked)
        for row in self.conn.execute(totals, params).mappings():
            found[(row[MEMBER], None)] = {k: number_value(row[k]) for k in labels}
        if by_person is not None:
            for row in self.conn.execute(by_person, params).mappings():
                person = row[PERSON] if row[PERSON] is not None else ""
                found[(row[MEMBER], person)] = {k: number_value(row[k]) for k in labels}
        return found

    def _statement(self, ident: tuple, checked: CheckedVersion) -> tuple[Select, Select | None]:
        found = self._statements.get(ident)
        if found is None:
            persons = ident[2]
            relation = closure_relation()
            registry = self.evaluator.registry
            labels = labelled(checked)
            sources = {e: closure_source(registry, e, relation, persons)
                       for e in sorted(checked.entities)}
            keys = select(relation.c.ancestor.label(MEMBER)).distinct().subquery("unit_keys")
            common = {"dialect": self.evaluator.dialect, "today": self.today, "now": self.now}
            totals = compile_aggregates(labels, sources, group_by=(MEMBER,), keys=keys, **common)
            by_person = (compile_aggregates(labels, sources, group_by=(MEMBER, PERSON), **common)
                         if persons else None)
            found = self._statements[ident] = (totals, by_person)
        return found

    def _from_refs(self, checked: CheckedVersion, period: Period, persons: bool, ytd: bool,
                   depth: int) -> Bulk:
        """A formula over references, evaluated per (unit, person) in Python."""
        values: dict[str, dict[Key, Decimal | None]] = {}
        for ref in checked.refs:
            target = self.evaluator.registry.indicators[ref.code]
            shifted, shifted_ytd = SHIFTS[ref.shift](period, ref.n, ytd)
            found = self.parts(target, shifted, persons=persons, ytd=shifted_ytd, depth=depth + 1)
            values[ref.key] = {key: exact_value(parts, target) for key, parts in found.items()}
        formula = checked.formula
        assert formula is not None and not formula.aggregates   # mixed ones: per unit
        keys: dict[Key, None] = dict.fromkeys((unit, None) for unit in self.units)
        for found in values.values():
            keys.update(dict.fromkeys(found))
        return {key: {"value": number_value(evaluate_aggregate(
                    formula, {}, today=self.today, now=self.now,
                    indicators={name: found.get(key) for name, found in values.items()}))}
                for key in keys}

