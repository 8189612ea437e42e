"""Firing manual transitions, the submit included (runtime layer, workflow engine).

Where a record stands (:func:`locate`): its open instance (running or
returned) if it has one; otherwise its latest instance, unless that one
ended back in a draft-category state (withdrawn, or moved back to draft) —
then, as for a record without any instance, the record is in the initial
state of the workflow that would be chosen for it now.

:func:`fire` locks the record row, locates it and fires the transition if it
leaves the current state and the actor may fire it (who, guard, comment —
see :mod:`.permissions`):

- a transition with ``chain`` (a submit) starts a new instance running that
  chain — Conflict ``instance_open`` while an instance with a chain is
  running; on a *returned* instance it is the initiator's resubmission;
- any other transition moves the state. On an open instance it cancels the
  open tasks and ends the instance (``cancelled`` / ``approved`` /
  ``rejected`` / ``closed`` by the target state's category) — except that an
  instance without a chain entering an ``in_progress`` state keeps running
  (a plain state machine); without an open instance a new instance row
  records the move (its initiator: the latest instance's, else the actor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import Connection

from yunying.metadata.workflow_spec import TransitionSpec, WorkflowSpec
from yunying.platform.context import Context
from yunying.platform.errors import Conflict, TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.workflow import chain
from yunying.runtime.workflow.actions_flow import resubmit
from yunying.runtime.workflow.approval import cancel
from yunying.runtime.workflow.effects import enter
from yunying.runtime.workflow.events import acted, notify
from yunying.runtime.workflow.inputs import choice_of
from yunying.runtime.workflow.instances import (
    OPEN_STATUSES, insert_instance, latest_instance, lock_instance, lock_record, save_instance,
)
from yunying.runtime.workflow.permissions import check_guard, require_comment, require_fire
from yunying.runtime.workflow.run import Run, Services, naive_now, trusted
from yunying.runtime.workflow.tasks import read_tasks

__all__ = ["Position", "locate", "fire", "manual_transitions"]

#: instance status after a transition that ends it, by the target's category
_ENDS = {"draft": "closed", "in_progress": "closed", "approved": "approved",
         "rejected": "rejected", "cancelled": "cancelled", "closed": "closed"}


@dataclass
class Position:
    """Where a record stands: its workflow spec, state, and open / latest instance."""

    spec: WorkflowSpec
    state: str
    open: dict[str, Any] | None
    latest: dict[str, Any] | None


def locate(services: Services, conn: Connection, ctx: Context, entity: str,
           record: Mapping[str, Any], *, lock: bool = False) -> Position:
    """The record's position (``lock``: lock its open instance)."""
    latest = latest_instance(conn, entity, record["id"])
    if latest is not None:
        spec = services.definitions.spec(conn, latest["definition_id"])
        if latest["status"] in OPEN_STATUSES:
            found = lock_instance(conn, latest["id"]) if lock else latest
            return Position(spec, found["state"], found, found)
        state = spec.state(latest["state"])
        if state is not None and state.category != "draft":
            return Position(spec, latest["state"], None, latest)
    spec = services.definitions.choose(conn, trusted(ctx), entity, record)
    return Position(spec, spec.initial, None, latest)


def manual_transitions(spec: WorkflowSpec, state: str) -> list[TransitionSpec]:
    return [t for t in spec.transitions if t.trigger == "manual" and state in t.sources]


def fire(services: Services, conn: Connection, ctx: Context, entity: str, record_id: Any,
         code: Any, *, comment: str | None = None, approvers: Any = None) -> Run:
    """Fire manual transition ``code`` on the record; returns the action's Run."""
    lock_record(conn, services.registry, entity, record_id)
    record = services.records.row(conn, trusted(ctx), entity, record_id)
    where = locate(services, conn, ctx, entity, record, lock=True)
    transition = _transition(where, code)
    tasks = read_tasks(conn, where.open["id"]) if where.open else []
    assignees = {t["assignee"] for t in tasks if t["status"] == "pending"}
    require_fire(conn, services, ctx, transition, entity, record, assignees)
    if transition.comment_required:
        require_comment(comment, transition.label, transition=transition.code)
    check_guard(conn, services, trusted(ctx), transition, entity, record)
    if transition.chain is not None:
        return _submit(services, conn, ctx, where, transition, record, tasks,
                       comment=comment, approvers=approvers)
    return _move(services, conn, ctx, where, transition, record, tasks, comment)


