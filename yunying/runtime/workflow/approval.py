"""One activation (round) of an approval node (runtime layer, workflow engine).

:func:`open_round` asks the approver resolution
(:func:`yunying.runtime.workflow.approvers.resolve_approvers`) for the
node's seats and creates their tasks: ``auto`` seats are approved at once;
in a sequential round only the first remaining seat is ``pending``, the
others ``waiting``; otherwise every seat is ``pending``. A task that is
``pending`` gets its ``due_at`` from the node's timeout and — unless the
round is decided at once (an auto seat of an any-one node) — a
notification (:func:`announce`).

:func:`settle_round` decides the round after any change (see
:mod:`.modes`): a decided round cancels its open tasks and returns the
outcome; a round whose seats decided but that still waits for signers added
after an approval cancels its moot seats; an open round hands the turn on —
a seat whose signers added before it all approved is ``pending`` again, and
in a sequential round the next waiting seat takes its turn once nothing
else is open.
"""

from __future__ import annotations

from typing import Any

from yunying.metadata.workflow_spec import NodeSpec
from yunying.runtime.workflow.approvers import ApproverEnv, Resolution, resolve_approvers
from yunying.runtime.workflow.delegation import substitute_for
from yunying.runtime.workflow.events import log, notify
from yunying.runtime.workflow.modes import APPROVED, OPEN, Round, decide
from yunying.runtime.workflow.run import Run
from yunying.runtime.workflow.tasks import due_at, round_of, set_status

__all__ = ["approver_env", "open_round", "announce", "settle_round", "round_state",
           "previous_node", "make_pending", "cancel"]


def previous_node(run: Run, code: str) -> str | None:
    """The approval node passed last before ``code`` on its path (None: none)."""
    before = run.graph.ancestors(code)
    for passed in reversed(run.data.get("passed", [])):
        if passed in before:
            return passed
    return None


def approver_env(run: Run, node: NodeSpec, *, returned_to: bool = False) -> ApproverEnv:
    """What the approver resolution needs to know about this instance."""
    record = run.record()
    unit_field = run.entity.org_dimension
    previous = previous_node(run, node.code)
    last = [t for t in run.tasks if t["node"] == previous
            and t["round"] == run.round(previous)] if previous else []
    return ApproverEnv(
        registry=run.services.registry, entity=run.entity, record=record,
        initiator=run.instance["initiator"],
        unit=record.get(unit_field) if unit_field else None, today=run.today,
        chosen={k: tuple(v) for k, v in run.data.get("chosen", {}).items()},
        previous_choice=tuple(run.data.get("previous_choice", ())),
        approved_before=frozenset(t["assignee"] for t in run.tasks
                                  if t["status"] == "approved"),
        approved_previous=frozenset(t["assignee"] for t in last if t["status"] == "approved"),
        returned_to=returned_to)


def open_round(run: Run, node: NodeSpec, *, returned_to: bool = False
               ) -> tuple[int, list[dict[str, Any]]]:
    """Activate ``node``: a new round with the tasks of its resolved seats.
    Returns the round and its tasks (their assignees not told yet: the round
    may be decided at once, see :func:`announce`)."""
    round_ = run.next_round(node.code)
    resolution = resolve_approvers(run.conn, node, approver_env(run, node,
                                                                returned_to=returned_to))
    run.data.setdefault("sequential", {})[node.code] = resolution.sequential
    if resolution.auto_approve:
        log(run, "auto_approved", node=node.code, detail={
            "round": round_, "reason": "skipped" if resolution.skipped else "no_approver",
            "skipped": list(resolution.skipped)})
        return round_, []
    return round_, _seat(run, node, round_, resolution)


def announce(run: Run, tasks: list[dict[str, Any]]) -> None:
    """Tell the assignees of those ``tasks`` that are (still) pending."""
    notify(run, [t["assignee"] for t in tasks if t["status"] == "pending"], "task")


