"""Field permissions of workflow states and approval nodes (runtime layer, workflow).

While a document moves through its workflow, what a user may do with each of
its fields — ``editable``, ``read_only`` or ``hidden`` — follows the state it
is in and, for an approver, the node they are acting on. The record service
asks :func:`workflow_field_access` (one record) or :func:`field_access_many`
(a page of records) and enforces the answer together with the role field
permissions.

Resolution for one record and one user:

1. **Which state.** The record's *current* instance (:func:`current_instance`:
   the open one — status running or returned — else the latest) gives the
   workflow, rebuilt from the instance's own ``wf_definition`` row (running
   instances keep the version they started with), and the state. A record
   without any instance is in the ``initial`` state of the workflow that
   would be chosen for it — a draft, whatever the category: only what that
   state's ``fields`` say restricts it (the entity's workflows in the registry by
   priority, the first whose condition holds on the stored row; when none
   holds, the last one tried). So is a record whose last run ended back in a
   draft-category state (withdrawn). No workflow at all: an empty mapping.
2. **Layers**, the first that names a field wins: the approval nodes on
   which the user holds a *pending* task of the open instance (their
   ``fields``; with several nodes, the most permissive answer), then the
   state's ``fields``, then the default of the state's category — ``draft``
   editable, every other category read-only. Within a layer a field is named
   exactly (``reason``, ``lines.quantity``), by its child table
   (``lines.*``) or by ``*``.

The answer names every field of the entity (``field`` and ``child.field``,
computed fields included) plus ``*`` for anything else. Specs rebuilt from
definition rows are cached for one call only — nothing is kept between calls.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, Row, and_, exists, or_, select

from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import NodeSpec, StateSpec, WorkflowSpec
from yunying.metadata.workflows import workflow_from_document
from yunying.platform.context import utcnow
from yunying.platform.tables import wf_definition, wf_instance, wf_task
from yunying.runtime.formula.entity_context import context_for
from yunying.runtime.formula.errors import FormulaError
from yunying.runtime.formula.sql import compile_condition
from yunying.runtime.formula.checker import check
from yunying.runtime.formula.types import FType
from yunying.runtime.registry import Registry

__all__ = [
    "OPEN_STATUSES", "EDITABLE", "READ_ONLY", "HIDDEN",
    "open_instance", "current_instance", "instance_state", "is_participant",
    "pending_nodes_of",
    "workflow_field_access", "field_access_many", "assignee_access",
    "entity_workflows", "state_fields", "field_paths", "access_of",
]

#: instance statuses of a workflow run that is not over yet.
OPEN_STATUSES = ("running", "returned")
EDITABLE, READ_ONLY, HIDDEN = "editable", "read_only", "hidden"
#: how much an access allows, to pick the most permissive of several nodes.
_RANK = {HIDDEN: 0, READ_ONLY: 1, EDITABLE: 2}
_DEFAULTS = {"draft": EDITABLE}


# -- instances -----------------------------------------------------------------

def open_instance(conn: Connection, entity: str, record_id: int) -> Row | None:
    """The record's open instance (status running or returned), or None.

    Only open instances: a record whose approval ended has none. Callers
    that need the state of such a record use :func:`current_instance`.
    """
    i = wf_instance
    return conn.execute(select(i).where(
        i.c.entity == entity, i.c.record_id == record_id, i.c.status.in_(OPEN_STATUSES))
        .order_by(i.c.id.desc()).limit(1)).first()


def current_instance(conn: Connection, entity: str, record_id: int) -> Row | None:
    """The instance that decides the record's state: the open one, else the
    latest (highest id); None when the record never went through approval."""
    return _current(conn, entity, [record_id]).get(record_id)


def _current(conn: Connection, entity: str, record_ids: Iterable[int]) -> dict[int, Row]:
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    i = wf_instance
    found: dict[int, Row] = {}
    for row in conn.execute(select(i).where(i.c.entity == entity, i.c.record_id.in_(ids))
                            .order_by(i.c.id)):
        held = found.get(row.record_id)
        if held is None or held.status not in OPEN_STATUSES:
            found[row.record_id] = row
    return found


def is_participant(conn: Connection, entity: str, record_id: int, user: str) -> bool:
    """Whether ``user`` initiated an instance of the record or was assigned a
    task of one (approval, added signer or cc), in any of its runs."""
    i, t = wf_instance, wf_task
    of_record = and_(i.c.entity == entity, i.c.record_id == record_id)
    tasked = exists(select(t.c.id).where(t.c.instance_id == i.c.id, t.c.assignee == user))
    return conn.execute(select(i.c.id).where(of_record, or_(i.c.initiator == user, tasked))
                        .limit(1)).first() is not None


def pending_nodes_of(conn: Connection, entity: str, user: str) -> set[tuple[str, str]]:
    """(workflow, node) of every pending task ``user`` holds on ``entity``'s records."""
    i, t = wf_instance, wf_task
    joined = t.join(i, t.c.instance_id == i.c.id)
    return {(r.workflow, r.node) for r in conn.execute(
        select(i.c.workflow, t.c.node).distinct().select_from(joined)
        .where(i.c.entity == entity, t.c.assignee == user, t.c.status == "pending"))}


