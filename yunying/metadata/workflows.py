"""Workflow and posting-rule documents → frozen specs (metadata layer).

``workflows/<code>.yaml`` documents (kind ``workflow``) become
:class:`~yunying.metadata.workflow_spec.WorkflowSpec` values and
``posting/<code>.yaml`` documents (kind ``posting``)
:class:`~yunying.metadata.workflow_spec.PostingRuleSpec` values. Pure
functions over schema-valid documents, shared by the loader and the metadata
store so both build equal specs. References come out qualified: the entity,
roles (transition roles, approver and policy roles, ``until_role``), the
posting rule of an effect and the accounts dictionary (``requisition`` in
package ``materials`` → ``materials.requisition``; ``base.x`` stays).

Defaults the documents may leave out: ``priority`` 100; a transition's
``trigger`` ``manual``; a node's ``mode`` ``any`` — ``sequential`` when one
of its approver sources is ``heads`` (multi-level heads are always one
sequential step per level); a policy's ``no_approver`` ``refuse``,
``on_self`` ``none``, ``dedup`` ``off``, timeout ``action`` ``remind``; a
node's ``returns`` all of initiator / previous / node, ``add_signers`` true;
a chain's ``resubmit`` ``restart``; a heads source's ``tree`` ``admin``; a
posting rule's ``event`` ``transition``.

The cross-reference checks of these documents live in
:mod:`yunying.metadata.workflow_check`, :mod:`yunying.metadata.chain_check`
and :mod:`yunying.metadata.posting_check`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

from yunying.metadata.convert import optional_text, text
from yunying.metadata.spec import qualify
from yunying.metadata.workflow_spec import (
    RETURN_TARGETS, ApproverSpec, BranchSpec, ChainSpec, EffectSpec, NodeSpec, PolicySpec,
    PostingLineSpec, PostingRuleSpec, StateSpec, TransitionSpec, WorkflowSpec,
)

__all__ = ["DEFAULT_PRIORITY", "workflow_from_document", "posting_from_document",
           "state_from_document", "transition_from_document", "effect_from_document",
           "chain_from_document", "node_from_document", "approver_from_document",
           "policy_from_document", "posting_line_from_document", "node_mode"]

DEFAULT_PRIORITY = 100


def workflow_from_document(package: str, doc: Mapping[str, Any]) -> WorkflowSpec:
    """The workflow spec of a validated ``workflows/*.yaml`` document of ``package``."""
    return WorkflowSpec(
        package=package,
        code=doc["code"],
        label=text(doc["name"]),
        entity=qualify(package, doc["entity"]),
        initial=doc["initial"],
        states=tuple(state_from_document(s) for s in doc["states"]),
        transitions=tuple(transition_from_document(package, t) for t in doc["transitions"]),
        chains=tuple(chain_from_document(package, c) for c in doc.get("chains", ())),
        priority=int(doc.get("priority", DEFAULT_PRIORITY)),
        condition=doc.get("condition"),
        state_field=doc.get("state_field"),
        description=optional_text(doc.get("description")),
    )


def state_from_document(doc: Mapping[str, Any]) -> StateSpec:
    return StateSpec(code=doc["code"], label=text(doc["name"]), category=doc["category"],
                     fields=MappingProxyType(dict(doc.get("fields", {}))))


def transition_from_document(package: str, doc: Mapping[str, Any]) -> TransitionSpec:
    """A transition; YAML ``from`` / ``to`` are the spec's ``sources`` / ``target``."""
    return TransitionSpec(
        code=doc["code"],
        label=text(doc["name"]),
        sources=tuple(doc["from"]),
        target=doc["to"],
        trigger=doc.get("trigger", "manual"),
        roles=tuple(qualify(package, r) for r in doc.get("roles", ())),
        creator=bool(doc.get("creator", False)),
        assignee=bool(doc.get("assignee", False)),
        guard=doc.get("guard"),
        guard_message=optional_text(doc.get("guard_message")),
        chain=doc.get("chain"),
        effects=tuple(effect_from_document(package, e) for e in doc.get("effects", ())),
        comment_required=bool(doc.get("comment_required", False)),
    )


def effect_from_document(package: str, doc: Mapping[str, Any]) -> EffectSpec:
    """``{set: {...}}``, ``{posting: code}`` or ``{notify: [...], message: {...}}``."""
    posting = doc.get("posting")
    return EffectSpec(
        set=MappingProxyType(dict(doc.get("set", {}))),
        posting=qualify(package, posting) if posting else None,
        notify=tuple(doc.get("notify", ())),
        message=optional_text(doc.get("message")),
    )


def chain_from_document(package: str, doc: Mapping[str, Any]) -> ChainSpec:
    return ChainSpec(
        code=doc["code"],
        label=text(doc["name"]),
        start=doc["start"],
        nodes=tuple(node_from_document(package, n) for n in doc["nodes"]),
        resubmit=doc.get("resubmit", "restart"),
    )


def node_mode(doc: Mapping[str, Any]) -> str:
    """A node's mode: as written, else ``sequential`` with a heads source, else ``any``."""
    if "mode" in doc:
        return doc["mode"]
    heads = any("heads" in a for a in doc.get("approvers", ()))
    return "sequential" if heads else "any"


def node_from_document(package: str, doc: Mapping[str, Any]) -> NodeSpec:
    ratio = doc.get("ratio")
    return NodeSpec(
        code=doc["code"],
        kind=doc["kind"],
        label=text(doc["name"]),
        next=doc.get("next"),
        approvers=tuple(approver_from_document(package, a) for a in doc.get("approvers", ())),
        mode=node_mode(doc),
        ratio=None if ratio is None else float(ratio),
        policy=policy_from_document(package, doc.get("policy", {})),
        fields=MappingProxyType(dict(doc.get("fields", {}))),
        reject_to=doc.get("reject_to"),
        returns=tuple(doc.get("returns", RETURN_TARGETS)),
        comment_on_reject=bool(doc.get("comment_on_reject", False)),
        add_signers=bool(doc.get("add_signers", True)),
        branches=tuple(BranchSpec(next=b["next"], condition=b.get("condition"),
                                  label=optional_text(b.get("name")))
                       for b in doc.get("branches", ())),
    )


def _users(_package: str, value: Any) -> ApproverSpec:
    return ApproverSpec("users", users=tuple(value))


def _role(package: str, value: Any) -> ApproverSpec:
    return ApproverSpec("role", role=qualify(package, value))


def _heads(package: str, value: Any) -> ApproverSpec:
    until = value.get("until_role")
    return ApproverSpec("heads", levels=value.get("levels"),
                        until_role=qualify(package, until) if until else None,
                        tree=value.get("tree", "admin"))


def _field_source(source: str) -> Callable[[str, Any], ApproverSpec]:
    return lambda _package, value: ApproverSpec(source, field=value)


def _flag(source: str) -> Callable[[str, Any], ApproverSpec]:
    return lambda _package, _value: ApproverSpec(source)


_APPROVERS: Mapping[str, Callable[[str, Any], ApproverSpec]] = MappingProxyType({
    "users": _users, "role": _role, "initiator_head": _flag("initiator_head"),
    "heads": _heads, "user_field": _field_source("user_field"),
    "unit_field": _field_source("unit_field"),
    "initiator_choice": _flag("initiator_choice"), "previous_choice": _flag("previous_choice"),
})


def approver_from_document(package: str, doc: Mapping[str, Any]) -> ApproverSpec:
    """One approver source (the schema allows exactly one key per item)."""
    [(source, value)] = doc.items()
    return _APPROVERS[source](package, value)


def policy_from_document(package: str, doc: Mapping[str, Any]) -> PolicySpec:
    """``no_approver: {users: [...]}`` / ``{role: r}`` become ``assign``."""
    no_approver = doc.get("no_approver", "refuse")
    users: tuple[str, ...] = ()
    role = None
    if isinstance(no_approver, Mapping):
        users = tuple(no_approver.get("users", ()))
        role = qualify(package, no_approver["role"]) if "role" in no_approver else None
        no_approver = "assign"
    timeout = doc.get("timeout") or {}
    return PolicySpec(
        no_approver=no_approver,
        assign_users=users,
        assign_role=role,
        on_self=doc.get("on_self", "none"),
        dedup=doc.get("dedup", "off"),
        timeout_hours=timeout.get("hours"),
        timeout_action=timeout.get("action", "remind"),
    )


def posting_from_document(package: str, doc: Mapping[str, Any]) -> PostingRuleSpec:
    """The posting rule spec of a validated ``posting/*.yaml`` document of ``package``."""
    return PostingRuleSpec(
        package=package,
        code=doc["code"],
        label=text(doc["name"]),
        entity=qualify(package, doc["entity"]),
        accounts=qualify(package, doc["accounts"]),
        lines=tuple(posting_line_from_document(line) for line in doc["lines"]),
        event=doc.get("event", "transition"),
        description=optional_text(doc.get("description")),
    )


def posting_line_from_document(doc: Mapping[str, Any]) -> PostingLineSpec:
    return PostingLineSpec(
        side=doc["side"],
        amount=doc["amount"],
        account=doc.get("account"),
        account_formula=doc.get("account_formula"),
        each=doc.get("each"),
        unit=doc.get("unit"),
        project=doc.get("project"),
        purpose=doc.get("purpose"),
        memo=optional_text(doc.get("memo")),
    )
