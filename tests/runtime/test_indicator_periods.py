"""Reporting periods: parsing, ranges, labels, shifting (indicator engine)."""

from __future__ import annotations

from datetime import date

import pytest

from yunying.platform.errors import InvalidQuery
from yunying.runtime.indicators.periods import Period, period_of, period_range


@pytest.mark.parametrize("text, kind, start, end, zh, en", [
    ("2025-03", "month", date(2025, 3, 1), date(2025, 3, 31), "2025年3月", "Mar 2025"),
    ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29), "2024年2月", "Feb 2024"),
    ("2025-12", "month", date(2025, 12, 1), date(2025, 12, 31), "2025年12月", "Dec 2025"),
    ("2025-Q1", "quarter", date(2025, 1, 1), date(2025, 3, 31), "2025年第1季度", "Q1 2025"),
    ("2025-q4", "quarter", date(2025, 10, 1), date(2025, 12, 31), "2025年第4季度", "Q4 2025"),
    ("2025-H1", "half_year", date(2025, 1, 1), date(2025, 6, 30), "2025年上半年", "H1 2025"),
    ("2025-H2", "half_year", date(2025, 7, 1), date(2025, 12, 31), "2025年下半年", "H2 2025"),
    ("2025", "year", date(2025, 1, 1), date(2025, 12, 31), "2025年", "2025"),
])
def test_parse_gives_kind_range_code_and_labels(text, kind, start, end, zh, en):
    period = Period.parse(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert period.code == text.upper()
    assert Period.parse(period.code) == period
    assert (period.label("zh-CN"), period.label("en")) == (zh, en)


@pytest.mark.parametrize("text", ["2025-13", "2025-00", "2025-Q5", "2025-H3", "25-03", "March",
                                  "", "2025-3", "2025/03"])
def test_bad_periods_are_refused_with_the_field(text):
    with pytest.raises(InvalidQuery) as caught:
        Period.parse(text)
    assert caught.value.details == {"field": "period", "value": text}
    assert "2025-Q1" in caught.value.message.zh and "2025-Q1" in caught.value.message.en


def test_shift_last_year_and_months():
    march = Period.parse("2025-03")
    assert march.shift(-1).code == "2025-02"
    assert march.shift(-3).code == "2024-12"
    assert march.shift(10).code == "2026-01"
    assert march.last_year().code == "2024-03"
    assert Period.parse("2025-Q1").shift(-1).code == "2024-Q4"
    assert Period.parse("2025-H1").shift(3).code == "2026-H2"
    assert Period.parse("2025").shift(-2).code == "2023"
    assert [m.code for m in Period.parse("2025-Q2").months()] == ["2025-04", "2025-05", "2025-06"]
    assert len(Period.parse("2025").months()) == 12
    assert march.year_start() == date(2025, 1, 1)


def test_ranges_and_period_of():
    codes = [p.code for p in period_range(Period.parse("2024-11"), Period.parse("2025-02"))]
    assert codes == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert period_range(Period.parse("2025-02"), Period.parse("2025-01")) == ()
    assert period_of("quarter", date(2025, 8, 15)).code == "2025-Q3"
    assert period_of("half_year", date(2025, 6, 30)).code == "2025-H1"
    with pytest.raises(InvalidQuery) as caught:
        period_range(Period.parse("2025-01"), Period.parse("2025-Q2"))
    assert caught.value.details["field"] == "to"


def test_periods_order_within_a_kind():
    assert Period.parse("2024-12") < Period.parse("2025-01") < Period.parse("2025-02")
