"""Actions on a whole instance: resubmit, withdraw (撤回), remind (催办), comment
(runtime layer, workflow engine).

- :func:`resubmit` — the initiator, after a return to him: the state goes
  back to the submit transition's target (its guard must hold again) and the
  chain runs from its start (``resubmit: restart``) or straight from the node
  that returned it (``returning_node``; a node inside a parallel branch
  re-runs its outermost parallel node, since the other branches were
  cancelled by the return);
- :func:`withdraw` — the initiator, while no task of the instance was
  approved by a person (``auto`` tasks do not count): open tasks cancelled,
  instance ``withdrawn``, state back to the initial state;
- :func:`remind` — the initiator: every pending assignee is notified and the
  tasks' ``reminded_at`` set;
- :func:`comment` — any participant (the initiator or anyone with a task of
  the instance, cc included): a timeline step only.
"""

from __future__ import annotations

from yunying.platform.errors import PermissionDenied, TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.workflow import chain
from yunying.runtime.workflow.approval import cancel
from yunying.runtime.workflow.effects import move
from yunying.runtime.workflow.events import acted, notify
from yunying.runtime.workflow.permissions import check_guard
from yunying.runtime.workflow.run import Run
from yunying.runtime.workflow.tasks import set_status

__all__ = ["resubmit", "withdraw", "remind", "comment", "require_initiator",
           "require_status"]


def require_initiator(run: Run, what: Text) -> None:
    if run.ctx.actor != run.instance["initiator"]:
        raise PermissionDenied(Text(f"只有发起人可以{what.zh}", f"only the initiator may {what.en}"),
                               code="not_initiator", details={"instance_id": run.instance["id"]})


def require_status(run: Run, statuses: tuple[str, ...], what: Text) -> None:
    status = run.instance["status"]
    if status not in statuses:
        raise TransitionRejected(
            Text(f"流程实例当前状态为 {status}，不能{what.zh}",
                 f"the workflow instance is {status}; cannot {what.en}"),
            code="wrong_instance_status",
            details={"instance_status": status, "state": run.instance["state"],
                     "expected": list(statuses)})


def resubmit(run: Run, *, comment: str | None = None) -> None:
    what = Text("重新提交", "resubmit")
    require_initiator(run, what)
    require_status(run, ("returned",), what)
    transition = run.spec.transition(run.data.get("submit", ""))
    if transition is None:
        raise TransitionRejected(Text("找不到提交时的流转", "the submitting transition is missing"),
                                 code="unknown_transition")
    check_guard(run.conn, run.services, run.trusted, transition, run.instance["entity"],
                run.record())
    run.instance["status"] = "running"
    move(run, transition.target)
    returning = run.data.pop("returned_from", None)
    acted(run, "resubmit", comment=comment, transition=transition.code,
          detail={"mode": run.chain.resubmit, "node": returning})
    if run.chain.resubmit == "returning_node" and returning is not None:
        around = run.graph.enclosing(returning)
        chain.return_to(run, around[-1] if around else returning)
    else:
        chain.start(run)


def withdraw(run: Run, *, comment: str | None = None) -> None:
    what = Text("撤回", "withdraw")
    require_initiator(run, what)
    require_status(run, ("running", "returned"), what)
    if any(t["status"] == "approved" for t in run.tasks):
        raise TransitionRejected(
            Text("已有人审批通过，不能撤回", "someone has already approved; it cannot be withdrawn"),
            code="already_approved", details={"instance_id": run.instance["id"]})
    pending = [t["assignee"] for t in run.tasks if t["status"] == "pending"]
    cancel(run, run.open_tasks())
    run.instance["status"] = "withdrawn"
    run.instance["ended_at"] = run.now
    run.data["joins"] = {}
    move(run, run.spec.initial)
    acted(run, "withdraw", comment=comment)
    notify(run, pending, "withdrawn")


def remind(run: Run, *, comment: str | None = None) -> None:
    what = Text("催办", "send a reminder")
    require_initiator(run, what)
    require_status(run, ("running",), what)
    pending = [t for t in run.tasks if t["status"] == "pending"]
    for task in pending:
        set_status(run.conn, task, "pending", reminded_at=run.now)
    acted(run, "remind", comment=comment, detail={"users": [t["assignee"] for t in pending]})
    notify(run, [t["assignee"] for t in pending], "remind")


def comment(run: Run, *, text: str) -> None:
    actor = run.ctx.actor
    if actor != run.instance["initiator"] and not any(t["assignee"] == actor
                                                      for t in run.tasks):
        raise PermissionDenied(Text("只有流程参与人可以发表意见",
                                    "only participants of the workflow may comment"),
                               code="not_participant",
                               details={"instance_id": run.instance["id"]})
    acted(run, "comment", comment=text)
