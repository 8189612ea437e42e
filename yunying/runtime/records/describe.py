"""Describing a write without doing it (runtime layer): which fields a caller
may not see or change (:func:`field_access`) and what a create or an update
would store (:func:`preview`) — what the staff UI's live form shows.

Both refuse like the write they describe (PermissionDenied, NotFound): the
record service hands them its guard, its workflow rules and its way of
finding the record an update may change, and keeps thin methods of the same
names (:meth:`RecordService.field_access`, :meth:`RecordService.preview`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from sqlalchemy import Connection

from yunying.platform.context import Context
from yunying.runtime.records.derive import derive
from yunying.runtime.records.formulas import Clock
from yunying.runtime.records.guard import Guard, OpenView, View
from yunying.runtime.records.messages import ErrorBag
from yunying.runtime.records.plan import EntityPlan
from yunying.runtime.records.validation import clean_record
from yunying.runtime.records.workflow_rules import WorkflowRules

__all__ = ["FieldAccess", "Updatable", "field_access", "preview", "write_time"]

#: the caller's update view of a loaded record and its id (RecordService._updatable).
Updatable = Callable[[Connection, Context, EntityPlan, Any], tuple[OpenView | View, int]]


@dataclass(frozen=True)
class FieldAccess:
    """The fields (``field`` / ``child.field``) one caller may not see and may
    not change on a create or an update (see :func:`field_access`)."""

    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()


def write_time(ctx: Context) -> datetime:
    """The moment a write of ``ctx`` is stamped with: naive UTC."""
    now = ctx.now()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now


def field_access(conn: Connection, ctx: Context, plan: EntityPlan, guard: Guard,
                 flow: WorkflowRules, updatable: Updatable,
                 record_id: int | None = None) -> FieldAccess:
    """Which fields ``ctx`` may not see and may not change when creating
    (``record_id`` None) or updating a record: role field permissions, the
    workflow's state and node permissions, and the fields no client writes
    (computed, numbering, workflow state). A child code in ``read_only``
    means its lines may not be added or removed."""
    if record_id is None:
        hidden, locked = guard.view(conn, ctx, plan, "create").access()
        restriction = flow.create_restriction(ctx, plan)
        hidden, locked = hidden | restriction.hidden, locked | restriction.locked
    else:
        view, _ = updatable(conn, ctx, plan, record_id)
        hidden, locked = view.access()
    system = _system_fields(plan, flow)
    return FieldAccess(frozenset(hidden), frozenset((locked | system) - hidden))


def _system_fields(plan: EntityPlan, flow: WorkflowRules) -> set[str]:
    """The fields only the platform writes: computed, workflow state, the number."""
    spec = plan.spec
    system = {f.code for f in spec.fields if f.is_computed}
    system |= {f"{c.code}.{f.code}" for c in spec.children for f in c.fields if f.is_computed}
    system |= flow.state_fields(plan.entity)
    if spec.numbering is not None:
        system.add(spec.numbering.field)
    return system


def preview(conn: Connection, ctx: Context, plan: EntityPlan, guard: Guard,
            updatable: Updatable, data: Mapping[str, Any], *,
            record_id: int | None = None) -> dict[str, Any]:
    """What creating (``record_id`` None) or updating with ``data`` would
    store, without writing anything: ``{"values", "lines", "conditions",
    "errors"}`` — the cleaned and derived values of the main row and of each
    given child list, the form conditions' state per field, and the problems
    found so far (database checks such as uniqueness are left to the write)."""
    rid = None
    if record_id is None:
        guard.view(conn, ctx, plan, "create")
    else:
        _, rid = updatable(conn, ctx, plan, record_id)
    now = write_time(ctx)
    errors = ErrorBag()
    payload = clean_record(plan, data, creating=rid is None, now=now, errors=errors)
    states = derive(conn, plan, payload, errors, Clock(now.date(), now), record_id=rid)
    problems = errors.failure(plan.label).details["fields"] if errors else {}
    return {"values": dict(payload.values),
            "lines": {code: [dict(line.values) for line in lines]
                      for code, lines in payload.children.items()},
            "conditions": states, "errors": problems}
