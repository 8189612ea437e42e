"""Identity: users, passwords, login throttling and API tokens (platform layer).

Users are identified by their ``code`` (the login). Passwords are hashed with
werkzeug's KDF (scrypt); API tokens are random (``secrets``), shown to the
caller once by :func:`issue_token` and stored only as their SHA-256.

Login throttling is per account and kept in the user row: after
``LockPolicy.max_failures`` consecutive failures the account is locked for
``lock``, doubling with every further failure up to ``max_lock``. Per-address
throttling plugs in through the :class:`AddressThrottle` protocol. An unknown
user, a wrong password, a locked or an inactive account all give the one
message :data:`LOGIN_FAILED`, so nobody can learn which codes exist.

:func:`authenticate` *returns* ``None`` on failure instead of raising, because
the failure counter it wrote must be committed; :func:`login` wraps it in its
own transaction and raises :class:`~yunying.platform.errors.PermissionDenied`
(code ``authentication_failed``) after committing.

Every change here is audited on the same connection (see
:mod:`yunying.platform.audit`): ``login.success`` / ``login.failure`` (with
the attempted code and the reason, never the password — committed with the
failure counter), ``token.issue`` / ``token.use`` / ``token.revoke``,
``user.create`` / ``user.password`` / ``user.active``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.database import Database
from yunying.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.sessions import end_user_sessions
from yunying.platform.tables import api_token, user

__all__ = [
    "User", "IssuedToken", "LockPolicy", "AddressThrottle", "LOGIN_FAILED",
    "MIN_PASSWORD_LENGTH", "MAX_PASSWORD_LENGTH", "TOKEN_PREFIX",
    "password_problems", "create_user", "get_user", "set_password", "set_active",
    "authenticate", "login", "login_failed", "hash_token",
    "issue_token", "verify_token", "revoke_token", "TokenInfo", "list_tokens", "get_token",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
#: every API token starts with this, so leaked tokens are recognisable.
TOKEN_PREFIX = "yyt_"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")

#: the one answer to every failed login (no user enumeration).
LOGIN_FAILED = Text("登录失败：账号或密码错误，或尝试次数过多，请稍后再试",
                    "login failed: wrong code or password, or too many attempts; "
                    "try again later")


@dataclass(frozen=True)
class User:
    """A user as others see it (never the password hash)."""

    code: str
    name: Text
    active: bool


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued API token; ``token`` is shown once and never stored."""

    id: int
    user_code: str
    name: str
    token: str
    prefix: str
    expires_at: datetime | None


@dataclass(frozen=True)
class LockPolicy:
    """Per-account throttle: lock after ``max_failures`` consecutive failures
    for ``lock``, doubled for every further failure, at most ``max_lock``."""

    max_failures: int = 5
    lock: timedelta = timedelta(minutes=1)
    max_lock: timedelta = timedelta(hours=1)

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        extra = failures - self.max_failures
        if extra < 0:
            return None
        return now + min(self.lock * (2 ** min(extra, 20)), self.max_lock)


DEFAULT_POLICY = LockPolicy()


class AddressThrottle(Protocol):
    """Per-address throttling (e.g. a table of failures by IP), checked before
    and told after every attempt, in the same transaction."""

    def blocked(self, conn: Connection, ctx: Context, address: str | None) -> bool: ...

    def record(self, conn: Connection, ctx: Context, address: str | None,
               success: bool) -> None: ...


# ---------------------------------------------------------------- users

def password_problems(password: str, *, code: str | None = None) -> list[Text]:
    """The rules ``password`` breaks (empty when acceptable)."""
    problems: list[Text] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Text(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
                             f"password must have at least {MIN_PASSWORD_LENGTH} characters"))
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(Text(f"密码不能超过 {MAX_PASSWORD_LENGTH} 个字符",
                             f"password must have at most {MAX_PASSWORD_LENGTH} characters"))
    if code is not None and password.strip().lower() == code.lower():
        problems.append(Text("密码不能与账号相同", "password must differ from the user code"))
    return problems


