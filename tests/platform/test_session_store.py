"""Server-side browser sessions: start, look up, slide, expire, end (platform)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from yunying.platform import identity, sessions
from yunying.platform.context import Context
from yunying.platform.i18n import Text
from yunying.platform.tables import audit_event, user, web_session

START = datetime(2026, 11, 26, 8, 0, 0)
POLICY = sessions.SessionPolicy(lifetime=timedelta(hours=8), idle=timedelta(hours=1),
                                touch_every=timedelta(minutes=1))


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
    return Context(actor="alice", clock=clock, address="10.1.2.3")


@pytest.fixture
def users(db, ctx):
    with db.begin(write=True) as conn:
        for code in ("alice", "bob"):
            identity.create_user(conn, ctx, code, Text(code, code), "a good password")


def _start(db, ctx, code="alice"):
    with db.begin(write=True) as conn:
        return sessions.start_session(conn, ctx, code, policy=POLICY)


def _user(db, ctx, sid):
    with db.begin(write=True) as conn:
        return sessions.session_user(conn, ctx, sid, policy=POLICY)


def _rows(db):
    with db.connect() as conn:
        return conn.execute(select(web_session).order_by(web_session.c.created_at)).all()


def test_the_id_is_random_returned_once_and_stored_only_hashed(db, ctx, users):
    first, second = _start(db, ctx), _start(db, ctx)
    assert first != second and len(first) >= 40
    rows = _rows(db)
    assert {r.id_hash for r in rows} == {hashlib.sha256(s.encode()).hexdigest()
                                         for s in (first, second)}
    for row in rows:
        assert first not in tuple(str(v) for v in row) and second not in tuple(
            str(v) for v in row)
        assert row.user_code == "alice" and row.address == "10.1.2.3"
        assert row.created_at == row.last_seen_at == START
        assert row.expires_at == START + POLICY.lifetime and row.revoked_at is None


def test_a_live_session_names_its_user(db, ctx, users):
    sid = _start(db, ctx)
    assert _user(db, ctx, sid) == "alice"
    assert _user(db, ctx, _start(db, ctx, "bob")) == "bob"


@pytest.mark.parametrize("sid", [None, "", "unknown", "x" * 129, "会话", 42, b"bytes"])
def test_unknown_or_malformed_ids_are_nobody(db, ctx, users, sid):
    _start(db, ctx)
    assert _user(db, ctx, sid) is None
    with db.begin(write=True) as conn:
        assert sessions.end_session(conn, ctx, sid) is False


def test_last_seen_slides_at_most_once_a_minute(db, ctx, clock, users):
    sid = _start(db, ctx)
    clock.advance(seconds=30)
    assert _user(db, ctx, sid) == "alice"
    assert _rows(db)[0].last_seen_at == START
    clock.advance(seconds=31)
    assert _user(db, ctx, sid) == "alice"
    assert _rows(db)[0].last_seen_at == clock.now


def test_find_session_reads_only_and_says_when_a_touch_is_due(db, ctx, clock, users):
    sid = _start(db, ctx)
    with db.connect() as conn:
        assert sessions.find_session(conn, ctx, sid, policy=POLICY) == sessions.LiveSession(
            "alice", False)
        clock.advance(minutes=2)
        assert sessions.find_session(conn, ctx, sid, policy=POLICY).touch_due is True
    assert _rows(db)[0].last_seen_at == START


def test_an_idle_session_expires_and_use_keeps_it_alive(db, ctx, clock, users):
    idle, used = _start(db, ctx), _start(db, ctx)
    for _ in range(3):
        clock.advance(minutes=50)
        assert _user(db, ctx, used) == "alice"
    assert _user(db, ctx, idle) is None


def test_the_absolute_lifetime_ends_even_a_busy_session(db, ctx, clock, users):
    sid = _start(db, ctx)
    for _ in range(15):
        clock.advance(minutes=30)
        assert _user(db, ctx, sid) == "alice"
    clock.advance(minutes=30)  # 8 hours after the start
    assert _user(db, ctx, sid) is None


def test_logout_revokes_once_and_is_audited(db, ctx, clock, users):
    sid, other = _start(db, ctx), _start(db, ctx)
    clock.advance(minutes=5)
    with db.begin(write=True) as conn:
        assert sessions.end_session(conn, ctx, sid) is True
        assert sessions.end_session(conn, ctx, sid) is False
    assert _user(db, ctx, sid) is None
    assert _user(db, ctx, other) == "alice"
    assert [r.revoked_at for r in _rows(db)] == [clock.now, None]
    with db.connect() as conn:
        events = conn.execute(select(audit_event).where(audit_event.c.kind == "logout")).all()
    assert [(e.actor, e.address, e.detail) for e in events] == [
        ("alice", "10.1.2.3", {"user": "alice"})]


def test_end_user_sessions_ends_only_that_users_sessions(db, ctx, users):
    mine = [_start(db, ctx), _start(db, ctx)]
    theirs = _start(db, ctx, "bob")
    with db.begin(write=True) as conn:
        assert sessions.end_user_sessions(conn, ctx, "alice") == 2
        assert sessions.end_user_sessions(conn, ctx, "alice") == 0
    assert [_user(db, ctx, sid) for sid in mine] == [None, None]
    assert _user(db, ctx, theirs) == "bob"


def test_a_new_password_ends_every_session_of_the_user(db, ctx, users):
    sid, theirs = _start(db, ctx), _start(db, ctx, "bob")
    with db.begin(write=True) as conn:
        identity.set_password(conn, ctx, "alice", "another good password")
    assert _user(db, ctx, sid) is None
    assert _user(db, ctx, theirs) == "bob"


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(db, ctx, users):
    sid = _start(db, ctx)
    with db.begin(write=True) as conn:
        identity.set_active(conn, ctx, "alice", False)
    assert _user(db, ctx, sid) is None
    with db.begin(write=True) as conn:
        identity.set_active(conn, ctx, "alice", True)
    assert _user(db, ctx, sid) is None
    assert _user(db, ctx, _start(db, ctx)) == "alice"


def test_an_inactive_user_has_no_session_even_if_not_revoked(db, ctx, users):
    sid = _start(db, ctx)
    with db.begin(write=True) as conn:  # deactivated behind the service's back
        conn.execute(user.update().where(user.c.code == "alice").values(active=False))
    assert _user(db, ctx, sid) is None


def test_dead_sessions_are_forgotten_at_the_users_next_login(db, ctx, clock, users):
    old = _start(db, ctx)
    theirs = _start(db, ctx, "bob")
    with db.begin(write=True) as conn:
        sessions.end_session(conn, ctx, old)
    clock.advance(hours=9)  # longer ago than a lifetime
    fresh = _start(db, ctx)
    with db.connect() as conn:
        hashes = set(conn.execute(select(web_session.c.id_hash)).scalars())
        count = conn.execute(select(func.count()).select_from(web_session)).scalar_one()
    assert sessions.hash_session_id(old) not in hashes
    assert {sessions.hash_session_id(fresh), sessions.hash_session_id(theirs)} == hashes
    assert count == 2
