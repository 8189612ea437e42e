"""Workflow rules the record service enforces (runtime layer, records).

A document governed by a workflow (see :mod:`yunying.runtime.workflow.fields`)
adds to the role permissions of :mod:`.guard`, for every *restricted* caller
(a context with grants — the signed-in user, the superuser included; trusted
callers without grants, i.e. the workflow engine, the CLI and seed loading,
are never restricted):

- **Field permissions per state and node.** ``read_only`` fields are refused
  on update with 403 ``read_only_field`` naming them when the value changes,
  through the same code path as role read-only fields; a child table none of
  whose fields is editable also refuses added and removed lines. ``hidden``
  fields are refused in a payload like role-hidden ones and are absent from
  get, row, list, export and the record's history — for everybody but the
  superuser, who sees every field (but may not edit what the state locks).
  Lists and exports decide per record in batches (three queries a page);
  filters, sorts and search may not use a field that *some* state of the
  entity's workflows hides, nor one hidden by a node the caller holds a
  pending task on, so no query can probe a value hidden from the caller.
- **The state field** (``state_field`` of any workflow of the entity) is
  read-only for every restricted caller, on create (only its default may be
  given) and update: only the engine writes it.
- **Delete.** A record with an open instance cannot be deleted by anybody,
  trusted callers included (the run would be orphaned); a restricted caller
  may delete only a record whose state is of category draft or cancelled
  (never submitted, withdrawn, cancelled). 409 ``workflow_open``.
- **Participants read.** :meth:`WorkflowRules.participant_view` lets the
  initiator and every assignee of a task (cc included) of the record's
  workflow runs read the record with ``get`` even outside their data scope:
  approvers must see what they approve. Role-hidden fields (any of their read
  grants hiding a field) and workflow-hidden fields still apply.
- **Approvers edit what their node opens.** An approver holding a pending
  task may change the fields the node makes editable even without an update
  grant reaching the record (:meth:`WorkflowRules.assignee_view`) — and
  nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, select

from yunying.metadata.workflow_spec import WorkflowSpec
from yunying.platform.context import Context
from yunying.platform.errors import Conflict
from yunying.platform.i18n import Text
from yunying.runtime.access.fields import hidden_anywhere, strip_line, strip_record
from yunying.runtime.access.policy import held_grants
from yunying.runtime.records.field_guard import refuse_hidden, refuse_read_only
from yunying.runtime.records.guard import OpenView
from yunying.runtime.records.plan import EntityPlan
from yunying.runtime.records.validation import Payload
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.fields import (
    EDITABLE, HIDDEN, OPEN_STATUSES, assignee_access, current_instance, entity_workflows,
    field_access_many, instance_state, is_participant, pending_nodes_of,
)

__all__ = ["Restriction", "WorkflowRules", "ParticipantView", "DELETABLE_CATEGORIES"]

#: state categories a restricted caller may delete a record in.
DELETABLE_CATEGORIES = frozenset({"draft", "cancelled"})
_BATCH = 200


@dataclass(frozen=True)
class Restriction:
    """What the workflow hides from and locks for one caller on one record
    (``locked`` may name a child code: its lines may not be added or removed)."""

    hidden: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.hidden or self.locked)


_NONE = Restriction()


class ParticipantView(OpenView):
    """A participant's read of one record outside their data scope: every
    field some read grant of theirs hides stays hidden."""

    def __init__(self, plan: EntityPlan, hidden: frozenset[str]) -> None:
        super().__init__(plan)
        self._hidden = hidden

    def shown(self, record: dict[str, Any]) -> dict[str, Any]:
        return strip_record(record, self._hidden, self.plan.children)

    def shown_line(self, line: dict[str, Any], child: str) -> dict[str, Any]:
        return strip_line(line, child, self._hidden)

    def hidden_in(self, record: dict[str, Any]) -> frozenset[str]:
        return self._hidden


class WorkflowRules:
    """The workflow rules of one registry's entities (one per RecordService)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        flows = {code: entity_workflows(registry, code) for code in registry.entities}
        self._state = MappingProxyType({
            code: frozenset(w.state_field for w in found if w.state_field)
            for code, found in flows.items()})
        self._query_hidden = MappingProxyType({
            code: _ever_hidden([s.fields for w in found for s in w.states],
                               registry.entities[code].fields)
            for code, found in flows.items()})
        self._node_hidden = MappingProxyType({
            code: _nodes_hiding(found, registry.entities[code].fields)
            for code, found in flows.items()})
        self._initial = MappingProxyType({code: _initial_access(found)
                                          for code, found in flows.items()})

    # -- reading -----------------------------------------------------------------

    def query_hidden(self, ctx: Context, plan: EntityPlan) -> frozenset[str]:
        """Main fields no list of ``ctx`` may filter, sort or search by: those
        some state of the entity's workflows hides."""
        if _sees_all(ctx):
            return frozenset()
        return self._query_hidden.get(plan.entity, frozenset())

    def list_hidden(self, conn: Connection, ctx: Context, plan: EntityPlan) -> frozenset[str]:
        """:meth:`query_hidden` and the main fields hidden by the nodes ``ctx``
        holds a pending task on (an approver may not probe what his node hides)."""
        hidden = self.query_hidden(ctx, plan)
        nodes = self._node_hidden.get(plan.entity)
        if not nodes or _sees_all(ctx):
            return hidden
        for workflow, node in pending_nodes_of(conn, plan.entity, _user(ctx)):
            hidden = hidden | nodes.get((workflow, node), frozenset())
        return hidden

    def hidden(self, conn: Connection, ctx: Context, plan: EntityPlan,
               rid: int) -> frozenset[str]:
        """The fields the workflow hides from ``ctx`` on the record."""
        return self.hidden_many(conn, ctx, plan, [rid]).get(rid, frozenset())

    def hidden_many(self, conn: Connection, ctx: Context, plan: EntityPlan,
                    rids: Iterable[int]) -> dict[int, frozenset[str]]:
        if _sees_all(ctx):
            return {}
        found = field_access_many(conn, self.registry, plan.spec, rids, _user(ctx),
                                  now=ctx.now())
        return {rid: frozenset(p for p, a in access.items() if a == HIDDEN and p != "*")
                for rid, access in found.items()}

    def strip(self, conn: Connection, ctx: Context, plan: EntityPlan, rid: int,
              record: dict[str, Any]) -> dict[str, Any]:
        """``record`` without the fields the workflow hides from ``ctx``."""
        hidden = self.hidden(conn, ctx, plan, rid)
        return strip_record(record, hidden, plan.children) if hidden else record

    def strip_line(self, conn: Connection, ctx: Context, plan: EntityPlan, line: dict[str, Any],
                   child: str) -> dict[str, Any]:
        """A line read alone without the fields the workflow hides on its record."""
        if _sees_all(ctx) or "id" not in line:
            return line
        table = plan.children[child].table
        parent = conn.execute(select(table.c.parent_id).where(table.c.id == line["id"])).scalar()
        hidden = self.hidden(conn, ctx, plan, parent) if parent is not None else frozenset()
        return strip_line(line, child, hidden) if hidden else line

    def strip_many(self, conn: Connection, ctx: Context, plan: EntityPlan,
                   records: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
        """Records of a list or export, each without what the workflow hides on
        it; read in batches, so an export stays a stream."""
        if _sees_all(ctx):
            yield from records
            return
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= _BATCH:
                yield from self._stripped(conn, ctx, plan, batch)
                batch = []
        yield from self._stripped(conn, ctx, plan, batch)

    def _stripped(self, conn: Connection, ctx: Context, plan: EntityPlan,
                  batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not batch:
            return batch
        hidden = self.hidden_many(conn, ctx, plan, [r["id"] for r in batch if "id" in r])
        return [strip_record(r, hidden[r["id"]], plan.children) if hidden.get(r.get("id"))
                else r for r in batch]

    def participant_view(self, conn: Connection, ctx: Context, plan: EntityPlan,
                         rid: int) -> ParticipantView | None:
        """The view of a participant of the record's workflow, or None."""
        if _sees_all(ctx) or not is_participant(conn, plan.entity, rid, _user(ctx)):
            return None
        reads = held_grants(ctx.grants, self.registry, plan.entity, "read")
        return ParticipantView(plan, hidden_anywhere(reads))

    def assignee_view(self, conn: Connection, ctx: Context, plan: EntityPlan,
                      rid: int) -> ParticipantView | None:
        """The update view of an approver without an update grant reaching the
        record: while they hold a pending task whose node makes fields
        editable, they may change those fields and nothing else. None
        otherwise."""
        if _sees_all(ctx):
            return None
        access = assignee_access(conn, self.registry, plan.spec, rid, _user(ctx),
                                 now=ctx.now())
        if access is None:
            return None
        restriction = _restriction(plan, access, self._state.get(plan.entity, frozenset()),
                                   sees_all=False)
        if not _writable(plan) - restriction.locked:
            return None
        reads = held_grants(ctx.grants, self.registry, plan.entity, "read")
        hidden = hidden_anywhere(reads) | restriction.hidden
        view = ParticipantView(plan, hidden)
        view.restrict(conn, rid, hidden, restriction.locked)
        return view

    # -- writing -----------------------------------------------------------------

    def restriction(self, conn: Connection, ctx: Context, plan: EntityPlan,
                    rid: int) -> Restriction:
        """What ``ctx`` may not see and not change on the stored record."""
        if ctx.grants is None:
            return _NONE
        access = field_access_many(conn, self.registry, plan.spec, [rid], _user(ctx),
                                   now=ctx.now()).get(rid, {})
        return _restriction(plan, access, self._state.get(plan.entity, frozenset()),
                            sees_all=_sees_all(ctx))

    def state_fields(self, entity: str) -> frozenset[str]:
        """The fields only the workflow engine writes (its ``state_field``s)."""
        return self._state.get(entity, frozenset())

    def create_restriction(self, ctx: Context, plan: EntityPlan) -> Restriction:
        """What a new record's initial state hides from and locks for ``ctx``."""
        if ctx.grants is None:
            return _NONE
        return _restriction(plan, self._initial.get(plan.entity, {}),
                            self._state.get(plan.entity, frozenset()), sees_all=_sees_all(ctx))

    def check_create(self, ctx: Context, plan: EntityPlan, data: Any, payload: Payload,
                     now: datetime) -> frozenset[str]:
        """Refuse a new record that writes what its initial state hides or locks
        (the state field included); returns the fields to hide in the answer."""
        if ctx.grants is None:
            return frozenset()
        restriction = self.create_restriction(ctx, plan)
        refuse_hidden(plan, data, restriction.hidden)
        refuse_read_only(plan, data, payload, restriction.locked - restriction.hidden,
                         None, {}, now)
        return restriction.hidden

    def refuse_delete(self, conn: Connection, ctx: Context, plan: EntityPlan,
                      rid: int) -> None:
        """Conflict ``workflow_open`` unless the record may be deleted (see the
        module docstring)."""
        row = current_instance(conn, plan.entity, rid)
        if row is None:
            return
        if row.status in OPEN_STATUSES:
            raise _workflow_open(plan, rid, row, None)
        if ctx.grants is None:
            return
        state = instance_state(conn, row)
        if state is None or state.category not in DELETABLE_CATEGORIES:
            raise _workflow_open(plan, rid, row, state.category if state else None)


def _user(ctx: Context) -> str:
    return getattr(ctx.grants, "user", None) or ctx.actor


def _sees_all(ctx: Context) -> bool:
    """Trusted callers and the superuser see every field."""
    return ctx.grants is None or bool(getattr(ctx.grants, "superuser", False))


def _writable(plan: EntityPlan) -> set[str]:
    return {*plan.main.fields, *(f"{child}.{code}" for child, part in plan.children.items()
                                 for code in part.fields)}


def _restriction(plan: EntityPlan, access: Mapping[str, str], state_fields: frozenset[str],
                 *, sees_all: bool) -> Restriction:
    """Access per path → the paths hidden and the writable paths locked."""
    hidden = frozenset() if sees_all else frozenset(
        p for p, a in access.items() if a == HIDDEN and p != "*")
    locked = set(state_fields)
    for child, part in ((None, plan.main), *plan.children.items()):
        paths = [code if child is None else f"{child}.{code}" for code in part.fields]
        shut = [p for p in paths if access.get(p, access.get("*", EDITABLE)) != EDITABLE]
        locked.update(shut)
        if child is not None and paths and len(shut) == len(paths):
            locked.add(child)
    return Restriction(hidden, frozenset(locked))


def _initial_access(flows: tuple[WorkflowSpec, ...]) -> Mapping[str, str]:
    """What a new record's initial state declares, over every candidate
    workflow (the most restrictive: the one it will be submitted to is not
    known yet). Undeclared fields are editable."""
    out: dict[str, str] = {}
    rank = {HIDDEN: 0, "read_only": 1, EDITABLE: 2}
    for flow in flows:
        state = flow.state(flow.initial)
        for path, access in (state.fields.items() if state is not None else ()):
            if rank[access] < rank.get(out.get(path, EDITABLE), 2):
                out[path] = access
    return MappingProxyType(out)


def _nodes_hiding(flows: tuple[WorkflowSpec, ...],
                  fields: Iterable[Any]) -> Mapping[tuple[str, str], frozenset[str]]:
    """(workflow, node) → the main fields the node hides, for nodes hiding any."""
    specs = list(fields)
    found = {(w.qualified_code, n.code): _ever_hidden([n.fields], specs)
             for w in flows for c in w.chains for n in c.nodes}
    return MappingProxyType({k: v for k, v in found.items() if v})


def _ever_hidden(maps: Iterable[Mapping[str, str]], fields: Iterable[Any]) -> frozenset[str]:
    """Main fields some of the permission ``maps`` hides (``*`` hides them all)."""
    codes = [f.code for f in fields]
    out: set[str] = set()
    for fields_map in maps:
        if fields_map.get("*") == HIDDEN:
            out.update(c for c in codes if fields_map.get(c, HIDDEN) == HIDDEN)
        out.update(p for p, a in fields_map.items() if a == HIDDEN and p in codes)
    return frozenset(out)


def _workflow_open(plan: EntityPlan, rid: int, row: Any, category: str | None) -> Conflict:
    if category is None:
        message = Text(f"{plan.label.zh}（id {rid}）正在审批流程中，不能删除；请先撤回或取消",
                       f"{plan.label.en} {rid} is in a running approval and cannot be "
                       f"deleted; withdraw or cancel it first")
    else:
        message = Text(f"{plan.label.zh}（id {rid}）已提交审批（状态 {row.state}），不能删除",
                       f"{plan.label.en} {rid} went through approval (state {row.state}) "
                       f"and cannot be deleted")
    return Conflict(message, code="workflow_open",
                    details={"entity": plan.entity, "id": rid, "instance_id": row.id,
                             "status": row.status, "state": row.state})