def _check_password(password: str, code: str) -> None:
    problems = password_problems(password, code=code)
    if problems:
        raise ValidationFailed(
            Text("密码不符合要求：" + "；".join(p.zh for p in problems),
                 "password rejected: " + "; ".join(p.en for p in problems)),
            details={"fields": {"password": [
                {"code": "password", "message": p.as_dict()} for p in problems]}})


def _check_user_fields(code: str, name: Text) -> None:
    fields: dict[str, list[dict[str, Any]]] = {}
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        fields["code"] = [{"code": "format", "message": Text(
            "账号须为 1–64 个字母、数字或 _ . @ -，以字母或数字开头",
            "user code must be 1–64 letters, digits or _ . @ -, "
            "starting with a letter or digit").as_dict()}]
    for key, value in (("name_zh", name.zh), ("name_en", name.en)):
        if not value.strip() or len(value) > 200:
            fields[key] = [{"code": "length", "message": Text(
                "姓名须为 1–200 个字符", "name must have 1–200 characters").as_dict()}]
    if fields:
        raise ValidationFailed(Text("用户信息有误", "invalid user"),
                               details={"fields": fields})


def create_user(conn: Connection, ctx: Context, code: str, name: Text,
                password: str | None, *, active: bool = True) -> User:
    """Create a user. ValidationFailed for a bad code, name or password;
    Conflict when ``code`` is taken. ``password`` None creates the user with
    no usable password (users shipped in org data): nobody can sign in as
    them until an administrator sets one."""
    _check_user_fields(code, name)
    if password is not None:
        _check_password(password, code)
    if _row(conn, code) is not None:
        raise _taken(code)
    now = ctx.now()
    try:
        with conn.begin_nested():
            conn.execute(insert(user).values(
                code=code, name_zh=name.zh, name_en=name.en,
                password_hash=(UNUSABLE_PASSWORD if password is None
                               else generate_password_hash(password)), active=active,
                created_at=now, updated_at=now, failed_logins=0, locked_until=None,
                password_changed_at=now))
            record_event(conn, ctx, "user.create", detail={
                "user": code, "name": name.as_dict(), "active": bool(active)})
    except IntegrityError:  # created concurrently
        raise _taken(code) from None
    return User(code, name, active)


def get_user(conn: Connection, code: str) -> User:
    """The user ``code``; NotFound when there is none."""
    return _user(_require(conn, code))


def set_password(conn: Connection, ctx: Context, code: str, password: str) -> None:
    """Replace the password of ``code`` and clear its lock."""
    _require(conn, code)
    _check_password(password, code)
    now = ctx.now()
    conn.execute(update(user).where(user.c.code == code).values(
        password_hash=generate_password_hash(password), password_changed_at=now,
        updated_at=now, failed_logins=0, locked_until=None))
    record_event(conn, ctx, "user.password", detail={"user": code})
    end_user_sessions(conn, ctx, code)  # signed-in browsers must log in again


def set_active(conn: Connection, ctx: Context, code: str, active: bool) -> None:
    """Activate or deactivate ``code``; inactive users cannot log in or use tokens."""
    before = bool(_require(conn, code).active)
    conn.execute(update(user).where(user.c.code == code).values(
        active=active, updated_at=ctx.now()))
    record_event(conn, ctx, "user.active", changes={"active": [before, bool(active)]},
                 detail={"user": code})
    if not active:
        end_user_sessions(conn, ctx, code)


# ---------------------------------------------------------------- login

def authenticate(conn: Connection, ctx: Context, code: str, password: str, *,
                 address: str | None = None, policy: LockPolicy = DEFAULT_POLICY,
                 throttle: AddressThrottle | None = None) -> User | None:
    """The user when ``code`` / ``password`` are right and the account is
    active and not locked, else ``None`` (answer with :data:`LOGIN_FAILED`).

    Writes the failure counter or resets it, and the ``login.success`` /
    ``login.failure`` audit event: the caller must commit even when ``None``
    comes back (or use :func:`login`).
    """
    if throttle is not None and throttle.blocked(conn, ctx, address):
        _dummy_check(password)
        _audit_login(conn, ctx, code, address, "address_blocked")
        return None
    # a code no user can have (bad type, NUL, lone surrogate) is not looked up
    row = _row(conn, code) if isinstance(code, str) and _CODE.fullmatch(code) else None
    if row is None:
        _dummy_check(password)  # same cost as a real check
        failure: str | None = "unknown_user"
    else:
        failure = _attempt(conn, ctx, row, password, policy)
    if throttle is not None:
        throttle.record(conn, ctx, address, failure is None)
    _audit_login(conn, ctx, code, address, failure)
    return _user(row) if failure is None else None


