"""Whether a manual transition may fire: who, guard and comment (runtime layer,
workflow engine).

A trusted context (``ctx.grants is None``) and the superuser may fire any
manual transition. Anyone else:

- a transition with ``chain`` (a submit) needs the ``submit`` entity action
  with a data scope that reaches the record — the same scope conditions the
  record service applies (:func:`yunying.runtime.access.scope.scope_clause`)
  — and, when the transition names who may fire it, to be one of them;
- another transition needs to be one of those it names: a holder of one of
  its ``roles`` in a domain that reaches the record (``*``, or the record's
  org unit or one of its administrative ancestors today; any domain when
  the entity has no org dimension), the record's creator (``creator``), or
  the assignee of a pending task of the open instance (``assignee``);
- a transition that names none of these may be fired by holders of the
  ``approve`` entity action whose scope reaches the record.

Then its ``guard`` must hold over the stored record (TransitionRejected
``guard_failed`` with the guard's message) and, when ``comment_required``, a
comment must be given (TransitionRejected ``comment_required``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Collection, Mapping

from sqlalchemy import Connection, select

from yunying.metadata.workflow_spec import TransitionSpec
from yunying.platform import org
from yunying.platform.context import Context
from yunying.platform.errors import PermissionDenied, TransitionRejected
from yunying.platform.i18n import Text
from yunying.runtime.access.grants import ANY_DOMAIN
from yunying.runtime.access.policy import held_grants, roles_held, unrestricted
from yunying.runtime.access.scope import ScopeEnv, scope_clause
from yunying.runtime.workflow.run import Services, naive_now

__all__ = ["may_fire", "require_fire", "grant_reaches", "check_guard", "require_comment"]

_TREE = "admin"


def grant_reaches(conn: Connection, services: Services, ctx: Context, entity: str,
                  record_id: int, action: str) -> bool:
    """Whether ``ctx`` holds entity action ``action`` with a scope reaching the record."""
    grants = ctx.grants
    if unrestricted(grants):
        return True
    registry = services.registry
    helds = held_grants(grants, registry, entity, action)
    spec, tables = registry.entity(entity), registry.tables(entity)
    if not helds or spec is None or tables is None:
        return False
    now = naive_now(ctx)
    env = ScopeEnv(grants, conn.dialect.name, grants.today or now.date(), now)
    table = tables.table
    clause = scope_clause(services.records.scopes, helds, spec, table, env, prefix="yy_wf")
    stmt = select(table.c.id).where(table.c.id == record_id)
    return conn.execute(stmt if clause is None else stmt.where(clause)).first() is not None


def _role_reaches(conn: Connection, services: Services, ctx: Context, roles: Collection[str],
                  entity: str, record: Mapping[str, Any], today: date) -> bool:
    domains = {h.domain for h in roles_held(ctx.grants, services.registry) if h.role in roles}
    if not domains:
        return False
    spec = services.registry.entity(entity)
    if ANY_DOMAIN in domains or spec is None or spec.org_dimension is None:
        return True
    unit = record.get(spec.org_dimension)
    if not isinstance(unit, str):
        return False
    if unit in domains:
        return True
    below = org.descendants_query(_TREE, sorted(domains), today).subquery()
    return conn.execute(select(below.c.code).where(below.c.code == unit)
                        .limit(1)).first() is not None


def may_fire(conn: Connection, services: Services, ctx: Context, transition: TransitionSpec,
             entity: str, record: Mapping[str, Any], assignees: Collection[str]) -> bool:
    """Whether ``ctx`` may fire the manual ``transition`` on ``record`` (see the
    module docstring); ``assignees`` are the pending assignees of the open instance."""
    if unrestricted(ctx.grants):
        return True
    rid = record["id"]
    if transition.chain is not None and not grant_reaches(conn, services, ctx, entity, rid,
                                                          "submit"):
        return False
    if not (transition.roles or transition.creator or transition.assignee):
        return transition.chain is not None or grant_reaches(conn, services, ctx, entity, rid,
                                                             "approve")
    user = ctx.actor
    today = ctx.grants.today or naive_now(ctx).date()
    return ((transition.creator and record.get("created_by") == user)
            or (transition.assignee and user in assignees)
            or (bool(transition.roles) and _role_reaches(conn, services, ctx, transition.roles,
                                                         entity, record, today)))


def require_fire(conn: Connection, services: Services, ctx: Context,
                 transition: TransitionSpec, entity: str, record: Mapping[str, Any],
                 assignees: Collection[str]) -> None:
    """PermissionDenied unless :func:`may_fire`."""
    if not may_fire(conn, services, ctx, transition, entity, record, assignees):
        raise PermissionDenied(
            Text(f"您不能执行“{transition.label.zh}”", f"you may not {transition.label.en}"),
            code="transition_not_allowed", details={"transition": transition.code})


def check_guard(conn: Connection, services: Services, ctx: Context, transition: TransitionSpec,
                entity: str, record: Mapping[str, Any]) -> None:
    """TransitionRejected ``guard_failed`` unless the transition's guard holds."""
    if transition.guard is None or services.formulas.holds(conn, ctx, entity, record,
                                                           transition.guard):
        return
    message = transition.guard_message or Text(
        f"不满足“{transition.label.zh}”的条件：{transition.guard}",
        f"the condition of {transition.label.en} does not hold: {transition.guard}")
    raise TransitionRejected(message, code="guard_failed",
                             details={"transition": transition.code, "guard": transition.guard})


def require_comment(comment: str | None, what: Text, *, node: str | None = None,
                    transition: str | None = None) -> None:
    """TransitionRejected ``comment_required`` when ``comment`` is missing."""
    if comment:
        return
    raise TransitionRejected(Text(f"{what.zh}需要填写意见", f"{what.en} needs a comment"),
                             code="comment_required",
                             details={"node": node, "transition": transition})
