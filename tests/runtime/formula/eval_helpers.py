"""Shared helpers of the evaluator's table-driven tests."""

from __future__ import annotations

from decimal import Decimal as D

import pytest


def assert_value(result, expected) -> None:
    """Same value and same kind: numbers are Decimal, dates are not datetimes."""
    if expected is None or isinstance(expected, bool):
        assert result is expected
    elif isinstance(expected, (D, int)):
        assert isinstance(result, D) and result == expected
    else:
        assert type(result) is type(expected) and result == expected


def table(*rows):
    """Parametrise a test over ``(source, expected)`` rows, named by their source."""
    return pytest.mark.parametrize("source, expected", rows, ids=[r[0] for r in rows])
