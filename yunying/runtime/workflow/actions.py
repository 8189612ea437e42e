"""Deciding a task: approve, reject, send back (退回) (runtime layer, workflow engine).

Each function gets the :class:`~.run.Run` of the locked instance and the
actor's own pending task (the engine checked both), changes the task,
records the step (timeline + audit) and lets the chain walk on:

- :func:`approve` — the task approves; ``next_approvers`` name the
  ``previous_choice`` approvers of the next approval node; the round is
  decided by its mode;
- :func:`reject` — a comment is required when the node says so; the round
  fails (``ratio``: the reject is a vote), the chain goes back to the node's
  ``reject_to`` or ends rejected;
- :func:`send_back` — to the initiator (instance ``returned``, state back to
  the workflow's initial state, open tasks cancelled; the initiator edits and
  resubmits), to the previous approval node or to a chosen earlier approval
  node on this path (a new round there) — each only if the node's
  ``returns`` allows it.
"""

from __future__ import annotations

from typing import Any, Sequence

from yunying.platform.errors import TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.workflow import chain
from yunying.runtime.workflow.approval import cancel, previous_node
from yunying.runtime.workflow.effects import move
from yunying.runtime.workflow.events import acted, notify
from yunying.runtime.workflow.permissions import require_comment
from yunying.runtime.workflow.run import Run
from yunying.runtime.workflow.tasks import set_status

__all__ = ["approve", "reject", "send_back", "return_to_initiator", "decide_task"]


def decide_task(run: Run, task: dict[str, Any], status: str, action: str, *,
                comment: str | None, detail: dict[str, Any] | None = None) -> None:
    """The task decided (approved / rejected), recorded, and its round settled."""
    node = run.node(task["node"])
    set_status(run.conn, task, status, at=run.now, comment=comment)
    acted(run, action, node=node.code, task=task["id"], comment=comment, detail=detail)
    chain.settle(run, node, task["round"])


def approve(run: Run, task: dict[str, Any], *, comment: str | None = None,
            next_approvers: Sequence[str] = ()) -> None:
    if next_approvers:
        run.data["choice"] = list(next_approvers)
    decide_task(run, task, "approved", "approve", comment=comment)


def reject(run: Run, task: dict[str, Any], *, comment: str | None = None) -> None:
    node = run.node(task["node"])
    if node.comment_on_reject:
        require_comment(comment, Text("驳回", "Rejecting"), node=node.code)
    decide_task(run, task, "rejected", "reject", comment=comment)


def send_back(run: Run, task: dict[str, Any], *, to: str, comment: str | None = None) -> None:
    """Return the document (see the module docstring)."""
    node = run.node(task["node"])
    target = _target(run, node.code, node.returns, to)
    set_status(run.conn, task, "returned", at=run.now, comment=comment)
    acted(run, "send_back", node=node.code, task=task["id"], comment=comment,
          detail={"to": to, "node": target})
    if target is None:
        return_to_initiator(run, node.code)
    else:
        chain.return_to(run, target)


def return_to_initiator(run: Run, node: str) -> None:
    """Hand the document back to its initiator for changes."""
    cancel(run, run.open_tasks())
    run.instance["status"] = "returned"
    run.data["returned_from"] = node
    move(run, run.spec.initial)
    notify(run, [run.instance["initiator"]], "returned")


def _target(run: Run, node: str, allowed: Sequence[str], to: Any) -> str | None:
    """The node a return goes to (None: the initiator); TransitionRejected if not allowed."""
    kind = to if to in ("initiator", "previous") else "node"
    if kind not in allowed:
        raise TransitionRejected(
            Text(f"节点 {node} 不允许此退回方式（{kind}）",
                 f"node {node} does not allow this kind of return ({kind})"),
            code="return_not_allowed", details={"node": node, "to": to, "allowed": list(allowed)})
    if kind == "initiator":
        return None
    target = previous_node(run, node) if kind == "previous" else to
    if target is None or not _earlier_approval(run, node, target):
        raise TransitionRejected(
            Text(f"不能退回到 {target or '上一节点'}：它不是本流程中此前已审批过的节点",
                 f"cannot return to {target or 'the previous node'}: it is not an approval "
                 "node this instance passed before this one"),
            code="invalid_return_target", details={"node": node, "to": to})
    return target


def _earlier_approval(run: Run, node: str, target: Any) -> bool:
    found = run.chain.node(target) if isinstance(target, str) else None
    return (found is not None and found.kind == "approval"
            and target in run.graph.ancestors(node) and target in run.data.get("passed", []))
