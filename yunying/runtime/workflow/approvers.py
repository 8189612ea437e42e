"""Approver resolution: who approves (or is copied on) a node of an approval
chain (runtime layer, workflow).

:func:`resolve_approvers` turns an approval node's :class:`ApproverSpec`
sources into the tasks the engine creates (:class:`Resolution`), and
:func:`resolve_recipients` the people a cc node copies. Everything is read on
the caller's connection, as of ``env.today``.

Sources (``ApproverSpec.source``), their union taken in order, each user
once, unknown and inactive users dropped:

- ``users`` — the named users;
- ``role`` — holders of the role in the record's domain: held in ``*``, or in
  a domain that is the record's unit (``env.unit``) or one of its ancestors
  in the ``admin`` tree on ``env.today`` (without a unit: ``*`` only).
  Holders of a role that inherits the named role count too (e.g. a chief
  storekeeper whose role inherits ``storekeeper``), as in access control:
  holding a child role means holding the parent. Holders are read from the
  stored policy rows in the caller's transaction (not from a cached
  enforcer), with the same rules as ``AccessControl.users_with_role``;
- ``initiator_head`` — the nearest head above the initiator along the
  ``admin`` tree (:func:`yunying.platform.org.heads_above`): the head of his
  primary unit, or — when he heads it himself or it has no head — the next
  head up; nobody without a primary unit;
- ``heads`` — 连续多级主管: the active heads above the initiator along
  ``tree``, nearest first, one sequential step each, at most ``levels`` of
  them (None = up to the top), stopping at (and including) the first head
  holding ``until_role`` in the record's domain (nobody holds it: up to
  the top). Inactive heads are skipped like vacant posts and do not count
  as a level. A ``heads`` source makes the node sequential;
- ``user_field`` — the user in that field of the record;
- ``unit_field`` — the head (on ``env.today``) of the unit in that field;
- ``initiator_choice`` — ``env.chosen[node.code]``: required on approval
  nodes (missing → TransitionRejected ``approvers_required``), optional on
  cc nodes; each chosen user must be active (ValidationFailed
  ``unknown_approvers`` naming them);
- ``previous_choice`` — ``env.previous_choice``, checked the same way; empty
  contributes nobody (the node's no_approver policy decides).

Then the policies of :mod:`.policies` (on_self, dedup, delegation) and, when
nobody is left, ``no_approver``: ``refuse`` (TransitionRejected
``no_approver``), ``auto_approve`` (``Resolution.auto_approve``) or
``assign`` (``assign_users`` and the holders of ``assign_role``, through the
same policies; nobody again → refuse). A node whose only approvers were
skipped by ``on_self: skip`` passes (``auto_approve``) rather than refusing.
Role codes in specs are qualified (``package.role``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Connection, or_, select

from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import ApproverSpec, NodeSpec
from yunying.platform import org
from yunying.platform.access_policy import (
    ANY_DOMAIN, MAX_ROLE_DEPTH, ROLE_PREFIX, USER_PREFIX, role_subject,
)
from yunying.platform.tables import casbin_rule, org_head
from yunying.platform.tables import user as user_table
from yunying.runtime.registry import Registry
from yunying.runtime.workflow.delegation import is_user_code
from yunying.runtime.workflow.policies import (
    PENDING, Seat, approvers_required_error, bad_choice_error, dedup, delegate,
    no_approver_error, on_self,
)

__all__ = ["DOMAIN_TREE", "ApproverEnv", "Seat", "Resolution", "resolve_approvers",
           "resolve_recipients"]

#: the tree a role's domain reaches down and ``initiator_head`` walks up.
DOMAIN_TREE = "admin"
_CODE_LENGTH = 64      # org unit and user codes
_ROLE_LENGTH = 250     # role codes in yy_casbin_rule ("role:" + code fits 255)
_NO_CHOICE: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True)
class ApproverEnv:
    """What resolution needs to know about the document and the instance."""

    registry: Registry
    entity: EntitySpec
    #: the stored row: field codes → values, plus id, created_by
    record: Mapping[str, Any]
    initiator: str
    #: the record's org-dimension unit (None without org_dimension)
    unit: str | None
    today: date
    #: initiator_choice, by node code
    chosen: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_CHOICE)
    #: previous_choice named by the previous approver
    previous_choice: tuple[str, ...] = ()
    #: users who approved (as persons) earlier in this instance
    approved_before: frozenset[str] = frozenset()
    #: users who approved the node activated right before
    approved_previous: frozenset[str] = frozenset()
    #: this activation comes from a return / reject_to (no dedup)
    returned_to: bool = False


@dataclass(frozen=True)
class Resolution:
    """The tasks an approval node's activation creates."""

    seats: tuple[Seat, ...]          # in order; sequential nodes act in this order
    sequential: bool                 # True when mode is sequential or a `heads` source decided it
    auto_approve: bool = False       # nobody resolved and policy auto_approve: the node passes
    skipped: tuple[str, ...] = ()    # approvers dropped by on_self=skip (for the timeline)