# -- the entity's workflows ----------------------------------------------------

def entity_workflows(registry: Registry, entity: str) -> tuple[WorkflowSpec, ...]:
    """The workflows of ``entity`` (qualified) in the registry, in the order a
    submit tries them (priority, then package and code)."""
    flows = [w for p in registry.packages.values() for w in p.workflows if w.entity == entity]
    return tuple(sorted(flows, key=lambda w: (w.priority, w.qualified_code)))


def state_fields(registry: Registry, entity: str) -> frozenset[str]:
    """The fields some workflow of ``entity`` keeps equal to the state code."""
    return frozenset(w.state_field for w in entity_workflows(registry, entity)
                     if w.state_field)


def field_paths(entity: EntitySpec) -> tuple[str, ...]:
    """Every field of the entity as named in field permissions."""
    return (*(f.code for f in entity.fields),
            *(f"{c.code}.{f.code}" for c in entity.children for f in c.fields))


# -- access --------------------------------------------------------------------

def workflow_field_access(conn: Connection, registry: Registry, entity: EntitySpec,
                          record_id: int, user: str, *,
                          now: datetime | None = None) -> Mapping[str, str]:
    """Field path (and ``*``) → editable / read_only / hidden for ``user`` on
    the record; empty when no workflow governs it. ``now`` is the clock of
    workflow conditions (choosing the workflow of a record never submitted)."""
    return field_access_many(conn, registry, entity, [record_id], user, now=now).get(
        record_id, {})


def field_access_many(conn: Connection, registry: Registry, entity: EntitySpec,
                      record_ids: Iterable[int], user: str, *,
                      now: datetime | None = None) -> dict[int, Mapping[str, str]]:
    """:func:`workflow_field_access` for several records of one entity at
    once (three queries whatever their number); records no workflow governs
    are left out."""
    ids = sorted(set(record_ids))
    code = entity.qualified_code
    instances = _current(conn, code, ids)
    specs = _definitions(conn, {row.definition_id for row in instances.values()})
    nodes = _pending_nodes(conn, [r.id for r in instances.values()
                                  if r.status in OPEN_STATUSES], user)
    paths = field_paths(entity)
    out: dict[int, Mapping[str, str]] = {}
    for rid, row in instances.items():
        spec = specs[row.definition_id]
        state = spec.state(row.state)
        if row.status not in OPEN_STATUSES and state is not None and state.category == "draft":
            continue    # withdrawn or reopened: fresh again, like a record never submitted
        chain = spec.chain(row.chain) if row.chain else None
        active = [n for n in (chain.node(c) for c in nodes.get(row.id, ())) if n] \
            if chain is not None else []
        out[rid] = access_of(paths, state, active)
    fresh = [rid for rid in ids if rid not in out]
    if fresh:
        for rid, state in _initial_states(conn, registry, entity, fresh, now).items():
            out[rid] = access_of(paths, state, [], default=EDITABLE)
    return out


def assignee_access(conn: Connection, registry: Registry, entity: EntitySpec,
                    record_id: int, user: str, *,
                    now: datetime | None = None) -> Mapping[str, str] | None:
    """The access of ``user`` on the record when they hold a pending task of its
    open instance (an approver at work), else None."""
    row = open_instance(conn, entity.qualified_code, record_id)
    if row is None or not _pending_nodes(conn, [row.id], user):
        return None
    return workflow_field_access(conn, registry, entity, record_id, user, now=now)


