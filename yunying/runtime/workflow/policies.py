"""Node policies applied to resolved approvers (runtime layer, workflow):
approver is the initiator (on_self), de-duplication, delegation, and the
errors of a node without approvers.

The steps take the approvers a node's sources resolved (active users, in
order, each once) and turn them into :class:`Seat` values — who gets a task
and whether it is decided already — in the order
:func:`yunying.runtime.workflow.approvers.resolve_approvers` runs them:

1. :func:`on_self` — an approver who is the initiator: ``none`` keeps him,
   ``auto_approve`` seats him with status ``auto`` (reason ``self``),
   ``skip`` drops him (listed as skipped), ``head`` puts the initiator's
   head in his place (dropped when the initiator has no active head);
2. :func:`dedup` — ``any``: an approver who approved (as a person) any
   earlier task of the instance is seated ``auto`` (reason ``dedup``);
   ``consecutive``: only one who approved the node activated right before;
   never on an activation that comes from a return or ``reject_to``;
3. :func:`delegate` — a pending seat of an approver on leave goes to his
   substitute (``delegated_from`` = the approver); an ``auto`` seat keeps
   the original user (nothing is handed to anyone). A substitute who is the
   initiator is not used (no one approves his own document through a
   delegation): the original approver keeps the task.

After each step a user holds at most one seat (the first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Callable, Iterable, Sequence

from sqlalchemy import Connection

from yunying.metadata.workflow_spec import NodeSpec
from yunying.platform.errors import TransitionRejected, ValidationFailed
from yunying.platform.i18n import Text
from yunying.runtime.workflow.delegation import substitutes

__all__ = ["Seat", "PENDING", "AUTO", "on_self", "dedup", "delegate", "unique",
           "no_approver_error", "approvers_required_error", "bad_choice_error"]

PENDING = "pending"
AUTO = "auto"


@dataclass(frozen=True)
class Seat:
    """One task an approval node will create."""

    user: str                # who gets the task (the substitute when the approver is on leave)
    status: str              # "pending" | "auto"
    reason: str | None = None        # auto: "self" | "dedup"
    delegated_from: str | None = None


def unique(seats: Iterable[Seat]) -> list[Seat]:
    """The seats with each user once (his first seat)."""
    seen: set[str] = set()
    kept: list[Seat] = []
    for seat in seats:
        if seat.user not in seen:
            seen.add(seat.user)
            kept.append(seat)
    return kept


# ---------------------------------------------------------------- on_self

def _keep(user: str, head: Callable[[], str | None]) -> Seat | None:
    return Seat(user, PENDING)


def _auto(user: str, head: Callable[[], str | None]) -> Seat | None:
    return Seat(user, AUTO, "self")


def _to_head(user: str, head: Callable[[], str | None]) -> Seat | None:
    found = head()
    return Seat(found, PENDING) if found is not None else None


#: on_self policy → the seat of an approver who is the initiator (skip: none).
_SELF = {"none": _keep, "auto_approve": _auto, "head": _to_head}


def on_self(users: Sequence[str], initiator: str, policy: str,
            head: Callable[[], str | None]) -> tuple[list[Seat], list[str]]:
    """Seats for ``users`` and the approvers skipped (``skip``). ``head``
    answers the initiator's head, asked only when the policy needs it."""
    seats: list[Seat] = []
    skipped: list[str] = []
    for user in users:
        if user != initiator:
            seats.append(Seat(user, PENDING))
        elif policy == "skip":
            skipped.append(user)
        else:
            seat = _SELF.get(policy, _keep)(user, head)
            if seat is not None:
                seats.append(seat)
    return unique(seats), skipped


# ---------------------------------------------------------------- dedup

def dedup(seats: Sequence[Seat], policy: str, *, approved_before: frozenset[str],
          approved_previous: frozenset[str], returned_to: bool) -> list[Seat]:
    """Pending seats of approvers who approved already (per ``policy``) become ``auto``."""
    done = {"any": approved_before, "consecutive": approved_previous}.get(policy, frozenset())
    if returned_to or not done:
        return list(seats)
    return [Seat(s.user, AUTO, "dedup") if s.status == PENDING and s.user in done else s
            for s in seats]


# ---------------------------------------------------------------- delegation

def delegate(conn: Connection, seats: Sequence[Seat], initiator: str, on: date) -> list[Seat]:
    """Pending seats of approvers on leave on ``on`` go to their substitutes."""
    away = substitutes(conn, [s.user for s in seats if s.status == PENDING], on)
    moved = [_handed(s, away.get(s.user), initiator) for s in seats]
    return unique(moved)


def _handed(seat: Seat, substitute: str | None, initiator: str) -> Seat:
    """The seat as delegated: pending, to a substitute who is not the initiator."""
    if seat.status != PENDING or substitute is None or substitute == initiator:
        return seat
    return replace(seat, user=substitute, delegated_from=seat.user)


# ---------------------------------------------------------------- errors

def no_approver_error(node: NodeSpec) -> TransitionRejected:
    """Nobody to approve ``node`` and its policy refuses (or assigning found nobody)."""
    return TransitionRejected(Text(
        f"审批节点「{node.label.zh}」找不到审批人（没有符合条件的在职人员）；"
        f"请联系管理员设置审批人、角色成员或部门负责人",
        f"no approver found for node “{node.label.en}” (nobody active qualifies): "
        f"ask an administrator to set its approvers, role members or unit heads"),
        code="no_approver", details={"node": node.code})


def approvers_required_error(node: NodeSpec) -> TransitionRejected:
    """``node`` takes approvers chosen by the initiator and none were given."""
    return TransitionRejected(Text(
        f"请为审批节点「{node.label.zh}」选择审批人",
        f"choose the approvers of node “{node.label.en}”"),
        code="approvers_required", details={"node": node.code})


def bad_choice_error(node: NodeSpec, users: Sequence[str]) -> ValidationFailed:
    """Chosen approvers of ``node`` that are not active users."""
    names = "、".join(users)
    return ValidationFailed(Text(
        f"审批节点「{node.label.zh}」选择的审批人不存在或已停用：{names}",
        f"the approvers chosen for node “{node.label.en}” do not exist or are "
        f"inactive: {', '.join(users)}"),
        code="unknown_approvers", details={"node": node.code, "users": list(users)})
