"""The inbox: a user's approval work as queries over the workflow rows
(runtime layer).

Four boxes, each one page of JSON-ready items plus the total:

- :func:`pending` (待办) — the user's tasks whose turn it is (``pending``);
- :func:`done` (已办) — tasks the user decided (approved, rejected, returned,
  transferred), newest decision first;
- :func:`initiated` (我发起的) — instances the user started, with the tasks
  now waiting for someone;
- :func:`cc` (抄送我) — copies sent to the user, read or unread.

:func:`counts` gives the numbers of every box (and the unread
notifications); :func:`mark_cc_read` marks one copy read. Task items carry
the task and a summary of its instance; labels of states and nodes come from
the workflow definition the instance runs with (``yy_wf_definition``), read
once per page. No engine is needed: these are plain reads, and they only
ever return rows of the user asking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import ColumnElement, Connection, Select, func, select, update

from yunying.metadata.workflow_spec import WorkflowSpec
from yunying.metadata.workflows import workflow_from_document
from yunying.platform.errors import InvalidQuery, NotFound
from yunying.platform.i18n import Text
from yunying.platform.notifications import unread_count
from yunying.platform.tables import wf_definition, wf_instance, wf_task

__all__ = ["InboxFilters", "InboxPage", "DECIDED", "MAX_PAGE_SIZE",
           "DEFAULT_PAGE_SIZE", "pending", "done", "initiated", "cc", "counts", "pending_count",
           "mark_cc_read", "instance_summary", "task_summary"]

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: task statuses that are a person's decision (the 已办 box).
DECIDED = ("approved", "rejected", "returned", "transferred")
_WORK_KINDS = ("approval", "added")
_TEXT_MAX = 200

_I, _T = wf_instance, wf_task


@dataclass(frozen=True)
class InboxFilters:
    """What one box shows. ``entity`` / ``workflow`` are qualified codes;
    ``status`` and ``state`` are the instance's; ``text`` is contained in the
    instance title (case-insensitive); ``since`` / ``until`` are days
    (inclusive) of the box's own moment — the task's arrival for pending and
    cc, the decision for done, the start for initiated; ``unread`` (cc only)
    keeps copies not yet read (True) or read (False)."""

    entity: str | None = None
    workflow: str | None = None
    status: str | None = None
    state: str | None = None
    text: str | None = None
    since: date | None = None
    until: date | None = None
    unread: bool | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE or self.page < 1:
            raise InvalidQuery(Text(f"页码须 ≥ 1，每页条数须为 1 到 {MAX_PAGE_SIZE}",
                                    f"page must be at least 1 and page_size 1 to "
                                    f"{MAX_PAGE_SIZE}"),
                               details={"page": self.page, "page_size": self.page_size})


@dataclass(frozen=True)
class InboxPage:
    """One page of a box: items (newest first) and the total matching."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "page": self.page,
                "page_size": self.page_size}


# ---------------------------------------------------------------- the boxes

def pending(conn: Connection, user: str, filters: InboxFilters = InboxFilters()) -> InboxPage:
    """The user's tasks waiting for a decision (待办), newest first."""
    where = [_T.c.assignee == user, _T.c.status == "pending", _T.c.kind.in_(_WORK_KINDS)]
    return _task_page(conn, where, filters, _T.c.created_at)


def done(conn: Connection, user: str, filters: InboxFilters = InboxFilters()) -> InboxPage:
    """Tasks the user decided (已办), latest decision first."""
    where = [_T.c.assignee == user, _T.c.status.in_(DECIDED), _T.c.kind.in_(_WORK_KINDS)]
    return _task_page(conn, where, filters, _T.c.acted_at)


def cc(conn: Connection, user: str, filters: InboxFilters = InboxFilters()) -> InboxPage:
    """Copies sent to the user (抄送我), newest first; ``filters.unread`` keeps
    the unread (True) or read (False) ones."""
    where = [_T.c.assignee == user, _T.c.kind == "cc"]
    if filters.unread is not None:
        where.append(_T.c.read_at.is_(None) if filters.unread else _T.c.read_at.is_not(None))
    return _task_page(conn, where, filters, _T.c.created_at)


