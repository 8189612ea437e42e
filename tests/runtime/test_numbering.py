"""Document numbering: pattern formatting, reset periods and the counter."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select

from yunying.platform.database import Database
from yunying.platform.errors import ConfigurationError
from yunying.platform.numbering import (
    default_reset, format_number, next_value, pattern_problems, period_key,
)
from yunying.platform.tables import number_sequence

WHEN = datetime(2026, 11, 5, 14, 3, 9)


@pytest.mark.parametrize("pattern, seq, expected", [
    ("LY{yyyy}{mm}-{seq:4}", 7, "LY202611-0007"),
    ("BX{yy}{mm}{dd}{seq:3}", 12, "BX261105012"),
    ("{seq:1}", 5, "5"),
    ("N-{seq:2}", 123, "N-123"),          # wider than N: kept whole
    ("{yyyy}/{seq:6}/Z", 1, "2026/000001/Z"),
    ("无前缀{mm}{seq:2}", 3, "无前缀1103"),
])
def test_format_number_fills_date_tokens_and_pads_the_sequence(pattern, seq, expected):
    assert format_number(pattern, WHEN, seq) == expected


def test_format_number_refuses_unknown_tokens():
    with pytest.raises(ConfigurationError) as info:
        format_number("X{hh}{seq:2}", WHEN, 1)
    assert info.value.code == "invalid_numbering"
    assert "{hh}" in info.value.message.zh and "{hh}" in info.value.message.en


@pytest.mark.parametrize("reset, expected", [
    ("never", ""), ("year", "2026"), ("month", "202611"), ("day", "20261105"),
])
def test_period_key_per_reset(reset, expected):
    assert period_key(reset, WHEN) == expected


def test_period_key_refuses_unknown_reset():
    with pytest.raises(ConfigurationError) as info:
        period_key("hour", WHEN)
    assert info.value.code == "invalid_numbering"


@pytest.mark.parametrize("pattern, reset", [
    ("LY{yyyy}{mm}-{seq:4}", "month"), ("{yy}{seq:3}", "year"),
    ("D{yyyy}{mm}{dd}{seq:2}", "day"), ("{seq:5}", "never"),
])
def test_default_reset_is_the_finest_date_token(pattern, reset):
    assert default_reset(pattern) == reset


def test_pattern_problems():
    assert pattern_problems("LY{yyyy}{mm}-{seq:4}", "month") == []
    assert pattern_problems("LY{yyyy}{mm}-{seq:4}", "year") == []
    assert len(pattern_problems("LY{yyyy}")) == 1                 # no {seq:N}
    assert len(pattern_problems("{seq:2}{seq:3}")) == 1           # two of them
    assert len(pattern_problems("{hh}{seq:2}")) == 1              # unknown token
    assert len(pattern_problems("{yyyy}{seq:2}", "day")) == 1     # reset finer than shown
    assert len(pattern_problems("{seq:2}", "weekly")) == 1
    for problem in pattern_problems("{hh}"):
        assert problem.zh and problem.en


def test_next_value_counts_per_rule_and_period(db):
    with db.begin() as conn:
        assert [next_value(conn, "a.doc", "202611") for _ in range(3)] == [1, 2, 3]
        assert next_value(conn, "a.doc", "202612") == 1
        assert next_value(conn, "b.doc", "202611") == 1
        assert next_value(conn, "a.doc", "") == 1
    with db.begin() as conn:
        assert next_value(conn, "a.doc", "202611") == 4


def test_a_rolled_back_transaction_gives_its_value_back(db):
    with db.begin() as conn:
        assert next_value(conn, "a.doc", "2026") == 1
    with pytest.raises(RuntimeError):
        with db.begin() as conn:
            assert next_value(conn, "a.doc", "2026") == 2
            raise RuntimeError("abort")
    with db.begin() as conn:
        assert next_value(conn, "a.doc", "2026") == 2


def test_concurrent_allocation_is_unique_and_contiguous(db, database_url):
    """Threads with their own connections allocate at once: no gaps, no repeats."""
    threads_n, per_thread = 6, 5
    engine_db = Database(database_url)
    barrier = threading.Barrier(threads_n)
    got: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work():
        try:
            barrier.wait()
            for _ in range(per_thread):
                with engine_db.begin() as conn:
                    value = next_value(conn, "race.doc", "202611")
                with lock:
                    got.append(value)
        except BaseException as exc:  # reported below
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine_db.dispose()
    assert failures == []
    assert sorted(got) == list(range(1, threads_n * per_thread + 1))
    with db.connect() as conn:
        stored = conn.execute(select(number_sequence.c.value).where(
            number_sequence.c.rule == "race.doc")).scalar_one()
        rows = conn.execute(select(func.count()).select_from(number_sequence)).scalar_one()
    assert stored == threads_n * per_thread and rows == 1
