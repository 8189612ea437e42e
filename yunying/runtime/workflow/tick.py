"""Timeouts: the periodic tick (runtime layer, workflow engine).

``yunying workflow tick`` (cron) calls :func:`tick`. It finds the pending
tasks of running instances whose ``due_at`` has passed and applies their
node's timeout action, acting as the explicit principal ``system``:

- ``remind`` — once per task: ``reminded_at`` set, the assignee notified
  (kind ``timeout``);
- ``approve`` / ``reject`` — the task is decided as if by its assignee
  (timeline actor ``system``, detail ``{"timeout": true}``; a required
  reject comment does not apply), and the chain walks on.

Each task is handled under its instance's lock and re-checked there, so a
tick running twice, or next to a person acting, never acts twice: a second
run finds nothing left to do. Each task runs in its own savepoint: a task
whose consequences are refused (say, the chain's final posting does not
balance) is rolled back completely and reported under ``failed`` while the
others go on — one broken document must not stop every timeout.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from sqlalchemy import Connection, select

from yunying.platform.context import Context
from yunying.platform.errors import YunyingError
from yunying.platform.tables import wf_instance, wf_task
from yunying.runtime.workflow import chain
from yunying.runtime.workflow.events import acted, notify
from yunying.runtime.workflow.instances import lock_instance, save_instance
from yunying.runtime.workflow.run import Run, Services, naive_now
from yunying.runtime.workflow.tasks import read_tasks, set_status

__all__ = ["tick", "SYSTEM_ACTOR"]

SYSTEM_ACTOR = "system"


def tick(services: Services, conn: Connection, ctx: Context) -> dict[str, Any]:
    """Apply every due timeout; ``{"reminded", "approved", "rejected", "failed"}``."""
    system = replace(ctx, actor=SYSTEM_ACTOR, grants=None)
    now = naive_now(ctx)
    t, i = wf_task.c, wf_instance.c
    due = conn.execute(select(t.id, t.instance_id).join(wf_instance, i.id == t.instance_id)
                       .where(t.status == "pending", t.due_at <= now, i.status == "running")
                       .order_by(t.id)).all()
    counts: dict[str, Any] = {"reminded": 0, "approved": 0, "rejected": 0, "failed": []}
    for task_id, instance_id in due:
        try:
            with conn.begin_nested():
                done = _one(services, conn, system, task_id, instance_id)
        except YunyingError as exc:
            counts["failed"].append({"task_id": task_id, "instance_id": instance_id,
                                     "code": exc.code, "message": exc.message.as_dict()})
            continue
        if done is not None:
            counts[done] += 1
    return counts


def _one(services: Services, conn: Connection, ctx: Context, task_id: int,
         instance_id: int) -> str | None:
    instance = lock_instance(conn, instance_id)
    run = Run(services, conn, ctx, instance, services.definitions.spec(
        conn, instance["definition_id"]), read_tasks(conn, instance_id))
    task = run.task(task_id)
    if (task is None or not run.running or task["status"] != "pending"
            or task["due_at"] is None or task["due_at"] > run.now):
        return None
    action = run.node(task["node"]).policy.timeout_action
    done = _ACTIONS[action](run, task)
    save_instance(conn, run.instance)
    return done


def _remind(run: Run, task: dict[str, Any]) -> str | None:
    if task["reminded_at"] is not None:
        return None
    set_status(run.conn, task, "pending", reminded_at=run.now)
    acted(run, "timeout", node=task["node"], task=task["id"],
          detail={"timeout": True, "action": "remind"})
    notify(run, [task["assignee"]], "timeout")
    return "reminded"


def _decide(status: str, action: str) -> Callable[[Run, dict[str, Any]], str]:
    def run_it(run: Run, task: dict[str, Any]) -> str:
        set_status(run.conn, task, status, at=run.now)
        acted(run, action, node=task["node"], task=task["id"],
              detail={"timeout": True, "action": action})
        chain.settle(run, run.node(task["node"]), task["round"])
        return status
    return run_it


_ACTIONS: Mapping[str, Callable[[Run, dict[str, Any]], str | None]] = {
    "remind": _remind, "approve": _decide("approved", "approve"),
    "reject": _decide("rejected", "reject"),
}
