"""In-app notifications and the hook for other channels (platform layer).

:class:`Notifier` writes ``yy_notification`` rows in the caller's
transaction, then hands the written rows to each :class:`Channel` it was
built with — the hook point for e-mail or WeCom (企业微信) delivery later. A
channel runs inside the same transaction: one that must not hold it up
should queue the rows (e.g. in its own outbox table) rather than send.
Reading and marking read are plain functions over the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Protocol, Sequence

from sqlalchemy import Connection, and_, func, insert, select, update

from yunying.platform.i18n import Text
from yunying.platform.tables import notification

__all__ = ["NOTIFICATION_KINDS", "Notice", "Channel", "Notifier", "list_notifications",
           "unread_count", "mark_read"]

#: every kind of notification the platform writes.
NOTIFICATION_KINDS = ("task", "cc", "remind", "approved", "rejected", "returned",
                      "withdrawn", "cancelled", "timeout", "transferred", "comment", "notice")
_TITLE = 300


@dataclass(frozen=True)
class Notice:
    """One notification as written (what a channel receives)."""

    id: int
    user: str
    kind: str
    title: Text
    entity: str | None
    record_id: int | None
    instance_id: int | None
    created_at: datetime


class Channel(Protocol):
    """Another way to reach people (e-mail, WeCom): gets every written notice."""

    def deliver(self, conn: Connection, notices: Sequence[Notice]) -> None: ...


class Notifier:
    """Writes notifications and passes them to the configured channels."""

    def __init__(self, channels: Iterable[Channel] = ()) -> None:
        self.channels = tuple(channels)

    def notify(self, conn: Connection, users: Iterable[str], kind: str, title: Text, *,
               at: datetime, entity: str | None = None, record_id: int | None = None,
               instance_id: int | None = None) -> list[Notice]:
        """One notification per distinct user (in the given order)."""
        if kind not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        notices: list[Notice] = []
        for user in dict.fromkeys(users):
            new_id = conn.execute(insert(notification).values(
                user_code=user, kind=kind, title_zh=title.zh[:_TITLE],
                title_en=title.en[:_TITLE], entity=entity, record_id=record_id,
                instance_id=instance_id, created_at=at)
                .returning(notification.c.id)).scalar_one()
            notices.append(Notice(new_id, user, kind, title, entity, record_id,
                                  instance_id, at))
        for channel in self.channels:
            channel.deliver(conn, notices)
        return notices


def list_notifications(conn: Connection, user: str, *, unread_only: bool = False,
                       before_id: int | None = None, limit: int = 50) -> list[dict]:
    """The user's notifications, newest first (keyset paging with ``before_id``)."""
    n = notification
    query = select(n).where(n.c.user_code == user)
    if unread_only:
        query = query.where(n.c.read_at.is_(None))
    if before_id is not None:
        query = query.where(n.c.id < before_id)
    rows = conn.execute(query.order_by(n.c.id.desc()).limit(limit)).mappings().all()
    return [{"id": r["id"], "kind": r["kind"],
             "title": {"zh-CN": r["title_zh"], "en": r["title_en"]},
             "entity": r["entity"], "record_id": r["record_id"],
             "instance_id": r["instance_id"], "created_at": r["created_at"],
             "read_at": r["read_at"]} for r in rows]


def unread_count(conn: Connection, user: str) -> int:
    n = notification
    return conn.execute(select(func.count()).select_from(n).where(
        n.c.user_code == user, n.c.read_at.is_(None))).scalar_one()


def mark_read(conn: Connection, user: str, at: datetime, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (``ids`` None = all); returns how many
    changed. Ids of other users' notifications are ignored."""
    n = notification
    where = and_(n.c.user_code == user, n.c.read_at.is_(None))
    if ids is not None:
        where = and_(where, n.c.id.in_(list(ids)))
    return conn.execute(update(n).where(where).values(read_at=at)).rowcount
