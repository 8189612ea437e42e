"""Date semantics of the formula language (公式的日期语义) (runtime layer).

Dates are ``date``; datetimes are naive ``datetime`` in UTC (aware ones are
converted). Functions also take ISO texts (``2024-03-01``,
``2024-03-01 08:30:00.000000`` — how SQLite stores them) and ``None`` (NULL).
Month and year steps clamp to month end; results outside years 1..9999 and
invalid dates are NULL. Re-exported by :mod:`.values`.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.functions import DATEADD_UNITS
from yunying.runtime.formula.values_number import evaluation_error, shown, to_integer, to_number

__all__ = [
    "DATE_UNITS", "naive", "to_date", "to_datetime", "date_text", "datetime_text",
    "parse_date", "make_date", "add_days", "date_add", "eomonth", "days_between",
    "year", "month", "day", "quarter",
]

#: DATEADD units (lower-cased) → day / month / year (the function catalogue's table).
DATE_UNITS = DATEADD_UNITS
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ISO_PREFIX = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T].*)?", re.S)


def naive(dt: datetime) -> datetime:
    """``dt`` as a naive UTC datetime."""
    return dt if dt.tzinfo is None else dt.astimezone(timezone.utc).replace(tzinfo=None)


def _not_a(what_zh: str, what_en: str, value: Any) -> FormulaError:
    return evaluation_error(f"{shown(value)} 不是{what_zh}", f"{shown(value)} is not a {what_en}")


def to_date(value: Any) -> date | None:
    """A date: dates as they are, datetimes' dates, ISO text (``2024-03-01`` or a
    datetime text); anything else is an ``evaluation`` error."""
    if value is None or value.__class__ is date:
        return value
    if isinstance(value, datetime):
        return naive(value).date()
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    match = _ISO_PREFIX.fullmatch(value) if isinstance(value, str) else None
    try:
        return date(*map(int, match.groups()))  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        raise _not_a("日期", "date", value) from None


def to_datetime(value: Any) -> datetime | None:
    """A naive UTC datetime: aware ones converted, dates at midnight, ISO text parsed."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and len(value) <= 64:
        try:
            return naive(datetime.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise _not_a("日期时间", "datetime", value)


def date_text(d: date) -> str:
    """ISO ``2024-03-01``."""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def datetime_text(dt: datetime) -> str:
    """``2024-03-01 08:30:00`` (seconds, no fraction; aware values shown in UTC)."""
    dt = naive(dt)
    return f"{date_text(dt)} {dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def parse_date(text: Any) -> date | None:
    """``DATE('2024-03-01')``: exactly ``YYYY-MM-DD``; anything else or an invalid date → NULL."""
    if text is None or isinstance(text, date):
        return to_date(text)
    match = _ISO_DATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def make_date(y: Any, m: Any, d: Any) -> date | None:
    """``DATE(y, m, d)`` (parts truncated to integers); an invalid date → NULL."""
    parts = (to_integer(y), to_integer(m), to_integer(d))
    if None in parts:
        return None
    try:
        return date(*parts)  # type: ignore[arg-type]
    except (ValueError, OverflowError):
        return None


def _as_day(value: Any) -> date | datetime:
    """A date or datetime as it is; ISO text with a time part is a datetime, else a date."""
    if isinstance(value, date):
        return naive(value) if isinstance(value, datetime) else value
    if isinstance(value, str) and len(value.strip()) > 10:
        return to_datetime(value)  # type: ignore[return-value]
    return to_date(value)  # type: ignore[return-value]


def add_days(d: Any, n: Any) -> Any:
    """``date ± number``: n truncated toward zero; outside years 1..9999 → NULL."""
    if d is None or n is None:
        return None
    days = to_integer(n)
    try:
        return _as_day(d) + timedelta(days=days)  # type: ignore[arg-type]
    except OverflowError:
        return None


def _add_months(d: Any, months: int) -> Any:
    """Month steps clamp to month end (2024-01-31 + 1 month = 2024-02-29)."""
    year_, month0 = divmod(d.year * 12 + d.month - 1 + months, 12)
    if not 1 <= year_ <= 9999:
        return None
    return d.replace(year=year_, month=month0 + 1,
                     day=min(d.day, calendar.monthrange(year_, month0 + 1)[1]))


_STEPS: dict[str, Callable[[Any, int], Any]] = {
    "day": add_days,
    "month": _add_months,
    "year": lambda d, n: _add_months(d, 12 * n),
}


def date_add(d: Any, n: Any, unit: Any) -> Any:
    """``DATEADD(d, n, unit)``: unit day/month/year (also 天 日 月 年, plurals); a date
    stays a date, a datetime keeps its time; results outside years 1..9999 → NULL."""
    if d is None or n is None or unit is None:
        return None
    step = _STEPS.get(DATE_UNITS.get(str(unit).lower(), ""))
    if step is None:
        raise evaluation_error(f"DATEADD 的单位“{str(unit)[:20]}”无效（应为 day、month 或 year）",
                               f"invalid DATEADD unit {str(unit)[:20]!r} (use day, month or year)")
    return step(_as_day(d), int(to_number(n)))  # type: ignore[arg-type]


def eomonth(d: Any, n: Any) -> date | None:
    """The last day of the month n months after d's month (a date)."""
    day0, count = to_date(d), to_integer(n)
    if day0 is None or count is None:
        return None
    shifted = _add_months(day0.replace(day=1), count)
    if shifted is None:
        return None
    return shifted.replace(day=calendar.monthrange(shifted.year, shifted.month)[1])


def days_between(end: Any, start: Any) -> Decimal | None:
    """``DAYS(end, start)`` and ``date − date``: days between their dates."""
    if end is None or start is None:
        return None
    return Decimal((to_date(end) - to_date(start)).days)  # type: ignore[operator]


def _date_part(getter: Callable[[date], int]) -> Callable[[Any], Decimal | None]:
    def part(d: Any) -> Decimal | None:
        day0 = to_date(d)
        return None if day0 is None else Decimal(getter(day0))
    return part


year = _date_part(lambda d: d.year)
month = _date_part(lambda d: d.month)
day = _date_part(lambda d: d.day)
quarter = _date_part(lambda d: (d.month - 1) // 3 + 1)
