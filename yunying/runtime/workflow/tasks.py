"""Task rows: one person's turn at one activation of one node (runtime layer,
workflow engine).

A task (``yy_wf_task``) has a ``kind`` — ``approval`` (a seat of an approval
node), ``added`` (加签, ``added_by`` = the task that added it) or ``cc`` —
and a ``status``: ``waiting`` (not yet its turn), ``pending`` (to act),
``approved``, ``rejected``, ``returned``, ``transferred``, ``cancelled``,
``skipped``, ``auto`` (approved automatically) or ``cc``.

The engine reads every task of an instance once, right after locking it,
and keeps them as dicts in the action's :class:`~.run.Run`; the functions
here write a change to the row and to that dict together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Connection, insert, select, update

from yunying.platform.tables import wf_task

__all__ = ["OPEN", "DECIDED_BY_PERSON", "read_tasks", "read_task", "insert_task", "set_status",
           "open_of", "round_of", "due_at"]

#: statuses of a task still to act
OPEN = ("pending", "waiting")
#: what a person decided (an approval that counts against a withdrawal)
DECIDED_BY_PERSON = ("approved",)
_MAX_ID = 2 ** 63 - 1


def read_tasks(conn: Connection, instance_id: int) -> list[dict[str, Any]]:
    """Every task of an instance, oldest first."""
    rows = conn.execute(select(wf_task).where(wf_task.c.instance_id == instance_id)
                        .order_by(wf_task.c.id))
    return [dict(r._mapping) for r in rows]


def read_task(conn: Connection, task_id: Any) -> dict[str, Any] | None:
    if not isinstance(task_id, int) or isinstance(task_id, bool) or not 1 <= task_id <= _MAX_ID:
        return None
    row = conn.execute(select(wf_task).where(wf_task.c.id == task_id)).first()
    return dict(row._mapping) if row is not None else None


def insert_task(conn: Connection, **values: Any) -> dict[str, Any]:
    """A new task row; returns it as a dict (every column present)."""
    columns = {c.name: None for c in wf_task.columns if c.name != "id"}
    columns.update(values)
    columns["id"] = conn.execute(insert(wf_task).values(**values)
                                 .returning(wf_task.c.id)).scalar_one()
    return columns


def set_status(conn: Connection, task: dict[str, Any], status: str, *,
               at: datetime | None = None, comment: str | None = None,
               **more: Any) -> None:
    """Change a task's status (``at`` = when it acted; ``more``: other columns)."""
    values: dict[str, Any] = {"status": status, **more}
    if at is not None:
        values["acted_at"] = at
    if comment is not None:
        values["comment"] = comment
    conn.execute(update(wf_task).where(wf_task.c.id == task["id"]).values(**values))
    task.update(values)


def open_of(tasks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks still to act (pending or waiting)."""
    return [t for t in tasks if t["status"] in OPEN]


def round_of(tasks: Iterable[dict[str, Any]], node: str, round_: int) -> list[dict[str, Any]]:
    """The approval and added tasks of one activation of ``node``."""
    return [t for t in tasks if t["node"] == node and t["round"] == round_
            and t["kind"] != "cc"]


def due_at(created: datetime, hours: int | None) -> datetime | None:
    """When a task created at ``created`` times out (None: never)."""
    return created + timedelta(hours=hours) if hours else None
