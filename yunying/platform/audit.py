"""The audit trail: append-only events written in the caller's transaction
(platform layer).

Every record change, login, token use, role or policy change and package
install appends one row to ``yy_audit_event`` on the same connection as the
change itself, so a rolled-back change leaves no audit row and a failed
audit write rolls the change back: no audit row, no change.

Append-only: this module offers no way to change or remove an event, and
migration 0007 installs database triggers that refuse ``UPDATE`` and
``DELETE`` on the table (SQLite and PostgreSQL alike).

Reading: :func:`query_events` (the admin query, newest first, keyset paging
by id) and :func:`history` (every event of one record, oldest first). Events
come back as plain dicts; ``changes`` and ``detail`` are the JSON stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Protocol

from sqlalchemy import Connection, Select, insert, select

from yunying.platform.context import Context
from yunying.platform.errors import InvalidQuery
from yunying.platform.i18n import Text
from yunying.platform.tables import audit_event

__all__ = ["EVENT_KINDS", "MAX_LIMIT", "DEFAULT_LIMIT", "record_event", "query_events",
           "history", "audit_install"]

#: every kind of event the platform writes.
EVENT_KINDS = (
    "record.create", "record.update", "record.delete",
    "login.success", "login.failure", "logout", "token.use", "token.issue",
    "token.revoke", "user.create", "user.password", "user.active",
    "role.grant", "role.revoke", "policy.sync", "package.install", "org.change",
    "workflow.action", "workflow.delegation", "journal.post",
)

#: the most events one query returns.
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
_MAX_ID = 2 ** 63 - 1
_MAX_RECORD_ID = 2 ** 31 - 1
#: column lengths of the text filters (longer values cannot match anything).
_TEXT_LIMITS = {"actor": 64, "entity": 128}


def record_event(conn: Connection, ctx: Context, kind: str, *, entity: str | None = None,
                 record_id: int | None = None, changes: Mapping[str, Any] | None = None,
                 detail: Mapping[str, Any] | None = None) -> None:
    """Append one audit event (``changes``: field → [old, new], JSON-ready values)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown audit event kind {kind!r}")
    conn.execute(insert(audit_event).values(
        at=ctx.now(), kind=kind, actor=ctx.actor[:64],
        address=ctx.address[:64] if ctx.address is not None else None,
        request_id=ctx.request_id[:128], entity=entity, record_id=record_id,
        changes=dict(changes) if changes is not None else None,
        detail=dict(detail) if detail is not None else None))


# ---------------------------------------------------------------- reading

def query_events(conn: Connection, *, kind: str | None = None, actor: str | None = None,
                 entity: str | None = None, record_id: int | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 limit: int = DEFAULT_LIMIT, before_id: int | None = None) -> list[dict]:
    """Events matching every given filter, newest first, at most ``limit``.

    ``since`` is inclusive, ``until`` exclusive (naive UTC). Page on with
    ``before_id`` = the id of the last event of the previous page. Raises
    InvalidQuery naming the parameter for a value no event could have.
    """
    _check_kind(kind)
    for name, value in (("actor", actor), ("entity", entity)):
        _check_text(name, value)
    _check_int("record_id", record_id, _MAX_RECORD_ID)
    _check_int("before_id", before_id, _MAX_ID)
    _check_int("limit", limit, MAX_LIMIT)
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and not isinstance(moment, datetime):
            raise _invalid(name, moment, Text("应为日期时间", "must be a date and time"))
    stmt = _select()
    equal = {"kind": kind, "actor": actor, "entity": entity, "record_id": record_id}
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(audit_event.c[column] == value)
    if since is not None:
        stmt = stmt.where(audit_event.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_event.c.at < until)
    if before_id is not None:
        stmt = stmt.where(audit_event.c.id < before_id)
    stmt = stmt.order_by(audit_event.c.id.desc()).limit(limit)
    return [_event(row) for row in conn.execute(stmt)]


def history(conn: Connection, entity: str, record_id: int) -> list[dict]:
    """Every event of one record (create, updates, delete), oldest first."""
    _check_text("entity", entity)
    _check_int("record_id", record_id, _MAX_RECORD_ID)
    stmt = (_select().where(audit_event.c.entity == entity,
                            audit_event.c.record_id == record_id)
            .order_by(audit_event.c.id))
    return [_event(row) for row in conn.execute(stmt)]


def _select() -> Select:
    return select(*audit_event.c)


def _event(row: Any) -> dict:
    return dict(row._mapping)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in EVENT_KINDS:
        raise _invalid("kind", kind, Text("应为以下之一：" + "、".join(EVENT_KINDS),
                                          "must be one of " + ", ".join(EVENT_KINDS)))


def _check_text(name: str, value: str | None) -> None:
    if value is None:
        return
    longest = _TEXT_LIMITS[name]
    if not isinstance(value, str) or not value or len(value) > longest \
            or "\x00" in value or not _encodable(value):
        raise _invalid(name, value, Text(f"应为 1–{longest} 个字符的文本",
                                         f"must be text of 1–{longest} characters"))


def _check_int(name: str, value: int | None, largest: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= largest:
        raise _invalid(name, value, Text(f"应为 1 到 {largest} 之间的整数",
                                         f"must be a whole number from 1 to {largest}"))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _shown(value: Any) -> str:
    """A hostile value, short and printable, for an error message."""
    text = value if isinstance(value, str) else repr(value)
    return text[:50].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")


def _invalid(name: str, value: Any, why: Text) -> InvalidQuery:
    shown = _shown(value)
    return InvalidQuery(Text(f"审计查询参数 {name} 有误（{shown!r}）：{why.zh}",
                             f"audit query parameter {name} is invalid ({shown!r}): {why.en}"),
                        details={"parameter": name, "value": shown})


# ---------------------------------------------------------------- package installs

class _Package(Protocol):
    code: str
    version: str


def audit_install(conn: Connection, ctx: Context, packages: Iterable[_Package],
                  actions: Mapping[str, str], before: Mapping[str, str]) -> int:
    """One ``package.install`` event per installed, upgraded or reinstalled
    package: ``detail`` = {package, action, from, to}. ``before`` maps package
    code → the version installed before (absent for a first install).
    Returns the number of events written."""
    count = 0
    for package in packages:
        record_event(conn, ctx, "package.install", detail={
            "package": package.code, "action": actions.get(package.code, "install"),
            "from": before.get(package.code), "to": package.version})
        count += 1
    return count
