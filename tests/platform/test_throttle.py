"""Per-address login throttle kept in the database (platform)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.platform.tables import address_throttle
from yunying.platform.throttle import (
    AddressPolicy, DatabaseAddressThrottle, address_key, clear_address,
)

START = datetime(2026, 11, 26, 8, 0, 0)
POLICY = AddressPolicy(max_failures=3, window=timedelta(minutes=10),
                       lock=timedelta(minutes=5), max_lock=timedelta(minutes=20))
#: a per-account limit high enough never to interfere here
ACCOUNTS = identity.LockPolicy(max_failures=100)
HOME, ELSEWHERE = "10.0.0.1", "10.0.0.2"
PASSWORD = "a good password"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ctx(clock) -> Context:
    return Context(actor="anonymous", clock=clock)


@pytest.fixture
def throttle() -> DatabaseAddressThrottle:
    return DatabaseAddressThrottle(POLICY)


@pytest.fixture
def users(db, ctx):
    with db.begin(write=True) as conn:
        for code in ("alice", "mallory"):
            identity.create_user(conn, ctx, code, Text(code, code), PASSWORD)


def _fail(db, ctx, throttle, address=HOME, times=1):
    for _ in range(times):
        with db.begin(write=True) as conn:
            throttle.record(conn, ctx, address, False)


def _blocked(db, ctx, throttle, address=HOME) -> bool:
    with db.connect() as conn:
        return throttle.blocked(conn, ctx, address)


def _row(db, key=HOME):
    with db.connect() as conn:
        return conn.execute(select(address_throttle)
                            .where(address_throttle.c.address == key)).first()


def _login(db, ctx, throttle, code, password, address=HOME):
    with db.begin(write=True) as conn:
        return identity.authenticate(conn, ctx, code, password, address=address,
                                     policy=ACCOUNTS, throttle=throttle)


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("not an address", "not an address"),
    ("x" * 100, "x" * 64),
    (None, None),
    ("", None),
])
def test_address_keys(address, key):
    assert address_key(address) == key


def test_an_address_is_locked_after_max_failures_for_the_lock_time(db, ctx, clock, throttle):
    _fail(db, ctx, throttle, times=2)
    assert not _blocked(db, ctx, throttle)
    _fail(db, ctx, throttle)
    assert _blocked(db, ctx, throttle)
    assert not _blocked(db, ctx, throttle, ELSEWHERE)
    assert _row(db).locked_until == START + timedelta(minutes=5)
    clock.advance(minutes=5)
    assert not _blocked(db, ctx, throttle)


def test_guessing_again_after_a_lock_locks_at_once_for_twice_as_long(db, ctx, clock, throttle):
    _fail(db, ctx, throttle, times=3)
    clock.advance(minutes=5)
    _fail(db, ctx, throttle)
    assert _blocked(db, ctx, throttle)
    assert _row(db).locked_until == clock.now + timedelta(minutes=10)
    for _ in range(2):  # 20 minutes, then 40 capped at max_lock
        clock.now = _row(db).locked_until
        _fail(db, ctx, throttle)
        assert _row(db).locked_until == clock.now + POLICY.max_lock


def test_the_count_starts_again_after_a_quiet_window(db, ctx, clock, throttle):
    _fail(db, ctx, throttle, times=2)
    clock.advance(minutes=10)
    _fail(db, ctx, throttle, times=2)
    assert not _blocked(db, ctx, throttle)
    assert (_row(db).failures, _row(db).first_failure_at) == (2, clock.now)


def test_after_a_lock_the_quiet_window_counts_from_its_end(db, ctx, clock, throttle):
    _fail(db, ctx, throttle, times=3)
    clock.advance(minutes=5 + 9)  # lock over, but not yet a quiet window after it
    _fail(db, ctx, throttle)
    assert _blocked(db, ctx, throttle)
    clock.advance(minutes=10 + 10)  # a whole quiet window after the second lock
    _fail(db, ctx, throttle)
    assert not _blocked(db, ctx, throttle) and _row(db).failures == 1


def test_a_success_does_not_wipe_the_trail_of_guesses(db, ctx, throttle, users):
    for code in ("alice", "nobody"):
        assert _login(db, ctx, throttle, code, "wrong guess") is None
    assert _login(db, ctx, throttle, "mallory", PASSWORD) is not None
    assert _row(db).failures == 2
    assert _login(db, ctx, throttle, "alice", "another guess") is None
    assert _blocked(db, ctx, throttle)


def test_a_locked_address_fails_even_the_right_password_and_is_not_counted(
        db, ctx, throttle, users):
    _fail(db, ctx, throttle, times=3)
    assert _login(db, ctx, throttle, "alice", PASSWORD) is None
    assert _row(db).failures == 3
    assert _login(db, ctx, throttle, "alice", PASSWORD, address=ELSEWHERE) is not None


def test_ipv6_neighbours_in_one_64_share_a_count(db, ctx, throttle):
    for host in ("1", "2", "3"):
        _fail(db, ctx, throttle, f"2001:db8:0:7::{host}")
    assert _blocked(db, ctx, throttle, "2001:db8:0:7:abcd::99")
    assert not _blocked(db, ctx, throttle, "2001:db8:0:8::1")


def test_no_address_is_never_throttled(db, ctx, throttle):
    _fail(db, ctx, throttle, address=None, times=5)
    assert not _blocked(db, ctx, throttle, None)
    with db.connect() as conn:
        assert conn.execute(select(address_throttle)).first() is None


def test_an_administrator_can_lift_a_lock(db, ctx, throttle):
    _fail(db, ctx, throttle, times=3)
    with db.begin(write=True) as conn:
        assert clear_address(conn, HOME) is True
        assert clear_address(conn, HOME) is False
        assert clear_address(conn, "") is False
    assert not _blocked(db, ctx, throttle)


def test_concurrent_first_failures_are_both_counted(db, ctx, throttle):
    """Two attempts from a new address in overlapping transactions."""
    errors: list[BaseException] = []

    def second() -> None:
        try:
            _fail(db, ctx, throttle)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with db.begin(write=True) as conn:
        throttle.record(conn, ctx, HOME, False)
        worker = threading.Thread(target=second)
        worker.start()
    worker.join()
    assert errors == []
    assert _row(db).failures == 2
