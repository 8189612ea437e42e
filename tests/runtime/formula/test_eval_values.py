"""The value semantics module (values.py) on its own: exact against fractions,
and usable with the plain Python values SQLite user functions receive."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yunying.runtime.formula import values as v
from yunying.runtime.formula.errors import FormulaError

DECIMALS = st.decimals(min_value=-10 ** 20, max_value=10 ** 20, allow_nan=False,
                       allow_infinity=False, places=8)
SMALL_EXPONENTS = st.integers(min_value=-12, max_value=12)


def half_up(q: Fraction, places: int) -> Fraction:
    """Round half away from zero at ``places`` decimals (reference implementation)."""
    scale = Fraction(10) ** places
    k = math.floor(abs(q) * scale + Fraction(1, 2))
    return Fraction(k if q >= 0 else -k) / scale


def toward(q: Fraction, places: int, away: bool) -> Fraction:
    scale = Fraction(10) ** places
    magnitude = abs(q) * scale
    k = math.ceil(magnitude) if away else math.floor(magnitude)
    return Fraction(k if q >= 0 else -k) / scale


@settings(max_examples=300)
@given(a=DECIMALS, b=DECIMALS)
def test_add_subtract_multiply_are_exact(a, b):
    assert Fraction(v.add(a, b)) == Fraction(a) + Fraction(b)
    assert Fraction(v.subtract(a, b)) == Fraction(a) - Fraction(b)
    assert Fraction(v.multiply(a, b)) == Fraction(a) * Fraction(b)


@settings(max_examples=300)
@given(a=DECIMALS, b=DECIMALS)
def test_division_is_the_exact_quotient_rounded_half_up_to_16_places(a, b):
    if b == 0:
        assert v.divide(a, b) is None
        assert v.divide(a, b, D(7)) == 7
    else:
        assert Fraction(v.divide(a, b)) == half_up(Fraction(a) / Fraction(b), 16)


@pytest.mark.parametrize("a, b, expected", [
    # ties at the 17th place round away from zero, both signs
    (D("1"), D("32") * 10 ** 15, D("0.0000000000000000")),       # 3.125E-17 → 0
    (D("5"), D("1E17"), D("0.0000000000000001")),                 # exactly 5E-17 → 1E-16
    (D("-5"), D("1E17"), D("-0.0000000000000001")),
    (D("1"), D("3"), D("0.3333333333333333")), (D("2"), D("3"), D("0.6666666666666667")),
])
def test_division_ties(a, b, expected):
    assert v.divide(a, b) == expected


@settings(max_examples=300)
@given(x=st.decimals(min_value=0, max_value=10 ** 30, allow_nan=False, allow_infinity=False, places=10))
def test_sqrt_is_correctly_rounded_half_up(x):
    k = Fraction(v.sqrt(x)) * 10 ** 16
    assert k.denominator == 1
    scaled = Fraction(x) * 10 ** 32
    assert (k == 0 or (k - Fraction(1, 2)) ** 2 <= scaled) and scaled < (k + Fraction(1, 2)) ** 2


@settings(max_examples=300)
@given(x=DECIMALS, n=SMALL_EXPONENTS)
def test_rounding_modes(x, n):
    assert Fraction(v.round_half_up(x, n)) == half_up(Fraction(x), n)
    assert Fraction(v.round_up(x, n)) == toward(Fraction(x), n, away=True)
    assert Fraction(v.round_down(x, n)) == toward(Fraction(x), n, away=False)


@settings(max_examples=300)
@given(a=DECIMALS, b=DECIMALS)
def test_mod_has_the_sign_of_the_divisor(a, b):
    result = v.mod(a, b)
    if b == 0:
        assert result is None
        return
    r = Fraction(result)
    assert r == 0 or (r > 0) == (b > 0)
    assert abs(r) < abs(Fraction(b))
    assert ((Fraction(a) - r) / Fraction(b)).denominator == 1


@settings(max_examples=200)
@given(a=st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False), n=st.integers(-12, 12))
def test_integer_powers_are_exact_or_rounded_to_16_places(a, n):
    result = v.power(a, n)
    if a == 0 and n < 0:
        assert result is None
    elif n >= 0:
        assert Fraction(result) == Fraction(a) ** n
    else:
        assert Fraction(result) == half_up(Fraction(1) / Fraction(a) ** -n, 16)


@settings(max_examples=300)
@given(x=st.decimals(allow_nan=False, allow_infinity=False, min_value=-10 ** 30, max_value=10 ** 30))
def test_number_text_is_plain_and_exact(x):
    text = v.number_text(x)
    assert "E" not in text and "e" not in text
    assert D(text) == x
    assert not ("." in text and text.endswith("0"))
    assert text != "-0" and not text.endswith(".")


@pytest.mark.parametrize("value, text", [
    (D("3.50"), "3.5"), (D("1.5E3"), "1500"), (D("0.00"), "0"), (D("-0"), "0"), (D("-0.0"), "0"),
    (D("1E-7"), "0.0000001"), (D("-12.340"), "-12.34"), (7, "7"), (1.1, "1.1"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_number_text_examples(value, text):
    assert v.number_text(value) == text


def test_plain_python_values_are_accepted_as_sqlite_gives_them():
    assert v.divide(1, 3) == D("0.3333333333333333")
    assert v.divide(1.1, 2) == D("0.55")
    assert v.round_half_up(1.005, 2) == D("1.01")          # via repr, not the binary value
    assert v.round_half_up(2.675, 2) == D("2.68")
    assert v.mod(-3, 2) == 1 and v.mod(3.5, -2) == D("-0.5")
    assert v.sqrt(2.0) == D("1.4142135623730950")
    assert v.power("2", "10") == 1024
    assert v.add(None, 1) is None and v.multiply(2, None) is None
    assert v.concat("a", 3.5, None, date(2024, 3, 1), True) == "a3.52024-03-01TRUE"
    assert v.upper("straße") == "STRASSE" and v.lower(None) is None
    assert v.left("abc", 2.0) == "ab" and v.mid("abc", 2, 1.0) == "b"
    assert v.trim("\u3000 x \t") == "x"
    assert v.text_length("中文") == 2


def test_dates_as_text_like_sqlite_stores_them():
    assert v.date_add("2024-01-31", 1, "month") == date(2024, 2, 29)
    assert v.date_add("2024-01-31 08:30:00.000000", 1, "month") == datetime(2024, 2, 29, 8, 30)
    assert v.eomonth("2024-02-10", 0) == date(2024, 2, 29)
    assert v.days_between("2024-03-01", "2024-02-01 23:59:59") == 29
    assert v.year("2024-03-01") == 2024 and v.quarter("2024-12-31 10:00:00") == 4
    assert v.add_days("2024-02-28", 1.9) == date(2024, 2, 29)
    assert v.parse_date("2024-02-29") == date(2024, 2, 29)
    assert v.parse_date("2023-02-29") is None and v.parse_date("2024-02-29 00:00:00") is None
    assert v.make_date(2024.0, 2, 29) == date(2024, 2, 29) and v.make_date(2024, 2, 30) is None


@settings(max_examples=300)
@given(d=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)), n=st.integers(-1200, 1200))
def test_month_steps_clamp_to_month_end(d, n):
    result = v.date_add(d, n, "month")
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == n
    last = (date(result.year + result.month // 12, result.month % 12 + 1, 1) - timedelta(days=1)).day
    assert result.day == min(d.day, last)
    assert v.eomonth(d, n) == result.replace(day=last)
    assert v.date_add(d, n // 12, "year") == v.date_add(d, 12 * (n // 12), "month")


@pytest.mark.parametrize("unit", ["day", "Days", "天", "日", "month", "MONTHS", "月", "year", "Years", "年"])
def test_every_dateadd_unit(unit):
    assert v.date_add(date(2024, 1, 31), 1, unit) in (date(2024, 2, 1), date(2024, 2, 29), date(2025, 1, 31))


def test_an_unknown_dateadd_unit_is_an_evaluation_error():
    with pytest.raises(FormulaError) as caught:
        v.date_add(date(2024, 1, 31), 1, "week")
    assert caught.value.issues[0].code == "evaluation"


def test_datetime_text_and_aware_values():
    assert v.datetime_text(datetime(2024, 3, 1, 8, 30, 5, 999999)) == "2024-03-01 08:30:05"
    aware = datetime(2024, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))
    assert v.to_datetime(aware) == datetime(2024, 3, 1, 0, 30)
    assert v.to_text(aware) == "2024-03-01 00:30:00"


@pytest.mark.parametrize("op, a, b, expected", [
    ("=", D("1.50"), D("1.5"), True), ("=", 1, D("1.0"), True), ("<", 1.5, D(2), True),
    ("<", date(2024, 3, 1), datetime(2024, 3, 1, 0, 0, 1), True), ("=", date(2024, 3, 1), datetime(2024, 3, 1), True),
    ("<", "B", "a", True), ("!=", "a", "A", True), (">=", None, 1, None), ("=", True, True, True),
])
def test_compare(op, a, b, expected):
    assert v.compare(op, a, b) is expected


def test_kleene_helpers():
    values = (True, False, None)
    for a in values:
        assert v.kleene_not(a) is (None if a is None else not a)
        for b in values:
            assert v.kleene_and(a, b) is (False if False in (a, b) else None if None in (a, b) else True)
            assert v.kleene_or(a, b) is (True if True in (a, b) else None if None in (a, b) else False)
    assert v.in_list(2, [1, None]) is None and v.in_list(1, [None, 1]) is True
    assert v.in_list(None, [1]) is None and v.in_list(3, [1, 2]) is False


@pytest.mark.parametrize("call", [
    lambda: v.to_number("abc"), lambda: v.to_number(True), lambda: v.to_number(float("inf")),
    lambda: v.to_number(D("NaN")), lambda: v.to_number(10 ** 100), lambda: v.to_number([1]),
    lambda: v.multiply(D("1E50"), D("1E50")), lambda: v.power(10, 100), lambda: v.divide(D("1E99"), D("0.1")),
    lambda: v.to_date("2024-02-30"), lambda: v.to_datetime("noon"), lambda: v.to_boolean("yes"),
    lambda: v.compare("<", "a", 1), lambda: v.compare("<", D("NaN"), D(1)),
    lambda: v.substitute("a" * 1000, "a", "a" * 2000),
])
def test_only_formula_errors_escape(call):
    with pytest.raises(FormulaError) as caught:
        call()
    assert caught.value.issues[0].code == "evaluation"


def test_results_are_plain_decimals():
    assert str(v.round_half_up(1250, -2)) == "1300"
    assert str(v.round_half_up(D("-0.4"))) == "0"
    assert str(v.divide(D("-1"), D("1E17"))) == "0"
    assert str(v.plain(D("1.5E3"))) == "1500"
