"""Checks of one approval chain of a workflow document (metadata layer).

A chain is a graph of nodes joined by ``next`` and branch targets; it is
validated at package load, each problem reported at its JSON path
(``$.chains[0].nodes[2].next``) through the package checker. Issue codes:

- ``duplicate_code`` — two nodes with one code;
- ``unknown_node`` — ``start``, a ``next``, a branch target or a
  ``reject_to`` that names no node of the chain;
- ``invalid_node`` — a key that does not apply to the node's kind (approval
  keys — mode, ratio, policy, fields, reject_to, returns, comment_on_reject,
  add_signers — on other kinds; ``approvers`` on condition, parallel or end
  nodes; ``branches`` on approval, cc or end nodes; ``next`` on condition
  or end nodes);
- ``missing_approvers`` — an approval or cc node without approvers;
- ``missing_default`` — a condition node without branches, or whose branches
  do not end with exactly one default branch (no condition);
- ``invalid_parallel`` — a parallel node without ``next`` or with fewer than
  two branches, a parallel branch with a condition, a parallel branch that
  reaches an end node (a branch ends at a node without ``next``);
- ``invalid_ratio`` — mode ratio without ``ratio``, or ``ratio`` with another mode;
- ``invalid_mode`` — a node with a ``heads`` source whose mode is not
  sequential (multi-level heads decide one level after the other);
- ``invalid_approver`` — ``user_field`` not a user field, ``unit_field`` not
  an org_unit field (``unknown_field`` when there is no such field);
- ``unknown_role`` / ``undeclared_dependency`` — an approver's role, a
  heads' ``until_role``, a policy's assigned role;
- ``unknown_tree`` — a heads' ``tree`` not declared by the (non-demo) org data
  of the package or of a package it requires;
- ``chain_cycle`` — a path of next / branch edges that comes back to a node
  (reported at the edge closing the loop; ``reject_to`` goes back by design
  and is no edge);
- ``unreachable_node`` — a node no path from ``start`` reaches;
- ``dead_end`` — a node outside every parallel branch with no ``next`` that
  is not an end node: every path from start must reach an end node;
- ``invalid_reject_to`` — ``reject_to`` naming the node itself, a node that
  does not come before it, or a node that is not an approval node.

When a ``next`` or branch target names no node, the reachability checks
(``unreachable_node``, ``dead_end``, ``invalid_parallel`` for an end inside a
branch, ``invalid_reject_to``) are left out: the misspelt edge is the one
issue, not everything it would have reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AbstractSet, Any, Iterator, Mapping

from yunying.metadata.issues import json_path
from yunying.metadata.roles import BUILTIN_ROLES
from yunying.metadata.spec import EntitySpec
from yunying.metadata.workflow_spec import ApproverSpec, ChainSpec, NodeSpec
from yunying.metadata.yaml_source import Source

if TYPE_CHECKING:
    from yunying.metadata.crossref import Checker

__all__ = ["check_chain", "check_role", "field_key", "edges", "written_at"]

_APPROVAL_KEYS = ("mode", "ratio", "policy", "fields", "reject_to", "returns",
                  "comment_on_reject", "add_signers")
#: keys a node of each kind may not have.
_NOT_FOR: Mapping[str, tuple[str, ...]] = {
    "approval": ("branches",),
    "cc": ("branches", *_APPROVAL_KEYS),
    "condition": ("approvers", "next", *_APPROVAL_KEYS),
    "parallel": ("approvers", *_APPROVAL_KEYS),
    "end": ("approvers", "branches", "next", *_APPROVAL_KEYS),
}
#: approver sources naming a field of the record → the field type they need.
_FIELD_SOURCES = {"user_field": "user", "unit_field": "org_unit"}


def check_role(check: Checker, source: Source, path: str, role: str) -> None:
    """A role reference: a package role (qualified) or the built-in superuser role."""
    if role not in BUILTIN_ROLES:
        check.resolve(source, path, role, "role")


def field_key(check: Checker, source: Source, prefix: str, key: str,
              entity: EntitySpec) -> None:
    """A field-permission key: ``*``, a field, or ``child.field``."""
    path = prefix + json_path([key])[1:]
    child_code, dot, code = key.partition(".")
    owner, name = (entity.child(child_code), code) if dot else (entity, key)
    if key == "*" or (owner is not None and owner.field(name) is not None):
        return
    where = entity.qualified_code + (f".{child_code}" if dot and owner is not None else "")
    missing = name if owner is not None else child_code
    check.add(source, "unknown_field", path, f"{where} 没有字段或子表 {missing}",
              f"{where} has no field or child table {missing!r}")


def edges(node: NodeSpec) -> Iterator[tuple[str, str]]:
    """(target node, JSON path suffix) of every edge leaving ``node``."""
    if node.kind in ("condition", "parallel"):
        for k, branch in enumerate(node.branches):
            yield branch.next, f".branches[{k}].next"
    if node.kind in ("approval", "cc", "parallel") and node.next is not None:
        yield node.next, ".next"


def check_chain(check: Checker, source: Source, prefix: str, chain: ChainSpec,
                entity: EntitySpec | None, trees: AbstractSet[str] | None) -> None:
    """Every issue of one chain (at ``prefix``, e.g. ``$.chains[0]``)."""
    _Chain(check, source, prefix, chain, entity, trees).run()


class _Chain:
    def __init__(self, check: Checker, source: Source, prefix: str, chain: ChainSpec,
                 entity: EntitySpec | None, trees: AbstractSet[str] | None) -> None:
        self.check, self.source, self.prefix, self.chain = check, source, prefix, chain
        self.entity, self.trees = entity, trees
        self.index: dict[str, int] = {}
        for j, node in enumerate(chain.nodes):
            self.index.setdefault(node.code, j)

    def add(self, code: str, path: str, zh: str, en: str) -> None:
        self.check.add(self.source, code, path, zh, en)

    def path(self, code: str) -> str:
        return f"{self.prefix}.nodes[{self.index[code]}]"

    def node(self, code: str) -> NodeSpec:
        return self.chain.nodes[self.index[code]]

    def run(self) -> None:
        for j, node in enumerate(self.chain.nodes):
            path = f"{self.prefix}.nodes[{j}]"
            if self.index[node.code] != j:
                self.add("duplicate_code", f"{path}.code", f"节点编码 {node.code} 重复",
                         f"duplicate node code {node.code!r}")
                continue
            self.shape(path, node)
            for a, approver in enumerate(node.approvers):
                self.approver(f"{path}.approvers[{a}]", approver)
            if node.policy.assign_role is not None:
                check_role(self.check, self.source, f"{path}.policy.no_approver.role",
                           node.policy.assign_role)
            if self.entity is not None:
                for key in node.fields:
                    field_key(self.check, self.source, f"{path}.fields", key, self.entity)
        complete = self.targets()
        if self.chain.start not in self.index:
            self.add("unknown_node", f"{self.prefix}.start", f"审批链中没有节点 {self.chain.start}",
                     f"the chain has no node {self.chain.start!r}")
        self.cycles()
        if complete:  # with a misspelt edge, what it would reach is not unreachable
            if self.chain.start in self.index:
                self.walk()
            self.reject_targets()

    # -- one node --------------------------------------------------------------

    def shape(self, path: str, node: NodeSpec) -> None:
        written = written_at(self.source, path)
        for key in _NOT_FOR[node.kind]:
            if written.get(key) is not None:
                self.add("invalid_node", f"{path}.{key}", f"{node.kind} 节点不能有 {key}",
                         f"{key!r} does not apply to {node.kind} nodes")
        if node.kind in ("approval", "cc") and not node.approvers:
            self.add("missing_approvers", f"{path}.approvers",
                     f"{node.kind} 节点 {node.code} 需要 approvers",
                     f"the {node.kind} node {node.code!r} needs approvers")
        if node.kind == "approval":
            self.mode(path, node, written)
        _SHAPES.get(node.kind, _no_shape)(self, path, node)

    def mode(self, path: str, node: NodeSpec, written: Mapping[str, Any]) -> None:
        if node.mode == "ratio" and node.ratio is None:
            self.add("invalid_ratio", f"{path}.ratio", "mode 为 ratio 时必须给出 ratio（0 < ratio ≤ 1）",
                     "mode ratio needs a ratio (0 < ratio ≤ 1)")
        if node.mode != "ratio" and node.ratio is not None:
            self.add("invalid_ratio", f"{path}.ratio", f"ratio 只适用于 mode: ratio（当前为 {node.mode}）",
                     f"ratio applies to mode ratio only, not {node.mode}")
        heads = any(a.source == "heads" for a in node.approvers)
        if heads and node.mode != "sequential":
            self.add("invalid_mode", f"{path}.mode",
                     f"含 heads（逐级主管）的节点只能依次审批（mode: sequential 或省略），当前为 {node.mode}",
                     f"a node with a heads source approves level after level: mode must be "
                     f"sequential or omitted, not {node.mode}")

    def condition(self, path: str, node: NodeSpec) -> None:
        defaults = [k for k, b in enumerate(node.branches) if b.condition is None]
        if defaults != [len(node.branches) - 1]:
            self.add("missing_default", f"{path}.branches",
                     "条件节点的分支必须以唯一一个默认分支（无 condition）结尾",
                     "the branches of a condition node must end with exactly one default "
                     "branch (no condition)")

    def parallel(self, path: str, node: NodeSpec) -> None:
        if node.next is None:
            self.add("invalid_parallel", f"{path}.next",
                     "并行节点需要 next：所有分支结束后继续的节点",
                     "a parallel node needs next: where to go once every branch has ended")
        if len(node.branches) < 2:
            self.add("invalid_parallel", f"{path}.branches", "并行节点至少需要两个分支",
                     "a parallel node needs at least two branches")
        for k, branch in enumerate(node.branches):
            if branch.condition is not None:
                self.add("invalid_parallel", f"{path}.branches[{k}].condition",
                         "并行分支不能有 condition（所有分支都会执行）",
                         "a parallel branch has no condition (every branch runs)")

    def approver(self, path: str, approver: ApproverSpec) -> None:
        if approver.role is not None:
            check_role(self.check, self.source, f"{path}.role", approver.role)
        if approver.source == "heads":
            if approver.until_role is not None:
                check_role(self.check, self.source, f"{path}.heads.until_role",
                           approver.until_role)
            self.tree(path, approver.tree)
        wanted = _FIELD_SOURCES.get(approver.source)
        if wanted is not None and self.entity is not None and approver.field is not None:
            self.record_field(f"{path}.{approver.source}", approver.field, wanted)

    def tree(self, path: str, tree: str) -> None:
        if self.trees is not None and tree not in self.trees:
            written = "tree" in written_at(self.source, f"{path}.heads")
            self.add("unknown_tree", f"{path}.heads" + (".tree" if written else ""),
                     f"组织树 {tree} 未在本包或其依赖包的组织数据（非演示）中声明",
                     f"org tree {tree!r} is not declared by the (non-demo) org data "
                     f"of this package or of a package it requires")

    def record_field(self, path: str, code: str, wanted: str) -> None:
        assert self.entity is not None
        found = self.entity.field(code)
        if found is None:
            self.add("unknown_field", path, f"实体 {self.entity.qualified_code} 没有字段 {code}",
                     f"entity {self.entity.qualified_code} has no field {code!r}")
        elif found.type != wanted:
            self.add("invalid_approver", path, f"字段 {code} 必须是 {wanted} 字段（当前为 {found.type}）",
                     f"the field {code!r} must be a {wanted} field, not {found.type}")

    # -- the graph -------------------------------------------------------------

    def edges(self, node: NodeSpec) -> Iterator[tuple[str, str]]:
        """The edges of ``node`` to nodes of the chain (unknown ones are reported once)."""
        return ((target, suffix) for target, suffix in edges(node) if target in self.index)

    def targets(self) -> bool:
        """Report edges and reject_to naming no node; False when an edge
        (next or branch) names none."""
        complete = True
        for j, node in enumerate(self.chain.nodes):
            if self.index[node.code] != j:
                continue
            named = list(edges(node))
            if node.reject_to is not None:
                named.append((node.reject_to, ".reject_to"))
            for target, suffix in named:
                if target not in self.index:
                    complete = complete and suffix == ".reject_to"
                    self.add("unknown_node", f"{self.path(node.code)}{suffix}",
                             f"审批链中没有节点 {target}", f"the chain has no node {target!r}")
        return complete

    def cycles(self) -> None:
        """Depth-first search; an edge back to a node on the current path closes a loop."""
        state: dict[str, str] = {}
        for node in self.chain.nodes:
            if node.code not in state:
                self.visit(node.code, state, [])

    def visit(self, code: str, state: dict[str, str], trail: list[str]) -> None:
        state[code] = "open"
        trail.append(code)
        for target, suffix in self.edges(self.node(code)):
            if state.get(target) == "open":
                ring = " → ".join([*trail[trail.index(target):], target])
                self.add("chain_cycle", f"{self.path(code)}{suffix}",
                         f"审批链中的节点形成循环：{ring}", f"the chain's nodes form a cycle: {ring}")
            elif target not in state:
                self.visit(target, state, trail)
        trail.pop()
        state[code] = "done"

    def walk(self) -> None:
        """Reach every node from start; find dead ends and ends inside branches.

        A walk state is a node and the innermost parallel whose branch it is
        in (None outside every branch): a parallel's ``next`` continues in the
        parallel's own state, its branches in the parallel's. At most
        nodes² states, whatever the nesting.
        """
        reached: set[str] = set()
        seen: set[tuple[str, str | None]] = set()
        pending: list[tuple[str, str | None]] = [(self.chain.start, None)]
        reported: set[tuple[str, str]] = set()
        while pending:
            code, inside = pending.pop()
            if (code, inside) in seen:
                continue
            seen.add((code, inside))
            reached.add(code)
            node = self.node(code)
            for target, suffix in self.edges(node):
                branch = node.kind == "parallel" and suffix != ".next"
                if not (branch and inside == code):  # a loop into itself: a cycle
                    pending.append((target, code if branch else inside))
            self.path_end(node, inside, reported)
        for node in self.chain.nodes:
            if node.code not in reached:
                self.add("unreachable_node", f"{self.path(node.code)}.code",
                         f"从起点 {self.chain.start} 无法到达节点 {node.code}",
                         f"no path from the start {self.chain.start!r} reaches node {node.code!r}")
                reached.add(node.code)

    def path_end(self, node: NodeSpec, inside: str | None,
                 reported: set[tuple[str, str]]) -> None:
        path = self.path(node.code)
        if node.kind == "end" and inside and (node.code, "end") not in reported:
            reported.add((node.code, "end"))
            self.add("invalid_parallel", path,
                     f"并行节点 {inside} 的分支到达了结束节点 {node.code}；分支应在没有 next 的节点结束",
                     f"a branch of the parallel node {inside!r} reaches the end node "
                     f"{node.code!r}; a branch ends at a node without next")
        ends = node.kind in ("approval", "cc") and node.next is None
        if ends and inside is None and (node.code, "dead") not in reported:
            reported.add((node.code, "dead"))
            self.add("dead_end", f"{path}.next",
                     f"节点 {node.code} 没有 next，且不在并行分支中：每条路径都必须到达结束节点",
                     f"node {node.code!r} has no next and is not inside a parallel branch: "
                     f"every path must reach an end node")

    def reject_targets(self) -> None:
        for node in self.chain.nodes:
            target = node.reject_to
            if target is None or node.kind != "approval" or target not in self.index:
                continue
            path = f"{self.path(node.code)}.reject_to"
            if self.node(target).kind != "approval":
                self.add("invalid_reject_to", path, f"reject_to 必须是审批节点（{target} 不是）",
                         f"reject_to must name an approval node ({target!r} is not)")
            elif target == node.code or node.code not in self.descendants(target):
                self.add("invalid_reject_to", path,
                         f"reject_to 必须是在 {node.code} 之前的节点（{target} 不是）",
                         f"reject_to must name a node that comes before {node.code!r} "
                         f"({target!r} does not)")

    def descendants(self, code: str) -> set[str]:
        found: set[str] = set()
        pending = [t for t, _ in self.edges(self.node(code))]
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                pending += [t for t, _ in self.edges(self.node(current))]
        return found


def _no_shape(_chain: _Chain, _path: str, _node: NodeSpec) -> None:
    return None


_SHAPES = {"condition": _Chain.condition, "parallel": _Chain.parallel}


def written_at(source: Source, path: str) -> Mapping[str, Any]:
    """The written mapping at ``$.a[1].b`` (what the document says, not the defaults)."""
    node: Any = source.data
    for part in path[2:].replace("[", ".").replace("]", "").split("."):
        if isinstance(node, Mapping):
            node = node.get(part, {})
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node if isinstance(node, Mapping) else {}
