"""Indicator references of a formula (指标引用): ``@x`` and the period functions (runtime layer).

An indicator formula reads other indicators: ``@op_avg_cost`` (the value for
the period being computed) or, through a **period function**, the value for
another period:

=================  ==========  ===========================================
written            shift       meaning
=================  ==========  ===========================================
``@x``             current     x for the period being computed
``PREV(@x[, n])``  prev (n)    x for the period n periods earlier (环比)
``LASTYEAR(@x)``   lastyear    x for the same period a year earlier (同比)
``YTD(@x)``        ytd         x from 1 January to the period's end (累计)
=================  ==========  ===========================================

The checker records each reference as an :class:`IndicatorRef` (in
``Checked.refs``, keyed by the ``Indicator`` node or the period call); the
Python evaluator and the SQL compiler read a reference's value from their
``indicators`` mapping **by** :attr:`IndicatorRef.key`. The indicator engine
computes each referenced indicator for the shifted period and passes the
values by key (``indicator_refs`` lists what to compute).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

from yunying.runtime.formula import ast

if TYPE_CHECKING:  # the checker imports this module
    from yunying.runtime.formula.checker import Checked

__all__ = ["IndicatorRef", "SHIFTS", "PERIOD_FUNCTIONS", "indicator_refs", "requalified"]

#: the kinds of period a reference reads.
SHIFTS = ("current", "prev", "lastyear", "ytd")
#: period function name → its shift.
PERIOD_FUNCTIONS: Mapping[str, str] = MappingProxyType(
    {"PREV": "prev", "LASTYEAR": "lastyear", "YTD": "ytd"})


@dataclass(frozen=True)
class IndicatorRef:
    """One reference to an indicator: its code and which period it reads."""

    code: str                # as resolved by the checker (local or qualified)
    shift: str = "current"   # one of SHIFTS
    n: int = 1               # periods back, for "prev"

    def __post_init__(self) -> None:
        if self.shift not in SHIFTS:
            raise ValueError(f"unknown indicator shift {self.shift!r}")
        if self.n < 1:
            raise ValueError("an indicator reference shifts by at least one period")

    @property
    def key(self) -> str:
        """How its value is keyed: ``code``, ``code@prev1``, ``code@lastyear``, ``code@ytd``."""
        return _KEYS[self.shift](self)


_KEYS: Mapping[str, Callable[[IndicatorRef], str]] = MappingProxyType({
    "current": lambda r: r.code,
    "prev": lambda r: f"{r.code}@prev{r.n}",
    "lastyear": lambda r: f"{r.code}@lastyear",
    "ytd": lambda r: f"{r.code}@ytd",
})


def indicator_refs(checked: "Checked") -> tuple[IndicatorRef, ...]:
    """Every distinct reference of ``checked``, in order of appearance."""
    refs = checked.refs
    if not refs:
        return ()
    found: dict[IndicatorRef, None] = {}
    stack: list[ast.Node] = [checked.tree]
    while stack:                      # depth first, left to right: source order
        node = stack.pop()
        ref = refs.get(node)
        if ref is not None:
            found.setdefault(ref, None)
            continue                  # a period call's @x is not a reference of its own
        stack.extend(reversed(list(ast.children(node))))
    return tuple(found)


def requalified(checked: "Checked", qualify: Callable[[str], str]) -> "Checked":
    """``checked`` with every reference's code passed through ``qualify`` (local →
    ``pkg.code``), so that values are keyed by qualified codes."""
    if not checked.refs:
        return checked
    refs = {node: replace(ref, code=qualify(ref.code)) for node, ref in checked.refs.items()}
    codes = frozenset(qualify(code) for code in checked.dependencies.indicators)
    return replace(checked, refs=MappingProxyType(refs),
                   dependencies=replace(checked.dependencies, indicators=codes))
