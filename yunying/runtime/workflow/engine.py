"""The workflow engine's facade (runtime layer, workflow engine).

:class:`WorkflowEngine` is built once per registry (``Runtime.workflow``)
with the record service and a notifier. Every method runs inside the
caller's write transaction (``with db.begin(write=True) as conn``) and never
commits; a refusal raises and the caller's rollback leaves nothing behind.
``ctx.grants`` None is a trusted caller.

Each action: claim the idempotency key if one was sent (a retry returns the
stored response without acting) → lock (the record row for :meth:`fire`, the
instance row otherwise) → re-read the tasks → check → act (timeline, audit,
notifications) → store the instance → return :func:`~.views.instance_view`
(also stored for the key).

Errors: NotFound (no such record / task / instance, or no workflow);
PermissionDenied (not the task's assignee, not the initiator, not allowed to
fire, an added signer adding more); Conflict ``task_not_pending`` (details:
task_id, instance_id, status, task_status, state, instance_status),
``instance_open``, ``idempotency_key_reused``; TransitionRejected
(``guard_failed``, ``comment_required``, ``no_approver``, ``already_approved``,
``wrong_state``, ``unknown_transition``, ``return_not_allowed``,
``invalid_return_target``, ``wrong_instance_status``, ``already_assignee``,
``formula_error``, posting refusals); ValidationFailed for malformed input.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Connection

from yunying.platform.context import Context
from yunying.platform.errors import Conflict, NotFound, PermissionDenied
from yunying.platform.i18n import Text
from yunying.platform.notifications import Notifier
from yunying.runtime.posting import Postings
from yunying.runtime.records import RecordService
from yunying.runtime.registry import Registry
from yunying.runtime.workflow import actions, actions_flow, actions_task, transitions
from yunying.runtime.workflow.definitions import Definitions
from yunying.runtime.workflow.formulas import RecordFormulas
from yunying.runtime.workflow.idempotency import claim, fingerprint, finish, request_id
from yunying.runtime.workflow.inputs import code_of, comment_of, one_of, text_of, users_of
from yunying.runtime.workflow.instances import lock_instance, read_instance, save_instance
from yunying.runtime.workflow.queries import participant, status_of
from yunying.runtime.workflow.run import Run, Services, naive_now
from yunying.runtime.workflow.tasks import read_task, read_tasks
from yunying.runtime.workflow.tick import tick as run_tick
from yunying.runtime.workflow.views import instance_view, timeline_view

__all__ = ["WorkflowEngine"]

_Work = Callable[[], Run]


class WorkflowEngine:
    """States, approval chains and their actions over one registry."""

    def __init__(self, registry: Registry, records: RecordService,
                 notifier: Notifier | None = None) -> None:
        formulas = RecordFormulas(registry)
        self.services = Services(registry, records, notifier or Notifier(),
                                 Definitions(registry, formulas), formulas, Postings(registry))

    # -- reading -------------------------------------------------------------

    def status(self, conn: Connection, ctx: Context, entity: str, record_id: int) -> dict:
        """Where the record stands and what ``ctx`` may do (see queries.status_of)."""
        return status_of(self.services, conn, ctx, entity, record_id)

    def instance(self, conn: Connection, ctx: Context, instance_id: int) -> dict:
        """The instance view; NotFound unless ``ctx`` takes part or may read the record."""
        instance = self._readable(conn, ctx, instance_id)
        spec = self.services.definitions.spec(conn, instance["definition_id"])
        return instance_view(instance, spec, read_tasks(conn, instance_id))

    def timeline(self, conn: Connection, ctx: Context, instance_id: int) -> list[dict]:
        """Every step of the instance, oldest first."""
        instance = self._readable(conn, ctx, instance_id)
        spec = self.services.definitions.spec(conn, instance["definition_id"])
        return timeline_view(conn, instance, spec)

    # -- firing transitions ----------------------------------------------------

    def fire(self, conn: Connection, ctx: Context, entity: str, record_id: int,
             transition: str, *, comment: str | None = None, approvers: Any = None,
             key: str | None = None) -> dict:
        """Fire a manual transition (a submit when it has a chain); ``approvers``
        = the initiator's choice ``{node: [users]}``."""
        text = comment_of(comment)
        target = f"{entity}:{record_id}:{transition}"
        return self._act(conn, ctx, "fire", target, key, lambda: transitions.fire(
            self.services, conn, ctx, entity, record_id, transition, comment=text,
            approvers=approvers))

    # -- task actions ------------------------------------------------------------

    def approve(self, conn: Connection, ctx: Context, task_id: int, *,
                comment: str | None = None, next_approvers: Any = (),
                key: str | None = None) -> dict:
        text = comment_of(comment)
        chosen = users_of(next_approvers or [], "next_approvers", required=False)
        return self._on_task(conn, ctx, "approve", task_id, key, lambda run, task:
                             actions.approve(run, task, comment=text, next_approvers=chosen))

    def reject(self, conn: Connection, ctx: Context, task_id: int, *,
               comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        return self._on_task(conn, ctx, "reject", task_id, key,
                             lambda run, task: actions.reject(run, task, comment=text))

    def send_back(self, conn: Connection, ctx: Context, task_id: int, *, to: str = "initiator",
                  comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        target = code_of(to, "to")
        return self._on_task(conn, ctx, "send_back", task_id, key,
                             lambda run, task: actions.send_back(run, task, to=target,
                                                               comment=text))

    def transfer(self, conn: Connection, ctx: Context, task_id: int, *, to_user: str,
                 comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        target = users_of([to_user], "to_user")[0]
        return self._on_task(conn, ctx, "transfer", task_id, key, lambda run, task:
                             actions_task.transfer(run, task, to_user=target, comment=text))

    def add_signers(self, conn: Connection, ctx: Context, task_id: int, *, users: Any,
                    position: str = "before", comment: str | None = None,
                    key: str | None = None) -> dict:
        text = comment_of(comment)
        added = users_of(users, "users")
        where = one_of(position, "position", actions_task.POSITIONS)
        return self._on_task(conn, ctx, "add_signers", task_id, key, lambda run, task:
                             actions_task.add_signers(run, task, users=added, position=where,
                                                      comment=text))

    # -- instance actions ----------------------------------------------------------

    def resubmit(self, conn: Connection, ctx: Context, instance_id: int, *,
                 comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        return self._on_instance(conn, ctx, "resubmit", instance_id, key,
                                 lambda run: actions_flow.resubmit(run, comment=text))

    def withdraw(self, conn: Connection, ctx: Context, instance_id: int, *,
                 comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        return self._on_instance(conn, ctx, "withdraw", instance_id, key,
                                 lambda run: actions_flow.withdraw(run, comment=text))

    def remind(self, conn: Connection, ctx: Context, instance_id: int, *,
               comment: str | None = None, key: str | None = None) -> dict:
        text = comment_of(comment)
        return self._on_instance(conn, ctx, "remind", instance_id, key,
                                 lambda run: actions_flow.remind(run, comment=text))

    def comment(self, conn: Connection, ctx: Context, instance_id: int, *, text: str,
                key: str | None = None) -> dict:
        body = text_of(text, "text")
        return self._on_instance(conn, ctx, "comment", instance_id, key,
                                 lambda run: actions_flow.comment(run, text=body))

    def tick(self, conn: Connection, ctx: Context) -> dict:
        """Apply due timeouts (idempotent): {"reminded", "approved", "rejected", "failed"}."""
        return run_tick(self.services, conn, ctx)

    # -- plumbing ----------------------------------------------------------------

    def _act(self, conn: Connection, ctx: Context, action: str, target: str, key: Any,
             work: _Work) -> dict:
        rid = request_id(ctx.actor, key) if key is not None else None
        if rid is not None:
            stored = claim(conn, rid, ctx.actor, fingerprint(action, target), naive_now(ctx))
            if stored is not None:
                return stored
        run = work()
        save_instance(conn, run.instance)
        response = instance_view(run.instance, run.spec, run.tasks)
        if rid is not None:
            finish(conn, rid, run.instance["id"], response)
        return response

    def _run(self, conn: Connection, ctx: Context, instance_id: Any) -> Run:
        instance = lock_instance(conn, instance_id)
        spec = self.services.definitions.spec(conn, instance["definition_id"])
        return Run(self.services, conn, ctx, instance, spec, read_tasks(conn, instance["id"]))

    def _on_instance(self, conn: Connection, ctx: Context, action: str, instance_id: Any,
                     key: Any, work: Callable[[Run], None]) -> dict:
        def go() -> Run:
            run = self._run(conn, ctx, instance_id)
            work(run)
            return run
        return self._act(conn, ctx, action, f"instance:{instance_id}", key, go)

    def _on_task(self, conn: Connection, ctx: Context, action: str, task_id: Any, key: Any,
                 work: Callable[[Run, dict], None]) -> dict:
        def go() -> Run:
            found = read_task(conn, task_id)
            if found is None:
                raise _no_task(task_id)
            run = self._run(conn, ctx, found["instance_id"])
            task = run.task(found["id"])
            assert task is not None
            _require_own_pending(run, task)
            work(run, task)
            return run
        return self._act(conn, ctx, action, f"task:{task_id}", key, go)

    def _readable(self, conn: Connection, ctx: Context, instance_id: Any) -> dict:
        instance = read_instance(conn, instance_id)
        if instance is None or not participant(self.services, conn, ctx, instance):
            shown = instance_id if isinstance(instance_id, (int, str)) else repr(instance_id)
            raise NotFound(Text(f"没有 id 为 {shown} 的流程实例",
                                f"there is no workflow instance with id {shown}"),
                           code="instance_not_found", details={"instance_id": shown})
        return instance


def _require_own_pending(run: Run, task: dict) -> None:
    if task["assignee"] != run.ctx.actor:
        raise PermissionDenied(Text("这不是您的审批任务", "this task is not yours"),
                               code="not_assignee", details={"task_id": task["id"]})
    if task["status"] != "pending":
        raise Conflict(
            Text(f"该任务已不是待办（{task['status']}），流程当前状态：{run.instance['state']}",
                 f"the task is no longer pending ({task['status']}); the workflow is now in "
                 f"state {run.instance['state']}"),
            code="task_not_pending", details={
                "task_id": task["id"], "instance_id": run.instance["id"],
                "status": task["status"], "task_status": task["status"],
                "state": run.instance["state"], "instance_status": run.instance["status"]})


def _no_task(task_id: Any) -> NotFound:
    shown = task_id if isinstance(task_id, (int, str)) else repr(task_id)
    return NotFound(Text(f"没有 id 为 {shown} 的审批任务", f"there is no task with id {shown}"),
                    code="task_not_found", details={"task_id": shown})
