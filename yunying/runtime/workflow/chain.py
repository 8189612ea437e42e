"""Walking an approval chain (runtime layer, workflow engine).

Activating a node depends on its kind (dispatched by a dict):

- ``approval``: a new round of tasks (:mod:`.approval`), decided at once if
  nobody needs to act (no approver with auto_approve, every seat auto, or
  everybody skipped);
- ``condition``: the first branch whose formula holds over the record as it
  is now (the default branch otherwise);
- ``parallel``: every branch, keeping ``joins[node] = branches still
  running`` in the instance's data; a branch ends at a node without
  ``next``, and when the last one ends the walk goes on at the parallel
  node's ``next``;
- ``cc``: ``cc`` tasks and notifications for the recipients, then on at once;
- ``end``: the chain ends approved.

A passed node goes on at its ``next`` (or ends its branch; outside every
parallel, the chain). A failed approval node goes back to its ``reject_to``
node, or ends the chain rejected — cancelling what is still open in every
branch. :func:`return_to` re-activates an earlier node (a return, a
``reject_to``, a resubmission straight to the returning node): everything
after it is undone — open tasks cancelled, parallel joins after it forgotten,
parallels around it re-opened for the one branch — and it gets a new round,
marked as reached by a return (no de-duplication there).
"""

from __future__ import annotations

from typing import Callable, Mapping

from yunying.metadata.workflow_spec import NodeSpec
from yunying.platform.errors import ConfigurationError
from yunying.platform.i18n import Text
from yunying.runtime.workflow.approval import (
    announce, approver_env, cancel, open_round, settle_round,
)
from yunying.runtime.workflow.approvers import resolve_recipients
from yunying.runtime.workflow.events import log, notify
from yunying.runtime.workflow.modes import FAILED, PASSED
from yunying.runtime.workflow.outcome import chain_approved, chain_rejected
from yunying.runtime.workflow.run import Run

__all__ = ["start", "activate", "settle", "return_to", "node_passed"]


def start(run: Run) -> None:
    """Run the chain from its start node (a submit, or a resubmit that restarts)."""
    run.data["joins"] = {}
    run.data["passed"] = []
    run.data.pop("choice", None)
    activate(run, run.chain.start)


def activate(run: Run, code: str, *, returned_to: bool = False) -> None:
    """Activate node ``code`` (nothing once the instance stopped running)."""
    if not run.running:
        return
    node = run.node(code)
    _KINDS[node.kind](run, node, returned_to)


def settle(run: Run, node: NodeSpec, round_: int | None = None) -> None:
    """Decide the node's current round after a change, and walk on if it is decided."""
    _walk_on(run, node, settle_round(run, node,
                                     round_ if round_ is not None else run.round(node.code)))


def _walk_on(run: Run, node: NodeSpec, outcome: str | None) -> None:
    if outcome == PASSED:
        node_passed(run, node)
    elif outcome == FAILED:
        _node_failed(run, node)


def node_passed(run: Run, node: NodeSpec) -> None:
    run.data.setdefault("passed", []).append(node.code)
    run.data["previous_choice"] = run.data.pop("choice", [])
    log(run, "passed", node=node.code, detail={"round": run.round(node.code)})
    _go_on(run, node)


def return_to(run: Run, target: str) -> None:
    """Undo everything after ``target`` and activate it again (see the module docstring)."""
    graph = run.graph
    undone = graph.descendants(target) | {target}
    cancel(run, [t for t in run.open_tasks() if t["node"] in undone])
    joins = run.data.setdefault("joins", {})
    for code in [c for c in joins if c in undone]:
        del joins[code]
    for parallel in graph.enclosing(target):
        joins.setdefault(parallel, 1)
    run.data["passed"] = [c for c in run.data.get("passed", []) if c not in undone]
    run.data.pop("choice", None)
    activate(run, target, returned_to=True)


# -- the node kinds --------------------------------------------------------------

def _approval(run: Run, node: NodeSpec, returned_to: bool) -> None:
    round_, tasks = open_round(run, node, returned_to=returned_to)
    outcome = settle_round(run, node, round_)
    announce(run, tasks)
    _walk_on(run, node, outcome)


def _condition(run: Run, node: NodeSpec, returned_to: bool) -> None:
    run.next_round(node.code)
    record = run.record()
    formulas = run.services.formulas
    for n, branch in enumerate(node.branches):
        if branch.condition is None or formulas.holds(
                run.conn, run.trusted, run.instance["entity"], record, branch.condition):
            log(run, "branch", node=node.code, detail={"branch": n, "next": branch.next})
            activate(run, branch.next)
            return
    raise ConfigurationError(
        Text(f"条件节点 {node.code} 没有满足条件的分支（缺少默认分支）",
             f"no branch of condition node {node.code} applies (the default branch is missing)"),
        code="no_branch", details={"node": node.code})


def _parallel(run: Run, node: NodeSpec, returned_to: bool) -> None:
    run.next_round(node.code)
    run.data.setdefault("joins", {})[node.code] = len(node.branches)
    log(run, "parallel", node=node.code, detail={"branches": [b.next for b in node.branches]})
    for branch in node.branches:
        activate(run, branch.next)


def _cc(run: Run, node: NodeSpec, returned_to: bool) -> None:
    round_ = run.next_round(node.code)
    users = list(dict.fromkeys(resolve_recipients(run.conn, node, approver_env(run, node))))
    for seq, user in enumerate(users, 1):
        run.add_task(node=node.code, round=round_, seq=seq, kind="cc", assignee=user,
                     status="cc")
    log(run, "cc", node=node.code, detail={"users": users})
    notify(run, users, "cc")
    _go_on(run, node)


def _end(run: Run, node: NodeSpec, returned_to: bool) -> None:
    chain_approved(run, node.code)


_KINDS: Mapping[str, Callable[[Run, NodeSpec, bool], None]] = {
    "approval": _approval, "condition": _condition, "parallel": _parallel,
    "cc": _cc, "end": _end,
}


# -- moving on -------------------------------------------------------------------

def _node_failed(run: Run, node: NodeSpec) -> None:
    if node.reject_to is not None:
        log(run, "sent_back", node=node.code, detail={"to": node.reject_to, "by": "reject"})
        return_to(run, node.reject_to)
    else:
        chain_rejected(run, node.code)


def _go_on(run: Run, node: NodeSpec) -> None:
    if node.next is not None:
        activate(run, node.next)
    else:
        _branch_end(run, node)


def _branch_end(run: Run, node: NodeSpec) -> None:
    """A node without ``next``: its parallel branch (or the chain) ends."""
    owner = run.graph.owner.get(node.code)
    if owner is None:
        chain_approved(run, node.code)
        return
    joins = run.data.setdefault("joins", {})
    left = int(joins.get(owner, 1)) - 1
    if left > 0:
        joins[owner] = left
        return
    joins.pop(owner, None)
    log(run, "joined", node=owner)
    _go_on(run, run.node(owner))