def _attempt(conn: Connection, ctx: Context, row: Any, password: str,
             policy: LockPolicy) -> str | None:
    """Check one password against ``row`` and update its throttle state;
    None when it is right, else why the login failed (for the audit trail)."""
    now = ctx.now()
    locked = row.locked_until is not None and row.locked_until > now
    if row.password_hash == UNUSABLE_PASSWORD:
        _dummy_check(password)  # the same time as a real check
        matches = False
    else:
        matches = check_password_hash(row.password_hash, password)
    if locked or not row.active:
        return "locked" if locked else "inactive"
    if matches:
        if row.failed_logins or row.locked_until is not None:
            conn.execute(update(user).where(user.c.id == row.id).values(
                failed_logins=0, locked_until=None))
        return None
    failures = row.failed_logins + 1
    conn.execute(update(user).where(user.c.id == row.id).values(
        failed_logins=failures, locked_until=policy.locked_until(failures, now)))
    return "wrong_password"


def _audit_login(conn: Connection, ctx: Context, code: Any, address: str | None,
                 failure: str | None) -> None:
    """``login.success`` (the user is the actor) or ``login.failure`` with the
    attempted code and the reason — never the password."""
    if address is not None and ctx.address is None:
        ctx = replace(ctx, address=address)
    if failure is None:
        record_event(conn, replace(ctx, actor=code), "login.success", detail={"user": code})
    else:
        record_event(conn, ctx, "login.failure",
                     detail={"code": _attempted(code), "reason": failure})


def _attempted(code: Any) -> str:
    """An attempted login code as it may be stored: short, valid UTF-8, no NUL."""
    text = code if isinstance(code, str) else f"<{type(code).__name__}>"
    return text[:64].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")


def login(db: Database, ctx: Context, code: str, password: str, *,
          address: str | None = None, policy: LockPolicy = DEFAULT_POLICY,
          throttle: AddressThrottle | None = None) -> User:
    """:func:`authenticate` in its own committed transaction; raises
    :func:`login_failed` on failure (after the failure was recorded)."""
    with db.begin(write=True) as conn:
        found = authenticate(conn, ctx, code, password, address=address,
                             policy=policy, throttle=throttle)
    if found is None:
        raise login_failed()
    return found


def login_failed() -> PermissionDenied:
    """The error for any failed login: one message, no details."""
    return PermissionDenied(LOGIN_FAILED, code="authentication_failed")


#: the stored hash of a user without a usable password (never a werkzeug hash).
UNUSABLE_PASSWORD = "!"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def _dummy_check(password: str) -> None:
    check_password_hash(_dummy_hash(), password if isinstance(password, str) else "")


# ---------------------------------------------------------------- tokens

def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(conn: Connection, ctx: Context, user_code: str, name: str,
                expires_in: timedelta | None) -> IssuedToken:
    """A new API token for ``user_code``; the plain token is in the result
    only. ``expires_in=None`` means it never expires."""
    _require(conn, user_code)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationFailed(Text("令牌名称须为 1–100 个字符",
                                    "token name must have 1–100 characters"),
                               details={"fields": {"name": [{"code": "length"}]}})
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationFailed(Text("令牌有效期必须为正", "token lifetime must be positive"),
                               details={"fields": {"expires_in": [{"code": "range"}]}})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = token[:len(TOKEN_PREFIX) + 6]
    now = ctx.now()
    expires_at = now + expires_in if expires_in is not None else None
    result = conn.execute(insert(api_token).values(
        user_code=user_code, name=name, token_hash=hash_token(token), prefix=prefix,
        created_at=now, expires_at=expires_at))
    token_id = result.inserted_primary_key[0]
    record_event(conn, ctx, "token.issue", detail={
        "token_id": token_id, "user": user_code, "name": name, "prefix": prefix,
        "expires_at": expires_at.isoformat() if expires_at is not None else None})
    return IssuedToken(token_id, user_code, name, token, prefix, expires_at)


