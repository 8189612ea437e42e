"""Handing a task on: transfer (转交) and add signers (加签) (runtime layer,
workflow engine).

- :func:`transfer` — the assignee hands the pending task to another active
  user: the task becomes ``transferred`` and a new pending task (same node,
  round, seq and kind) goes to the target — or to the target's substitute
  when the target is on leave today;
- :func:`add_signers` — the assignee adds signers to the node's round
  (kind ``added``, ``added_by`` = this task): ``before`` — they act first
  and this task waits (``waiting``) until all of them approved; ``after`` —
  this task approves now and the round cannot pass until they approved too.
  Only seats may add (an added signer may not add more: PermissionDenied),
  only on nodes with ``add_signers``, and nobody who already has an open
  task in the round.
"""

from __future__ import annotations

from typing import Any, Sequence

from yunying.platform.errors import PermissionDenied, TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.workflow import chain
from yunying.runtime.workflow.delegation import substitutes
from yunying.runtime.workflow.events import acted, notify
from yunying.runtime.workflow.inputs import active_users
from yunying.runtime.workflow.run import Run
from yunying.runtime.workflow.tasks import due_at, round_of, set_status

__all__ = ["transfer", "add_signers", "POSITIONS"]

POSITIONS = ("before", "after")


def _refuse_busy(run: Run, task: dict[str, Any], users: Sequence[str]) -> None:
    """TransitionRejected when a user is this task's assignee or already has an
    open task in the round."""
    busy = {t["assignee"] for t in round_of(run.tasks, task["node"], task["round"])
            if t["status"] in ("pending", "waiting")}
    taken = [u for u in users if u in busy or u == task["assignee"]]
    if taken:
        raise TransitionRejected(
            Text(f"{'、'.join(taken)} 已在处理此节点", f"{', '.join(taken)} already act on this node"),
            code="already_assignee", details={"users": taken, "node": task["node"]})


def _new_tasks(run: Run, task: dict[str, Any], users: Sequence[str], **values: Any
               ) -> list[dict[str, Any]]:
    node = run.node(task["node"])
    subs = substitutes(run.conn, users, run.today)
    made = [run.add_task(node=task["node"], round=task["round"], seq=task["seq"],
                         assignee=subs.get(user, user),
                         delegated_from=user if user in subs else None, status="pending",
                         due_at=due_at(run.now, node.policy.timeout_hours), **values)
            for user in users]
    notify(run, [t["assignee"] for t in made], "task")
    return made


def transfer(run: Run, task: dict[str, Any], *, to_user: str,
             comment: str | None = None) -> None:
    active_users(run.conn, [to_user], "to_user")
    _refuse_busy(run, task, [to_user])
    set_status(run.conn, task, "transferred", at=run.now, comment=comment)
    made = _new_tasks(run, task, [to_user], kind=task["kind"], added_by=task["added_by"])
    acted(run, "transfer", node=task["node"], task=task["id"], comment=comment,
          detail={"to": to_user, "assignee": made[0]["assignee"], "new_task": made[0]["id"]})


def add_signers(run: Run, task: dict[str, Any], *, users: Sequence[str], position: str,
                comment: str | None = None) -> None:
    node = run.node(task["node"])
    if task["kind"] == "added":
        raise PermissionDenied(Text("加签人不能再加签", "an added signer cannot add more signers"),
                               code="added_signer_cannot_add", details={"task_id": task["id"]})
    if not node.add_signers:
        raise PermissionDenied(Text(f"节点 {node.code} 不允许加签",
                                    f"node {node.code} does not allow adding signers"),
                               code="add_signers_disabled", details={"node": node.code})
    active_users(run.conn, users, "users")
    _refuse_busy(run, task, users)
    if position == "before":
        set_status(run.conn, task, "waiting", due_at=None)
    else:
        set_status(run.conn, task, "approved", at=run.now, comment=comment)
    made = _new_tasks(run, task, users, kind="added", added_by=task["id"])
    acted(run, "add_signers", node=node.code, task=task["id"], comment=comment,
          detail={"users": list(users), "position": position,
                  "tasks": [t["id"] for t in made]})
    if position == "after":
        chain.settle(run, node, task["round"])
