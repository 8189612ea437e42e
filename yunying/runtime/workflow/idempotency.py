"""Idempotent workflow actions: a request id acts once (runtime layer, workflow engine).

A client may send a key with an action (the HTTP ``Idempotency-Key``
header). Keys are scoped per actor: the stored request id is
``<actor>:<key>`` (a SHA-256 of it when that would not fit the column).

In the action's own transaction, *before* acting, :func:`claim` inserts the
``yy_wf_request`` row (inside a savepoint). Three cases:

- a row is already there (committed by an earlier try): its stored response
  is returned and nothing acts;
- a concurrent try holds the same id uncommitted: PostgreSQL makes this
  insert wait for it; when it commits the insert fails on the primary key,
  the savepoint rolls back (nothing else was written yet) and the committed
  response is returned. On SQLite writers are serialised, so the first case
  applies;
- otherwise the claim holds: the action runs and :func:`finish` stores its
  response in the same transaction. If the action fails the transaction
  rolls back and takes the claim with it, so a retry acts again.

A key names one request: reused for another action or another target (a
different task, instance, or record and transition) it is refused (Conflict
``idempotency_key_reused``). The row's ``action`` column holds the action
and a short digest of its target (``approve@3f2a…``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from yunying.platform.errors import Conflict, ValidationFailed
from yunying.platform.i18n import Text
from yunying.platform.tables import wf_request

__all__ = ["request_id", "fingerprint", "claim", "finish", "MAX_KEY"]

MAX_KEY = 200
_COLUMN = 128


def request_id(actor: str, key: Any) -> str:
    """The stored id of ``key`` sent by ``actor``; ValidationFailed for a bad key."""
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY or "\x00" in key:
        raise ValidationFailed(
            Text(f"请求标识（Idempotency-Key）应为 1–{MAX_KEY} 个字符的文本",
                 f"the request key (Idempotency-Key) must be text of 1–{MAX_KEY} characters"),
            code="invalid_key", details={"fields": {"key": [{"code": "invalid_key"}]}})
    plain = f"{actor}:{key}"
    if len(plain) <= _COLUMN:
        return plain
    return "sha256:" + hashlib.sha256(plain.encode("utf-8", "replace")).hexdigest()


def fingerprint(action: str, target: str) -> str:
    """What a key is claimed for: the action and a digest of its target."""
    return f"{action}@{hashlib.sha256(target.encode('utf-8', 'replace')).hexdigest()[:12]}"


def claim(conn: Connection, rid: str, actor: str, action: str,
          at: datetime) -> dict[str, Any] | None:
    """Claim ``rid`` for ``action`` (a :func:`fingerprint`): None when this try
    acts, else the stored response of the try that did."""
    stored = _stored(conn, rid, action)
    if stored is not None:
        return stored
    try:
        with conn.begin_nested():
            conn.execute(insert(wf_request).values(
                request_id=rid, actor=actor[:64], action=action, instance_id=None,
                response={"pending": True}, at=at))
    except IntegrityError:
        stored = _stored(conn, rid, action)
        if stored is None:  # pragma: no cover - the row vanished: act afresh is wrong too
            raise
        return stored
    return None


def finish(conn: Connection, rid: str, instance_id: int | None, response: Any) -> None:
    """Store the response of the action that claimed ``rid``."""
    conn.execute(update(wf_request).where(wf_request.c.request_id == rid)
                 .values(instance_id=instance_id, response=response))


def _stored(conn: Connection, rid: str, action: str) -> Any:
    row = conn.execute(select(wf_request.c.action, wf_request.c.response)
                       .where(wf_request.c.request_id == rid)).first()
    if row is None:
        return None
    if row.action != action:
        used, wanted = row.action.partition("@")[0], action.partition("@")[0]
        raise Conflict(Text(f"此请求标识已用于另一请求（{used}）",
                            f"this request key was already used for another request ({used})"),
                       code="idempotency_key_reused",
                       details={"action": used, "requested": wanted})
    return row.response
