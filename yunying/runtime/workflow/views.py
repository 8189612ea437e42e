"""The JSON-ready shapes the engine returns (runtime layer, workflow engine).

Every action returns :func:`instance_view` — ``{"instance": {...},
"tasks": [...]}`` — which is also what an idempotent retry gets back, so it
holds only JSON values: timestamps as ISO 8601 strings (naive UTC), labels
as ``{"zh-CN": ..., "en": ...}``. Labels of states and nodes come from the
spec the instance runs with (its own definition).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, select

from yunying.metadata.workflow_spec import ChainSpec, TransitionSpec, WorkflowSpec
from yunying.platform.tables import wf_event
from yunying.runtime.workflow.tasks import OPEN

__all__ = ["iso", "instance_dict", "task_dict", "instance_view", "timeline_view",
           "transition_dict", "INSTANCE_KEYS", "TASK_KEYS"]

INSTANCE_KEYS = ("id", "entity", "record_id", "workflow", "state", "state_label",
                 "state_category", "status", "initiator", "title", "started_at", "ended_at",
                 "version", "current_nodes")
TASK_KEYS = ("id", "instance_id", "node", "node_label", "round", "seq", "kind", "assignee",
             "delegated_from", "added_by", "status", "created_at", "due_at", "acted_at",
             "comment", "read_at")
_TIMES = ("created_at", "due_at", "acted_at", "read_at")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _node_label(chain: ChainSpec | None, code: str | None) -> dict[str, str] | None:
    node = chain.node(code) if chain is not None and code else None
    return node.label.as_dict() if node is not None else None


def task_dict(task: Mapping[str, Any], chain: ChainSpec | None) -> dict[str, Any]:
    out = {key: task.get(key) for key in TASK_KEYS if key != "node_label"}
    for key in _TIMES:
        out[key] = iso(out[key])
    out["node_label"] = _node_label(chain, task["node"])
    return out


def instance_dict(instance: Mapping[str, Any], spec: WorkflowSpec,
                  tasks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    state = spec.state(instance["state"])
    current = [t["node"] for t in tasks if t["status"] in OPEN and t["kind"] != "cc"]
    return {
        "id": instance["id"], "entity": instance["entity"], "record_id": instance["record_id"],
        "workflow": instance["workflow"], "state": instance["state"],
        "state_label": state.label.as_dict() if state is not None else None,
        "state_category": state.category if state is not None else None,
        "status": instance["status"], "initiator": instance["initiator"],
        "title": instance["title"], "started_at": iso(instance["started_at"]),
        "ended_at": iso(instance["ended_at"]), "version": instance["version"],
        "current_nodes": list(dict.fromkeys(current)),
    }


def instance_view(instance: Mapping[str, Any], spec: WorkflowSpec,
                  tasks: list[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"instance": ..., "tasks": [...]}`` (tasks oldest first)."""
    chain = spec.chain(instance["chain"] or "")
    ordered = sorted(tasks, key=lambda t: t["id"])
    return {"instance": instance_dict(instance, spec, ordered),
            "tasks": [task_dict(t, chain) for t in ordered]}


def timeline_view(conn: Connection, instance: Mapping[str, Any],
                  spec: WorkflowSpec) -> list[dict[str, Any]]:
    """Every step of the instance, oldest first."""
    chain = spec.chain(instance["chain"] or "")
    e = wf_event.c
    rows = conn.execute(select(wf_event).where(e.instance_id == instance["id"])
                        .order_by(e.id))
    return [{"id": r.id, "at": iso(r.at), "actor": r.actor, "action": r.action,
             "node": r.node, "node_label": _node_label(chain, r.node), "task_id": r.task_id,
             "comment": r.comment, "detail": r.detail} for r in rows]


def transition_dict(transition: TransitionSpec, *, guard_ok: bool) -> dict[str, Any]:
    return {"code": transition.code, "label": transition.label.as_dict(),
            "from": list(transition.sources), "to": transition.target,
            "chain": transition.chain, "comment_required": transition.comment_required,
            "guard_ok": guard_ok,
            "guard_message": transition.guard_message.as_dict()
            if transition.guard_message is not None else None}