def verify_token(conn: Connection, ctx: Context, token: str) -> User | None:
    """The active user owning a live ``token`` (and stamps ``last_used_at``);
    ``None`` for an unknown, expired or revoked token or an inactive user.

    Every verified use appends ``token.use`` (actor: the token's user) on
    ``conn``, so each request a token made is attributable by request id.
    """
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        return None
    now = ctx.now()
    row = conn.execute(
        select(api_token.c.id, api_token.c.prefix, api_token.c.expires_at,
               api_token.c.revoked_at, user.c.code, user.c.name_zh, user.c.name_en, user.c.active)
        .join(user, user.c.code == api_token.c.user_code)
        .where(api_token.c.token_hash == hash_token(token))).first()
    if (row is None or row.revoked_at is not None or not row.active
            or (row.expires_at is not None and row.expires_at <= now)):
        return None
    conn.execute(update(api_token).where(api_token.c.id == row.id).values(last_used_at=now))
    record_event(conn, replace(ctx, actor=row.code), "token.use",
                 detail={"token_id": row.id, "prefix": row.prefix})
    return User(row.code, Text(row.name_zh, row.name_en), bool(row.active))


def revoke_token(conn: Connection, ctx: Context, token_id: int) -> None:
    """Revoke token ``token_id`` (revoking twice keeps the first time);
    NotFound when there is no such token."""
    row = conn.execute(select(api_token.c.revoked_at, api_token.c.user_code)
                       .where(api_token.c.id == token_id)).first()
    if row is None:
        raise NotFound(Text(f"API 令牌 {token_id} 不存在", f"API token {token_id} not found"),
                       details={"token": token_id})
    if row.revoked_at is None:
        conn.execute(update(api_token).where(api_token.c.id == token_id)
                     .values(revoked_at=ctx.now()))
        record_event(conn, ctx, "token.revoke",
                     detail={"token_id": token_id, "user": row.user_code})


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a stored token (never the token itself)."""

    id: int
    user_code: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


_TOKEN_INFO = (api_token.c.id, api_token.c.user_code, api_token.c.name, api_token.c.prefix,
               api_token.c.created_at, api_token.c.expires_at, api_token.c.last_used_at,
               api_token.c.revoked_at)


def list_tokens(conn: Connection, user_code: str) -> list[TokenInfo]:
    """The tokens of ``user_code`` (revoked and expired ones too), newest first."""
    rows = conn.execute(select(*_TOKEN_INFO).where(api_token.c.user_code == user_code)
                        .order_by(api_token.c.id.desc()))
    return [TokenInfo(*row) for row in rows]


def get_token(conn: Connection, token_id: int) -> TokenInfo | None:
    """The stored token ``token_id``, or ``None``."""
    row = conn.execute(select(*_TOKEN_INFO).where(api_token.c.id == token_id)).first()
    return TokenInfo(*row) if row is not None else None


# ---------------------------------------------------------------- helpers

def _row(conn: Connection, code: str) -> Any:
    return conn.execute(select(user).where(user.c.code == code)).first()


def _require(conn: Connection, code: str) -> Any:
    row = _row(conn, code)
    if row is None:
        raise NotFound(Text(f"用户 {code} 不存在", f"user {code!r} not found"),
                       details={"user": code})
    return row


def _user(row: Any) -> User:
    return User(row.code, Text(row.name_zh, row.name_en), bool(row.active))


def _taken(code: str) -> Conflict:
    return Conflict(Text(f"账号 {code} 已存在", f"user code {code!r} already exists"),
                    details={"user": code})