def initiated(conn: Connection, user: str,
              filters: InboxFilters = InboxFilters()) -> InboxPage:
    """Instances the user started (我发起的), newest first, each with the
    tasks now pending (who holds it up)."""
    where = [_I.c.initiator == user, *_instance_filters(filters),
             *_day_range(_I.c.started_at, filters)]
    total = conn.execute(select(func.count()).select_from(_I).where(*where)).scalar_one()
    rows = conn.execute(_paged(select(_I).where(*where), filters, _I.c.started_at, _I.c.id)
                        ).mappings().all()
    labels = _Labels(conn, (r["definition_id"] for r in rows))
    waiting = _pending_of(conn, [r["id"] for r in rows])
    items = [{"instance": instance_summary(r, labels),
              "pending": [task_summary(task, r["definition_id"], labels)
                          for task in waiting.get(r["id"], [])]} for r in rows]
    return InboxPage(items, total, filters.page, filters.page_size)


def pending_count(conn: Connection, user: str) -> int:
    """The size of ``user``'s pending box (one query; what a page's badge shows)."""
    return conn.execute(select(func.count()).select_from(_T).where(
        _T.c.assignee == user, _T.c.status == "pending", _T.c.kind.in_(_WORK_KINDS))
    ).scalar_one()


def counts(conn: Connection, user: str) -> dict[str, int]:
    """The size of every box and the unread copies and notifications."""
    def count(table: Any, *where: ColumnElement[bool]) -> int:
        return conn.execute(select(func.count()).select_from(table).where(*where)
                            ).scalar_one()
    mine = _T.c.assignee == user
    return {
        "pending": pending_count(conn, user),
        "done": count(_T, mine, _T.c.status.in_(DECIDED), _T.c.kind.in_(_WORK_KINDS)),
        "initiated": count(_I, _I.c.initiator == user),
        "cc": count(_T, mine, _T.c.kind == "cc"),
        "cc_unread": count(_T, mine, _T.c.kind == "cc", _T.c.read_at.is_(None)),
        "notifications_unread": unread_count(conn, user),
    }


def mark_cc_read(conn: Connection, user: str, task_id: int, at: datetime) -> dict[str, Any]:
    """Mark the copy ``task_id`` sent to ``user`` read (once: a second call
    keeps the first moment); returns the item. NotFound when it is not a copy
    sent to this user."""
    query = select(_T.c.id).where(_T.c.id == task_id, _T.c.assignee == user,
                                  _T.c.kind == "cc")
    if conn.execute(query).first() is None:
        raise NotFound(Text(f"没有抄送给你的编号为 {task_id} 的抄送",
                            f"there is no copy {task_id} sent to you"),
                       code="cc_not_found", details={"task_id": task_id})
    conn.execute(update(_T).where(_T.c.id == task_id, _T.c.read_at.is_(None))
                 .values(read_at=at))
    return _task_items(conn, [task_id])[0]


# ---------------------------------------------------------------- item shapes

def instance_summary(row: Mapping[str, Any], labels: "_Labels") -> dict[str, Any]:
    """The inbox view of an instance row (JSON-ready)."""
    definition = row["definition_id"]
    label, category = labels.state(definition, row["state"])
    return {"id": row["id"], "entity": row["entity"], "record_id": row["record_id"],
            "title": row["title"], "workflow": row["workflow"], "state": row["state"],
            "state_label": label, "state_category": category, "status": row["status"],
            "initiator": row["initiator"], "started_at": _iso(row["started_at"]),
            "ended_at": _iso(row["ended_at"])}


def task_summary(row: Mapping[str, Any], definition: int,
                 labels: "_Labels") -> dict[str, Any]:
    """The inbox view of a task row (JSON-ready)."""
    return {"id": row["id"], "instance_id": row["instance_id"], "node": row["node"],
            "node_label": labels.node(definition, row["node"]), "round": row["round"],
            "seq": row["seq"], "kind": row["kind"], "assignee": row["assignee"],
            "delegated_from": row["delegated_from"], "added_by": row["added_by"],
            "status": row["status"], "created_at": _iso(row["created_at"]),
            "due_at": _iso(row["due_at"]), "acted_at": _iso(row["acted_at"]),
            "comment": row["comment"], "read_at": _iso(row["read_at"])}


