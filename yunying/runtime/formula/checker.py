"""Static checking of formulas: names, types, contexts, dependencies (runtime layer).

``check(source, context)`` parses and checks a formula and returns a
:class:`Checked` — the tree, the result type, every node's type, what each
name resolved to, and the dependencies — or raises :class:`FormulaError` with
**every** issue found (code, zh-CN/en message, span, suggestions).

The evaluator and the SQL compiler only ever receive a :class:`Checked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from yunying.runtime.formula import ast
from yunying.runtime.formula.context import FormulaContext
from yunying.runtime.formula.types import FType

__all__ = ["Binding", "Dependencies", "Checked", "check"]


@dataclass(frozen=True)
class Binding:
    """What one :class:`ast.Name` resolved to.

    ``entity`` is the qualified entity where the path starts: the current
    entity in row mode, the aggregated entity inside an aggregate. ``path`` is
    the field *codes* followed from there — ``("applicant", "department")``
    follows the reference ``applicant`` and reads ``department`` of the
    referenced record; ``()`` means the name is the entity itself (the first
    argument of ``COUNT(entity, …)``). ``type`` is the value's type.
    """

    entity: str
    path: tuple[str, ...]
    type: FType

    @property
    def key(self) -> str:
        """The dotted field path, e.g. ``"applicant.department"`` (row values are keyed by it)."""
        return ".".join(self.path)


@dataclass(frozen=True)
class Dependencies:
    """What a formula reads. Field paths are dotted codes from their entity."""

    fields: frozenset[str]                 # row mode: dotted paths from the current entity
    entities: frozenset[str]               # qualified entities aggregated or reached by a path
    entity_fields: frozenset[tuple[str, str]]  # (entity, field code) actually read, any mode
    indicators: frozenset[str]
    functions: frozenset[str]

    def as_dict(self) -> dict[str, list]:
        return {"fields": sorted(self.fields), "entities": sorted(self.entities),
                "entity_fields": sorted(f"{e}.{f}" for e, f in self.entity_fields),
                "indicators": sorted(self.indicators), "functions": sorted(self.functions)}


@dataclass(frozen=True)
class Checked:
    """A formula that parsed and type-checked in its context."""

    source: str
    tree: ast.Node
    type: FType
    context: FormulaContext
    dependencies: Dependencies
    types: Mapping[ast.Node, FType]        # every node (identity-keyed) → its type
    bindings: Mapping[ast.Name, Binding]   # every Name node → what it names
    #: aggregate calls (SUM, COUNT, …) → the qualified entity they aggregate
    aggregates: Mapping[ast.Call, str]

    def type_of(self, node: ast.Node) -> FType:
        return self.types[node]


def check(source: str, context: FormulaContext, *, expect: FType | None = None) -> Checked:
    """Parse and check ``source`` in ``context``.

    ``expect`` (e.g. ``FType.BOOLEAN`` for rules and conditions) adds a
    ``type`` issue when the result type does not fit it.
    Raises FormulaError with every issue found.
    """
    raise NotImplementedError  # written by the checker work (issue #3)
