"""Cross-reference checks of workflow documents (metadata layer).

:func:`check_workflows` checks every workflow of a package through the
package :class:`~yunying.metadata.crossref.Checker` (the chains' graphs are
checked by :mod:`yunying.metadata.chain_check`). Issue codes:

- ``unknown_entity`` / ``undeclared_dependency`` — the workflow's entity;
- ``unknown_field`` — ``state_field``, a key of a state's ``fields``
  (``field``, ``child.field`` or ``*``), a field a ``set`` effect names;
- ``invalid_state_field`` — ``state_field`` is not a string field, or is
  shorter than the longest state code;
- ``duplicate_code`` — two states, transitions or chains with one code;
- ``unknown_state`` — ``initial`` or a transition's ``from`` / ``to``;
- ``unknown_chain`` — a transition's ``chain``;
- ``unknown_role`` / ``undeclared_dependency`` — a transition's roles
  (``platform.admin`` is allowed);
- ``invalid_trigger`` — a chain_approved / chain_rejected transition with
  ``chain``, ``roles``, ``creator``, ``assignee`` or ``guard`` (it is fired by
  the engine, not a person), or leaving a state no chain-starting transition
  enters;
- ``invalid_transition`` — a chain-starting transition that does not enter an
  ``in_progress`` state;
- ``missing_outcome`` — an in_progress state a chain-starting transition
  enters without a chain_approved or a chain_rejected transition leaving it;
  ``duplicate_outcome`` — two such transitions for one outcome;
- ``invalid_effect`` — an effect with not exactly one of set / posting /
  notify, a ``message`` without ``notify``, a ``set`` of a computed field or
  of the ``state_field``;
- ``unknown_posting`` — an effect's posting rule does not exist, is not of
  the workflow's entity or is not run by transitions (``event: create``);
- ``duplicate_priority`` — two workflows of one entity with one priority
  (in the package, or one of this package and one of another known package).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, AbstractSet, Mapping

from yunying.metadata.chain_check import check_chain, check_role, field_key, written_at
from yunying.metadata.issues import json_path
from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import (
    EffectSpec, PostingRuleSpec, StateSpec, TransitionSpec, WorkflowSpec,
)
from yunying.metadata.yaml_source import Source

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["check_workflows"]

#: keys that only a manual transition (fired by a person) may have.
_MANUAL_KEYS = ("chain", "roles", "creator", "assignee", "guard")
_EFFECT_KINDS = ("set", "posting", "notify")


def check_workflows(check: Checker, sources: Mapping[str, Source],
                    trees: AbstractSet[str] | None) -> None:
    """Check every workflow of ``check.spec``; ``trees`` are the org trees a
    ``heads`` source may climb (None when not known, see
    :func:`~yunying.metadata.org_check.visible_trees`)."""
    for workflow in check.spec.workflows:
        _Workflow(check, sources[workflow.code], workflow, trees).run()
    _priorities(check, sources)


class _Workflow:
    """The checks of one workflow document."""

    def __init__(self, check: Checker, source: Source, spec: WorkflowSpec,
                 trees: AbstractSet[str] | None) -> None:
        self.check, self.source, self.spec, self.trees = check, source, spec, trees
        found = check.resolve(source, "$.entity", spec.entity, "entity")
        self.entity: EntitySpec | None = found if isinstance(found, EntitySpec) else None
        self.states: dict[str, StateSpec] = {}
        for state in spec.states:
            self.states.setdefault(state.code, state)  # a repeated code is reported
        self.chains = {c.code for c in spec.chains}

    def add(self, code: str, path: str, zh: str, en: str) -> None:
        self.check.add(self.source, code, path, zh, en)

    def run(self) -> None:
        self.state_field()
        self.declared_states()
        self.transitions()
        self.outcomes()
        seen: set[str] = set()
        for c, chain in enumerate(self.spec.chains):
            if chain.code in seen:
                self.add("duplicate_code", f"$.chains[{c}].code", f"审批链编码 {chain.code} 重复",
                         f"duplicate chain code {chain.code!r}")
            seen.add(chain.code)
            check_chain(self.check, self.source, f"$.chains[{c}]", chain, self.entity,
                        self.trees)

    def state_field(self) -> None:
        code = self.spec.state_field
        if code is None or self.entity is None:
            return
        found = self.entity.field(code)
        if found is None:
            self.add("unknown_field", "$.state_field",
                     f"实体 {self.entity.qualified_code} 没有字段 {code}",
                     f"entity {self.entity.qualified_code} has no field {code!r}")
        elif found.type != "string":
            self.add("invalid_state_field", "$.state_field",
                     f"状态字段 {code} 必须是 string 字段（当前为 {found.type}）",
                     f"the state field {code!r} must be a string field, not {found.type}")
        else:
            longest = max(self.states, key=len)
            if found.length is not None and len(longest) > found.length:
                self.add("invalid_state_field", "$.state_field",
                         f"状态编码 {longest} 超过状态字段 {code} 的长度 {found.length}",
                         f"the state code {longest!r} is longer than the state field "
                         f"{code!r} ({found.length})")

    def declared_states(self) -> None:
        seen: set[str] = set()
        for i, state in enumerate(self.spec.states):
            if state.code in seen:
                self.add("duplicate_code", f"$.states[{i}].code", f"状态编码 {state.code} 重复",
                         f"duplicate state code {state.code!r}")
            seen.add(state.code)
            if self.entity is not None:
                for key in state.fields:
                    field_key(self.check, self.source, f"$.states[{i}].fields", key,
                              self.entity)
        self.known_state("$.initial", self.spec.initial)

    def known_state(self, path: str, code: str) -> None:
        if code not in self.states:
            self.add("unknown_state", path, f"未声明的状态 {code}",
                     f"state {code!r} is not declared in states")

    def transitions(self) -> None:
        seen: set[str] = set()
        for i, transition in enumerate(self.spec.transitions):
            path = f"$.transitions[{i}]"
            if transition.code in seen:
                self.add("duplicate_code", f"{path}.code", f"流转编码 {transition.code} 重复",
                         f"duplicate transition code {transition.code!r}")
            seen.add(transition.code)
            for k, state in enumerate(transition.sources):
                self.known_state(f"{path}.from[{k}]", state)
            self.known_state(f"{path}.to", transition.target)
            if transition.chain is not None and transition.chain not in self.chains:
                self.add("unknown_chain", f"{path}.chain", f"未声明的审批链 {transition.chain}",
                         f"chain {transition.chain!r} is not declared in chains")
            for k, role in enumerate(transition.roles):
                check_role(self.check, self.source, f"{path}.roles[{k}]", role)
            self.trigger(path, transition)
            for k, effect in enumerate(transition.effects):
                self.effect(f"{path}.effects[{k}]", effect)

    def trigger(self, path: str, transition: TransitionSpec) -> None:
        written = written_at(self.source, path)
        if transition.trigger != "manual":
            for key in _MANUAL_KEYS:
                if written.get(key) not in (None, False, []):
                    self.add("invalid_trigger", f"{path}.{key}",
                             f"由审批结果触发（{transition.trigger}）的流转不能有 {key}",
                             f"a transition fired by the chain outcome ({transition.trigger}) "
                             f"cannot have {key}")
            return
        target = self.states.get(transition.target)
        if transition.chain is not None and target is not None \
                and target.category != "in_progress":
            self.add("invalid_transition", f"{path}.to",
                     f"启动审批链的流转必须进入 in_progress 状态（{target.code} 为 "
                     f"{target.category}）",
                     f"a transition that starts a chain must enter an in_progress state "
                     f"({target.code!r} is {target.category})")

    def effect(self, path: str, effect: EffectSpec) -> None:
        written = written_at(self.source, path)
        kinds = [k for k in _EFFECT_KINDS if k in written]
        if len(kinds) != 1:
            self.add("invalid_effect", path,
                     f"每个效果只能是 set、posting、notify 之一（当前：{', '.join(kinds) or '无'}）",
                     f"an effect is exactly one of set, posting, notify "
                     f"(found: {', '.join(kinds) or 'none'})")
        if "message" in written and "notify" not in written:
            self.add("invalid_effect", f"{path}.message", "message 只能与 notify 一起使用",
                     "message goes with notify only")
        for code in effect.set:
            self.set_field(f"{path}.set" + json_path([code])[1:], code)
        if effect.posting is not None:
            self.posting(f"{path}.posting", effect.posting)

    def set_field(self, path: str, code: str) -> None:
        if self.entity is None:
            return
        found = self.entity.field(code)
        if found is None:
            self.add("unknown_field", path, f"实体 {self.entity.qualified_code} 没有字段 {code}",
                     f"entity {self.entity.qualified_code} has no field {code!r}")
        elif found.type == "computed" or code == self.spec.state_field:
            reason = ("计算字段", "a computed field") if found.type == "computed" else \
                ("状态字段（由流程维护）", "the state field (the engine keeps it)")
            self.add("invalid_effect", path, f"set 不能写 {code}：它是{reason[0]}",
                     f"set cannot write {code!r}: it is {reason[1]}")

    def posting(self, path: str, qualified: str) -> None:
        rule = self.check.resolve(self.source, path, qualified, "posting")
        if not isinstance(rule, PostingRuleSpec) or self.entity is None:
            return
        if rule.entity != self.spec.entity and self.known_entity(rule.entity):
            self.add("unknown_posting", path,
                     f"记账规则 {qualified} 属于实体 {rule.entity}，不是 {self.spec.entity}",
                     f"posting rule {qualified} posts {rule.entity}, not {self.spec.entity}")
        elif rule.event != "transition":
            self.add("unknown_posting", path,
                     f"记账规则 {qualified} 在 {rule.event} 时运行，流转效果只能运行 "
                     f"event: transition 的规则",
                     f"posting rule {qualified} runs on {rule.event}; a transition effect can "
                     f"only run rules with event: transition")

    def known_entity(self, qualified: str) -> bool:
        """Whether an entity exists (an unknown one is reported where it is named)."""
        package, _, code = qualified.partition(".")
        target = self.check.known.packages.get(package)
        return target is not None and target.entity(code) is not None

    def outcomes(self) -> None:
        """Chain outcomes leave the states chains run in, one per outcome."""
        running: dict[str, int] = {}
        for i, t in enumerate(self.spec.transitions):
            if t.chain is not None and t.trigger == "manual":
                running.setdefault(t.target, i)
        leaving: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, t in enumerate(self.spec.transitions):
            if t.trigger == "manual":
                continue
            for k, state in enumerate(t.sources):
                leaving[(state, t.trigger)].append(i)
                if state in self.states and state not in running:
                    self.add("invalid_trigger", f"$.transitions[{i}].from[{k}]",
                             f"没有启动审批链的流转进入状态 {state}，{t.trigger} 不会发生",
                             f"no transition that starts a chain enters {state!r}, so "
                             f"{t.trigger} never happens there")
        for j, state in enumerate(self.spec.states):
            if state.code not in running or state.category != "in_progress":
                continue
            for trigger in ("chain_approved", "chain_rejected"):
                found = leaving.get((state.code, trigger), [])
                if not found:
                    self.add("missing_outcome", f"$.states[{j}]",
                             f"状态 {state.code} 中运行审批链，但没有 trigger: {trigger} 的流转离开它",
                             f"a chain runs in state {state.code!r}, but no transition with "
                             f"trigger {trigger} leaves it")
                for i in found[1:]:
                    self.add("duplicate_outcome", f"$.transitions[{i}].trigger",
                             f"已有 trigger: {trigger} 的流转离开状态 {state.code}",
                             f"another transition with trigger {trigger} already leaves "
                             f"{state.code!r}")


def _priorities(check: Checker, sources: Mapping[str, Source]) -> None:
    """Submit tries an entity's workflows by priority: no two may tie."""
    taken: dict[tuple[str, int], str] = {}
    for other in check.known.packages.values():
        if other.code != check.spec.code:
            for w in other.workflows:
                taken.setdefault((w.entity, w.priority), w.qualified_code)
    for workflow in check.spec.workflows:
        key = (workflow.entity, workflow.priority)
        if key in taken:
            check.add(sources[workflow.code], "duplicate_priority", "$.priority",
                      f"实体 {workflow.entity} 的流程 {taken[key]} 已使用优先级 {workflow.priority}",
                      f"workflow {taken[key]} of entity {workflow.entity} already has "
                      f"priority {workflow.priority}")
        else:
            taken[key] = workflow.qualified_code

