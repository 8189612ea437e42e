"""Server-side browser sessions (platform layer).

A session is a row of ``yy_web_session``: the user, when it started, when it
was last seen, when it expires and from which address. The browser holds
only a random session id (:func:`start_session` returns it once); the table
stores its SHA-256, so a copy of the table signs nobody in.

A session is live while it is not revoked, its absolute expiry
(``SessionPolicy.lifetime`` after the start) has not passed, it has been
used within ``SessionPolicy.idle`` and its user is still active. Use slides
``last_seen_at`` forward at most once per ``SessionPolicy.touch_every`` so
that reads do not write on every request.

Sessions end at logout (:func:`end_session`) and all at once when a user's
password changes or the user is deactivated (:func:`end_user_sessions`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from yunying.platform.audit import record_event
from yunying.platform.context import Context
from yunying.platform.tables import user, web_session

__all__ = [
    "SessionPolicy", "DEFAULT_SESSION_POLICY", "LiveSession", "hash_session_id",
    "start_session", "find_session", "touch_session", "session_user",
    "end_session", "end_user_sessions",
]

_ID_BYTES = 32
_MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: ``lifetime`` from login at most, ``idle``
    without use at most; ``last_seen_at`` is written at most every
    ``touch_every``."""

    lifetime: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=2)
    touch_every: timedelta = timedelta(minutes=1)


DEFAULT_SESSION_POLICY = SessionPolicy()


@dataclass(frozen=True)
class LiveSession:
    """A live session found by :func:`find_session`."""

    user_code: str
    #: ``last_seen_at`` is older than ``touch_every``: call :func:`touch_session`.
    touch_due: bool


def hash_session_id(sid: str) -> str:
    """The stored form of a session id: its SHA-256, hex."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _well_formed(sid: Any) -> bool:
    return isinstance(sid, str) and 0 < len(sid) <= _MAX_ID_LENGTH and sid.isascii()


def start_session(conn: Connection, ctx: Context, user_code: str, *,
                  policy: SessionPolicy = DEFAULT_SESSION_POLICY) -> str:
    """Start a session for ``user_code`` from ``ctx.address``; returns the
    new random session id (shown to the caller only, stored hashed)."""
    now = ctx.now()
    _purge_dead(conn, user_code, now - policy.lifetime)
    sid = secrets.token_urlsafe(_ID_BYTES)
    conn.execute(insert(web_session).values(
        id_hash=hash_session_id(sid), user_code=user_code, created_at=now,
        last_seen_at=now, expires_at=now + policy.lifetime, revoked_at=None,
        address=ctx.address[:64] if ctx.address else None))
    return sid


def _purge_dead(conn: Connection, user_code: str, before: datetime) -> None:
    """Forget this user's sessions that ended before ``before`` (the table
    stays as small as the number of recent logins)."""
    conn.execute(delete(web_session).where(
        web_session.c.user_code == user_code,
        or_(web_session.c.expires_at < before,
            and_(web_session.c.revoked_at.is_not(None), web_session.c.revoked_at < before))))


def find_session(conn: Connection, ctx: Context, sid: str, *,
                 policy: SessionPolicy = DEFAULT_SESSION_POLICY) -> LiveSession | None:
    """The live session ``sid`` (read only), or ``None`` when it is unknown,
    revoked, expired, idle too long or its user is inactive or gone."""
    if not _well_formed(sid):
        return None
    now = ctx.now()
    row = conn.execute(
        select(web_session.c.user_code, web_session.c.last_seen_at,
               web_session.c.expires_at, web_session.c.revoked_at, user.c.active)
        .join(user, user.c.code == web_session.c.user_code)
        .where(web_session.c.id_hash == hash_session_id(sid))).first()
    if (row is None or row.revoked_at is not None or not row.active
            or row.expires_at <= now or row.last_seen_at + policy.idle <= now):
        return None
    return LiveSession(row.user_code, row.last_seen_at + policy.touch_every <= now)


def touch_session(conn: Connection, ctx: Context, sid: str) -> None:
    """Record that session ``sid`` was used now (slides its idle timeout)."""
    if _well_formed(sid):
        conn.execute(update(web_session)
                     .where(web_session.c.id_hash == hash_session_id(sid),
                            web_session.c.revoked_at.is_(None))
                     .values(last_seen_at=ctx.now()))


def session_user(conn: Connection, ctx: Context, sid: str, *,
                 policy: SessionPolicy = DEFAULT_SESSION_POLICY) -> str | None:
    """The user of the live session ``sid`` (touching it when due), else
    ``None``. Writes: use a write transaction. (The HTTP edge reads with
    :func:`find_session` and touches in a separate short write.)"""
    found = find_session(conn, ctx, sid, policy=policy)
    if found is None:
        return None
    if found.touch_due:
        touch_session(conn, ctx, sid)
    return found.user_code


def end_session(conn: Connection, ctx: Context, sid: str) -> bool:
    """Revoke session ``sid`` (logout) and audit it; ``False`` when there was
    no unrevoked session with that id."""
    if not _well_formed(sid):
        return False
    key = hash_session_id(sid)
    owner = conn.execute(select(web_session.c.user_code).where(
        web_session.c.id_hash == key, web_session.c.revoked_at.is_(None))).scalar()
    if owner is None:
        return False
    conn.execute(update(web_session).where(web_session.c.id_hash == key)
                 .values(revoked_at=ctx.now()))
    record_event(conn, ctx, "logout", detail={"user": owner})
    return True


def end_user_sessions(conn: Connection, ctx: Context, user_code: str) -> int:
    """Revoke every unrevoked session of ``user_code`` (password changed,
    user deactivated); the number revoked."""
    result = conn.execute(update(web_session).where(
        web_session.c.user_code == user_code, web_session.c.revoked_at.is_(None))
        .values(revoked_at=ctx.now()))
    return result.rowcount or 0