def access_of(paths: Iterable[str], state: StateSpec | None, nodes: Iterable[NodeSpec],
              *, default: str | None = None) -> dict[str, str]:
    """The layered access of every path (see the module docstring); ``default``
    replaces the category's. A state the spec does not know (never expected)
    leaves every field read-only."""
    layers = [n.fields for n in nodes]
    own = state.fields if state is not None else {}
    if default is None:
        default = _DEFAULTS.get(state.category, READ_ONLY) if state is not None else READ_ONLY
    out = {}
    for path in ("*", *paths):
        named = [a for a in (_named(fields, path) for fields in layers) if a is not None]
        out[path] = max(named, key=_RANK.__getitem__) if named else (
            _named(own, path) or default)
    return out


def _named(fields: Mapping[str, str], path: str) -> str | None:
    found = fields.get(path)
    if found is None and "." in path:
        found = fields.get(f"{path.partition('.')[0]}.*")
    return found if found is not None else fields.get("*")


def instance_state(conn: Connection, instance: Row) -> StateSpec | None:
    """The state an instance row is in, from the spec of its own definition."""
    return _definitions(conn, {instance.definition_id})[instance.definition_id].state(
        instance.state)


def _definitions(conn: Connection, ids: set[int]) -> dict[int, WorkflowSpec]:
    """The specs of the given definition rows (rebuilt for this call only)."""
    if not ids:
        return {}
    d = wf_definition
    out = {}
    for row in conn.execute(select(d.c.id, d.c.document).where(d.c.id.in_(sorted(ids)))):
        stored = json.loads(row.document)
        out[row.id] = workflow_from_document(stored["package"], stored["document"])
    return out


def _pending_nodes(conn: Connection, instance_ids: list[int],
                   user: str) -> dict[int, tuple[str, ...]]:
    """Instance id → the nodes ``user`` holds a pending task on."""
    if not instance_ids:
        return {}
    t = wf_task
    found: dict[int, list[str]] = {}
    for row in conn.execute(select(t.c.instance_id, t.c.node).where(
            t.c.instance_id.in_(sorted(instance_ids)), t.c.assignee == user,
            t.c.status == "pending").order_by(t.c.id)):
        found.setdefault(row.instance_id, []).append(row.node)
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


# -- records never submitted ---------------------------------------------------

def _initial_states(conn: Connection, registry: Registry, entity: EntitySpec,
                    record_ids: list[int], now: datetime | None) -> dict[int, StateSpec]:
    """The initial state of the workflow each record would be submitted to.

    Conditions are only evaluated when the candidates' initial states differ
    in what they allow (usually they do not: a draft is a draft)."""
    flows = entity_workflows(registry, entity.qualified_code)
    initial = [w.state(w.initial) for w in flows]
    states = [s for s in initial if s is not None]
    if not states:
        return {}
    if len({(s.category, tuple(sorted(s.fields.items()))) for s in states}) == 1:
        return dict.fromkeys(record_ids, states[0])
    chosen = _choose(conn, registry, entity, flows, record_ids, now or utcnow())
    out = {}
    for rid in record_ids:
        flow = flows[chosen.get(rid, len(flows) - 1)]
        out[rid] = flow.state(flow.initial) or states[-1]
    return out


def _choose(conn: Connection, registry: Registry, entity: EntitySpec,
            flows: tuple[WorkflowSpec, ...], record_ids: list[int],
            now: datetime) -> dict[int, int]:
    """Record id → index of the first workflow whose condition holds on it."""
    tables = registry.tables(entity.qualified_code)
    if tables is None:
        return {}
    table = tables.table
    columns = {c.name: c for c in table.c}
    picks = []
    for n, flow in enumerate(flows):
        holds = _condition(flow, entity, registry, columns, conn.dialect.name, now)
        if holds is None:
            continue
        picks.append((n, holds))
    out: dict[int, int] = {}
    for n, holds in picks:
        left = [r for r in record_ids if r not in out]
        if not left:
            break
        if holds is True:
            out.update(dict.fromkeys(left, n))
            continue
        for rid in conn.execute(select(table.c.id).where(table.c.id.in_(left), holds)).scalars():
            out[rid] = n
    return out


def _condition(flow: WorkflowSpec, entity: EntitySpec, registry: Registry,
               columns: Mapping[str, Any], dialect: str, now: datetime) -> Any:
    """The workflow's condition as SQL (True without one; None when it cannot
    be compiled — the package check refuses such conditions at load)."""
    if not flow.condition:
        return True
    try:
        checked = check(flow.condition, context_for(entity, registry), expect=FType.BOOLEAN)
        return compile_condition(checked, columns, dialect=dialect, today=now.date(), now=now)
    except FormulaError:
        return None
