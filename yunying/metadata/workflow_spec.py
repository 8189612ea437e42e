"""Frozen specs of workflows, approval chains and posting rules (metadata layer).

A :class:`WorkflowSpec` is the state machine of one entity's documents: states
with a category, transitions (manual, or fired by the outcome of an approval
chain), guards and effects. Its approval chains are graphs of
:class:`NodeSpec` (approval, condition, parallel, cc, end) joined by ``next``
codes. A :class:`PostingRuleSpec` turns one business event into balanced
journal lines (业财融合). Built by :mod:`yunying.metadata.workflows` from
validated ``workflows/*.yaml`` and ``posting/*.yaml`` documents and never
mutated; running instances rebuild the spec of the version they started with
from the document stored with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from yunying.platform.i18n import Text

__all__ = [
    "STATE_CATEGORIES", "TRIGGERS", "NODE_KINDS", "APPROVAL_MODES", "APPROVER_SOURCES",
    "NO_APPROVER_POLICIES", "SELF_POLICIES", "DEDUP_POLICIES", "TIMEOUT_ACTIONS",
    "RETURN_TARGETS", "RESUBMIT_MODES", "STATE_FIELD_ACCESS", "POSTING_SIDES",
    "StateSpec", "EffectSpec", "TransitionSpec", "ApproverSpec", "PolicySpec",
    "BranchSpec", "NodeSpec", "ChainSpec", "WorkflowSpec",
    "PostingLineSpec", "PostingRuleSpec",
]

#: what a state means for the document, whatever its code.
STATE_CATEGORIES = ("draft", "in_progress", "approved", "rejected", "cancelled", "closed")
#: what fires a transition: a person (``manual``), or the end of the running
#: approval chain (``chain_approved`` / ``chain_rejected``).
TRIGGERS = ("manual", "chain_approved", "chain_rejected")
NODE_KINDS = ("approval", "condition", "parallel", "cc", "end")
#: 依次 / 会签 / 或签 / 票签
APPROVAL_MODES = ("sequential", "all", "any", "ratio")
#: where an approval or cc node finds its people (one key per ApproverSpec).
APPROVER_SOURCES = ("users", "role", "initiator_head", "heads", "user_field",
                    "unit_field", "initiator_choice", "previous_choice")
NO_APPROVER_POLICIES = ("refuse", "auto_approve", "assign")
#: approver is the initiator: approve as usual, approve automatically, skip
#: the node, or hand the task to the initiator's head.
SELF_POLICIES = ("none", "auto_approve", "skip", "head")
#: off; auto-pass if the approver approved earlier in this instance; only if
#: the approver approved the node right before this one.
DEDUP_POLICIES = ("off", "any", "consecutive")
TIMEOUT_ACTIONS = ("remind", "approve", "reject")
#: where a return (退回) may send the document.
RETURN_TARGETS = ("initiator", "previous", "node")
#: after a return to the initiator: resubmit runs the chain from its start,
#: or straight back to the node that returned it.
RESUBMIT_MODES = ("restart", "returning_node")
#: field permissions per state and per approval node ("*" names every field).
STATE_FIELD_ACCESS = ("editable", "read_only", "hidden")
POSTING_SIDES = ("debit", "credit")

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class StateSpec:
    """A state of the document. ``fields`` maps a field code (``child.field``
    for a line field, ``*`` for every field) to editable / read_only / hidden
    while the document is in this state. Unnamed fields: editable in
    ``draft`` states, read-only in every other category."""

    code: str
    label: Text
    category: str
    fields: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class EffectSpec:
    """One effect of a transition, run in order in the transition's transaction:
    ``set`` — field code → formula over the record; ``posting`` — a posting
    rule (qualified code); ``notify`` — who to tell (``initiator``,
    ``assignees`` or a user code) with an optional message."""

    set: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    posting: str | None = None
    notify: tuple[str, ...] = ()
    message: Text | None = None


@dataclass(frozen=True)
class TransitionSpec:
    """A move between states. A manual transition is fired by a person who is
    one of ``roles`` (qualified), the record's creator (``creator``), or an
    assignee of a pending task (``assignee``); with ``chain`` it starts that
    approval chain (the submit). ``guard`` is a boolean formula over the record
    (``guard_message`` explains a refusal)."""

    code: str
    label: Text
    sources: tuple[str, ...]          # state codes it leaves from
    target: str                       # state code it enters
    trigger: str = "manual"           # one of TRIGGERS
    roles: tuple[str, ...] = ()
    creator: bool = False
    assignee: bool = False
    guard: str | None = None
    guard_message: Text | None = None
    chain: str | None = None
    effects: tuple[EffectSpec, ...] = ()
    comment_required: bool = False


@dataclass(frozen=True)
class ApproverSpec:
    """One source of approvers (exactly one ``source`` of APPROVER_SOURCES):

    - ``users``: named user codes (``users``);
    - ``role``: holders of ``role`` in the domain ``*`` or in a domain that is
      the record's org unit or one of its administrative ancestors;
    - ``initiator_head``: the head of the initiator's primary unit;
    - ``heads``: 连续多级主管 — heads upward along ``tree`` from the initiator,
      one sequential step each, stopping after ``levels`` (None = at the
      top) or at the first head holding ``until_role``;
    - ``user_field``: the user in field ``field`` of the record;
    - ``unit_field``: the head of the org unit in field ``field``;
    - ``initiator_choice``: chosen by the initiator at submit time;
    - ``previous_choice``: chosen by the approver of the previous node.
    """

    source: str
    users: tuple[str, ...] = ()
    role: str | None = None
    levels: int | None = None
    until_role: str | None = None
    tree: str = "admin"
    field: str | None = None


@dataclass(frozen=True)
class PolicySpec:
    """What an approval node does in the special cases.

    ``no_approver``: refuse the submission / auto-approve / assign to
    ``assign_users`` or the holders of ``assign_role``. ``on_self``: see
    SELF_POLICIES. ``dedup``: see DEDUP_POLICIES. ``timeout_hours`` with
    ``timeout_action`` (remind / approve / reject), driven by ``workflow tick``.
    """

    no_approver: str = "refuse"
    assign_users: tuple[str, ...] = ()
    assign_role: str | None = None
    on_self: str = "none"
    dedup: str = "off"
    timeout_hours: int | None = None
    timeout_action: str = "remind"


@dataclass(frozen=True)
class BranchSpec:
    """A branch of a condition node (the first whose ``condition`` holds wins;
    ``condition`` None = the default branch) or of a parallel node."""

    next: str
    condition: str | None = None
    label: Text | None = None


@dataclass(frozen=True)
class NodeSpec:
    """A node of an approval chain.

    ``approval`` nodes have ``approvers`` (their union, in order), a ``mode``
    (``ratio`` = the share of approvals needed, e.g. 0.6), ``policy``,
    ``fields`` (permissions of the node's assignees while it is active), what a
    reject does (``reject_to`` None = the instance ends rejected, else the node
    it returns to), which returns it offers, whether a comment is required on
    reject, and whether its approvers may add signers. ``condition`` and
    ``parallel`` nodes have ``branches``; a parallel node continues at
    ``next`` once every branch has ended (a branch ends at a node without
    ``next``). ``cc`` nodes copy ``approvers`` and go on. ``end`` ends the
    chain approved.
    """

    code: str
    kind: str
    label: Text
    next: str | None = None
    approvers: tuple[ApproverSpec, ...] = ()
    mode: str = "any"
    ratio: float | None = None
    policy: PolicySpec = field(default_factory=PolicySpec)
    fields: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    reject_to: str | None = None
    returns: tuple[str, ...] = ("initiator", "previous", "node")
    comment_on_reject: bool = False
    add_signers: bool = True
    branches: tuple[BranchSpec, ...] = ()


@dataclass(frozen=True)
class ChainSpec:
    """An approval chain: its nodes, the node it starts at, and how a
    resubmission after a return to the initiator continues."""

    code: str
    label: Text
    start: str
    nodes: tuple[NodeSpec, ...]
    resubmit: str = "restart"

    def node(self, code: str) -> NodeSpec | None:
        for n in self.nodes:
            if n.code == code:
                return n
        return None


@dataclass(frozen=True)
class WorkflowSpec:
    """The state machine of an entity's documents.

    ``condition`` (a boolean formula over the record) and ``priority`` choose
    among the entity's workflows at submit time: the lowest priority whose
    condition holds (or that has none). ``state_field`` is a string field of
    the entity the engine keeps equal to the state code (for lists and
    filters); ``initial`` is the state a record without instance is in.
    """

    package: str
    code: str
    label: Text
    entity: str                      # qualified entity code
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    chains: tuple[ChainSpec, ...] = ()
    priority: int = 100
    condition: str | None = None
    state_field: str | None = None
    description: Text | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"

    def state(self, code: str) -> StateSpec | None:
        for s in self.states:
            if s.code == code:
                return s
        return None

    def transition(self, code: str) -> TransitionSpec | None:
        for t in self.transitions:
            if t.code == code:
                return t
        return None

    def chain(self, code: str) -> ChainSpec | None:
        for c in self.chains:
            if c.code == code:
                return c
        return None


@dataclass(frozen=True)
class PostingLineSpec:
    """One journal line a posting rule writes (for each line of child table
    ``each`` when given, the formulas then being over that line). ``account``
    is an account code, or with ``account_formula`` a formula giving one;
    ``amount`` a money formula; ``unit`` / ``project`` formulas give the
    dimensions; ``purpose`` tags the line (charge, stock_in …) for reports."""

    side: str                        # debit | credit
    amount: str
    account: str | None = None
    account_formula: str | None = None
    each: str | None = None
    unit: str | None = None
    project: str | None = None
    purpose: str | None = None
    memo: Text | None = None


@dataclass(frozen=True)
class PostingRuleSpec:
    """A posting rule: on ``event`` (``create`` of a record of ``entity``, or
    ``transition`` = run by a transition's effect) write ``lines`` as one
    balanced journal entry; accounts must be active items of the dictionary
    ``accounts`` (qualified)."""

    package: str
    code: str
    label: Text
    entity: str                      # qualified entity code
    accounts: str                    # qualified dictionary code
    lines: tuple[PostingLineSpec, ...]
    event: str = "transition"        # create | transition
    description: Text | None = None

    @property
    def qualified_code(self) -> str:
        return f"{self.package}.{self.code}"
