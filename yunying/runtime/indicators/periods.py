"""Reporting periods of indicators: month, quarter, half-year, year (runtime layer).

A :class:`Period` is a value — ``Period("month", 2025, 3)`` is March 2025 —
written as a code (``2025-03``, ``2025-Q1``, ``2025-H1``, ``2025``) in URLs,
the CLI and the snapshot table. Periods shift by whole periods (环比 base),
by one year (同比 base), and split into their months (semi-additive
measures roll up over months).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Callable, Mapping

from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text

__all__ = ["Period", "PERIOD_KINDS", "period_range", "period_of", "bad_period"]

#: months per period, by kind (the finest first).
PERIOD_KINDS: Mapping[str, int] = MappingProxyType(
    {"month": 1, "quarter": 3, "half_year": 6, "year": 12})

_PATTERNS: tuple[tuple[str, "re.Pattern[str]"], ...] = (
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("half_year", re.compile(r"^(\d{4})-H([12])$")),
    ("year", re.compile(r"^(\d{4})$")),
)
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_CODES: Mapping[str, Callable[[int, int], str]] = MappingProxyType({
    "month": lambda y, i: f"{y:04d}-{i:02d}",
    "quarter": lambda y, i: f"{y:04d}-Q{i}",
    "half_year": lambda y, i: f"{y:04d}-H{i}",
    "year": lambda y, i: f"{y:04d}",
})
_LABELS_ZH: Mapping[str, Callable[[int, int], str]] = MappingProxyType({
    "month": lambda y, i: f"{y}年{i}月",
    "quarter": lambda y, i: f"{y}年第{i}季度",
    "half_year": lambda y, i: f"{y}年{'上' if i == 1 else '下'}半年",
    "year": lambda y, i: f"{y}年",
})
_LABELS_EN: Mapping[str, Callable[[int, int], str]] = MappingProxyType({
    "month": lambda y, i: f"{_MONTHS_EN[i - 1]} {y}",
    "quarter": lambda y, i: f"Q{i} {y}",
    "half_year": lambda y, i: f"H{i} {y}",
    "year": lambda y, i: f"{y}",
})


def bad_period(text: object, field: str = "period") -> InvalidQuery:
    """The located error for a period that cannot be read."""
    return InvalidQuery(Text(
        f"期间“{text}”无效，应为 2025-03（月）、2025-Q1（季度）、2025-H1（半年）或 2025（年）",
        f"the period {text!r} is not valid: write 2025-03 (month), 2025-Q1 (quarter), "
        f"2025-H1 (half-year) or 2025 (year)"),
        details={"field": field, "value": str(text)})


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period: ``kind`` (month, quarter, half_year, year), the
    calendar ``year`` and the ``index`` within it (month 1–12, quarter 1–4,
    half 1–2, year 1)."""

    kind: str
    year: int
    index: int

    def __post_init__(self) -> None:
        size = PERIOD_KINDS.get(self.kind)
        if size is None or not 1 <= self.index <= 12 // size or not 1 <= self.year <= 9998:
            raise bad_period(f"{self.kind} {self.year} {self.index}")

    @classmethod
    def parse(cls, text: str, *, field: str = "period") -> "Period":
        """Read ``2025-03``, ``2025-Q1``, ``2025-H1`` or ``2025``; InvalidQuery otherwise
        (``details['field']`` is ``field``)."""
        value = text.strip().upper() if isinstance(text, str) else ""
        for kind, pattern in _PATTERNS:
            match = pattern.match(value)
            if match:
                year = int(match.group(1))
                index = int(match.group(2)) if match.lastindex and match.lastindex > 1 else 1
                if kind == "month" and not 1 <= index <= 12 or year < 1:
                    break
                return cls(kind, year, index)
        raise bad_period(text, field)

    @classmethod
    def of(cls, kind: str, day: date) -> "Period":
        """The period of ``kind`` that contains ``day``."""
        size = PERIOD_KINDS.get(kind)
        if size is None:
            raise bad_period(kind, "period_kind")
        return cls(kind, day.year, (day.month - 1) // size + 1)

    @property
    def size(self) -> int:
        """Months in the period."""
        return PERIOD_KINDS[self.kind]

    @property
    def code(self) -> str:
        return _CODES[self.kind](self.year, self.index)

    @property
    def start(self) -> date:
        return date(self.year, (self.index - 1) * self.size + 1, 1)

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        month = self.index * self.size
        if month == 12:
            return date(self.year, 12, 31)
        return date(self.year, month + 1, 1) - timedelta(days=1)

    def label(self, lang: str = "zh-CN") -> str:
        """``2025年3月`` / ``Mar 2025``."""
        labels = _LABELS_ZH if lang.lower().startswith("zh") else _LABELS_EN
        return labels[self.kind](self.year, self.index)

    def text(self) -> Text:
        """The label in both languages."""
        return Text(self.label("zh-CN"), self.label("en"))

    def shift(self, n: int) -> "Period":
        """The period ``n`` periods later (earlier when negative)."""
        per_year = 12 // self.size
        ordinal = self.year * per_year + (self.index - 1) + n
        return Period(self.kind, ordinal // per_year, ordinal % per_year + 1)

    def last_year(self) -> "Period":
        """The same period one year earlier (同比 base)."""
        return Period(self.kind, self.year - 1, self.index)

    def year_start(self) -> date:
        return date(self.year, 1, 1)

    def months(self) -> tuple["Period", ...]:
        """The months of the period, in order."""
        first = (self.index - 1) * self.size + 1
        return tuple(Period("month", self.year, m) for m in range(first, first + self.size))

    def __str__(self) -> str:
        return self.code


def period_range(first: Period, last: Period) -> tuple[Period, ...]:
    """Every period from ``first`` to ``last`` inclusive (same kind; empty when
    ``last`` is before ``first``)."""
    if first.kind != last.kind:
        raise InvalidQuery(Text(
            f"起止期间的类型不同：{first.code} 与 {last.code}",
            f"the first and last periods differ in kind: {first.code} and {last.code}"),
            details={"field": "to", "value": last.code})
    result: list[Period] = []
    current = first
    while current <= last:
        result.append(current)
        current = current.shift(1)
    return tuple(result)


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    return Period.of(kind, day)