# ---------------------------------------------------------------- entry points

def resolve_approvers(conn: Connection, node: NodeSpec, env: ApproverEnv) -> Resolution:
    """The seats of an approval node's activation, policies applied.

    Raises TransitionRejected ``no_approver`` (nobody and the policy refuses)
    or ``approvers_required`` (an initiator_choice without choice), and
    ValidationFailed ``unknown_approvers`` for chosen users who are not active.
    """
    sequential = node.mode == "sequential" or any(a.source == "heads" for a in node.approvers)
    found = _seat(conn, node, env, _candidates(conn, node, env, required=True))
    if found is not None:
        seats, skipped = found
        return Resolution(seats, sequential, auto_approve=not seats, skipped=skipped)
    return _NO_APPROVER.get(node.policy.no_approver, _refuse)(conn, node, env, sequential)


def resolve_recipients(conn: Connection, node: NodeSpec, env: ApproverEnv) -> tuple[str, ...]:
    """The users a cc node copies: its sources' active users, in order, each
    once, those on leave replaced by their substitutes. Nobody is fine."""
    users = _candidates(conn, node, env, required=False)
    seats = delegate(conn, [Seat(u, PENDING) for u in users], env.initiator, env.today)
    return tuple(s.user for s in seats)


def _seat(conn: Connection, node: NodeSpec, env: ApproverEnv, users: list[str]
          ) -> tuple[tuple[Seat, ...], tuple[str, ...]] | None:
    """Seats and skipped approvers after the policies; None when nobody at all."""
    def head() -> str | None:
        return _first(_heads_of(conn, env.initiator, DOMAIN_TREE, env.today))

    seats, skipped = on_self(users, env.initiator, node.policy.on_self, head)
    seats = dedup(seats, node.policy.dedup, approved_before=env.approved_before,
                  approved_previous=env.approved_previous, returned_to=env.returned_to)
    seats = delegate(conn, seats, env.initiator, env.today)
    if not seats and not skipped:
        return None
    return tuple(seats), tuple(skipped)


# ---------------------------------------------------------------- no approver

def _refuse(conn: Connection, node: NodeSpec, env: ApproverEnv, sequential: bool) -> Resolution:
    raise no_approver_error(node)


def _auto_approve(conn: Connection, node: NodeSpec, env: ApproverEnv,
                  sequential: bool) -> Resolution:
    return Resolution((), sequential, auto_approve=True)


def _assign(conn: Connection, node: NodeSpec, env: ApproverEnv, sequential: bool) -> Resolution:
    policy = node.policy
    users = list(policy.assign_users)
    if policy.assign_role is not None:
        users += _role_holders(conn, policy.assign_role, _domains(conn, env))
    found = _seat(conn, node, env, _active(conn, users))
    if found is None:
        raise no_approver_error(node)
    seats, skipped = found
    return Resolution(seats, sequential, auto_approve=not seats, skipped=skipped)


_NO_APPROVER: Mapping[str, Callable[[Connection, NodeSpec, ApproverEnv, bool], Resolution]] = \
    MappingProxyType({"refuse": _refuse, "auto_approve": _auto_approve, "assign": _assign})


# ---------------------------------------------------------------- sources

Source = Callable[[Connection, NodeSpec, ApproverSpec, ApproverEnv, bool], list[str]]


def _candidates(conn: Connection, node: NodeSpec, env: ApproverEnv, *,
                required: bool) -> list[str]:
    """The union of the node's sources, in order, each user once, active only."""
    users: list[str] = []
    for spec in node.approvers:
        users += _SOURCES[spec.source](conn, node, spec, env, required)
    return _active(conn, users)


def _named(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
           required: bool) -> list[str]:
    return list(spec.users)


def _role(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
          required: bool) -> list[str]:
    return _role_holders(conn, spec.role, _domains(conn, env))


def _initiator_head(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
                    required: bool) -> list[str]:
    return _heads_of(conn, env.initiator, spec.tree, env.today)[:1]


def _heads(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
           required: bool) -> list[str]:
    chain = _heads_of(conn, env.initiator, spec.tree, env.today)
    stop = set(_role_holders(conn, spec.until_role, _domains(conn, env))) \
        if spec.until_role is not None else set()
    taken: list[str] = []
    for head in chain:
        if spec.levels is not None and len(taken) >= spec.levels:
            break
        taken.append(head)
        if head in stop:
            break
    return taken


