"""Identity service: users, passwords, login throttle, API tokens (platform)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from yunying.platform import identity
from yunying.platform.context import Context
from yunying.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import api_token, user

START = datetime(2026, 11, 26, 8, 0, 0)
POLICY = identity.LockPolicy(max_failures=3, lock=timedelta(minutes=5),
                             max_lock=timedelta(minutes=30))
NAME = Text("张三", "Zhang San")
PASSWORD = "correct horse"


class Clock:
    """An explicit, settable clock for the Context."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def ctx(clock) -> Context:
    return Context(actor="admin", clock=clock)


@pytest.fixture
def alice(db, ctx):
    with db.begin(write=True) as conn:
        return identity.create_user(conn, ctx, "alice", NAME, PASSWORD)


def _auth(db, ctx, code, password):
    with db.begin(write=True) as conn:
        return identity.authenticate(conn, ctx, code, password, address="10.0.0.1",
                                     policy=POLICY)


def _row(db, code):
    with db.connect() as conn:
        return conn.execute(select(user).where(user.c.code == code)).one()


def test_create_user_stores_a_real_hash_never_the_password(db, alice):
    assert alice == identity.User("alice", NAME, True)
    row = _row(db, "alice")
    assert PASSWORD not in row.password_hash
    assert row.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert row.created_at == START and row.failed_logins == 0


def test_a_user_without_password_cannot_sign_in_until_one_is_set(db, ctx):
    with db.begin(write=True) as conn:
        bob = identity.create_user(conn, ctx, "bob", NAME, None)
    assert _row(db, "bob").password_hash == identity.UNUSABLE_PASSWORD
    for guess in ("", "!", identity.UNUSABLE_PASSWORD, "any password at all"):
        assert _auth(db, ctx, "bob", guess) is None
    with db.begin(write=True) as conn:
        identity.set_password(conn, ctx, "bob", "a new secret")
    assert _auth(db, ctx, "bob", "a new secret") == bob


def test_right_password_authenticates(db, ctx, alice):
    assert _auth(db, ctx, "alice", PASSWORD) == alice


def test_unknown_user_and_wrong_password_fail_alike(db, ctx, alice):
    with pytest.raises(PermissionDenied) as wrong:
        identity.login(db, ctx, "alice", "wrong password")
    with pytest.raises(PermissionDenied) as unknown:
        identity.login(db, ctx, "nobody", "wrong password")
    assert wrong.value.code == unknown.value.code == "authentication_failed"
    assert wrong.value.message == unknown.value.message == identity.LOGIN_FAILED
    assert wrong.value.details == unknown.value.details == {}
    assert _row(db, "alice").failed_logins == 1     # committed although it raised


def test_lock_after_repeated_failures_and_unlock_after_the_period(db, ctx, clock, alice):
    for _ in range(POLICY.max_failures):
        assert _auth(db, ctx, "alice", "guess guess") is None
    assert _row(db, "alice").locked_until == START + timedelta(minutes=5)
    assert _auth(db, ctx, "alice", PASSWORD) is None            # locked: even right fails
    clock.now = START + timedelta(minutes=4, seconds=59)
    assert _auth(db, ctx, "alice", PASSWORD) is None
    clock.now = START + timedelta(minutes=5)
    assert _auth(db, ctx, "alice", PASSWORD) == alice
    row = _row(db, "alice")
    assert row.failed_logins == 0 and row.locked_until is None


def test_lock_grows_with_further_failures_up_to_the_maximum(db, ctx, clock, alice):
    for _ in range(POLICY.max_failures):
        _auth(db, ctx, "alice", "guess guess")
    expected = [10, 20, 30, 30]                   # doubling, capped at max_lock
    for minutes in expected:
        clock.now = _row(db, "alice").locked_until
        assert _auth(db, ctx, "alice", "guess guess") is None
        assert _row(db, "alice").locked_until == clock.now + timedelta(minutes=minutes)


def test_failures_while_locked_do_not_extend_the_lock(db, ctx, clock, alice):
    for _ in range(POLICY.max_failures + 3):
        _auth(db, ctx, "alice", "guess guess")
    row = _row(db, "alice")
    assert row.failed_logins == POLICY.max_failures
    assert row.locked_until == START + timedelta(minutes=5)


def test_inactive_user_cannot_log_in(db, ctx, alice):
    with db.begin(write=True) as conn:
        identity.set_active(conn, ctx, "alice", False)
    assert _auth(db, ctx, "alice", PASSWORD) is None