def _seat(run: Run, node: NodeSpec, round_: int,
          resolution: Resolution) -> list[dict[str, Any]]:
    turn_taken = False
    made: list[dict[str, Any]] = []
    for seq, seat in enumerate(resolution.seats, 1):
        values: dict[str, Any] = {"node": node.code, "round": round_, "seq": seq,
                                  "kind": "approval", "assignee": seat.user,
                                  "delegated_from": seat.delegated_from}
        if seat.status == "auto":
            made.append(run.add_task(status="auto", acted_at=run.now, **values))
        elif resolution.sequential and turn_taken:
            made.append(run.add_task(status="waiting", **values))
        else:
            turn_taken = True
            made.append(run.add_task(status="pending", **values,
                                     due_at=due_at(run.now, node.policy.timeout_hours)))
    log(run, "activated", node=node.code, detail={
        "round": round_, "assignees": [s.user for s in resolution.seats],
        "auto": {s.user: s.reason for s in resolution.seats if s.status == "auto"},
        "skipped": list(resolution.skipped)})
    return made


def round_state(run: Run, node: str, round_: int) -> Round:
    tasks = round_of(run.tasks, node, round_)
    status = {t["id"]: t["status"] for t in tasks}
    return Round(seats=tuple(t["status"] for t in tasks if t["kind"] == "approval"),
                 added=tuple((t["status"], status.get(t["added_by"], "approved"))
                             for t in tasks if t["kind"] == "added"))


def settle_round(run: Run, node: NodeSpec, round_: int) -> str | None:
    """Decide the round: ``passed`` / ``rejected`` (its open tasks cancelled) or
    None (still open: the turn handed on)."""
    mode = "sequential" if run.data.get("sequential", {}).get(node.code) else node.mode
    decision = decide(mode, node.ratio, round_state(run, node.code, round_))
    tasks = round_of(run.tasks, node.code, round_)
    if decision.outcome is not None:
        cancel(run, [t for t in tasks if t["status"] in OPEN])
        return decision.outcome
    if decision.seats_done:
        moot = [t for t in tasks if t["status"] in OPEN and t["kind"] == "approval"]
        ids = {t["id"] for t in moot}
        cancel(run, moot + [t for t in tasks if t["status"] in OPEN and t["added_by"] in ids])
        return None
    _release(run, node, tasks)
    if mode == "sequential":
        _next_turn(run, node, tasks)
    return None


def _added_to(tasks: list[dict[str, Any]], seat: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in tasks if t["kind"] == "added" and t["added_by"] == seat["id"]
            and t["status"] not in ("transferred", "cancelled")]


def _release(run: Run, node: NodeSpec, tasks: list[dict[str, Any]]) -> None:
    """Seats waiting for signers added before them: their turn when all approved."""
    for seat in tasks:
        added = _added_to(tasks, seat)
        if seat["status"] == "waiting" and added and all(t["status"] in APPROVED
                                                         for t in added):
            make_pending(run, node, seat)


def _next_turn(run: Run, node: NodeSpec, tasks: list[dict[str, Any]]) -> None:
    """Sequential: the next waiting seat acts once nothing else is open."""
    busy = any(t["status"] == "pending" or (t["status"] == "waiting" and any(
        a["status"] in OPEN for a in _added_to(tasks, t))) for t in tasks)
    if busy:
        return
    waiting = sorted((t for t in tasks if t["status"] == "waiting" and t["kind"] == "approval"),
                     key=lambda t: (t["seq"], t["id"]))
    if waiting:
        make_pending(run, node, waiting[0])


def make_pending(run: Run, node: NodeSpec, task: dict[str, Any]) -> None:
    """A task's turn: pending, due by the node's timeout, its assignee told.
    A turn that comes while the assignee is on leave goes to the substitute,
    like a task created during the leave."""
    set_status(run.conn, task, "pending", due_at=due_at(run.now, node.policy.timeout_hours),
               **_delegated(run, task))
    notify(run, [task["assignee"]], "task")


def _delegated(run: Run, task: dict[str, Any]) -> dict[str, Any]:
    """``assignee`` / ``delegated_from`` when the task's assignee is on leave
    today (not for a task delegated already, nor to the initiator or to
    someone already seated in this round)."""
    if task["delegated_from"] is not None:
        return {}
    substitute = substitute_for(run.conn, task["assignee"], run.today)
    seated = {t["assignee"] for t in round_of(run.tasks, task["node"], task["round"])}
    if substitute is None or substitute == run.instance["initiator"] or substitute in seated:
        return {}
    return {"assignee": substitute, "delegated_from": task["assignee"]}


def cancel(run: Run, tasks: list[dict[str, Any]]) -> None:
    for task in tasks:
        set_status(run.conn, task, "cancelled", at=run.now)