def _transition(where: Position, code: Any) -> TransitionSpec:
    found = where.spec.transition(code) if isinstance(code, str) else None
    if found is None or found.trigger != "manual":
        raise TransitionRejected(
            Text(f"流程 {where.spec.qualified_code} 没有可手动执行的流转 {code!s:.64}",
                 f"workflow {where.spec.qualified_code} has no manual transition {code!s:.64}"),
            code="unknown_transition", details={"transition": str(code)[:64]})
    running = where.open is not None and where.open["status"] == "running"
    if found.chain is not None and running and where.open["chain"] is not None:
        raise Conflict(Text("此记录已有进行中的审批", "this record already has an approval running"),
                       code="instance_open", details={
                           "instance_id": where.open["id"], "state": where.state,
                           "instance_status": where.open["status"]})
    if where.state not in found.sources:
        raise TransitionRejected(
            Text(f"当前状态 {where.state} 不能执行“{found.label.zh}”",
                 f"{found.label.en} is not possible in state {where.state}"),
            code="wrong_state", details={"transition": found.code, "state": where.state,
                                         "from": list(found.sources)})
    return found


def _new_instance(services: Services, conn: Connection, ctx: Context, where: Position,
                  record: Mapping[str, Any], chain_code: str | None, data: dict[str, Any],
                  initiator: str | None = None) -> Run:
    entity = where.spec.entity
    spec = services.registry.entity(entity)
    title_field = spec.title_field if spec is not None else None
    title = record.get(title_field) if title_field else None
    org_field = spec.org_dimension if spec is not None else None
    instance = insert_instance(
        conn, entity=entity, record_id=record["id"],
        definition_id=services.definitions.store(conn, ctx, where.spec),
        workflow=where.spec.qualified_code, chain=chain_code, state=where.state,
        status="running", initiator=initiator or ctx.actor,
        unit=record.get(org_field) if org_field else None,
        title=str(title)[:200] if title not in (None, "") else None,
        started_at=naive_now(ctx), ended_at=None, data=data)
    return Run(services, conn, ctx, instance, where.spec, [])


def _submit(services: Services, conn: Connection, ctx: Context, where: Position,
            transition: TransitionSpec, record: Mapping[str, Any], tasks: list,
            *, comment: str | None, approvers: Any) -> Run:
    if where.open is not None and where.open["status"] == "returned":
        run = Run(services, conn, ctx, where.open, where.spec, tasks)
        resubmit(run, comment=comment)
        return run
    chosen = choice_of(approvers, where.spec.chain(transition.chain or ""))
    if where.open is not None:  # a plain state machine hands over to the approval
        _close(Run(services, conn, ctx, where.open, where.spec, tasks), "closed")
    run = _new_instance(services, conn, ctx, where, record, transition.chain,
                        {"submit": transition.code, "chosen": chosen})
    acted(run, "submit", comment=comment, transition=transition.code)
    enter(run, transition)
    chain.start(run)
    return run


def _move(services: Services, conn: Connection, ctx: Context, where: Position,
          transition: TransitionSpec, record: Mapping[str, Any], tasks: list,
          comment: str | None) -> Run:
    if where.open is not None:
        run = Run(services, conn, ctx, where.open, where.spec, tasks)
    else:
        # the move belongs to the document: its initiator stays who started it
        latest = where.latest["initiator"] if where.latest is not None else None
        run = _new_instance(services, conn, ctx, where, record, None, {}, latest)
    pending = [t["assignee"] for t in run.tasks if t["status"] == "pending"]
    cancel(run, run.open_tasks())
    acted(run, "transition", comment=comment, transition=transition.code)
    enter(run, transition)
    category = (run.spec.state(transition.target) or run.spec.states[0]).category
    if category == "in_progress" and run.instance["chain"] is None:
        return run
    _close(run, _ENDS.get(category, "closed"))
    if run.instance["status"] == "cancelled":
        notify(run, pending + [run.instance["initiator"]], "cancelled")
    return run


def _close(run: Run, status: str) -> None:
    run.instance["status"] = status
    run.instance["ended_at"] = run.now
    run.data["joins"] = {}
    save_instance(run.conn, run.instance)