class RecordingThrottle:
    """A per-address throttle that blocks one address (the plug-in seam)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, bool]] = []

    def blocked(self, conn, ctx, address):
        return address == "6.6.6.6"

    def record(self, conn, ctx, address, success):
        self.seen.append((address, success))


def test_address_throttle_is_consulted(db, ctx, alice):
    throttle = RecordingThrottle()
    with db.begin(write=True) as conn:
        assert identity.authenticate(conn, ctx, "alice", PASSWORD, address="6.6.6.6",
                                     throttle=throttle) is None
        assert identity.authenticate(conn, ctx, "alice", PASSWORD, address="10.0.0.2",
                                     throttle=throttle) == alice
    assert throttle.seen == [("10.0.0.2", True)]


def test_set_password_replaces_it_and_clears_the_lock(db, ctx, clock, alice):
    for _ in range(POLICY.max_failures):
        _auth(db, ctx, "alice", "guess guess")
    clock.now = START + timedelta(seconds=30)
    with db.begin(write=True) as conn:
        identity.set_password(conn, ctx, "alice", "a new secret")
    assert _auth(db, ctx, "alice", PASSWORD) is None
    assert _auth(db, ctx, "alice", "a new secret") == alice
    assert _row(db, "alice").password_changed_at == START + timedelta(seconds=30)


@pytest.mark.parametrize("password, zh, en", [
    ("short", "至少需要 8 个字符", "at least 8 characters"),
    ("x" * 257, "不能超过 256 个字符", "at most 256 characters"),
    ("Alice", "至少需要 8 个字符", "at least 8 characters"),
    ("alice.smith", None, None),
])
def test_password_rules_are_bilingual(db, ctx, password, zh, en):
    code = "alice.smith" if zh is None else "alice"
    with db.begin(write=True) as conn, pytest.raises(ValidationFailed) as caught:
        identity.create_user(conn, ctx, code, NAME, password)
    if zh is None:   # equal to the code
        zh, en = "不能与账号相同", "differ from the user code"
    assert zh in caught.value.message.zh and en in caught.value.message.en
    assert "password" in caught.value.details["fields"]
    with db.connect() as conn:
        assert conn.execute(select(user)).first() is None


@pytest.mark.parametrize("code", ["", " alice", "a b", "x" * 65, "-lead", "名字"])
def test_bad_codes_are_refused(db, ctx, code):
    with db.begin(write=True) as conn, pytest.raises(ValidationFailed) as caught:
        identity.create_user(conn, ctx, code, NAME, PASSWORD)
    assert "code" in caught.value.details["fields"]


def test_duplicate_code_is_a_conflict(db, ctx, alice):
    with db.begin(write=True) as conn, pytest.raises(Conflict):
        identity.create_user(conn, ctx, "alice", NAME, "another one")


def test_set_password_of_unknown_user_is_not_found(db, ctx):
    with db.begin(write=True) as conn, pytest.raises(NotFound):
        identity.set_password(conn, ctx, "ghost", PASSWORD)


def _issue(db, ctx, expires_in=timedelta(days=1)):
    with db.begin(write=True) as conn:
        return identity.issue_token(conn, ctx, "alice", "ci", expires_in)


def _verify(db, ctx, token):
    with db.begin(write=True) as conn:
        return identity.verify_token(conn, ctx, token)


def test_token_is_returned_once_and_stored_only_hashed(db, ctx, alice):
    issued = _issue(db, ctx)
    assert issued.token.startswith(identity.TOKEN_PREFIX) and len(issued.token) > 40
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(api_token))]
    assert len(rows) == 1
    assert rows[0]["token_hash"] == identity.hash_token(issued.token)
    assert all(issued.token not in str(value) for value in rows[0].values())
    assert issued.token.startswith(rows[0]["prefix"])
    assert _verify(db, ctx, issued.token) == alice
    assert _issue(db, ctx).token != issued.token


def test_token_verification_stamps_last_use(db, ctx, alice):
    issued = _issue(db, ctx)
    _verify(db, ctx, issued.token)
    with db.connect() as conn:
        assert conn.execute(select(api_token.c.last_used_at)).scalar_one() == START


def test_token_expires(db, ctx, clock, alice):
    issued = _issue(db, ctx, timedelta(hours=1))
    assert issued.expires_at == START + timedelta(hours=1)
    clock.now = START + timedelta(minutes=59)
    assert _verify(db, ctx, issued.token) == alice
    clock.now = START + timedelta(hours=1)
    assert _verify(db, ctx, issued.token) is None


def test_revoked_token_and_inactive_user_are_refused(db, ctx, alice):
    first, second = _issue(db, ctx), _issue(db, ctx, None)
    with db.begin(write=True) as conn:
        identity.revoke_token(conn, ctx, first.id)
        identity.revoke_token(conn, ctx, first.id)
    assert _verify(db, ctx, first.token) is None
    assert _verify(db, ctx, second.token) == alice
    with db.begin(write=True) as conn:
        identity.set_active(conn, ctx, "alice", False)
    assert _verify(db, ctx, second.token) is None


@pytest.mark.parametrize("token", ["", "garbage", identity.TOKEN_PREFIX + "x" * 43, None])
def test_unknown_tokens_are_refused(db, ctx, alice, token):
    _issue(db, ctx)
    assert _verify(db, ctx, token) is None


def test_revoking_an_unknown_token_is_not_found(db, ctx):
    with db.begin(write=True) as conn, pytest.raises(NotFound):
        identity.revoke_token(conn, ctx, 999)


def test_bad_token_requests_are_refused(db, ctx, alice):
    with db.begin(write=True) as conn:
        with pytest.raises(NotFound):
            identity.issue_token(conn, ctx, "ghost", "ci", None)
        with pytest.raises(ValidationFailed):
            identity.issue_token(conn, ctx, "alice", " ", None)
        with pytest.raises(ValidationFailed):
            identity.issue_token(conn, ctx, "alice", "ci", timedelta(0))
    with db.connect() as conn:
        assert conn.execute(select(api_token)).first() is None
