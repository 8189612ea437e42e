"""The shape of an approval chain as a graph (runtime layer, workflow engine).

:class:`ChainGraph` answers the structural questions the engine asks while
it walks a chain, computed once per chain spec:

- which parallel node a node's branch belongs to (``owner``: the innermost
  enclosing parallel, ``None`` outside every parallel) — a node without
  ``next`` ends the branch of its owner, or the chain when it has none;
- which nodes come before a node (``ancestors``: the candidates of a return
  to "the previous node" or "a chosen earlier node") and which after it
  (``descendants``: what a return to it undoes).

Pure functions over the frozen :class:`~yunying.metadata.workflow_spec.ChainSpec`;
the package validation (acyclic, every node reachable) is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from yunying.metadata.workflow_spec import ChainSpec, NodeSpec

__all__ = ["ChainGraph", "successors"]


def successors(node: NodeSpec) -> tuple[str, ...]:
    """The nodes a node leads to: its branches' first nodes, then ``next``."""
    found = [b.next for b in node.branches] if node.kind in ("condition", "parallel") else []
    if node.next is not None and node.kind != "condition":
        found.append(node.next)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class ChainGraph:
    """Structural facts of one chain (see the module docstring)."""

    chain: ChainSpec
    owner: Mapping[str, str | None]
    after: Mapping[str, frozenset[str]]      # node → every node reachable from it
    before: Mapping[str, frozenset[str]]     # node → every node it is reachable from

    @classmethod
    def of(cls, chain: ChainSpec) -> "ChainGraph":
        nodes = {n.code: n for n in chain.nodes}
        nexts = {code: successors(n) for code, n in nodes.items()}
        after = {code: frozenset(_reach(code, nexts)) for code in nodes}
        before = {code: frozenset(c for c in nodes if code in after[c]) for code in nodes}
        return cls(chain, MappingProxyType(_owners(chain, nodes)),
                   MappingProxyType(after), MappingProxyType(before))

    def node(self, code: str) -> NodeSpec:
        found = self.chain.node(code)
        if found is None:
            raise KeyError(f"chain {self.chain.code} has no node {code!r}")
        return found

    def descendants(self, code: str) -> frozenset[str]:
        return self.after.get(code, frozenset())

    def ancestors(self, code: str) -> frozenset[str]:
        return self.before.get(code, frozenset())

    def enclosing(self, code: str) -> tuple[str, ...]:
        """The parallel nodes around ``code``, innermost first."""
        out: list[str] = []
        current = self.owner.get(code)
        while current is not None and current not in out:
            out.append(current)
            current = self.owner.get(current)
        return tuple(out)


def _reach(start: str, nexts: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(nexts.get(start, ()))
    while stack:
        code = stack.pop()
        if code not in seen:
            seen.add(code)
            stack.extend(nexts.get(code, ()))
    return seen


def _owners(chain: ChainSpec, nodes: Mapping[str, NodeSpec]) -> dict[str, str | None]:
    """Breadth first from the start: a parallel's branches are owned by it, its
    ``next`` by its own owner; every other successor shares its node's owner."""
    owner: dict[str, str | None] = {chain.start: None}
    queue = [chain.start]
    while queue:
        node = nodes.get(queue.pop(0))
        if node is None:
            continue
        mine = owner[node.code]
        steps: list[tuple[str, str | None]] = []
        if node.kind == "parallel":
            steps += [(b.next, node.code) for b in node.branches]
        elif node.kind == "condition":
            steps += [(b.next, mine) for b in node.branches]
        if node.next is not None and node.kind != "condition":
            steps.append((node.next, mine))
        for code, who in steps:
            if code not in owner:
                owner[code] = who
                queue.append(code)
    return owner