def _user_field(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
                required: bool) -> list[str]:
    value = env.record.get(spec.field) if spec.field is not None else None
    return [value] if is_user_code(value) else []


def _unit_field(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
                required: bool) -> list[str]:
    unit = env.record.get(spec.field) if spec.field is not None else None
    if not _storable(unit):
        return []
    h = org_head.c
    return list(conn.execute(select(h.user_code).where(
        h.unit_code == unit, h.valid_from <= env.today,
        or_(h.valid_to.is_(None), h.valid_to > env.today)).order_by(h.user_code)).scalars())


def _initiator_choice(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
                      required: bool) -> list[str]:
    picked = env.chosen.get(node.code, ())
    chosen = (picked,) if isinstance(picked, str) else tuple(picked)
    if not chosen and required:
        raise approvers_required_error(node)
    return _checked_choice(conn, node, chosen)


def _previous_choice(conn: Connection, node: NodeSpec, spec: ApproverSpec, env: ApproverEnv,
                     required: bool) -> list[str]:
    return _checked_choice(conn, node, tuple(env.previous_choice))


_SOURCES: Mapping[str, Source] = MappingProxyType({
    "users": _named, "role": _role, "initiator_head": _initiator_head, "heads": _heads,
    "user_field": _user_field, "unit_field": _unit_field,
    "initiator_choice": _initiator_choice, "previous_choice": _previous_choice,
})


def _checked_choice(conn: Connection, node: NodeSpec, chosen: tuple[Any, ...]) -> list[str]:
    """The chosen users; ValidationFailed naming those who are not active users."""
    active = set(_active(conn, chosen))
    bad = [_shown(u) for u in chosen if u not in active]
    if bad:
        raise bad_choice_error(node, list(dict.fromkeys(bad)))
    return list(chosen)


# ---------------------------------------------------------------- lookups

def _active(conn: Connection, users: Iterable[Any]) -> list[str]:
    """``users`` that are active users, in order, each once."""
    wanted = list(dict.fromkeys(u for u in users if is_user_code(u)))
    if not wanted:
        return []
    u = user_table.c
    found = set(conn.execute(select(u.code).where(u.code.in_(wanted), u.active.is_(True)))
                .scalars())
    return [code for code in wanted if code in found]


def _heads_of(conn: Connection, user: str, tree: str, today: date) -> list[str]:
    """The active heads above ``user`` along ``tree``, nearest first, each once;
    empty when he has no primary unit."""
    if org.primary_unit(conn, user, today) is None:
        return []
    return _active(conn, [h.user for h in org.heads_above(conn, user, tree, today)])


def _first(users: list[str]) -> str | None:
    return users[0] if users else None


def _domains(conn: Connection, env: ApproverEnv) -> list[str]:
    """The domains whose role holders reach the record: ``*``, its unit and
    the unit's ancestors in the admin tree on ``env.today``."""
    unit = env.unit
    if not _storable(unit):
        return [ANY_DOMAIN]
    try:
        above = org.ancestors(conn, DOMAIN_TREE, unit, env.today)
    except org.OrgNotFound:  # no admin tree, or a unit the org model does not know
        above = []
    return [ANY_DOMAIN, unit, *above]


def _role_holders(conn: Connection, role: str | None, domains: list[str]) -> list[str]:
    """Users holding ``role`` in one of ``domains`` — directly or through a
    role inheriting it — from the stored policy rows, sorted. Same rules as
    ``AccessControl.users_with_role`` (asked for each domain)."""
    if not _storable(role, _ROLE_LENGTH):
        return []
    c = casbin_rule.c
    roles = {role_subject(role)}
    frontier = set(roles)
    for _ in range(MAX_ROLE_DEPTH):
        children = set(conn.execute(select(c.v0).where(
            c.ptype == "g", c.v1.in_(sorted(frontier)), c.v2.in_(domains),
            c.v0.startswith(ROLE_PREFIX, autoescape=True))).scalars()) - roles
        if not children:
            break
        roles |= children
        frontier = children
    holders = conn.execute(select(c.v0).where(
        c.ptype == "g", c.v1.in_(sorted(roles)), c.v2.in_(domains),
        c.v0.startswith(USER_PREFIX, autoescape=True))).scalars()
    return sorted({h[len(USER_PREFIX):] for h in holders})


def _storable(value: Any, limit: int = _CODE_LENGTH) -> bool:
    """A string that fits a code column (no NUL, valid UTF-8): anything else
    matches no row and is not sent to the database."""
    if not isinstance(value, str) or not 0 < len(value) <= limit or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:64].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")
