"""The end of an approval chain (runtime layer, workflow engine).

When the chain ends approved (an ``end`` node, or the last node without
``next``) or rejected (a failed node without ``reject_to``), whatever is
still open is cancelled, the instance ends with that status, the initiator
is told, and the transition with trigger ``chain_approved`` /
``chain_rejected`` leaving the current state fires — with its effects, in
the same transaction (a posting that does not balance refuses the approval
that ended the chain).
"""

from __future__ import annotations

from yunying.metadata.workflow_spec import TransitionSpec, WorkflowSpec
from yunying.runtime.workflow.approval import cancel
from yunying.runtime.workflow.effects import enter
from yunying.runtime.workflow.events import log, notify
from yunying.runtime.workflow.run import Run

__all__ = ["chain_approved", "chain_rejected", "outcome_transition"]


def outcome_transition(spec: WorkflowSpec, state: str, trigger: str) -> TransitionSpec | None:
    """The transition ``trigger`` fires from ``state`` (the first declared)."""
    return next((t for t in spec.transitions if t.trigger == trigger and state in t.sources),
                None)


def chain_approved(run: Run, node: str | None) -> None:
    _finish(run, "approved", "chain_approved", node)


def chain_rejected(run: Run, node: str | None) -> None:
    _finish(run, "rejected", "chain_rejected", node)


def _finish(run: Run, status: str, trigger: str, node: str | None) -> None:
    cancel(run, run.open_tasks())
    run.instance["status"] = status
    run.instance["ended_at"] = run.now
    run.data["joins"] = {}
    log(run, "finished", node=node, detail={"outcome": status})
    notify(run, [run.instance["initiator"]], status)
    transition = outcome_transition(run.spec, run.instance["state"], trigger)
    if transition is not None:
        enter(run, transition)