# ---------------------------------------------------------------- queries

_INSTANCE_COLUMNS = tuple(c.label(f"i_{c.name}") for c in wf_instance.columns)


def _task_page(conn: Connection, where: list[ColumnElement[bool]], filters: InboxFilters,
               moment: Any) -> InboxPage:
    where = [*where, *_instance_filters(filters), *_day_range(moment, filters)]
    joined = _T.join(_I, _I.c.id == _T.c.instance_id)
    total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    ids = [r[0] for r in conn.execute(
        _paged(select(_T.c.id).select_from(joined).where(*where), filters, moment, _T.c.id))]
    return InboxPage(_task_items(conn, ids), total, filters.page, filters.page_size)


def _task_items(conn: Connection, ids: list[int]) -> list[dict[str, Any]]:
    """Task items (task + instance summary) in the order of ``ids``."""
    if not ids:
        return []
    rows = conn.execute(select(_T, *_INSTANCE_COLUMNS).join(_I, _I.c.id == _T.c.instance_id)
                        .where(_T.c.id.in_(ids))).mappings().all()
    labels = _Labels(conn, (r["i_definition_id"] for r in rows))
    by_id = {}
    for r in rows:
        instance = {c.name: r[f"i_{c.name}"] for c in wf_instance.columns}
        by_id[r["id"]] = {"task": task_summary(r, instance["definition_id"], labels),
                          "instance": instance_summary(instance, labels)}
    return [by_id[task_id] for task_id in ids]


def _pending_of(conn: Connection, instance_ids: list[int]) -> dict[int, list[Any]]:
    if not instance_ids:
        return {}
    rows = conn.execute(select(_T).where(_T.c.instance_id.in_(instance_ids),
                                        _T.c.status == "pending",
                                        _T.c.kind.in_(_WORK_KINDS))
                        .order_by(_T.c.instance_id, _T.c.id)).mappings().all()
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row["instance_id"], []).append(row)
    return found


def _instance_filters(filters: InboxFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    for column, value in ((_I.c.entity, filters.entity), (_I.c.workflow, filters.workflow),
                          (_I.c.status, filters.status), (_I.c.state, filters.state)):
        if value is not None:
            where.append(column == value)
    if filters.text:
        needle = filters.text[:_TEXT_MAX].lower()
        where.append(func.lower(_I.c.title).contains(needle, autoescape=True))
    return where


def _day_range(moment: Any, filters: InboxFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.since is not None:
        where.append(moment >= datetime.combine(filters.since, time.min))
    if filters.until is not None and filters.until < date.max:
        where.append(moment < datetime.combine(filters.until + timedelta(days=1), time.min))
    return where


def _paged(query: Select, filters: InboxFilters, moment: Any, key: Any) -> Select:
    offset = (filters.page - 1) * filters.page_size
    return query.order_by(moment.desc(), key.desc()).limit(filters.page_size).offset(offset)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------- labels

class _Labels:
    """State and node labels of the definitions a page needs: each stored
    definition is rebuilt into its spec once per page."""

    def __init__(self, conn: Connection, definition_ids: Iterable[int]) -> None:
        self._specs: dict[int, WorkflowSpec] = {}
        wanted = sorted(set(definition_ids))
        if not wanted:
            return
        rows = conn.execute(select(wf_definition.c.id, wf_definition.c.document)
                            .where(wf_definition.c.id.in_(wanted)))
        for definition_id, text in rows:
            stored = json.loads(text)
            self._specs[definition_id] = workflow_from_document(stored["package"],
                                                                stored["document"])

    def state(self, definition: int, code: str) -> tuple[dict | None, str | None]:
        spec = self._specs.get(definition)
        state = spec.state(code) if spec is not None else None
        if state is None:
            return None, None
        return state.label.as_dict(), state.category

    def node(self, definition: int, code: str) -> dict | None:
        spec = self._specs.get(definition)
        for chain in spec.chains if spec is not None else ():
            node = chain.node(code)
            if node is not None:
                return node.label.as_dict()
        return None
