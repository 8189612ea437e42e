"""Reading a record's workflow: its status and who may see an instance
(runtime layer, workflow engine).

:func:`status_of` answers "where is this document and what can I do with
it": the workflow and state, the latest instance with its tasks, the manual
transitions the caller may fire from here (with whether the guard holds
now), and the caller's own pending tasks. :func:`participant` decides who
may read an instance: a trusted caller or the superuser, its initiator,
anyone with a task in it, or anyone who may read the record.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Connection, select

from yunying.platform.context import Context
from yunying.platform.errors import NotFound, PermissionDenied, TransitionRejected
from yunying.platform.tables import wf_instance, wf_task
from yunying.runtime.access.policy import unrestricted
from yunying.runtime.workflow.definitions import workflows_of
from yunying.runtime.workflow.permissions import may_fire
from yunying.runtime.workflow.run import Services, trusted
from yunying.runtime.workflow.tasks import read_tasks
from yunying.runtime.workflow.transitions import Position, locate, manual_transitions
from yunying.runtime.workflow.views import instance_dict, task_dict, transition_dict

__all__ = ["status_of", "participant", "takes_part"]


def takes_part(conn: Connection, user: str, entity: str, record_id: int) -> bool:
    """Whether ``user`` started an instance of the record or has a task in one."""
    i, t = wf_instance.c, wf_task.c
    started = select(i.id).where(i.entity == entity, i.record_id == record_id,
                                 i.initiator == user)
    tasked = (select(t.id).join(wf_instance, i.id == t.instance_id)
              .where(i.entity == entity, i.record_id == record_id, t.assignee == user))
    return (conn.execute(started.limit(1)).first() is not None
            or conn.execute(tasked.limit(1)).first() is not None)


def _may_read(services: Services, conn: Connection, ctx: Context, entity: str,
              record_id: int) -> bool:
    try:
        services.records.row(conn, ctx, entity, record_id)
    except (NotFound, PermissionDenied):
        return False
    return True


def participant(services: Services, conn: Connection, ctx: Context,
                instance: Mapping[str, Any]) -> bool:
    """Whether ``ctx`` may read ``instance`` (see the module docstring)."""
    if unrestricted(ctx.grants) or ctx.actor == instance["initiator"]:
        return True
    t = wf_task.c
    if conn.execute(select(t.id).where(t.instance_id == instance["id"], t.assignee == ctx.actor)
                    .limit(1)).first() is not None:
        return True
    return _may_read(services, conn, ctx, instance["entity"], instance["record_id"])


def status_of(services: Services, conn: Connection, ctx: Context, entity: str,
              record_id: int) -> dict[str, Any]:
    """The record's workflow status for ``ctx``; NotFound when ``ctx`` may not read it."""
    record = services.records.row(conn, trusted(ctx), entity, record_id)
    if not unrestricted(ctx.grants) and not _may_read(services, conn, ctx, entity, record_id) \
            and not takes_part(conn, ctx.actor, entity, record_id):
        services.records.row(conn, ctx, entity, record_id)  # raises its own NotFound / 403
    base: dict[str, Any] = {"entity": entity, "record_id": record["id"], "workflow": None,
                            "state": None, "instance": None, "tasks": [], "transitions": [],
                            "my_tasks": []}
    if not workflows_of(services.registry, entity):
        return base
    try:
        where = locate(services, conn, ctx, entity, record)
    except TransitionRejected:  # no workflow applies to the record as it is
        return base
    return {**base, **_position(services, conn, ctx, where, record)}


def _position(services: Services, conn: Connection, ctx: Context, where: Position,
              record: Mapping[str, Any]) -> dict[str, Any]:
    spec = where.spec
    state = spec.state(where.state)
    instance = where.open or where.latest
    tasks = read_tasks(conn, instance["id"]) if instance is not None else []
    shown = services.definitions.spec(conn, instance["definition_id"]) if instance else spec
    chain = shown.chain(instance["chain"] or "") if instance else None
    assignees = {t["assignee"] for t in tasks if t["status"] == "pending"} \
        if where.open is not None else set()
    allowed = [t for t in manual_transitions(spec, where.state)
               if may_fire(conn, services, ctx, t, spec.entity, record, assignees)]
    return {
        "workflow": {"code": spec.qualified_code, "label": spec.label.as_dict()},
        "state": {"code": where.state,
                  "label": state.label.as_dict() if state is not None else None,
                  "category": state.category if state is not None else None},
        "instance": instance_dict(instance, shown, tasks) if instance is not None else None,
        "tasks": [task_dict(t, chain) for t in tasks],
        "transitions": [transition_dict(t, guard_ok=_guard_ok(services, conn, ctx, spec.entity, t,
                                                                 record))
                        for t in allowed],
        "my_tasks": [task_dict(t, chain) for t in tasks if t["status"] == "pending"
                     and t["assignee"] == ctx.actor and where.open is not None],
    }



def _guard_ok(services: Services, conn: Connection, ctx: Context, entity: str,
              transition: Any, record: Mapping[str, Any]) -> bool:
    if transition.guard is None:
        return True
    try:
        return services.formulas.holds(conn, trusted(ctx), entity, record, transition.guard)
    except TransitionRejected:
        return False
